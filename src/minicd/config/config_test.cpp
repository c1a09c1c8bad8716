#include "minicd/config/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "minicd/config/load.hpp"

namespace minicd::config {
namespace {

Config parse(const std::string& environments) {
    const std::string text = "app: shop\nregistry: ghcr.io/acme\nenvironments:\n" + environments;
    CheckedConfig checked = check_config(text, "minicd.yaml");
    std::string reports;
    for (const auto& diagnostic : checked.diagnostics) {
        reports += diagnostic.describe() + "\n";
    }
    EXPECT_TRUE(checked.valid()) << reports;
    // Each flow below is meant to be written without overlaps.
    EXPECT_TRUE(checked.diagnostics.empty()) << reports;
    return checked.config.value_or(Config{});
}

std::vector<std::string> selected(const Config& config, source::EventKind kind, const std::string& name) {
    source::Event event;
    event.kind = kind;
    (kind == source::EventKind::tag_push ? event.tag : event.branch) = name;
    std::vector<std::string> names;
    for (const Environment* environment : match(config, event)) {
        names.push_back(environment->name);
    }
    return names;
}

using Names = std::vector<std::string>;
constexpr auto k_branch = source::EventKind::branch_push;
constexpr auto k_tag = source::EventKind::tag_push;
constexpr auto k_delete = source::EventKind::branch_delete;

TEST(ConfigMatch, GitHubFlow) {
    const Config config = parse(
        "  preview:\n"
        "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
        "    on: {branch: \"!main\"}\n"
        "    namespace: shop-{branch}\n"
        "  staging:\n"
        "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
        "    on: {branch: main}\n"
        "    namespace: shop\n"
        "  production:\n"
        "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
        "    on: {tag: \"v*\"}\n"
        "    namespace: shop\n"
        "    promoteFrom: staging\n");
    EXPECT_EQ(selected(config, k_branch, "feature/a"), Names{"preview"});
    EXPECT_EQ(selected(config, k_branch, "main"), Names{"staging"});
    EXPECT_EQ(selected(config, k_branch, "mainline"), Names{"preview"});
    EXPECT_EQ(selected(config, k_tag, "v1.2.0"), Names{"production"});
    EXPECT_EQ(selected(config, k_tag, "release-1"), Names{});
    EXPECT_EQ(selected(config, k_delete, "feature/a"), Names{"preview"});
    // Deleting main tears nothing down: staging is not per branch.
    EXPECT_EQ(selected(config, k_delete, "main"), Names{});
}

TEST(ConfigMatch, GitFlow) {
    const Config config = parse(
        "  preview:\n"
        "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
        "    on: {branch: [\"feature/*\", \"bugfix/*\"]}\n"
        "    namespace: shop-{branch}\n"
        "  staging:\n"
        "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
        "    on: {branch: [develop, \"release/*\", \"hotfix/*\"]}\n"
        "    namespace: shop\n"
        "  production:\n"
        "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
        "    on: {tag: \"v*\"}\n"
        "    namespace: shop\n"
        "    promoteFrom: staging\n");
    EXPECT_EQ(selected(config, k_branch, "feature/login"), Names{"preview"});
    EXPECT_EQ(selected(config, k_branch, "develop"), Names{"staging"});
    EXPECT_EQ(selected(config, k_branch, "release/1.2"), Names{"staging"});
    EXPECT_EQ(selected(config, k_branch, "hotfix/1.2.1"), Names{"staging"});
    EXPECT_EQ(selected(config, k_branch, "master"), Names{});
    EXPECT_EQ(selected(config, k_tag, "v1.2.0"), Names{"production"});
    EXPECT_EQ(selected(config, k_delete, "feature/login"), Names{"preview"});
    EXPECT_EQ(selected(config, k_delete, "release/1.2"), Names{});
}

TEST(ConfigMatch, GitLabFlow) {
    // Environment branches: merging into `production` deploys production, no tags involved.
    const Config config = parse(
        "  review:\n"
        "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
        "    on: {branch: [\"*\", \"!main\", \"!pre-production\", \"!production\"]}\n"
        "    namespace: review-{branch}\n"
        "  staging:\n"
        "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
        "    on: {branch: main}\n"
        "    namespace: shop\n"
        "  pre-production:\n"
        "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
        "    on: {branch: pre-production}\n"
        "    namespace: shop-pre\n"
        "  production:\n"
        "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
        "    on: {branch: production}\n"
        "    namespace: shop\n");
    EXPECT_EQ(selected(config, k_branch, "feature/a"), Names{"review"});
    EXPECT_EQ(selected(config, k_branch, "main"), Names{"staging"});
    EXPECT_EQ(selected(config, k_branch, "pre-production"), Names{"pre-production"});
    EXPECT_EQ(selected(config, k_branch, "production"), Names{"production"});
    EXPECT_EQ(selected(config, k_tag, "v1.0.0"), Names{});
}

TEST(ConfigMatch, OtherEventsSelectNothing) {
    const Config config = parse(
        "  staging:\n"
        "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
        "    on: {branch: \"*\"}\n"
        "    namespace: shop\n");
    for (auto kind : {source::EventKind::pull_request, source::EventKind::scheduled, source::EventKind::unknown}) {
        EXPECT_EQ(selected(config, kind, "main"), Names{}) << source::to_string(kind);
    }
}

TEST(ConfigMatch, EnvironmentWithoutTriggerIsNeverSelected) {
    const Config config = parse(
        "  manual:\n"
        "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
        "    namespace: shop\n");
    EXPECT_EQ(selected(config, k_branch, "main"), Names{});
}

TEST(RefPatterns, GlobStarMatchesAnyRunIncludingSlashes) {
    EXPECT_TRUE(glob_matches("*", ""));
    EXPECT_TRUE(glob_matches("release/*", "release/1.2"));
    EXPECT_TRUE(glob_matches("release/*", "release/a/b"));
    EXPECT_FALSE(glob_matches("release/*", "release"));
    EXPECT_TRUE(glob_matches("v*.*.*", "v1.2.3"));
    EXPECT_FALSE(glob_matches("v*.*.*", "v1.2"));
    EXPECT_TRUE(glob_matches("*-hotfix", "a-b-hotfix"));
    EXPECT_FALSE(glob_matches("main", "Main"));
    EXPECT_TRUE(glob_matches("a**b", "ab"));
}

TEST(RefPatterns, ExclusionsWin) {
    const RefPatterns only_excluding{.patterns = {"!main", "!develop"}};
    EXPECT_TRUE(only_excluding.matches("feature/a"));
    EXPECT_FALSE(only_excluding.matches("main"));
    EXPECT_FALSE(only_excluding.matches("develop"));
    const RefPatterns mixed{.patterns = {"release/*", "!release/old-*"}};
    EXPECT_TRUE(mixed.matches("release/1.0"));
    EXPECT_FALSE(mixed.matches("release/old-1"));
    EXPECT_FALSE(mixed.matches("feature/a"));
    EXPECT_FALSE(RefPatterns{}.matches("main"));
}

}  // namespace
}  // namespace minicd::config
