#include "minicd/cli/history_report.hpp"

#include <gtest/gtest.h>

namespace minicd::cli {
namespace {

using model::Release;
using model::ReleaseOutcome;

Release release(int revision, std::string git_sha, ReleaseOutcome outcome) {
    Release release;
    release.revision = revision;
    release.time = "2024-05-0" + std::to_string(revision) + "T10:00:00Z";
    release.git_sha = std::move(git_sha);
    release.outcome = outcome;
    return release;
}

TEST(HistoryReport, ShortImagesKeepTheNameAndTwelveDigits) {
    EXPECT_EQ(short_images({{"ghcr.io/acme/web",
                             "ghcr.io/acme/web:abc1234@sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"},
                            {"api", "ghcr.io/acme/api@sha256:ffeeddccbbaa99887766"}}),
              "api@sha256:ffeeddccbbaa, web@sha256:1a2b3c4d5e6f");
    EXPECT_EQ(short_images({{"web", "registry.local:5000/web:1.2"}}), "web:1.2");
    EXPECT_EQ(short_images({}), "-");
}

// Records come from the cluster and may hold anything: a commit or digest cut in the middle of a
// character would make the line invalid UTF-8 (and -o json fail).
TEST(HistoryReport, CommitsAndDigestsAreCutBetweenCharacters) {
    const std::string wide = "a\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9";  // 'a' and seven 2-byte characters
    EXPECT_EQ(short_images({{"web", "web@sha256:" + wide}}), "web@sha256:a\u00e9\u00e9\u00e9\u00e9\u00e9");
    const std::string table = history_table({release(1, wide, ReleaseOutcome::deployed)});
    EXPECT_NE(table.find(" a\u00e9\u00e9\u00e9\u00e9\u00e9 "), std::string::npos) << table;
    EXPECT_NO_THROW((void)model::Json(table).dump());
}

TEST(HistoryReport, DurationsReadLikeKubectlAges) {
    EXPECT_EQ(format_duration(0), "-");
    EXPECT_EQ(format_duration(0.3), "0s");
    EXPECT_EQ(format_duration(42.4), "42s");
    EXPECT_EQ(format_duration(192), "3m12s");
    EXPECT_EQ(format_duration(3900), "1h05m");
}

TEST(HistoryReport, OnlyTheReleaseHoldingItsCommitIsMarked) {
    // Newest first: 3 rolled back to 1 after 2 (commit bbb) failed; 1 (aaa) was healthy.
    Release rollback = release(3, "aaa", ReleaseOutcome::deployed);
    rollback.rollback_to = 1;
    const std::vector<Release> releases = {rollback, release(2, "bbb", ReleaseOutcome::rolled_back),
                                           release(1, "aaa", ReleaseOutcome::superseded)};
    EXPECT_FALSE(model::still_held(releases, releases[0]));
    EXPECT_TRUE(model::still_held(releases, releases[1]));
    EXPECT_FALSE(model::still_held(releases, releases[2]));

    // A later release of the same commit, deployed healthy with --force, lifts the hold.
    const std::vector<Release> forced = {release(4, "bbb", ReleaseOutcome::deployed), releases[0], releases[1], releases[2]};
    EXPECT_FALSE(model::still_held(forced, forced[2]));
}

TEST(HistoryReport, EveryFailedReleaseOfAHeldCommitIsMarked) {
    const std::vector<Release> releases = {release(3, "bbb", ReleaseOutcome::failed), release(2, "bbb", ReleaseOutcome::failed),
                                           release(1, "", ReleaseOutcome::rolled_back)};
    EXPECT_TRUE(model::still_held(releases, releases[0]));
    EXPECT_TRUE(model::still_held(releases, releases[1])) << "an older failure of the same commit holds it too";
    EXPECT_TRUE(model::still_held(releases, releases[2])) << "applied without a commit: held as recorded";
}

TEST(HistoryReport, TableHasOneAlignedLinePerRelease) {
    Release failed = release(2, "0123456789abcdef0123", ReleaseOutcome::failed);
    failed.images = {{"web", "ghcr.io/acme/web@sha256:1a2b3c4d5e6f7a8b"}};
    failed.deployed_by.by = "github-actions";
    failed.duration_seconds = 75;
    failed.message = "deploy/web is not ready:\nCrashLoopBackOff";
    Release deployed = release(1, "", ReleaseOutcome::superseded);
    deployed.duration_seconds = 12;
    EXPECT_EQ(history_table({failed, deployed}),
              "REVISION  TIME                  OUTCOME        COMMIT        IMAGES                   BY              "
              "DURATION  MESSAGE\n"
              "2         2024-05-02T10:00:00Z  failed (hold)  0123456789ab  web@sha256:1a2b3c4d5e6f  github-actions  "
              "1m15s     deploy/web is not ready: CrashLoopBackOff\n"
              "1         2024-05-01T10:00:00Z  superseded     -             -                        -               "
              "12s\n");
}

TEST(HistoryReport, JsonNamesTheTargetAndMarksHeldReleases) {
    const std::vector<Release> releases = {release(2, "bbb", ReleaseOutcome::failed),
                                           release(1, "aaa", ReleaseOutcome::superseded)};
    const model::Json json = history_json({.app = "shop", .env = "prod", .namespace_ = "shop-prod"}, releases);
    EXPECT_EQ(json["app"], "shop");
    EXPECT_EQ(json["env"], "prod");
    EXPECT_EQ(json["namespace"], "shop-prod");
    ASSERT_EQ(json["releases"].size(), 2u);
    EXPECT_EQ(json["releases"][0]["revision"], 2);
    EXPECT_EQ(json["releases"][0]["gitSha"], "bbb");
    EXPECT_EQ(json["releases"][0]["outcome"], "failed");
    EXPECT_EQ(json["releases"][0]["held"], true);
    EXPECT_EQ(json["releases"][1]["held"], false);
}

}  // namespace
}  // namespace minicd::cli
