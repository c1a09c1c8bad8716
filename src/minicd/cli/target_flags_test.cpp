// history and rollback: which target the flags name, and the usage errors that need no cluster.
#include "minicd/cli/target_flags.hpp"

#include <gtest/gtest.h>

#include "minicd/util/subprocess.hpp"
#include "support/git_repo.hpp"

namespace minicd::cli {
namespace {

TEST(TargetFlags, EnvironmentAlone) {
    auto form = target_form({.environment = "prod"});
    ASSERT_TRUE(form) << form.error().describe();
    EXPECT_EQ(*form, TargetForm::environment);
}

TEST(TargetFlags, NamespaceAppAndEnvTogether) {
    auto form = target_form({.namespace_ = "shop", .app = "shop", .env = "prod"});
    ASSERT_TRUE(form) << form.error().describe();
    EXPECT_EQ(*form, TargetForm::explicit_);
}

TEST(TargetFlags, MixingTheFormsIsAUsageError) {
    auto form = target_form({.environment = "prod", .app = "shop"});
    ASSERT_FALSE(form);
    EXPECT_EQ(form.error().code, util::ErrorCode::usage);
    EXPECT_NE(form.error().message.find("not both (ENVIRONMENT prod with --app)"), std::string::npos) << form.error().message;
}

TEST(TargetFlags, AnIncompleteExplicitFormNamesWhatIsMissing) {
    auto form = target_form({.namespace_ = "shop", .env = "prod"});
    ASSERT_FALSE(form);
    EXPECT_EQ(form.error().code, util::ErrorCode::usage);
    EXPECT_NE(form.error().message.find("(missing: --app)"), std::string::npos) << form.error().message;
}

TEST(TargetFlags, NoTargetIsAUsageError) {
    auto form = target_form({});
    ASSERT_FALSE(form);
    EXPECT_EQ(form.error().code, util::ErrorCode::usage);
}

TEST(TargetFlags, ContextGoesOnlyWithTheExplicitForm) {
    auto form = target_form({.environment = "prod", .context = "kind-prod"});
    ASSERT_FALSE(form);
    EXPECT_EQ(form.error().code, util::ErrorCode::usage);
}

TEST(TargetFlags, BranchAndFileGoOnlyWithAnEnvironment) {
    EXPECT_FALSE(target_form({.branch = "fix-1", .namespace_ = "shop", .app = "shop", .env = "prod"}));
    EXPECT_FALSE(target_form({.file = "other.yaml", .file_given = true, .namespace_ = "shop", .app = "shop", .env = "prod"}));
}

constexpr const char* k_config =
    "app: shop\n"
    "registry: ghcr.io/acme\n"
    "environments:\n"
    "  preview:\n"
    "    cluster: {context: dev}\n"
    "    on: {branch: \"!main\"}\n"
    "    namespace: \"shop-{branch}\"\n"
    "  prod:\n"
    "    cluster: {context: prod}\n"
    "    namespace: shop\n";

class TargetCli : public ::testing::Test {
protected:
    void SetUp() override { testing::write_file(m_dir.path("minicd.yaml"), k_config); }

    util::SubprocessResult run(std::vector<std::string> args) {
        args.insert(args.begin(), MINICD_BINARY);
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .timeout = std::chrono::seconds(30)});
        EXPECT_TRUE(result) << result.error().describe();
        return result.value_or(util::SubprocessResult{});
    }

    testing::TempDir m_dir;
};

TEST_F(TargetCli, UnknownEnvironmentNamesTheKnownOnes) {
    for (const char* command : {"history", "rollback"}) {
        auto result = run({command, "staging", "-f", m_dir.path("minicd.yaml")});
        EXPECT_EQ(result.exit_code, 2) << command;
        EXPECT_NE(result.err.find("no environment staging (there are: preview, prod)"), std::string::npos) << result.err;
    }
}

TEST_F(TargetCli, PreviewEnvironmentNeedsBranch) {
    auto result = run({"history", "preview", "-f", m_dir.path("minicd.yaml")});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("--branch"), std::string::npos) << result.err;
}

TEST_F(TargetCli, MixedFormsExitTwo) {
    auto result = run({"rollback", "prod", "-n", "shop", "-f", m_dir.path("minicd.yaml")});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("not both"), std::string::npos) << result.err;
}

TEST_F(TargetCli, RollbackRefusesRevisionZeroAndBadDurations) {
    EXPECT_EQ(run({"rollback", "prod", "--to", "0"}).exit_code, 2);
    auto result = run({"rollback", "prod", "-f", m_dir.path("minicd.yaml"), "--timeout", "soon"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("--timeout"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace minicd::cli
