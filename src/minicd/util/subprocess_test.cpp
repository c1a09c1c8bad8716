#include "minicd/util/subprocess.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

namespace minicd::util {
namespace {

using namespace std::chrono_literals;

TEST(Subprocess, CapturesStdoutStderrAndExitCode) {
    auto result = run_subprocess({.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"}});
    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_EQ(result->out, "out\n");
    EXPECT_EQ(result->err, "err\n");
    EXPECT_EQ(result->exit_code, 3);
    EXPECT_FALSE(result->succeeded());
    EXPECT_EQ(result->outcome(), "exited with status 3");
}

TEST(Subprocess, PassesArgumentsWithoutShellInterpolation) {
    auto result = run_subprocess({.argv = {"printf", "%s|", "$HOME", "a b", "`id`", ";"}});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->out, "$HOME|a b|`id`|;|");
}

TEST(Subprocess, FeedsStdin) {
    std::string big(1 << 20, 'x');  // larger than a pipe buffer, so writes and reads must interleave
    auto result = run_subprocess({.argv = {"wc", "-c"}, .stdin_data = big});
    ASSERT_TRUE(result);
    EXPECT_EQ(std::stoul(result->out), big.size());
}

TEST(Subprocess, SetsAndRemovesEnvironmentVariables) {
    ::setenv("MINICD_TEST_SECRET", "hunter2", 1);
    auto result = run_subprocess({.inherit = util::Inherit::everything, .argv = {"sh", "-c", "echo \"[$MINICD_TEST_SECRET][$MINICD_TEST_ADDED]\""},
                                  .env = {{"MINICD_TEST_ADDED", "yes"}},
                                  .env_remove = {"MINICD_TEST_SECRET"}});
    ::unsetenv("MINICD_TEST_SECRET");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->out, "[][yes]\n");
}

TEST(Subprocess, RunsInWorkingDirectory) {
    auto result = run_subprocess({.argv = {"pwd"}, .working_dir = "/"});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->out, "/\n");
}

TEST(Subprocess, TimeoutEndsTheWholeProcessGroup) {
    // The grandchild holds stdout open; only killing the group lets the call return.
    auto started = std::chrono::steady_clock::now();
    auto result = run_subprocess({.argv = {"sh", "-c", "sleep 30 & sleep 30; echo never"}, .timeout = 300ms});
    auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->timed_out);
    EXPECT_FALSE(result->succeeded());
    EXPECT_EQ(result->out, "");
    EXPECT_LT(elapsed, 20s);  // a guard against hanging, not a timing assertion
}

// Ends the daemon a test script started and printed the process id of (its first line of output).
void end_daemon(const std::string& out) {
    const int pid = std::atoi(out.c_str());
    if (pid > 1) ::kill(pid, SIGKILL);
}

TEST(Subprocess, TimeoutEndsTheWaitEvenWhenADaemonOutsideTheGroupHoldsThePipes) {
    // setsid moves the sleep to a session of its own: the timeout's signals to the group miss it,
    // and it keeps stdout and stderr open for 100 s.
    auto started = std::chrono::steady_clock::now();
    auto result = run_subprocess({.argv = {"sh", "-c", "setsid sleep 100 & echo $!; sleep 30"}, .timeout = 1s});
    auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(result);
    end_daemon(result->out);
    EXPECT_TRUE(result->timed_out);
    EXPECT_NE(result->out, "") << "what was written before the timeout is kept";
    EXPECT_LT(elapsed, 8s) << "timeout, grace for SIGTERM, and no wait for the daemon";
}

TEST(Subprocess, AChildThatLeftADaemonHoldingThePipesEndsSoonAfterItExits) {
    auto started = std::chrono::steady_clock::now();
    auto result = run_subprocess({.argv = {"sh", "-c", "setsid sleep 100 & echo $!; echo done >&2"}, .timeout = 60s});
    auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_TRUE(result);
    end_daemon(result->out);
    EXPECT_TRUE(result->succeeded()) << result->outcome();
    EXPECT_EQ(result->err, "done\n");
    EXPECT_LT(elapsed, 8s) << "a short linger after the exit, not the daemon's 100 s nor the 60 s timeout";
}

TEST(Subprocess, ProgramIgnoringSigtermIsKilledAfterGrace) {
    auto result = run_subprocess(
        {.argv = {"sh", "-c", "trap '' TERM; sleep 30"}, .timeout = 200ms, .kill_grace = 200ms});
    ASSERT_TRUE(result);
    EXPECT_TRUE(result->timed_out);
    EXPECT_EQ(result->signal, SIGKILL);
}

TEST(Subprocess, MissingProgramIsAnError) {
    auto result = run_subprocess({.argv = {"minicd-no-such-program"}});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::subprocess);
    EXPECT_EQ(result.error().subject, "minicd-no-such-program");
}

TEST(Subprocess, OutputBeyondLimitIsTruncated) {
    auto result = run_subprocess({.argv = {"head", "-c", "100000", "/dev/zero"}, .max_output_bytes = 1000});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->out.size(), 1000u);
    EXPECT_TRUE(result->output_truncated);
    EXPECT_TRUE(result->succeeded());
}

TEST(Subprocess, RunCheckedReportsStatusAndStderrTail) {
    auto result = run_checked({.argv = {"sh", "-c", "echo one >&2; echo two >&2; exit 4"}});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::subprocess);
    EXPECT_EQ(result.error().describe(), "sh: exited with status 4: one\ntwo");
}

TEST(Subprocess, StreamsOutputAsItArrivesAndStillCapturesIt) {
    std::vector<std::pair<OutputStream, std::string>> lines;
    LineSplitter splitter([&](OutputStream stream, std::string_view line) { lines.emplace_back(stream, line); });
    auto result = run_subprocess({.argv = {"sh", "-c", "printf 'one\\ntw'; sleep 0.05; printf 'o\\n'; echo oops >&2; printf tail"},
                                  .on_output = [&](OutputStream stream, std::string_view chunk) { splitter.feed(stream, chunk); }});
    splitter.flush();
    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_EQ(result->out, "one\ntwo\ntail");
    EXPECT_EQ(result->err, "oops\n");
    const std::vector<std::pair<OutputStream, std::string>> expected = {
        {OutputStream::out, "one"}, {OutputStream::out, "two"}, {OutputStream::err, "oops"}, {OutputStream::out, "tail"}};
    EXPECT_EQ(lines, expected);
}

TEST(LineSplitter, KeepsStreamsApartAndCutsEndlessLines) {
    std::vector<std::pair<OutputStream, std::string>> lines;
    LineSplitter splitter([&](OutputStream stream, std::string_view line) { lines.emplace_back(stream, line); });
    splitter.feed(OutputStream::out, "a");
    splitter.feed(OutputStream::err, "x\n");
    splitter.feed(OutputStream::out, "b\n\nc");
    splitter.feed(OutputStream::out, std::string(10000, '='));
    splitter.feed(OutputStream::out, std::string(10000, '='));
    splitter.feed(OutputStream::out, std::string(10000, '-'));
    splitter.flush();
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[0], std::make_pair(OutputStream::err, std::string("x")));
    EXPECT_EQ(lines[1], std::make_pair(OutputStream::out, std::string("ab")));
    EXPECT_EQ(lines[2], std::make_pair(OutputStream::out, std::string("")));
    EXPECT_EQ(lines[3].second, "c" + std::string(20000, '='));  // handed over once past 16 KiB
    EXPECT_EQ(lines[4].second, std::string(10000, '-'));
}

}  // namespace
}  // namespace minicd::util
