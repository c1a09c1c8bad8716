#include "minicd/deploy/wait_progress.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace minicd::deploy {
namespace {

using std::chrono::milliseconds;

ObjectHealth pending(const std::string& kind, const std::string& name, const std::string& message) {
    const std::string group = kind == "Deployment" ? "apps" : "";
    return {.id = {.group = group, .version = "v1", .kind = kind, .namespace_ = "shop", .name = name},
            .health = {.state = health::State::in_progress, .reason = "Progressing", .message = message},
            .pods = {}};
}

WaitProgress at(long ms, int ready, int total, std::vector<ObjectHealth> not_ready) {
    return {.elapsed = milliseconds(ms), .ready = ready, .total = total, .not_ready = std::move(not_ready)};
}

struct Screen {
    std::vector<std::string> writes;
    WaitReporter::Write sink() {
        return [this](std::string_view text) { writes.emplace_back(text); };
    }
};

const ObjectHealth k_web = pending("Deployment", "web", "0 of 2 replicas available");
const ObjectHealth k_settings = pending("ConfigMap", "settings", "");

TEST(WaitProgress, TerminalLineNamesReadyCountAndTheSlowestObjectWithWhy) {
    EXPECT_EQ(terminal_progress(at(12400, 3, 5, {k_web, k_settings})),
              "3/5 ready after 12s; slowest: deploy/web (apps/v1 Deployment) in ns shop: 0 of 2 replicas available");
    // Without a message, the reason says why.
    EXPECT_EQ(terminal_progress(at(3000, 0, 1, {k_settings})),
              "0/1 ready after 3s; slowest: cm/settings (v1 ConfigMap) in ns shop: Progressing");
}

TEST(WaitProgress, LogLineNamesEveryObjectStillNotReadyUpToFive) {
    EXPECT_EQ(log_progress(at(20000, 3, 5, {k_web, k_settings})),
              "still waiting after 20s: 3/5 ready; not ready: deploy/web (apps/v1 Deployment) in ns shop: 0 of 2 "
              "replicas available; cm/settings (v1 ConfigMap) in ns shop: Progressing");
    std::vector<ObjectHealth> many(7, k_settings);
    const std::string line = log_progress(at(20000, 0, 7, many));
    EXPECT_TRUE(line.ends_with("; and 2 more")) << line;
}

TEST(WaitProgress, TerminalRewritesOneLineAfterTwoSecondsAndErasesItAtTheEnd) {
    Screen screen;
    {
        WaitReporter reporter(ProgressStyle::terminal, screen.sink(), 40);
        reporter.update(at(1900, 0, 2, {k_web, k_settings}));
        EXPECT_TRUE(screen.writes.empty()) << "a short wait shows nothing";
        reporter.update(at(2100, 0, 2, {k_web, k_settings}));
        reporter.update(at(2600, 0, 2, {k_web, k_settings}));  // the same line: not written again
        reporter.update(at(3100, 1, 2, {k_web}));
    }
    ASSERT_EQ(screen.writes.size(), 3U);
    // Cut to the width less one, so the cursor never wraps to a line it cannot rewrite.
    EXPECT_EQ(screen.writes[0], "\r\033[K0/2 ready after 2s; slowest: deploy/...");
    EXPECT_EQ(screen.writes[1], "\r\033[K1/2 ready after 3s; slowest: deploy/...");
    EXPECT_EQ(screen.writes[2], "\r\033[K");
}

TEST(WaitProgress, LogWritesALineAfterTwoSecondsThenEveryTenSeconds) {
    Screen screen;
    {
        WaitReporter reporter(ProgressStyle::log, screen.sink(), 40);
        for (long ms = 0; ms <= 25000; ms += 250) reporter.update(at(ms, 1, 2, {k_settings}));
    }
    ASSERT_EQ(screen.writes.size(), 3U) << "at 2 s, 12 s and 22 s; nothing to erase at the end";
    EXPECT_EQ(screen.writes[0], "still waiting after 2s: 1/2 ready; not ready: cm/settings (v1 ConfigMap) in ns shop: Progressing");
    EXPECT_TRUE(screen.writes[1].starts_with("still waiting after 12s: ")) << screen.writes[1];
    EXPECT_TRUE(screen.writes[2].starts_with("still waiting after 22s: ")) << screen.writes[2];
}

TEST(WaitProgress, AWaitDoneWithinTwoSecondsLeavesNothing) {
    Screen screen;
    {
        WaitReporter reporter(ProgressStyle::terminal, screen.sink(), 80);
        reporter.update(at(500, 0, 1, {k_web}));
    }
    EXPECT_TRUE(screen.writes.empty());
}

}  // namespace
}  // namespace minicd::deploy
