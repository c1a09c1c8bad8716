#include "minicd/pipeline/preview_gc.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "minicd/kube/exec_plugin.hpp"
#include "minicd/render/ownership.hpp"

namespace minicd::pipeline {
namespace {

using namespace std::chrono_literals;

const PreviewOwner k_owner{.app = "shop", .env = "preview"};
const Clock::time_point k_now = *kube::parse_rfc3339("2024-05-20T12:00:00Z");
const std::set<std::string> k_branches = {"main", "feature/a", "feature/b", "feature/c"};

// A namespace with every preview label of shop/preview for `branch`, last deployed `idle` ago.
PreviewNamespace preview(std::string name, std::string branch, std::chrono::seconds idle = 1h) {
    PreviewNamespace ns = preview_namespace_from_json(preview_namespace_object(k_owner, name, branch, k_now - idle));
    ns.uid = "uid-" + name;
    ns.created = k_now - idle - 1h;
    return ns;
}

GcPolicy policy(std::chrono::seconds ttl = 0s, int budget = 5) {
    return {.owner = k_owner, .ttl = ttl, .max_deletions = budget, .now = k_now};
}

const GcDecision& decision_for(const std::vector<GcDecision>& decisions, const std::string& name) {
    for (const auto& decision : decisions) {
        if (decision.namespace_ == name) return decision;
    }
    throw std::runtime_error("no decision for " + name);
}

TEST(PlanGc, KeepsPreviewsWhoseBranchExists) {
    auto decisions = plan_gc({preview("shop-feature-a", "feature/a")}, k_branches, policy());
    ASSERT_EQ(decisions.size(), 1u);
    EXPECT_EQ(decisions[0].action, GcAction::keep);
    EXPECT_EQ(decisions[0].branch, "feature/a");
}

TEST(PlanGc, RemovesPreviewsWhoseBranchIsGone) {
    auto decisions = plan_gc({preview("shop-feature-x", "feature/x"), preview("shop-feature-a", "feature/a")}, k_branches, policy());
    EXPECT_EQ(decision_for(decisions, "shop-feature-x").action, GcAction::remove);
    EXPECT_EQ(decision_for(decisions, "shop-feature-x").reason, "branch feature/x no longer exists");
    EXPECT_EQ(decision_for(decisions, "shop-feature-a").action, GcAction::keep);
}

TEST(PlanGc, ComparesBranchNamesExactly) {
    // The namespace name is a slug; only the annotation says which branch it was.
    auto decisions = plan_gc({preview("shop-feature-a", "Feature/A")}, k_branches, policy());
    EXPECT_EQ(decisions[0].action, GcAction::remove);
}

TEST(PlanGc, RemovesPreviewsIdlePastTheirTtl) {
    auto decisions = plan_gc({preview("shop-feature-a", "feature/a", 8 * 24h), preview("shop-feature-b", "feature/b", 6 * 24h)},
                             k_branches, policy(7 * 24h));
    EXPECT_EQ(decision_for(decisions, "shop-feature-a").action, GcAction::remove);
    EXPECT_EQ(decision_for(decisions, "shop-feature-a").reason, "idle 8d (ttl 7d)");
    EXPECT_EQ(decision_for(decisions, "shop-feature-b").action, GcAction::keep);
    EXPECT_EQ(decision_for(decisions, "shop-feature-b").reason, "branch exists; idle 6d of ttl 7d");
}

TEST(PlanGc, ExactlyTheTtlIsNotPastIt) {
    EXPECT_EQ(plan_gc({preview("shop-feature-a", "feature/a", 24h)}, k_branches, policy(24h))[0].action, GcAction::keep);
}

TEST(PlanGc, NoTtlKeepsIdlePreviewsForever) {
    EXPECT_EQ(plan_gc({preview("shop-feature-a", "feature/a", 400 * 24h)}, k_branches, policy(0s))[0].action, GcAction::keep);
}

TEST(PlanGc, TtlCountsFromCreationWhenNeverDeployed) {
    PreviewNamespace ns = preview("shop-feature-a", "feature/a");
    ns.annotations.erase(std::string(render::k_last_deployed_annotation));
    ns.created = k_now - 3 * 24h;
    EXPECT_EQ(plan_gc({ns}, k_branches, policy(2 * 24h))[0].action, GcAction::remove);
    ns.created = k_now - 24h;
    EXPECT_EQ(plan_gc({ns}, k_branches, policy(2 * 24h))[0].action, GcAction::keep);
}

TEST(PlanGc, AnUnreadableLastDeployKeepsThePreview) {
    PreviewNamespace ns = preview("shop-feature-a", "feature/a");
    ns.annotations[std::string(render::k_last_deployed_annotation)] = "last tuesday";
    ns.created = k_now - 30 * 24h;
    auto decisions = plan_gc({ns}, k_branches, policy(24h));
    EXPECT_EQ(decisions[0].action, GcAction::keep);
    EXPECT_NE(decisions[0].reason.find("not RFC 3339"), std::string::npos) << decisions[0].reason;
}

TEST(PlanGc, ADeployInTheFutureIsNotIdle) {
    auto decisions = plan_gc({preview("shop-feature-a", "feature/a", -2h)}, k_branches, policy(1h));
    EXPECT_EQ(decisions[0].action, GcAction::keep);
}

TEST(PlanGc, AnEmptyBranchListDeletesNothing) {
    auto decisions = plan_gc({preview("shop-feature-x", "feature/x", 90 * 24h)}, {}, policy(24h));
    EXPECT_EQ(decisions[0].action, GcAction::skip);
    EXPECT_EQ(decisions[0].reason, "no branch list: nothing is deleted");
}

TEST(PlanGc, SkipsNamespacesMissingAnyPreviewLabel) {
    for (const std::string_view label :
         {render::k_managed_by_label, render::k_app_label, render::k_env_label, render::k_preview_label}) {
        PreviewNamespace ns = preview("shop-feature-x", "feature/x");
        ns.labels.erase(std::string(label));
        auto decisions = plan_gc({ns}, k_branches, policy());
        EXPECT_EQ(decisions[0].action, GcAction::skip) << label;
        EXPECT_EQ(decisions[0].reason, fmt::format("label {} is missing", label));
    }
}

TEST(PlanGc, SkipsNamespacesOfAnotherAppOrEnvironment) {
    PreviewNamespace other_app = preview("blog-feature-x", "feature/x");
    other_app.labels[std::string(render::k_app_label)] = "blog";
    PreviewNamespace other_env = preview("shop-qa-feature-x", "feature/x");
    other_env.labels[std::string(render::k_env_label)] = "qa";
    PreviewNamespace not_preview = preview("shop-x", "feature/x");
    not_preview.labels[std::string(render::k_preview_label)] = "false";
    PreviewNamespace other_manager = preview("shop-y", "feature/x");
    other_manager.labels[std::string(render::k_managed_by_label)] = "helm";
    auto decisions = plan_gc({other_app, other_env, not_preview, other_manager}, k_branches, policy());
    for (const auto& decision : decisions) EXPECT_EQ(decision.action, GcAction::skip) << decision.namespace_;
    EXPECT_EQ(decision_for(decisions, "blog-feature-x").reason, "label minicd.io/app is \"blog\", not \"shop\"");
}

TEST(PlanGc, SkipsNamespacesWithoutABranchAnnotation) {
    PreviewNamespace ns = preview("shop-feature-x", "feature/x");
    ns.annotations.erase(std::string(render::k_branch_annotation));
    auto decisions = plan_gc({ns}, k_branches, policy());
    EXPECT_EQ(decisions[0].action, GcAction::skip);
    EXPECT_EQ(decisions[0].reason, "annotation minicd.io/branch is missing");
}

TEST(PlanGc, SkipsNamespacesAlreadyTerminating) {
    PreviewNamespace ns = preview("shop-feature-x", "feature/x");
    ns.terminating = true;
    auto decisions = plan_gc({ns}, k_branches, policy());
    EXPECT_EQ(decisions[0].action, GcAction::skip);
    EXPECT_EQ(decisions[0].reason, "already being deleted");
}

TEST(PlanGc, SpendsTheBudgetOnGoneBranchesFirstThenOldestActivity) {
    auto decisions = plan_gc({preview("shop-gone-new", "gone/new", 1h), preview("shop-gone-old", "gone/old", 50h),
                              preview("shop-expired", "feature/a", 100 * 24h), preview("shop-fresh", "feature/b", 1h)},
                             k_branches, policy(24h, 2));
    EXPECT_EQ(decision_for(decisions, "shop-gone-old").action, GcAction::remove);
    EXPECT_EQ(decision_for(decisions, "shop-gone-new").action, GcAction::remove);
    EXPECT_EQ(decision_for(decisions, "shop-expired").action, GcAction::over_budget);
    EXPECT_EQ(decision_for(decisions, "shop-expired").reason, "idle 100d (ttl 1d); over this run's budget of 2 deletions");
    EXPECT_EQ(decision_for(decisions, "shop-fresh").action, GcAction::keep);
}

TEST(PlanGc, ABudgetOfOneDeletesOneAndReportsTheRest) {
    auto decisions = plan_gc({preview("shop-x1", "x1", 3h), preview("shop-x2", "x2", 5h), preview("shop-x3", "x3", 4h)},
                             k_branches, policy(0s, 1));
    EXPECT_EQ(decision_for(decisions, "shop-x2").action, GcAction::remove);
    EXPECT_EQ(decision_for(decisions, "shop-x1").action, GcAction::over_budget);
    EXPECT_EQ(decision_for(decisions, "shop-x3").action, GcAction::over_budget);
}

TEST(PlanGc, ABudgetOfZeroDeletesNothing) {
    auto decisions = plan_gc({preview("shop-x1", "x1")}, k_branches, policy(0s, 0));
    EXPECT_EQ(decisions[0].action, GcAction::over_budget);
}

TEST(PlanGc, EqualActivityBreaksTiesByName) {
    auto decisions = plan_gc({preview("shop-b", "gone/b", 2h), preview("shop-a", "gone/a", 2h)}, k_branches, policy(0s, 1));
    EXPECT_EQ(decision_for(decisions, "shop-a").action, GcAction::remove);
    EXPECT_EQ(decision_for(decisions, "shop-b").action, GcAction::over_budget);
}

TEST(PlanGc, KeepsTheOrderItWasGiven) {
    auto decisions = plan_gc({preview("shop-z", "feature/a"), preview("shop-a", "gone")}, k_branches, policy());
    ASSERT_EQ(decisions.size(), 2u);
    EXPECT_EQ(decisions[0].namespace_, "shop-z");
    EXPECT_EQ(decisions[1].namespace_, "shop-a");
}

TEST(GcOutcome, CountsActions) {
    GcOutcome outcome;
    outcome.decisions = plan_gc({preview("shop-x1", "x1"), preview("shop-x2", "x2"), preview("shop-a", "feature/a")},
                                k_branches, policy(0s, 1));
    EXPECT_EQ(outcome.count(GcAction::remove), 1);
    EXPECT_EQ(outcome.count(GcAction::over_budget), 1);
    EXPECT_EQ(outcome.count(GcAction::keep), 1);
    EXPECT_TRUE(outcome.succeeded());
}

}  // namespace
}  // namespace minicd::pipeline
