// Which release a rollback returns to, and which commits a history holds.
#include <gtest/gtest.h>

#include "minicd/deploy/deploy.hpp"

namespace minicd::deploy {
namespace {

using model::Release;
using model::ReleaseOutcome;

Release release(int revision, ReleaseOutcome outcome, std::string sha, std::string digest = "") {
    return Release{.revision = revision,
                   .git_sha = std::move(sha),
                   .images = {{"web", "reg.example/web@sha256:" + std::string(64, static_cast<char>('a' + revision % 6))}},
                   .manifest_digest = digest.empty() ? "sha256:m" + std::to_string(revision) : digest,
                   .outcome = outcome,
                   .payload_chunks = outcome == ReleaseOutcome::refused ? 0 : 1};
}

TEST(RollbackTarget, DefaultIsTheNewestHealthyReleaseBeforeTheCurrentOne) {
    // Newest first, as the store returns them.
    std::vector<Release> history = {release(4, ReleaseOutcome::deployed, "d"), release(3, ReleaseOutcome::failed, "c"),
                                    release(2, ReleaseOutcome::superseded, "b"), release(1, ReleaseOutcome::superseded, "a")};
    auto target = rollback_target(history, 0);
    ASSERT_TRUE(target) << target.error().message;
    EXPECT_EQ(target->revision, 2) << "the failed release 3 is never a target";
}

TEST(RollbackTarget, AfterAFailedRolloutTheTargetIsTheLastHealthyOne) {
    std::vector<Release> history = {release(2, ReleaseOutcome::failed, "b"), release(1, ReleaseOutcome::superseded, "a")};
    auto target = rollback_target(history, 0);
    ASSERT_TRUE(target);
    EXPECT_EQ(target->revision, 1);
}

TEST(RollbackTarget, RefusedReleasesAreNotCurrentAndHeldOnesAreNotTargets) {
    std::vector<Release> history = {release(5, ReleaseOutcome::refused, "e"), release(4, ReleaseOutcome::deployed, "d"),
                                    release(3, ReleaseOutcome::held, "c"), release(2, ReleaseOutcome::rolled_back, "b"),
                                    release(1, ReleaseOutcome::superseded, "a")};
    auto target = rollback_target(history, 0);
    ASSERT_TRUE(target);
    EXPECT_EQ(target->revision, 1);
}

TEST(RollbackTarget, SkipsReleasesThatAppliedWhatRunsNow) {
    // Release 3 restored release 1: going "back" to 1 would change nothing.
    std::vector<Release> history = {release(3, ReleaseOutcome::deployed, "a", "sha256:same"),
                                    release(2, ReleaseOutcome::rolled_back, "b"),
                                    release(1, ReleaseOutcome::superseded, "a", "sha256:same")};
    auto target = rollback_target(history, 0);
    ASSERT_FALSE(target);
    EXPECT_NE(target.error().message.find("no release before release 3 was verified healthy"), std::string::npos)
        << target.error().message;
}

TEST(RollbackTarget, NoHealthyReleaseIsAnInputError) {
    auto target = rollback_target({release(1, ReleaseOutcome::failed, "a")}, 0);
    ASSERT_FALSE(target);
    EXPECT_EQ(target.error().code, util::ErrorCode::input);
    EXPECT_FALSE(rollback_target({}, 0));
    EXPECT_FALSE(rollback_target({release(1, ReleaseOutcome::refused, "a")}, 0));
}

TEST(RollbackTarget, AnExplicitRevisionMustBeKeptAndHaveItsObjects) {
    std::vector<Release> history = {release(3, ReleaseOutcome::refused, "c"), release(2, ReleaseOutcome::held, "b"),
                                    release(1, ReleaseOutcome::superseded, "a")};
    auto held = rollback_target(history, 2);
    ASSERT_TRUE(held) << "asking by number may return to a held release";
    EXPECT_EQ(held->revision, 2);
    auto missing = rollback_target(history, 9);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("release 9 is not in the history (kept: 1 to 3)"), std::string::npos)
        << missing.error().message;
    auto empty = rollback_target(history, 3);
    ASSERT_FALSE(empty);
    EXPECT_NE(empty.error().message.find("stored no objects"), std::string::npos) << empty.error().message;
}

TEST(Holds, FailedRolledBackAndHeldReleasesHoldTheirCommit) {
    for (auto outcome : {ReleaseOutcome::failed, ReleaseOutcome::rolled_back, ReleaseOutcome::held}) {
        std::vector<Release> history = {release(2, outcome, "bad"), release(1, ReleaseOutcome::superseded, "good")};
        auto hold = model::hold_on(history, "bad");
        ASSERT_TRUE(hold) << model::to_string(outcome);
        EXPECT_EQ(hold->revision, 2);
        EXPECT_FALSE(model::hold_on(history, "good"));
        EXPECT_FALSE(model::hold_on(history, "unknown"));
    }
}

TEST(Holds, RefusedReleasesHoldNothing) {
    EXPECT_FALSE(model::hold_on({release(1, ReleaseOutcome::refused, "x")}, "x"));
}

TEST(Holds, ALaterHealthyReleaseOfTheSameCommitLiftsTheHold) {
    std::vector<Release> history = {release(3, ReleaseOutcome::deployed, "bad"), release(2, ReleaseOutcome::rolled_back, "bad"),
                                    release(1, ReleaseOutcome::superseded, "good")};
    EXPECT_FALSE(model::hold_on(history, "bad"));
}

TEST(Holds, ARollbackToACommitIsNoVerdictOnIt) {
    // Release 3 rolled back to release 1's commit and failed: commit "good" stays deployable.
    Release rollback = release(3, ReleaseOutcome::failed, "good");
    rollback.rollback_to = 1;
    std::vector<Release> history = {rollback, release(2, ReleaseOutcome::rolled_back, "bad"),
                                    release(1, ReleaseOutcome::superseded, "good")};
    EXPECT_FALSE(model::hold_on(history, "good"));
    EXPECT_TRUE(model::hold_on(history, "bad"));
}

TEST(Holds, ImagesAreHeldByDigestUnderAnyCommit) {
    std::vector<Release> history = {release(2, ReleaseOutcome::failed, "tagged")};
    const std::string digest = history[0].images.at("web").substr(history[0].images.at("web").find('@') + 1);
    auto hold = model::hold_on(history, "another-commit", {digest});
    ASSERT_TRUE(hold);
    EXPECT_EQ(hold->revision, 2);
    EXPECT_FALSE(model::hold_on(history, "another-commit", {"sha256:" + std::string(64, 'f')}));
}

// A canary's release never replaced what ran: while it runs, and once aborted, the release before
// it is still the current one, for a rollback and for drift alike.
TEST(RollbackTarget, ACanaryThatNeverRanIsNotTheCurrentRelease) {
    Release running = release(3, ReleaseOutcome::canary, "c");
    running.rollout = model::Rollout::canary;
    Release aborted = release(3, ReleaseOutcome::failed, "c");
    aborted.rollout = model::Rollout::canary;
    for (const Release& canary : {running, aborted}) {
        std::vector<Release> history = {canary, release(2, ReleaseOutcome::deployed, "b"),
                                        release(1, ReleaseOutcome::superseded, "a")};
        auto current = current_release(history);
        ASSERT_TRUE(current);
        EXPECT_EQ(current->revision, 2) << model::to_string(canary.outcome);
        auto target = rollback_target(history, 0);
        ASSERT_TRUE(target);
        EXPECT_EQ(target->revision, 1) << model::to_string(canary.outcome);
    }
    EXPECT_TRUE(model::is_held(aborted.outcome)) << "an aborted canary holds its commit";
    EXPECT_FALSE(model::is_held(running.outcome));
}

}  // namespace
}  // namespace minicd::deploy
