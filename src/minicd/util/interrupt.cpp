#include "minicd/util/interrupt.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <exception>
#include <fmt/format.h>
#include <future>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace minicd::util {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The signal thread's own backstop past k_interrupt_total_limit, should printing a line hang.
constexpr std::chrono::seconds k_exit_slack{2};

std::atomic<bool> g_interrupted{false};

// Calls a cleanup; the line to print, also when it throws.
std::string call(const std::string& what, const std::function<std::string()>& cleanup) {
    try {
        return cleanup();
    } catch (const std::exception& error) {
        return fmt::format("failed to {}: {}", what, error.what());
    } catch (...) {
        return fmt::format("failed to {}", what);
    }
}

// Every registered cleanup, and the state of a cleanup run; see InterruptCleanup for the rules.
class Registry {
public:
    struct Job {
        std::uint64_t id = 0;
        std::string what;
        std::function<std::string()> cleanup;
    };
    // How a cleanup run's wait, once it has claimed every entry, ended: see wait_idle().
    enum class Idle { more, done, out_of_time };

    std::uint64_t add(std::string what, std::function<std::string()> cleanup) {
        std::lock_guard lock(m_mutex);
        const std::uint64_t id = m_next_id++;
        m_entries.emplace(id, Entry{.what = std::move(what), .cleanup = std::move(cleanup)});
        m_changed.notify_all();
        return id;
    }

    void remove(std::uint64_t id) {
        std::unique_lock lock(m_mutex);
        // Its cleanup may use what the owner is about to destroy.
        m_changed.wait(lock, [&] {
            auto found = m_entries.find(id);
            return found == m_entries.end() || !found->second.running;
        });
        auto node = m_entries.extract(id);
        if (node.empty()) return;
        // During a run that has not got to it, the owner runs it, as it is about to go on without it.
        const bool take_over = m_run_active && !node.mapped().claimed;
        if (take_over) m_owner_runs.emplace(id, node.mapped().what);
        lock.unlock();  // the function (and what it captured) is not called or destroyed under the mutex
        if (!take_over) return;
        print(call(node.mapped().what, node.mapped().cleanup));
        lock.lock();
        m_owner_runs.erase(id);
        lock.unlock();
        m_changed.notify_all();
    }

    void start_run(std::function<void(const std::string&)> on_line) {
        {
            std::lock_guard lock(m_print_mutex);
            m_on_line = std::move(on_line);
        }
        std::lock_guard lock(m_mutex);
        m_run_active = true;
    }

    // Later lines (of cleanups given up on) go nowhere; entries registered from now on are only recorded.
    void end_run() {
        {
            std::lock_guard lock(m_mutex);
            m_run_active = false;
        }
        std::lock_guard lock(m_print_mutex);
        m_on_line = nullptr;
    }

    // Hands a line to the run's on_line, one thread at a time; "" prints nothing.
    void print(const std::string& line) {
        std::lock_guard lock(m_print_mutex);
        if (!line.empty() && m_on_line) m_on_line(line);
    }

    // The newest entry nobody claimed yet, now claimed and running; nullopt when none is left.
    std::optional<Job> claim_newest() {
        std::lock_guard lock(m_mutex);
        auto entry = newest_unclaimed();
        if (entry == m_entries.end()) return std::nullopt;
        entry->second.claimed = true;
        entry->second.running = true;
        return Job{entry->first, entry->second.what, entry->second.cleanup};
    }

    // The claimed entry's cleanup returned (or will never be started): its owner may deregister it.
    void finish(std::uint64_t id) {
        {
            std::lock_guard lock(m_mutex);
            if (auto found = m_entries.find(id); found != m_entries.end()) found->second.running = false;
        }
        m_changed.notify_all();
    }

    // Once every entry is claimed: waits for a new registration, or for owners running cleanups they
    // took over to finish them. On out_of_time, `unfinished` says which cleanups they still run.
    Idle wait_idle(Clock::time_point deadline, std::vector<std::string>& unfinished) {
        std::unique_lock lock(m_mutex);
        const bool settled = m_changed.wait_until(lock, deadline, [&] {
            return newest_unclaimed() != m_entries.end() || m_owner_runs.empty();
        });
        if (newest_unclaimed() != m_entries.end()) return Idle::more;
        if (settled) return Idle::done;
        for (const auto& [id, what] : m_owner_runs) unfinished.push_back(what);
        return Idle::out_of_time;
    }

private:
    struct Entry {
        std::string what;
        std::function<std::string()> cleanup;
        bool claimed = false;  // taken by the cleanup run: it never runs again
        bool running = false;  // the run started its cleanup, which has not returned yet; remove() waits
    };

    std::map<std::uint64_t, Entry>::iterator newest_unclaimed() {
        for (auto entry = m_entries.rbegin(); entry != m_entries.rend(); ++entry) {
            if (!entry->second.claimed) return std::prev(entry.base());
        }
        return m_entries.end();
    }

    std::mutex m_mutex;  // guards everything below but m_on_line
    std::condition_variable m_changed;  // an entry was added, stopped running, or an owner's run ended
    std::map<std::uint64_t, Entry> m_entries;  // by id: a higher id was registered later
    std::uint64_t m_next_id = 1;
    bool m_run_active = false;  // between start_run() and end_run()
    std::map<std::uint64_t, std::string> m_owner_runs;  // cleanups owners took over and still run, by id
    std::mutex m_print_mutex;  // guards m_on_line and serializes calls to it
    std::function<void(const std::string&)> m_on_line;  // the run's; empty outside a run
};

// Never destroyed: the signal thread may still use it while exit() runs static destructors.
Registry& registry() {
    static Registry* const instance = new Registry;
    return *instance;
}

// Runs one claimed cleanup on a thread of its own and waits for it at most `limit`; the line to
// print. A cleanup given up on runs on (its entry still marked running) until the process exits.
std::string run_one(Registry::Job job, std::chrono::milliseconds limit) {
    const std::uint64_t id = job.id;
    const std::string what = job.what;
    std::packaged_task<std::string()> task([job = std::move(job)] {
        // Marked finished however the cleanup ends, so its owner's deregistration can go on.
        struct Finish {
            std::uint64_t id;
            ~Finish() { registry().finish(id); }
        } finish{job.id};
        return call(job.what, job.cleanup);
    });
    std::future<std::string> outcome = task.get_future();
    try {
        std::thread(std::move(task)).detach();
    } catch (const std::system_error& error) {
        registry().finish(id);
        return fmt::format("could not start a thread to {}: {}", what, error.what());
    }
    if (outcome.wait_for(limit) != std::future_status::ready) {
        return fmt::format("gave up trying to {} after {} ms; it may be left half-done", what, limit.count());
    }
    return outcome.get();
}

std::string_view signal_name(int signal) {
    switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    default: return "signal";
    }
}

// One write(2) per line, bypassing stdio: its lock may be held by a thread blocked on a full pipe.
void write_line(const std::string& text) {
    const std::string line = text + "\n";
    std::size_t written = 0;
    while (written < line.size()) {
        ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        written += static_cast<std::size_t>(n);
    }
}

// The cleanup run the first signal starts; ends the process with 128 + the signal.
[[noreturn]] void clean_up_and_exit(int signal) {
    const std::string prefix = fmt::format("minicd: interrupted ({}): ", signal_name(signal));
    int lines = 0;  // on_line is called from one thread at a time
    detail::run_interrupt_cleanups(k_interrupt_cleanup_limit, k_interrupt_total_limit, [&](const std::string& line) {
        write_line(prefix + line);
        ++lines;
    });
    if (lines == 0) write_line(prefix + "nothing to clean up");
    ::_exit(128 + signal);
}

// The body of the signal thread: waits for the first signal, cleans up on another thread, and
// meanwhile waits for a second signal (exit at once) or for the cleanup to overrun (exit anyway).
[[noreturn]] void handle_signals(sigset_t signals) {
    int first = 0;
    while (::sigwait(&signals, &first) != 0) {
    }
    g_interrupted = true;
    try {
        std::thread([first] { clean_up_and_exit(first); }).detach();
    } catch (const std::system_error&) {
        clean_up_and_exit(first);  // no thread to spare: clean up here, without a second-signal escape
    }

    const auto deadline = Clock::now() + k_interrupt_total_limit + k_exit_slack;
    for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
        const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
        timespec timeout{.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000),
                         .tv_nsec = static_cast<long>(left.count() % 1'000'000'000)};
        siginfo_t info{};
        const int second = ::sigtimedwait(&signals, &info, &timeout);
        if (second > 0) {
            write_line(fmt::format("minicd: interrupted again ({}): exiting without finishing the cleanup",
                                   signal_name(second)));
            ::_exit(128 + second);
        }
        if (errno != EINTR) break;  // EAGAIN: the time is up
    }
    write_line(fmt::format("minicd: interrupted ({}): the cleanup took longer than {} s; exiting", signal_name(first),
                           (k_interrupt_total_limit + k_exit_slack).count()));
    ::_exit(128 + first);
}

}  // namespace

void install_interrupt_handling() {
    static std::once_flag once;
    std::call_once(once, [] {
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGTERM);
        sigaddset(&signals, SIGINT);
        // Blocked here and so in every thread started from now on: only sigwait() receives them.
        ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
        std::thread([signals] { handle_signals(signals); }).detach();
    });
}

bool interrupted() { return g_interrupted.load(); }

void wait_if_interrupted() {
    if (!interrupted()) return;
    for (;;) std::this_thread::sleep_for(1h);  // the signal thread calls _exit
}

InterruptCleanup::InterruptCleanup(std::string what, std::function<std::string()> cleanup) {
    if (cleanup) m_id = registry().add(std::move(what), std::move(cleanup));
}

InterruptCleanup& InterruptCleanup::operator=(InterruptCleanup&& other) noexcept {
    if (this != &other) {
        dismiss();
        m_id = std::exchange(other.m_id, 0);
    }
    return *this;
}

void InterruptCleanup::dismiss() {
    if (m_id != 0) registry().remove(std::exchange(m_id, 0));
}

namespace detail {

void run_interrupt_cleanups(std::chrono::milliseconds each, std::chrono::milliseconds total,
                            const std::function<void(const std::string&)>& on_line) {
    const auto deadline = Clock::now() + total;
    Registry& cleanups = registry();
    cleanups.start_run(on_line);
    for (;;) {
        // One at a time, newest first, so one registered meanwhile (a subprocess the main thread
        // started after all) is picked up too.
        if (auto job = cleanups.claim_newest()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            if (left <= 0ms) {
                cleanups.finish(job->id);
                cleanups.print(fmt::format("no time left to {}", job->what));
                continue;
            }
            cleanups.print(run_one(std::move(*job), std::min(each, left)));
            continue;
        }
        std::vector<std::string> unfinished;
        const auto idle = cleanups.wait_idle(deadline, unfinished);
        if (idle == Registry::Idle::more) continue;
        for (const auto& what : unfinished) {
            cleanups.print(
                fmt::format("gave up trying to {} within {} ms; it may be left half-done", what, total.count()));
        }
        break;
    }
    cleanups.end_run();
}

}  // namespace detail

}  // namespace minicd::util
