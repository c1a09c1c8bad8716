#include "minicd/kube/exec_plugin.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

#include "minicd/kube/kubeconfig_test_support.hpp"
#include "minicd/model/object.hpp"

namespace minicd::kube {
namespace {

using test_support::TempDir;

// A secret that must never reach an error message, whatever is wrong around it.
constexpr std::string_view k_canary = "canary-token-DO-NOT-PRINT";
constexpr std::string_view k_v1 = "client.authentication.k8s.io/v1";

// Whether an error shows any of the canary: the whole, or either half of it.
bool shows_canary(const util::Error& error) {
    const std::string text = error.describe();
    return text.find("canary") != std::string::npos || text.find("DO-NOT-PRINT") != std::string::npos;
}

// Runs a plugin that prints `out` as it is, for user "ci", and returns what was made of it.
// (credentials_test.cpp covers running plugins; these tests are about reading what they print.)
class ExecPluginOutput : public ::testing::Test {
protected:
    Result<ExecCredential> run_printing(std::string_view out) {
        m_command = m_dir.write_executable("plugin.sh", fmt::format("#!/bin/sh\ncat <<'EOF'\n{}\nEOF\n", out));
        RestConfig config;
        config.server = "https://api.example:6443";
        config.user_name = "ci";
        config.exec = ExecConfig{.api_version = std::string(k_v1),
                                 .command = m_command,
                                 .args = {},
                                 .env = {},
                                 .provide_cluster_info = false,
                                 .interactive_mode = "Never",
                                 .install_hint = {}};
        return run_exec_plugin(config);
    }

    // An ExecCredential of the kubeconfig's version with `status` as written.
    Result<ExecCredential> run_with_status(std::string_view status) {
        return run_printing(
            fmt::format(R"({{"apiVersion": "{}", "kind": "ExecCredential", "status": {}}})", k_v1, status));
    }

    // Expects a subprocess error naming the plugin, with exactly `message` after the plugin's name.
    void expect_error(const Result<ExecCredential>& result, std::string_view message) {
        ASSERT_FALSE(result) << message;
        EXPECT_EQ(result.error().code, util::ErrorCode::subprocess);
        EXPECT_EQ(result.error().subject, m_command);
        EXPECT_EQ(result.error().message, fmt::format("exec plugin of user \"ci\" {}", message));
        EXPECT_FALSE(shows_canary(result.error())) << result.error().describe();
    }

    TempDir m_dir;
    std::string m_command;
};

TEST_F(ExecPluginOutput, WrongMemberTypesNameTheMemberAndTypeButNotTheValue) {
    const std::pair<std::string, std::string_view> cases[] = {
        {R"({"token": "t", "expirationTimestamp": 1714564800})",
         "returned status.expirationTimestamp of type number; it must be a string"},
        {fmt::format(R"({{"token": {{"value": "{}"}}}})", k_canary),
         "returned status.token of type object; it must be a string"},
        {fmt::format(R"({{"clientCertificateData": "C", "clientKeyData": ["{}"]}})", k_canary),
         "returned status.clientKeyData of type array; it must be a string"},
        {fmt::format(R"({{"token": "{}", "clientCertificateData": true}})", k_canary),
         "returned status.clientCertificateData of type boolean; it must be a string"},
        {fmt::format(R"(["{}"])", k_canary), "returned status of type array; it must be an object"},
    };
    for (const auto& [status, message] : cases) expect_error(run_with_status(status), message);

    const std::string numeric_version =
        fmt::format(R"({{"apiVersion": 1, "kind": "ExecCredential", "status": {{"token": "{}"}}}})", k_canary);
    expect_error(run_printing(numeric_version), "returned apiVersion of type number; it must be a string");
}

TEST_F(ExecPluginOutput, SyntaxErrorGivesLineAndColumnButNoContent) {
    // The token printed with a raw line break inside its string.
    expect_error(run_printing(fmt::format("{{\"apiVersion\": \"{}\", \"kind\": \"ExecCredential\",\n"
                                          " \"status\": {{\"token\": \"{}\n\"}}}}",
                                          k_v1, k_canary)),
                 "printed invalid JSON at line 2, column 48: a string holds a raw control character such as a line "
                 "break; it must be escaped");
    expect_error(run_with_status(R"({"token": 1e400})"),
                 "printed invalid JSON at line 1, column 101: a number is too large");
}

TEST_F(ExecPluginOutput, ValuesThatAreWrongAreNotQuoted) {
    expect_error(run_with_status(fmt::format(R"({{"token": "t", "expirationTimestamp": "{}"}})", k_canary)),
                 "returned a status.expirationTimestamp that is not an RFC 3339 time (2024-05-01T12:00:00Z)");
    expect_error(run_with_status(R"({"token": "t", "expirationTimestamp": ""})"),
                 "returned a status.expirationTimestamp that is not an RFC 3339 time (2024-05-01T12:00:00Z)");
    expect_error(
        run_printing(fmt::format(R"({{"apiVersion": "{}", "kind": "ExecCredential", "status": {{}}}})", k_canary)),
        "returned an unknown apiVersion, but the kubeconfig asks for \"client.authentication.k8s.io/v1\"");
    expect_error(run_printing(fmt::format(R"({{"apiVersion": "{}", "kind": "{}", "status": {{}}}})", k_v1, k_canary)),
                 "returned another kind, expected \"ExecCredential\"");
}

TEST_F(ExecPluginOutput, ValidOutputStillGivesTheCredential) {
    auto credential = run_with_status(R"({"token": "t", "expirationTimestamp": "2030-01-02T03:04:05Z"})");
    ASSERT_TRUE(credential) << credential.error().describe();
    EXPECT_EQ(credential->material.bearer_token, "t");
    EXPECT_TRUE(credential->expires);
    auto without_expiry = run_with_status(R"({"token": "t", "expirationTimestamp": null})");
    ASSERT_TRUE(without_expiry) << without_expiry.error().describe();
    EXPECT_FALSE(without_expiry->expires);
}

TEST(ExecPluginFailure, StderrIsCutBetweenCharacters) {
    // 'x' and 700 euro signs (3 bytes each): the last 2000 of these 2101 bytes start inside a sign.
    std::string noise = "x";
    for (int i = 0; i < 700; ++i) noise += "\u20ac";
    TempDir dir;
    const std::string text = dir.write("noise.txt", noise);
    RestConfig config;
    config.server = "https://api.example:6443";
    config.exec = ExecConfig{.api_version = std::string(k_v1),
                             .command = dir.write_executable("plugin.sh", fmt::format("#!/bin/sh\ncat '{}' >&2\nexit 1\n", text)),
                             .args = {},
                             .env = {},
                             .provide_cluster_info = false,
                             .interactive_mode = "Never",
                             .install_hint = {}};
    auto credential = run_exec_plugin(config);
    ASSERT_FALSE(credential);
    const std::string& message = credential.error().message;
    const std::size_t colon = message.find(": ");
    ASSERT_NE(colon, std::string::npos) << message;
    const std::string tail = message.substr(colon + 2);
    EXPECT_EQ(tail.size(), 1998U) << "whole characters only, within the 2000 bytes";
    EXPECT_TRUE(tail.starts_with("\u20ac"));
    EXPECT_NO_THROW((void)model::Json(message).dump()) << "valid UTF-8, so -o json can carry it";
}

TEST(ParseRfc3339, TimesTheClockCannotHoldAreNone) {
    // Go's zero time, and years whose nanoseconds since 1970 overflow int64 (or any difference with now).
    for (const char* text : {"0001-01-01T00:00:00Z", "1677-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2263-01-01T00:00:00Z",
                             "2201-01-01T00:00:00Z", "1969-12-31T23:59:59Z"}) {
        EXPECT_FALSE(parse_rfc3339(text)) << text;
    }
    EXPECT_TRUE(parse_rfc3339("1970-01-01T00:00:00Z"));
    EXPECT_TRUE(parse_rfc3339("2200-12-31T23:59:59.999999999Z"));
}

}  // namespace
}  // namespace minicd::kube
