#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "minicd/util/subprocess.hpp"

namespace minicd::cli {
namespace {

const std::filesystem::path k_repository =
    std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();

util::SubprocessResult run_minicd(std::vector<std::string> args) {
    args.insert(args.begin(), MINICD_BINARY);
    auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .timeout = std::chrono::seconds(30)});
    EXPECT_TRUE(result) << result.error().describe();
    return result.value_or(util::SubprocessResult{});
}

class ConfigValidate : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir = std::filesystem::temp_directory_path() / ("minicd-config-cli-" + std::to_string(::getpid()));
        std::filesystem::create_directories(m_dir);
    }
    void TearDown() override { std::filesystem::remove_all(m_dir); }

    std::string write(const std::string& text) {
        const auto path = m_dir / "minicd.yaml";
        std::ofstream(path) << text;
        return path.string();
    }

    std::filesystem::path m_dir;
};

constexpr const char* k_invalid =
    "app: shop\n"
    "registry: ghcr.io/acme\n"
    "environments:\n"
    "  staging:\n"
    "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
    "    on: {branch: main}\n"
    "    namespace: Shop\n"
    "    promoteFrom: qa\n";

TEST_F(ConfigValidate, ExampleIsValidAndExitsZero) {
    const auto result = run_minicd({"config", "validate", "-f", (k_repository / "examples" / "minicd.yaml").string()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find("is valid: app shop, environments preview, staging, production"), std::string::npos)
        << result.out;
    EXPECT_EQ(result.err, "");
}

TEST_F(ConfigValidate, InvalidFilePrintsEveryErrorAndExitsTwo) {
    const std::string path = write(k_invalid);
    const auto result = run_minicd({"config", "validate", "--file", path});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find(path + ":7:16: environments.staging.namespace: gives \"Shop\", which is not a "
                                     "namespace name"),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find(path + ":8:18: environments.staging.promoteFrom: no environment \"qa\""),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find(path + ": 2 errors"), std::string::npos) << result.err;
}

TEST_F(ConfigValidate, JsonOutputListsErrorsAndWarnings) {
    const std::string path = write(k_invalid);
    const auto result = run_minicd({"config", "validate", "-f", path, "-o", "json"});
    EXPECT_EQ(result.exit_code, 2);
    const auto out = nlohmann::json::parse(result.out, nullptr, false);
    ASSERT_TRUE(out.is_object()) << result.out;
    EXPECT_EQ(out["valid"], false);
    ASSERT_EQ(out["errors"].size(), 2u);
    EXPECT_EQ(out["errors"][0]["line"], 7);
    EXPECT_EQ(out["errors"][0]["column"], 16);
    EXPECT_EQ(out["errors"][0]["field"], "environments.staging.namespace");
    EXPECT_TRUE(out["warnings"].empty());
}

TEST_F(ConfigValidate, MissingFileIsAnErrorWithoutAPlace) {
    const auto result = run_minicd({"config", "validate", "-f", (m_dir / "absent.yaml").string()});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("absent.yaml: cannot read"), std::string::npos) << result.err;
}

TEST_F(ConfigValidate, ConfigWithoutSubcommandIsAUsageError) {
    const auto result = run_minicd({"config"});
    EXPECT_EQ(result.exit_code, 2);
}

}  // namespace
}  // namespace minicd::cli
