#include "minicd/pipeline/naming.hpp"

#include <gtest/gtest.h>

#include <string>

namespace minicd::pipeline {
namespace {

// Expected hashes are the first 8 hex characters of sha256 of the branch name, computed apart.
struct NamespaceCase {
    std::string branch;
    std::string expected;
};

TEST(PreviewNamespace, AdversarialBranchNames) {
    const NamespaceCase cases[] = {
        {"feature-a", "shop-feature-a"},
        {"feature/a", "shop-feature-a-951d42dc"},
        {"Feature/A", "shop-feature-a-5914af56"},
        {"FEATURE-X", "shop-feature-x-1581e0b7"},
        {"a--b", "shop-a-b-90827a2e"},
        {"--feature", "shop-feature-a11b5fe8"},
        {"release/1.2", "shop-release-1-2-bacdc8a6"},
        {"9lives", "shop-9lives"},
        {"fix/\xC3\xA9-accent", "shop-fix-accent-01f2f5ea"},
        {"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "shop-77710aed"},  // nothing left after slugging
        {"///", "shop-732c4e97"},
        {"-", "shop-3973e022"},
        {std::string(58, 'a'), "shop-" + std::string(58, 'a')},  // exactly 63: kept as it is
        {std::string(59, 'a'), "shop-" + std::string(49, 'a') + "-111bb261"},
        {std::string(200, 'x'), "shop-" + std::string(49, 'x') + "-aa20c23e"},
    };
    for (const auto& [branch, expected] : cases) {
        auto name = preview_namespace("shop-{branch}", branch);
        ASSERT_TRUE(name) << branch << ": " << name.error().describe();
        EXPECT_EQ(*name, expected) << branch;
        EXPECT_LE(name->size(), 63u);
    }
}

TEST(PreviewNamespace, SimilarBranchesNeverShareANamespace) {
    const auto a = preview_namespace("shop", "feature/a");
    const auto b = preview_namespace("shop", "feature-a");
    const auto c = preview_namespace("shop", "Feature/A");
    const auto d = preview_namespace("shop", "feature_a");
    ASSERT_TRUE(a && b && c && d);
    EXPECT_NE(*a, *b);
    EXPECT_NE(*a, *c);
    EXPECT_NE(*b, *c);
    EXPECT_NE(*a, *d);
}

TEST(PreviewNamespace, ABranchNamedLikeAHashedOneGetsAHashOfItsOwn) {
    // `feature/a` is shortened to feature-a-951d42dc; a branch of that very name must not land there.
    const auto hashed = preview_namespace("shop", "feature/a");
    const auto lookalike = preview_namespace("shop", "feature-a-951d42dc");
    ASSERT_TRUE(hashed && lookalike);
    EXPECT_NE(*hashed, *lookalike);
    EXPECT_TRUE(lookalike->starts_with("shop-feature-a-951d42dc-")) << *lookalike;
    EXPECT_EQ(branch_label("951d42dc", 63).size(), 17u);  // 8 hex characters alone look hashed too
    EXPECT_EQ(branch_label("release-v2024abc", 63), "release-v2024abc");  // not all hex: kept as it is
    EXPECT_EQ(branch_label("fix-deadbeef0", 63), "fix-deadbeef0");        // 9 characters after the dash
}

TEST(PreviewNamespace, PlainPrefixGetsADash) {
    EXPECT_EQ(preview_namespace("shop", "feature/a").value(), "shop-feature-a-951d42dc");
}

TEST(PreviewNamespace, CutNeverLeavesADashBeforeTheHash) {
    // The cut falls right after the `-` that stood for `/`.
    const std::string branch = std::string(48, 'x') + "/yyyy";
    auto name = preview_namespace("shop", branch);
    ASSERT_TRUE(name);
    EXPECT_EQ(name->find("--"), std::string::npos) << *name;
    EXPECT_EQ(name->substr(0, 5 + 48 + 1), "shop-" + std::string(48, 'x') + "-");
    EXPECT_EQ(name->size(), 5u + 48 + 1 + 8);
}

TEST(PreviewNamespace, TextAfterTheBranchCountsAgainstTheLimit) {
    auto name = preview_namespace("pr-{branch}-web", std::string(200, 'x'));
    ASSERT_TRUE(name);
    EXPECT_EQ(name->size(), 63u);
    EXPECT_TRUE(name->ends_with("-aa20c23e-web")) << *name;
}

TEST(PreviewNamespace, RefusesWhatCannotBeANamespace) {
    EXPECT_FALSE(preview_namespace("kube", "system"));                       // reserved prefix
    EXPECT_FALSE(preview_namespace("{branch}", "9lives"));                   // starts with a digit
    EXPECT_FALSE(preview_namespace("Shop-{branch}", "a"));                   // uppercase literal
    EXPECT_FALSE(preview_namespace("shop_{branch}", "a"));                   // `_` in the literal
    EXPECT_FALSE(preview_namespace("shop-{branch}-", "a"));                  // ends with a dash
    EXPECT_FALSE(preview_namespace("shop-{branch}", ""));                    // no branch
    EXPECT_FALSE(preview_namespace("shop-{branch}-{branch}", "a"));          // twice
    EXPECT_FALSE(preview_namespace("shop-{sha}", "a"));                      // unknown placeholder
    EXPECT_FALSE(preview_namespace("shop-{branch", "a"));                    // unbalanced
    EXPECT_FALSE(preview_namespace(std::string(56, 'a') + "-{branch}", "a"));  // no room for a hash
    auto error = preview_namespace("kube", "system");
    EXPECT_EQ(error.error().code, util::ErrorCode::input);
    EXPECT_NE(error.error().message.find("kube-"), std::string::npos) << error.error().message;
}

TEST(NamespaceName, FillsAppAndEnv) {
    EXPECT_EQ(namespace_name("{app}-{env}", {.app = "shop", .env = "staging", .branch = {}}).value(), "shop-staging");
    EXPECT_EQ(namespace_name("shop", {}).value(), "shop");
    EXPECT_FALSE(namespace_name("{app}-{env}", {.app = "shop", .env = {}, .branch = {}}));
}

TEST(HostName, BranchBecomesOneLabel) {
    const NameValues values{.app = "shop", .env = "preview", .branch = "feature/a"};
    EXPECT_EQ(host_name("{branch}.dev.example.com", values).value(), "feature-a-951d42dc.dev.example.com");
    EXPECT_EQ(host_name("{app}-{branch}.example.com", {.app = "shop", .env = {}, .branch = "9lives"}).value(),
              "shop-9lives.example.com");
    EXPECT_EQ(host_name("{branch}.example.com", {.app = {}, .env = {}, .branch = "9lives"}).value(),
              "9lives.example.com");
    auto long_host = host_name("{branch}.example.com", {.app = {}, .env = {}, .branch = std::string(200, 'x')});
    ASSERT_TRUE(long_host);
    EXPECT_EQ(*long_host, std::string(54, 'x') + "-aa20c23e.example.com");
}

TEST(HostName, RefusesBadLabels) {
    const NameValues values{.app = "shop", .env = "preview", .branch = "a"};
    EXPECT_FALSE(host_name("{branch}..example.com", values));
    EXPECT_FALSE(host_name("{branch}.Example.com", values));
    EXPECT_FALSE(host_name("-{branch}.example.com", values));
    EXPECT_FALSE(host_name("{branch}.exa_mple.com", values));
    EXPECT_FALSE(host_name(std::string(64, 'a') + ".com", values));
}

TEST(BranchLabel, NoRoomForAHashGivesNothing) {
    EXPECT_EQ(branch_label("feature/a", 7), "");
    EXPECT_EQ(branch_label("feature/a", 8), "951d42dc");
    EXPECT_EQ(branch_label("feature/a", 10), "f-951d42dc");
    EXPECT_EQ(branch_label("main", 4), "main");
}

}  // namespace
}  // namespace minicd::pipeline
