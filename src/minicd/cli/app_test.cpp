#include <gtest/gtest.h>

#include "minicd/util/subprocess.hpp"

namespace minicd::cli {
namespace {

util::SubprocessResult run_minicd(std::vector<std::string> args) {
    args.insert(args.begin(), MINICD_BINARY);
    auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .timeout = std::chrono::seconds(30)});
    EXPECT_TRUE(result) << result.error().describe();
    return result.value_or(util::SubprocessResult{});
}

TEST(Cli, VersionPrintsNameAndVersion) {
    auto result = run_minicd({"--version"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.out.rfind("minicd ", 0), 0u) << result.out;
}

TEST(Cli, HelpGoesToStdoutAndSucceeds) {
    auto result = run_minicd({"--help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_NE(result.out.find("Usage:"), std::string::npos) << result.out;
    EXPECT_EQ(result.err, "");
}

TEST(Cli, UnknownCommandPrintsUsageOnStderrAndExitsTwo) {
    auto result = run_minicd({"deploy-everything"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find("unknown command: deploy-everything"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("Usage:"), std::string::npos) << result.err;
}

TEST(Cli, UnknownFlagPrintsUsageOnStderrAndExitsTwo) {
    auto result = run_minicd({"--bogus"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("unknown flag: --bogus"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("Usage:"), std::string::npos);
}

TEST(Cli, BadFlagValueIsAUsageError) {
    auto result = run_minicd({"--log-level", "loud"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("loud"), std::string::npos) << result.err;
}

TEST(Cli, NoCommandIsAUsageError) {
    auto result = run_minicd({});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("a command is required"), std::string::npos) << result.err;
}

TEST(Cli, RepeatableFlagTakesOneValueEachTimeAndLeavesThePositionalsAlone) {
    // Before, the flag swallowed both references and promote said they were missing.
    auto result = run_minicd({"promote", "--insecure-registry", "127.0.0.1:1", "Not A Reference", "127.0.0.1:1/a:2"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("Not A Reference"), std::string::npos) << result.err;

    auto extra = run_minicd({"build", "--image", "shop", "--build-arg", "A=1", "B=2"});
    EXPECT_EQ(extra.exit_code, 2);
    EXPECT_NE(extra.err.find("unknown command: B=2"), std::string::npos) << extra.err;
}

}  // namespace
}  // namespace minicd::cli
