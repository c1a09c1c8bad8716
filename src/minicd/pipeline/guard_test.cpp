#include "minicd/pipeline/guard.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace minicd::pipeline {
namespace {

constexpr const char* k_uid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
constexpr const char* k_other_uid = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

config::Environment environment(std::string server, std::string uid) {
    config::Environment env;
    env.name = "production";
    env.cluster = {.context = "prd", .server = std::move(server), .uid = std::move(uid), .kubeconfig = {}};
    return env;
}

ClusterIdentity found(std::string server, std::string uid) {
    return {.server = std::move(server), .uid = std::move(uid), .uid_problem = {}};
}

TEST(NormalizeServerUrl, LowercasesSchemeAndHostOnly) {
    EXPECT_EQ(normalize_server_url("HTTPS://Prd.K8S.Example.com:6443/Clusters/A"),
              "https://prd.k8s.example.com:6443/Clusters/A");
}

TEST(NormalizeServerUrl, DropsTheSchemesDefaultPort) {
    EXPECT_EQ(normalize_server_url("https://api.example.com:443"), "https://api.example.com");
    EXPECT_EQ(normalize_server_url("http://api.example.com:80"), "http://api.example.com");
    EXPECT_EQ(normalize_server_url("http://api.example.com:443"), "http://api.example.com:443");
    EXPECT_EQ(normalize_server_url("https://api.example.com:"), "https://api.example.com");
}

TEST(NormalizeServerUrl, DropsTrailingSlashes) {
    EXPECT_EQ(normalize_server_url("https://api.example.com:6443/"), "https://api.example.com:6443");
    EXPECT_EQ(normalize_server_url("https://rancher.example.com/k8s/clusters/c-1//"),
              "https://rancher.example.com/k8s/clusters/c-1");
    EXPECT_EQ(normalize_server_url("https://a.example.com/p/?x=1"), "https://a.example.com/p?x=1");
}

TEST(NormalizeServerUrl, AssumesHttpsWithoutScheme) {
    EXPECT_EQ(normalize_server_url("10.0.0.1:443"), "https://10.0.0.1");
    EXPECT_EQ(normalize_server_url("  10.0.0.1:6443\n"), "https://10.0.0.1:6443");
}

TEST(NormalizeServerUrl, KeepsIpv6Literals) {
    EXPECT_EQ(normalize_server_url("https://[::1]:6443"), "https://[::1]:6443");
    EXPECT_EQ(normalize_server_url("https://[FD00::1]:443/"), "https://[fd00::1]");
    EXPECT_EQ(normalize_server_url("https://[::1]"), "https://[::1]");
}

TEST(CheckIdentity, PassesWhenServerAndUidMatch) {
    auto report = check_identity(environment("https://PRD.example.com:443/", k_uid), found("https://prd.example.com", k_uid));
    ASSERT_TRUE(report) << report.error().describe();
    EXPECT_TRUE(report->warning.empty());
}

TEST(CheckIdentity, PinnedServerAloneIsEnough) {
    auto report = check_identity(environment("https://prd.example.com:6443", ""),
                                 {.server = "https://prd.example.com:6443", .uid = "", .uid_problem = "forbidden"});
    ASSERT_TRUE(report) << report.error().describe();
}

TEST(CheckIdentity, PinnedUidAloneIsEnough) {
    auto report = check_identity(environment("", k_uid), found("https://anything.example.com", k_uid));
    ASSERT_TRUE(report) << report.error().describe();
}

TEST(CheckIdentity, RefusesAnotherServerNamingExpectedAndFound) {
    auto report = check_identity(environment("https://prd.example.com:6443", ""), found("https://stg.example.com:6443", k_uid));
    ASSERT_FALSE(report);
    const std::string text = report.error().describe();
    EXPECT_EQ(report.error().code, util::ErrorCode::input);
    EXPECT_NE(text.find("environment production"), std::string::npos) << text;
    EXPECT_NE(text.find("context \"prd\""), std::string::npos) << text;
    EXPECT_NE(text.find("expected https://prd.example.com:6443, found https://stg.example.com:6443"), std::string::npos)
        << text;
    EXPECT_NE(text.find("minicd env pin production"), std::string::npos) << text;
    EXPECT_NE(text.find("nothing was written"), std::string::npos) << text;
}

TEST(CheckIdentity, RefusesAnotherUidEvenWhenTheServerMatches) {
    auto report = check_identity(environment("https://prd.example.com:6443", k_uid),
                                 found("https://prd.example.com:6443", k_other_uid));
    ASSERT_FALSE(report);
    const std::string text = report.error().describe();
    EXPECT_NE(text.find(fmt::format("expected {}, found {}", k_uid, k_other_uid)), std::string::npos) << text;
    EXPECT_EQ(text.find("server:"), std::string::npos) << "the server matched: " << text;
}

TEST(CheckIdentity, UidsCompareExactly) {
    std::string upper = k_uid;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_FALSE(check_identity(environment("", k_uid), found("https://a", upper)));
}

TEST(CheckIdentity, RefusesWhenAPinnedUidCannotBeRead) {
    auto report = check_identity(environment("", k_uid),
                                 {.server = "https://a", .uid = "", .uid_problem = "namespace kube-system: forbidden"});
    ASSERT_FALSE(report);
    EXPECT_NE(report.error().message.find("could not be read (namespace kube-system: forbidden)"), std::string::npos)
        << report.error().message;
}

TEST(CheckIdentity, UnpinnedEnvironmentPassesWithAWarning) {
    auto report = check_identity(environment("", ""), found("https://dev.example.com", k_uid));
    ASSERT_TRUE(report) << report.error().describe();
    EXPECT_NE(report->warning.find("minicd env pin production"), std::string::npos) << report->warning;
    EXPECT_NE(report->warning.find("https://dev.example.com"), std::string::npos) << report->warning;
}

}  // namespace
}  // namespace minicd::pipeline
