// The preview and env commands where they need no cluster: URLs, usage and input errors.
#include <gtest/gtest.h>

#include "minicd/util/subprocess.hpp"
#include "support/git_repo.hpp"

namespace minicd::cli {
namespace {

constexpr const char* k_config =
    "app: shop\n"
    "registry: ghcr.io/acme\n"
    "environments:\n"
    "  preview:\n"
    "    cluster: {context: dev, server: \"https://dev.example.com:6443\"}\n"
    "    on: {branch: \"!main\"}\n"
    "    namespace: \"shop-{branch}\"\n"
    "    host: \"{branch}.dev.example.com\"\n"
    "    tls: {clusterIssuer: letsencrypt}\n"
    "  qa:\n"
    "    cluster: {context: dev, server: \"https://dev.example.com:6443\"}\n"
    "    on: {branch: \"qa/*\"}\n"
    "    namespace: \"qa-{branch}\"\n"
    "  staging:\n"
    "    cluster: {context: stg, server: \"https://stg.example.com:6443\"}\n"
    "    on: {branch: main}\n"
    "    namespace: shop\n";

class PreviewCli : public ::testing::Test {
protected:
    void SetUp() override { testing::write_file(m_dir.path("minicd.yaml"), k_config); }

    util::SubprocessResult run(std::vector<std::string> args) {
        args.insert(args.begin(), MINICD_BINARY);
        args.insert(args.end(), {"-f", m_dir.path("minicd.yaml")});
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .timeout = std::chrono::seconds(30)});
        EXPECT_TRUE(result) << result.error().describe();
        return result.value_or(util::SubprocessResult{});
    }

    testing::TempDir m_dir;
};

TEST_F(PreviewCli, UrlFollowsTheHostTemplate) {
    auto result = run({"preview", "url", "fix-42", "--env", "preview"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "https://fix-42.dev.example.com\n");
}

TEST_F(PreviewCli, SeveralPreviewEnvironmentsNeedEnv) {
    auto result = run({"preview", "url", "fix-42"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("several environments have previews (preview, qa): choose one with --env"), std::string::npos)
        << result.err;
}

TEST_F(PreviewCli, AnEnvironmentWithoutHostHasNoUrl) {
    auto result = run({"preview", "url", "fix-42", "--env", "qa"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("no host template"), std::string::npos) << result.err;
}

TEST_F(PreviewCli, AnEnvironmentWithoutBranchHasNoPreviews) {
    auto result = run({"preview", "down", "fix-42", "--env", "staging"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("has no previews"), std::string::npos) << result.err;
}

TEST_F(PreviewCli, ANegativeBudgetIsAUsageError) {
    auto result = run({"preview", "gc", "--max-deletions", "-1", "--env", "preview"});
    EXPECT_EQ(result.exit_code, 2) << result.err;
}

TEST_F(PreviewCli, PreviewNeedsASubcommand) {
    auto result = run({"preview"});
    EXPECT_EQ(result.exit_code, 2);
}

TEST_F(PreviewCli, EnvPinOfAnUnknownEnvironmentListsTheKnownOnes) {
    auto result = run({"env", "pin", "production"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("no environment production (there are: preview, qa, staging)"), std::string::npos)
        << result.err;
}

}  // namespace
}  // namespace minicd::cli
