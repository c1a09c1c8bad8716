#include "minicd/util/interrupt.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "minicd/util/subprocess.hpp"

namespace minicd::util {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// What a signal's cleanup run would print, without the "minicd: interrupted (...)" prefix.
std::vector<std::string> run_cleanups(std::chrono::milliseconds each = 2000ms,
                                      std::chrono::milliseconds total = 5000ms) {
    std::vector<std::string> lines;
    detail::run_interrupt_cleanups(each, total, [&](const std::string& line) { lines.push_back(line); });
    return lines;
}

// A cleanup that only says which one it is.
InterruptCleanup saying(const std::string& name) {
    return InterruptCleanup("clean " + name, [name] { return "cleaned " + name; });
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Interrupt, CleanupsRunNewestFirst) {
    auto first = saying("a");
    auto second = saying("b");
    auto third = saying("c");
    EXPECT_EQ(run_cleanups(), (std::vector<std::string>{"cleaned c", "cleaned b", "cleaned a"}));
}

TEST(Interrupt, NothingRegisteredPrintsNothing) { EXPECT_EQ(run_cleanups(), std::vector<std::string>{}); }

TEST(Interrupt, ADeregisteredCleanupNeverRuns) {
    auto kept = saying("kept");
    {
        auto gone = saying("gone");
    }
    auto dismissed = saying("dismissed");
    dismissed.dismiss();
    EXPECT_EQ(run_cleanups(), std::vector<std::string>{"cleaned kept"});
}

TEST(Interrupt, ACleanupRunsOnlyOnce) {
    auto runs = std::make_shared<std::atomic<int>>(0);
    InterruptCleanup cleanup("count", [runs] {
        ++*runs;
        return std::string("counted");
    });
    EXPECT_EQ(run_cleanups(), std::vector<std::string>{"counted"});
    EXPECT_EQ(run_cleanups(), std::vector<std::string>{});
    EXPECT_EQ(runs->load(), 1);
}

TEST(Interrupt, AMovedRegistrationStaysRegisteredOnce) {
    auto original = saying("moved");
    InterruptCleanup moved(std::move(original));
    InterruptCleanup assigned;
    assigned = std::move(moved);
    original.dismiss();  // moved from: deregisters nothing
    EXPECT_EQ(run_cleanups(), std::vector<std::string>{"cleaned moved"});
}

TEST(Interrupt, AssigningOverARegistrationDeregistersIt) {
    auto target = saying("old");
    target = saying("new");
    EXPECT_EQ(run_cleanups(), std::vector<std::string>{"cleaned new"});
}

TEST(Interrupt, AnEmptyFunctionRegistersNothing) {
    InterruptCleanup empty("nothing", {});
    EXPECT_EQ(run_cleanups(), std::vector<std::string>{});
}

TEST(Interrupt, AnEmptyLinePrintsNothing) {
    InterruptCleanup quiet("stay quiet", [] { return std::string(); });
    auto loud = saying("loud");
    EXPECT_EQ(run_cleanups(), std::vector<std::string>{"cleaned loud"});
}

TEST(Interrupt, AThrowingCleanupIsReportedAndTheOthersStillRun) {
    auto older = saying("older");
    InterruptCleanup throwing("release the thing", []() -> std::string { throw std::runtime_error("boom"); });
    EXPECT_EQ(run_cleanups(), (std::vector<std::string>{"failed to release the thing: boom", "cleaned older"}));
}

TEST(Interrupt, TheDestructorWaitsForItsRunningCleanup) {
    auto started = std::make_shared<std::atomic<bool>>(false);
    auto finished = std::make_shared<std::atomic<bool>>(false);
    std::optional<InterruptCleanup> cleanup;
    cleanup.emplace("take a while", [started, finished] {
        *started = true;
        std::this_thread::sleep_for(300ms);
        *finished = true;
        return std::string("took a while");
    });
    std::vector<std::string> lines;
    std::thread signal_side([&] { lines = run_cleanups(); });
    while (!*started) std::this_thread::sleep_for(1ms);
    cleanup.reset();  // what the owner does when it is done with what the cleanup uses
    EXPECT_TRUE(*finished);
    signal_side.join();
    EXPECT_EQ(lines, std::vector<std::string>{"took a while"});
}

// A cleanup that says when it started, then takes `duration` and notes the thread it ran on.
struct Timed {
    std::shared_ptr<std::atomic<bool>> started = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<std::thread::id> ran_on = std::make_shared<std::thread::id>();

    InterruptCleanup registered(const std::string& name, std::chrono::milliseconds duration) const {
        return InterruptCleanup("clean " + name, [name, duration, started = started, ran_on = ran_on] {
            *started = true;
            *ran_on = std::this_thread::get_id();
            std::this_thread::sleep_for(duration);
            return "cleaned " + name;
        });
    }
    void wait_until_started() const {
        while (!*started) std::this_thread::sleep_for(1ms);
    }
};

TEST(Interrupt, AnOwnerDeregisteringDuringTheRunRunsTheCleanupItself) {
    const Timed older_timing;
    const Timed busy_timing;
    std::optional<InterruptCleanup> older = older_timing.registered("older", 0ms);
    auto busy = busy_timing.registered("busy", 300ms);
    std::vector<std::string> lines;
    std::thread signal_side([&] { lines = run_cleanups(); });
    busy_timing.wait_until_started();  // the run is busy with the newer one and has not claimed `older`
    older.reset();                     // the owner goes on without it: it runs here, now
    EXPECT_TRUE(*older_timing.started);
    EXPECT_EQ(*older_timing.ran_on, std::this_thread::get_id());
    signal_side.join();
    EXPECT_EQ(lines, (std::vector<std::string>{"cleaned older", "cleaned busy"}));
}

TEST(Interrupt, TheRunEndsOnlyAfterTheCleanupsOwnersTookOver) {
    const Timed owned_timing;
    const Timed busy_timing;
    std::optional<InterruptCleanup> owned = owned_timing.registered("owned", 400ms);
    auto busy = busy_timing.registered("busy", 100ms);
    std::vector<std::string> lines;
    std::thread signal_side([&] { lines = run_cleanups(); });
    busy_timing.wait_until_started();
    owned.reset();  // runs for 400 ms here, while the run, done with `busy`, waits for it
    signal_side.join();
    EXPECT_EQ(lines, (std::vector<std::string>{"cleaned busy", "cleaned owned"}));
}

TEST(Interrupt, ACleanupAnOwnerTookOverIsReportedWhenTimeRunsOut) {
    const Timed owned_timing;
    const Timed busy_timing;
    std::optional<InterruptCleanup> owned = owned_timing.registered("owned", 600ms);
    auto busy = busy_timing.registered("busy", 50ms);
    std::vector<std::string> lines;
    std::thread signal_side([&] { lines = run_cleanups(2000ms, 200ms); });
    busy_timing.wait_until_started();
    owned.reset();
    signal_side.join();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "cleaned busy");
    EXPECT_EQ(lines[1], "gave up trying to clean owned within 200 ms; it may be left half-done");
}

TEST(Interrupt, ASlowCleanupIsGivenUpOnAndTheNextOneRuns) {
    auto older = saying("older");
    InterruptCleanup slow("finish slowly", [] {
        std::this_thread::sleep_for(600ms);
        return std::string("finished slowly");
    });
    const auto started = Clock::now();
    const auto lines = run_cleanups(100ms, 5000ms);
    EXPECT_LT(Clock::now() - started, 500ms);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "gave up trying to finish slowly after 100 ms; it may be left half-done");
    EXPECT_EQ(lines[1], "cleaned older");
    // `slow` goes out of scope here and waits for its cleanup, which still uses nothing of the test's.
}

TEST(Interrupt, CleanupsPastTheTotalLimitAreReportedNotRun) {
    auto runs = std::make_shared<std::atomic<int>>(0);
    InterruptCleanup oldest("count late", [runs] {
        ++*runs;
        return std::string("counted late");
    });
    InterruptCleanup slow("use up the time", [] {
        std::this_thread::sleep_for(400ms);
        return std::string("used up the time");
    });
    const auto lines = run_cleanups(2000ms, 150ms);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_TRUE(contains(lines[0], "gave up trying to use up the time after 150 ms")) << lines[0];
    EXPECT_EQ(lines[1], "no time left to count late");
    EXPECT_EQ(runs->load(), 0);
}

TEST(Interrupt, ACleanupRegisteredDuringTheRunIsRunToo) {
    std::optional<InterruptCleanup> late;
    InterruptCleanup first("register another", [&late] {
        late.emplace(saying("late"));
        return std::string("registered another");
    });
    EXPECT_EQ(run_cleanups(), (std::vector<std::string>{"registered another", "cleaned late"}));
    late.reset();
}

TEST(Interrupt, AllOfThisIsHarmlessWithoutSignalHandling) {
    // The unit tests never call install_interrupt_handling(): nothing is interrupted, nothing waits.
    EXPECT_FALSE(interrupted());
    wait_if_interrupted();
}

// --- Subprocesses ---

// Runs `argv` on a thread of its own, so that this thread can play the signal thread.
class Background {
public:
    explicit Background(SubprocessSpec spec)
        : m_thread([this, spec = std::move(spec)] { m_result = run_subprocess(spec); }) {}
    ~Background() {
        if (m_thread.joinable()) m_thread.join();
    }
    const Result<SubprocessResult>& result() {
        m_thread.join();
        return m_result;
    }

private:
    Result<SubprocessResult> m_result = fail(ErrorCode::internal, "did not run");
    std::thread m_thread;
};

// Runs the cleanups until one ran (the child may take a moment to start); its lines.
std::vector<std::string> cleanups_once_registered() {
    const auto give_up = Clock::now() + 5s;
    while (Clock::now() < give_up) {
        auto lines = run_cleanups();
        if (!lines.empty()) return lines;
        std::this_thread::sleep_for(10ms);
    }
    return {};
}

TEST(InterruptSubprocess, StopsTheProcessGroupOfARunningChild) {
    Background child({.argv = {"sh", "-c", "sleep 30 & wait"}});
    const auto lines = cleanups_once_registered();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].starts_with("stopped sh (process group ")) << lines[0];
    const auto& result = child.result();
    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_EQ(result->signal, SIGTERM) << result->outcome();
    EXPECT_LT(result->elapsed, 10s);
}

TEST(InterruptSubprocess, KillsAChildThatIgnoresSigtermAfterTheGrace) {
    auto trapped = std::make_shared<std::atomic<bool>>(false);
    Background child({.argv = {"sh", "-c", "trap '' TERM; echo trapped; sleep 30"},
                      .kill_grace = 300ms,
                      .on_output = [trapped](OutputStream, std::string_view) { *trapped = true; }});
    while (!*trapped) std::this_thread::sleep_for(1ms);  // SIGTERM must come after the trap
    const auto lines = cleanups_once_registered();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].starts_with("killed sh (process group ")) << lines[0];
    EXPECT_TRUE(contains(lines[0], "within 300 ms")) << lines[0];
    const auto& result = child.result();
    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_EQ(result->signal, SIGKILL) << result->outcome();
}

TEST(InterruptSubprocess, AFinishedChildLeavesNothingToStop) {
    auto result = run_subprocess({.inherit = util::Inherit::everything, .argv = {"true"}});
    ASSERT_TRUE(result);
    EXPECT_EQ(run_cleanups(), std::vector<std::string>{});
}

TEST(InterruptSubprocess, ChildrenDoNotInheritTheBlockedSignals) {
    // As in minicd after install_interrupt_handling(): the calling thread blocks SIGTERM and SIGINT.
    std::string blocked;
    std::thread blocking([&] {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
        auto result = run_subprocess({.inherit = util::Inherit::everything, .argv = {"grep", "^SigBlk:", "/proc/self/status"}});
        blocked = result ? result->out : result.error().describe();
    });
    blocking.join();
    EXPECT_EQ(blocked, "SigBlk:\t0000000000000000\n");
}

}  // namespace
}  // namespace minicd::util
