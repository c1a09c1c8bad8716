#include "minicd/pipeline/plan.hpp"

#include <gtest/gtest.h>

#include "minicd/config/load.hpp"

namespace minicd::pipeline {
namespace {

config::Config load(const std::string& text) {
    auto checked = config::check_config(text, "minicd.yaml");
    for (const auto& diagnostic : checked.diagnostics) {
        if (diagnostic.severity == config::Severity::error) ADD_FAILURE() << diagnostic.describe();
    }
    return checked.config.value_or(config::Config{});
}

// GitHub Flow: every branch but main previews, main is production.
const char* k_github_flow = R"(app: shop
registry: reg.example/apps
images: [{name: shop}]
environments:
  preview:
    cluster: {context: dev}
    on: {branch: "!main"}
    namespace: "shop-{branch}"
    host: "{branch}.dev.example.com"
  production:
    cluster: {context: prd}
    on: {branch: main}
    namespace: shop
)";

// Git Flow: features preview, develop is staging, release tags promote to production.
const char* k_git_flow = R"(app: shop
registry: reg.example/apps
images: [{name: shop}, {name: worker}]
environments:
  preview:
    cluster: {context: dev}
    on: {branch: "feature/*"}
    namespace: "shop-{branch}"
    gc: {enabled: false}
  staging:
    cluster: {context: stg}
    on: {branch: develop}
    namespace: shop
  production:
    cluster: {context: prd}
    on: {tag: "v*"}
    namespace: shop
    promoteFrom: staging
)";

// GitLab Flow: main is staging, the production branch promotes what staging ran.
const char* k_gitlab_flow = R"(app: shop
registry: reg.example/apps
images: [{name: shop}]
environments:
  review:
    cluster: {context: dev}
    on: {branch: ["!main", "!production"]}
    namespace: "review-{branch}"
    ttl: 3d
  staging:
    cluster: {context: stg}
    on: {branch: main}
    namespace: shop
  production:
    cluster: {context: prd}
    on: {branch: production}
    namespace: shop
    promoteFrom: staging
)";

source::Event push(std::string branch) {
    return {.kind = source::EventKind::branch_push, .ref = "refs/heads/" + branch, .branch = branch, .sha = "1a2b3c4d5e"};
}

source::Event tag(std::string name) {
    return {.kind = source::EventKind::tag_push, .ref = "refs/tags/" + name, .tag = name, .sha = "1a2b3c4d5e"};
}

const GitFacts k_git{.sha = "1a2b3c4d5e", .image_tag = "1a2b3c4"};

std::vector<std::string> kinds(const Plan& plan) {
    std::vector<std::string> out;
    for (const auto& step : plan.steps) {
        out.push_back(std::string(to_string(step.kind)) + (step.environment.empty() ? "" : ":" + step.environment));
    }
    return out;
}

using Steps = std::vector<std::string>;

TEST(CiPlan, GitHubFlowFeatureBranchBuildsDeploysItsPreviewAndCollects) {
    auto result = plan(load(k_github_flow), push("feature/login"), k_git);
    EXPECT_EQ(kinds(result), (Steps{"build", "deploy:preview", "gc:preview"}));
    EXPECT_EQ(result.steps[0].description, "build and push reg.example/apps/shop:1a2b3c4");
    EXPECT_NE(result.steps[1].description.find("preview of feature/login"), std::string::npos);
}

TEST(CiPlan, GitHubFlowMainGoesStraightToProductionThenCollectsPreviews) {
    EXPECT_EQ(kinds(plan(load(k_github_flow), push("main"), k_git)), (Steps{"build", "deploy:production", "gc:preview"}));
}

TEST(CiPlan, PullRequestDeploysItsSourceBranch) {
    source::Event event{.kind = source::EventKind::pull_request, .branch = "fix/typo", .sha = "1a2b3c4d5e"};
    auto result = plan(load(k_github_flow), event, k_git);
    EXPECT_EQ(kinds(result), (Steps{"build", "deploy:preview", "gc:preview"}));
    EXPECT_EQ(result.event.kind, source::EventKind::pull_request);
}

TEST(CiPlan, GitFlowBuildsTwoImagesForDevelopAndPromotesTagsWithoutBuilding) {
    auto config = load(k_git_flow);
    auto develop = plan(config, push("develop"), k_git);
    EXPECT_EQ(kinds(develop), (Steps{"build", "deploy:staging"}));
    EXPECT_EQ(develop.steps[0].description, "build and push reg.example/apps/shop:1a2b3c4, reg.example/apps/worker:1a2b3c4");

    auto release = plan(config, tag("v1.2.0"), k_git);
    EXPECT_EQ(kinds(release), (Steps{"promote:production", "deploy:production"}));
    EXPECT_NE(release.steps[0].description.find("re-tag them as v1.2.0"), std::string::npos);
    EXPECT_NE(release.steps[0].description.find("healthy in staging"), std::string::npos);
}

TEST(CiPlan, GitFlowFeatureWithGcDisabledHasNoGcStep) {
    EXPECT_EQ(kinds(plan(load(k_git_flow), push("feature/a"), k_git)), (Steps{"build", "deploy:preview"}));
}

TEST(CiPlan, GitLabFlowProductionBranchPromotesFromStaging) {
    auto config = load(k_gitlab_flow);
    EXPECT_EQ(kinds(plan(config, push("main"), k_git)), (Steps{"build", "deploy:staging", "gc:review"}));
    auto production = plan(config, push("production"), k_git);
    EXPECT_EQ(kinds(production), (Steps{"promote:production", "deploy:production", "gc:review"}));
    EXPECT_EQ(production.steps[0].description.find("re-tag"), std::string::npos);
    EXPECT_NE(plan(config, push("feature/x"), k_git).steps[2].description.find("idle past the TTL"), std::string::npos);
}

TEST(CiPlan, BranchDeletionTearsDownItsPreviewThenCollectsTheRest) {
    source::Event event{.kind = source::EventKind::branch_delete, .branch = "feature/a"};
    EXPECT_EQ(kinds(plan(load(k_github_flow), event, k_git)), (Steps{"teardown:preview", "gc:preview"}));
    event.branch = "main";
    auto nothing = plan(load(k_github_flow), event, k_git);
    EXPECT_TRUE(nothing.steps.empty());
    EXPECT_EQ(nothing.reason, "no per-branch environment deploys branch main");
}

TEST(CiPlan, ScheduledRunChecksEveryFixedEnvironmentForDriftThenCollectsPreviews) {
    source::Event event{.kind = source::EventKind::scheduled};
    auto gitlab = plan(load(k_gitlab_flow), event, k_git);
    EXPECT_EQ(kinds(gitlab), (Steps{"drift:staging", "drift:production", "gc:review"}));
    EXPECT_EQ(gitlab.environments, (std::vector<std::string>{"review", "staging", "production"}));
    EXPECT_EQ(gitlab.steps[0].description, "compare namespace shop with its last release; report what drifted");
    // Whatever triggers them: production deploys on tags only, and is checked all the same.
    EXPECT_EQ(kinds(plan(load(k_git_flow), event, k_git)), (Steps{"drift:staging", "drift:production"}));

    const std::string fixing = std::string(k_github_flow) + "    drift: fix\n";
    auto github = plan(load(fixing), event, k_git);
    EXPECT_EQ(kinds(github), (Steps{"drift:production", "gc:preview"}));
    EXPECT_EQ(github.steps[0].description, "compare namespace shop with its last release, put back what drifted");

    auto none = plan(load(R"(app: shop
registry: reg.example/apps
environments:
  preview:
    cluster: {context: dev}
    on: {branch: "*"}
    namespace: "shop-{branch}"
    gc: {enabled: false}
)"),
                     event, k_git);
    EXPECT_TRUE(none.steps.empty());
    EXPECT_TRUE(none.environments.empty());
    EXPECT_FALSE(none.reason.empty());
}

TEST(CiPlan, NothingMatchesOrUnknownEventSaysWhy) {
    auto config = load(k_git_flow);
    auto hotfix = plan(config, push("hotfix/x"), k_git);
    EXPECT_TRUE(hotfix.steps.empty());
    EXPECT_EQ(hotfix.reason, "no environment's `on:` selects branch hotfix/x");
    EXPECT_TRUE(plan(config, source::Event{}, k_git).steps.empty());
    EXPECT_EQ(to_json(hotfix)["reason"], hotfix.reason);
}

TEST(CiPlan, DescribesTheEventInOneLine) {
    source::Event event = push("feature/login");
    event.provider = source::Provider::github;
    event.trigger = "push";
    EXPECT_EQ(describe_event(event), "branch push of feature/login at 1a2b3c4 (github: push)");
}

}  // namespace
}  // namespace minicd::pipeline
