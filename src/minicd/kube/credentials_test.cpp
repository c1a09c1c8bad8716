#include "minicd/kube/credentials.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "minicd/kube/exec_plugin.hpp"
#include "minicd/kube/kubeconfig_test_support.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::kube {
namespace {

using namespace std::chrono_literals;
using model::Json;
using test_support::ScopedEnv;
using test_support::TempDir;
using TimePoint = std::chrono::system_clock::time_point;

constexpr std::string_view k_v1 = "client.authentication.k8s.io/v1";
constexpr std::string_view k_v1beta1 = "client.authentication.k8s.io/v1beta1";

// A clock the test moves by hand.
struct FakeClock {
    std::shared_ptr<TimePoint> now =
        std::make_shared<TimePoint>(std::chrono::sys_days(std::chrono::year(2030) / 1 / 1));

    CredentialSource::Clock function() const {
        return [now = now] { return *now; };
    }
    void advance(std::chrono::seconds by) const { *now += by; }
};

std::string rfc3339(TimePoint time) {
    auto seconds = std::chrono::floor<std::chrono::seconds>(time);
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", seconds);
}

// ---- Static token and token file ----

TEST(CredentialSource, StaticTokenNeverChanges) {
    CredentialSource source(RestConfig{.token = "static"});
    auto first = source.current();
    ASSERT_TRUE(first) << first.error().describe();
    EXPECT_EQ(first->bearer_token, "static");
    EXPECT_EQ(first->generation, 1U);
    // Nothing can be refreshed: the same material comes back, so the caller stops retrying.
    auto refreshed = source.refresh_after_unauthorized(first->generation);
    ASSERT_TRUE(refreshed);
    EXPECT_EQ(refreshed->bearer_token, "static");
    EXPECT_EQ(refreshed->generation, first->generation);
}

TEST(CredentialSource, NoCredentialIsEmptyMaterial) {
    CredentialSource source(RestConfig{.server = "https://a"});
    auto material = source.current();
    ASSERT_TRUE(material);
    EXPECT_EQ(material->bearer_token, "");
    EXPECT_EQ(material->client_cert_pem, "");
}

TEST(CredentialSource, TokenFileIsTrimmedAndReReadAfterAMinute) {
    TempDir dir;
    std::string path = dir.write("token", "  first\n");
    FakeClock clock;
    CredentialSource source(RestConfig{.token_file = path}, clock.function());

    auto first = source.current();
    ASSERT_TRUE(first) << first.error().describe();
    EXPECT_EQ(first->bearer_token, "first");

    dir.write("token", "second\n");
    clock.advance(59s);
    EXPECT_EQ(source.current()->bearer_token, "first");  // still fresh
    clock.advance(2s);
    auto second = source.current();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->bearer_token, "second");
    EXPECT_GT(second->generation, first->generation);

    // A re-read that finds the same token keeps the generation: connections need not be rebuilt.
    clock.advance(61s);
    EXPECT_EQ(source.current()->generation, second->generation);
}

TEST(CredentialSource, TokenFileIsReReadAfterUnauthorized) {
    TempDir dir;
    std::string path = dir.write("token", "old");
    FakeClock clock;
    CredentialSource source(RestConfig{.token_file = path}, clock.function());
    auto old = source.current();
    ASSERT_TRUE(old);
    dir.write("token", "rotated");
    auto refreshed = source.refresh_after_unauthorized(old->generation);
    ASSERT_TRUE(refreshed);
    EXPECT_EQ(refreshed->bearer_token, "rotated");
    EXPECT_NE(refreshed->generation, old->generation);
}

TEST(CredentialSource, KeepsTheLastTokenWhileTheFileIsBrieflyMissing) {
    TempDir dir;
    std::string path = dir.write("token", "kept");
    FakeClock clock;
    CredentialSource source(RestConfig{.token_file = path}, clock.function());
    ASSERT_TRUE(source.current());
    std::filesystem::remove(path);
    clock.advance(120s);
    auto material = source.current();
    ASSERT_TRUE(material);
    EXPECT_EQ(material->bearer_token, "kept");
    // After a 401, though, the old token is known to be bad.
    auto refreshed = source.refresh_after_unauthorized(material->generation);
    ASSERT_FALSE(refreshed);
    EXPECT_EQ(refreshed.error().subject, path);
}

TEST(CredentialSource, EmptyOrMissingTokenFileIsAnError) {
    TempDir dir;
    auto missing = CredentialSource(RestConfig{.token_file = dir.file("none")}).current();
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().subject, dir.file("none"));
    auto empty = CredentialSource(RestConfig{.token_file = dir.write("token", " \n")}).current();
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().message, "the bearer token file is empty");
}

// ---- Exec plugins ----

// A folder holding plugin scripts; every run appends a line to `count`, so tests can see reuse.
class ExecPlugin : public ::testing::Test {
protected:
    // Writes a plugin printing an ExecCredential with `status`. With `expand`, the shell expands $VARS
    // in the output (the heredoc is unquoted).
    std::string plugin(std::string_view api_version, std::string_view status, bool expand = false,
                       std::string_view name = "plugin.sh") {
        return m_dir.write_executable(name, fmt::format(R"(#!/bin/sh
echo run >> "{}"
cat <<{}
{{"apiVersion": "{}", "kind": "ExecCredential", "status": {}}}
EOF
)",
                                                        m_dir.file("count"), expand ? "EOF" : "'EOF'", api_version,
                                                        status));
    }

    // A RestConfig for user "ci" that runs `command`.
    static RestConfig config_for(std::string command, std::string_view api_version = k_v1) {
        RestConfig config;
        config.server = "https://api.example:6443";
        config.user_name = "ci";
        config.exec = ExecConfig{.api_version = std::string(api_version),
                                 .command = std::move(command),
                                 .args = {},
                                 .env = {},
                                 .provide_cluster_info = false,
                                 .interactive_mode = api_version == k_v1 ? "Never" : "",
                                 .install_hint = {}};
        return config;
    }

    int runs() const {
        std::ifstream in(m_dir.file("count"));
        int lines = 0;
        for (std::string line; std::getline(in, line);) ++lines;
        return lines;
    }

    TempDir m_dir;
};

TEST_F(ExecPlugin, V1PluginReturnsAToken) {
    std::string command = plugin(k_v1, R"({"token": "tok-$1-$2-$PLUGIN_MODE"})", true);
    RestConfig config = config_for(command);
    config.exec->args = {"get-token", "--fast"};
    config.exec->env = {{"PLUGIN_MODE", "ci"}};
    CredentialSource source(config);
    auto material = source.current();
    ASSERT_TRUE(material) << material.error().describe();
    EXPECT_EQ(material->bearer_token, "tok-get-token---fast-ci");
    EXPECT_EQ(material->client_cert_pem, "");
    EXPECT_EQ(material->generation, 1U);
}

TEST_F(ExecPlugin, V1beta1PluginReturnsAToken) {
    CredentialSource source(config_for(plugin(k_v1beta1, R"({"token": "beta"})"), k_v1beta1));
    auto material = source.current();
    ASSERT_TRUE(material) << material.error().describe();
    EXPECT_EQ(material->bearer_token, "beta");
}

TEST_F(ExecPlugin, PluginReturnsAClientCertificateAndKey) {
    Json status = {{"clientCertificateData", "-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n"},
                   {"clientKeyData", "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n"}};
    CredentialSource source(config_for(plugin(k_v1, status.dump())));
    auto material = source.current();
    ASSERT_TRUE(material) << material.error().describe();
    EXPECT_EQ(material->bearer_token, "");
    EXPECT_EQ(material->client_cert_pem, "-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----\n");
    EXPECT_EQ(material->client_key_pem, "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n");
}

TEST_F(ExecPlugin, FutureExpiryIsReusedUntilTenSecondsBefore) {
    FakeClock clock;
    auto expiry = *clock.now + 1h;
    CredentialSource source(config_for(plugin(k_v1, fmt::format(R"({{"token": "t", "expirationTimestamp": "{}"}})",
                                                                 rfc3339(expiry)))),
                            clock.function());
    ASSERT_TRUE(source.current());
    ASSERT_TRUE(source.current());
    EXPECT_EQ(runs(), 1);
    clock.advance(3600s - 11s);
    ASSERT_TRUE(source.current());
    EXPECT_EQ(runs(), 1);
    clock.advance(2s);  // within the last ten seconds: treated as expired
    ASSERT_TRUE(source.current());
    EXPECT_EQ(runs(), 2);
}

TEST_F(ExecPlugin, PastExpiryRunsThePluginEveryTime) {
    CredentialSource source(
        config_for(plugin(k_v1, R"({"token": "t", "expirationTimestamp": "2001-02-03T04:05:06.789+01:00"})")));
    ASSERT_TRUE(source.current());
    ASSERT_TRUE(source.current());
    ASSERT_TRUE(source.current());
    EXPECT_EQ(runs(), 3);
}

TEST_F(ExecPlugin, NoExpiryIsReusedUntilUnauthorized) {
    CredentialSource source(config_for(plugin(k_v1, R"({"token": "t"})")));
    auto first = source.current();
    ASSERT_TRUE(first);
    ASSERT_TRUE(source.current());
    EXPECT_EQ(runs(), 1);

    auto refreshed = source.refresh_after_unauthorized(first->generation);
    ASSERT_TRUE(refreshed);
    EXPECT_EQ(runs(), 2);
    // Even an identical token gets a new generation, so other threads that saw the 401 do not re-run.
    EXPECT_NE(refreshed->generation, first->generation);

    // A 401 from a request made before that refresh: the refresh already happened.
    auto stale = source.refresh_after_unauthorized(first->generation);
    ASSERT_TRUE(stale);
    EXPECT_EQ(stale->generation, refreshed->generation);
    EXPECT_EQ(runs(), 2);
}

TEST_F(ExecPlugin, ConcurrentUnauthorizedRefreshesRunThePluginOnce) {
    // The plugin is slow, so both threads are waiting while it runs.
    std::string command = m_dir.write_executable("slow.sh", fmt::format(R"(#!/bin/sh
echo run >> "{}"
sleep 0.3
echo '{{"apiVersion": "{}", "kind": "ExecCredential", "status": {{"token": "t"}}}}'
)",
                                                                       m_dir.file("count"), k_v1));
    CredentialSource source(config_for(command));
    auto first = source.current();
    ASSERT_TRUE(first) << first.error().describe();

    std::atomic<int> ready{0};
    std::uint64_t generations[2] = {0, 0};
    bool ok[2] = {false, false};
    auto refresh = [&](int index) {
        ++ready;
        while (ready.load() < 2) std::this_thread::yield();
        auto material = source.refresh_after_unauthorized(first->generation);
        ok[index] = material.has_value();
        if (material) generations[index] = material->generation;
    };
    std::thread a(refresh, 0);
    std::thread b(refresh, 1);
    a.join();
    b.join();
    ASSERT_TRUE(ok[0] && ok[1]);
    EXPECT_EQ(runs(), 2);
    EXPECT_EQ(generations[0], generations[1]);
    EXPECT_NE(generations[0], first->generation);
}

TEST_F(ExecPlugin, PassesClusterInfoWhenAsked) {
    // The token carries KUBERNETES_EXEC_INFO back, base64-encoded so it survives inside JSON.
    std::string command = m_dir.write_executable("info.sh", fmt::format(R"(#!/bin/sh
info=$(printf '%s' "$KUBERNETES_EXEC_INFO" | base64 -w0)
echo "{{\"apiVersion\": \"{}\", \"kind\": \"ExecCredential\", \"status\": {{\"token\": \"$info\"}}}}"
)",
                                                                       k_v1beta1));
    RestConfig config = config_for(command, k_v1beta1);
    config.tls_server_name = "api.internal";
    config.tls.ca_file = m_dir.write("ca.crt", "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n");
    config.proxy_url = "http://proxy:3128";
    config.exec->provide_cluster_info = true;

    auto material = CredentialSource(config).current();
    ASSERT_TRUE(material) << material.error().describe();
    auto decoded = util::base64_decode(material->bearer_token);
    ASSERT_TRUE(decoded);
    Json info = Json::parse(*decoded);
    EXPECT_EQ(info["apiVersion"], std::string(k_v1beta1));
    EXPECT_EQ(info["kind"], "ExecCredential");
    EXPECT_EQ(info["spec"]["interactive"], false);
    const Json& cluster = info["spec"]["cluster"];
    EXPECT_EQ(cluster["server"], "https://api.example:6443");
    EXPECT_EQ(cluster["tls-server-name"], "api.internal");
    EXPECT_EQ(cluster["proxy-url"], "http://proxy:3128");
    EXPECT_FALSE(cluster.contains("insecure-skip-tls-verify"));
    EXPECT_EQ(cluster["certificate-authority-data"],
              util::base64_encode("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"));

    // Without provideClusterInfo the plugin learns nothing about the cluster.
    config.exec->provide_cluster_info = false;
    material = CredentialSource(config).current();
    ASSERT_TRUE(material);
    info = Json::parse(*util::base64_decode(material->bearer_token));
    EXPECT_FALSE(info["spec"].contains("cluster"));
    EXPECT_EQ(info["spec"]["interactive"], false);
}

TEST_F(ExecPlugin, WrongApiVersionInTheOutputIsAnError) {
    CredentialSource source(config_for(plugin(k_v1beta1, R"({"token": "secret-value"})")));
    auto material = source.current();
    ASSERT_FALSE(material);
    EXPECT_EQ(material.error().message,
              "exec plugin of user \"ci\" returned apiVersion \"client.authentication.k8s.io/v1beta1\", but the "
              "kubeconfig asks for \"client.authentication.k8s.io/v1\"");
    EXPECT_EQ(material.error().describe().find("secret-value"), std::string::npos);
}

TEST_F(ExecPlugin, FailureShowsStderrButNeverTheToken) {
    std::string command = m_dir.write_executable("fail.sh", R"(#!/bin/sh
echo '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {"token": "leaked-token"}}'
echo "error: refresh token expired, run 'login' again" >&2
exit 3
)");
    auto material = CredentialSource(config_for(command)).current();
    ASSERT_FALSE(material);
    EXPECT_EQ(material.error().code, util::ErrorCode::subprocess);
    EXPECT_EQ(material.error().subject, command);
    EXPECT_EQ(material.error().message,
              "exec plugin of user \"ci\" exited with status 3: error: refresh token expired, run 'login' again");
    EXPECT_EQ(material.error().describe().find("leaked-token"), std::string::npos);
}

TEST_F(ExecPlugin, OutputThatIsNotAnExecCredentialIsNotQuoted) {
    std::string command = m_dir.write_executable("garbage.sh", "#!/bin/sh\necho 'token=hunter2'\n");
    auto material = CredentialSource(config_for(command)).current();
    ASSERT_FALSE(material);
    EXPECT_EQ(material.error().message, "exec plugin of user \"ci\" did not print an ExecCredential JSON object");
}

TEST_F(ExecPlugin, StatusNeedsATokenOrACompleteCertificatePair) {
    auto only_cert = CredentialSource(config_for(plugin(k_v1, R"({"clientCertificateData": "C"})"))).current();
    ASSERT_FALSE(only_cert);
    EXPECT_NE(only_cert.error().message.find("only one of clientCertificateData and clientKeyData"), std::string::npos);

    auto nothing = CredentialSource(config_for(plugin(k_v1, R"({"expirationTimestamp": null})"))).current();
    ASSERT_FALSE(nothing);
    EXPECT_NE(nothing.error().message.find("neither a token nor a client certificate"), std::string::npos);

    auto no_status = CredentialSource(config_for(plugin(k_v1, "null"))).current();
    ASSERT_FALSE(no_status);
    EXPECT_NE(no_status.error().message.find("returned no status"), std::string::npos);
}

TEST_F(ExecPlugin, InvalidExpirationTimestampIsAnError) {
    auto material =
        CredentialSource(config_for(plugin(k_v1, R"({"token": "t", "expirationTimestamp": "tomorrow"})"))).current();
    ASSERT_FALSE(material);
    EXPECT_EQ(material.error().message,
              "exec plugin of user \"ci\" returned a status.expirationTimestamp that is not an RFC 3339 time "
              "(2024-05-01T12:00:00Z)");
}

TEST_F(ExecPlugin, InteractiveModeAlwaysIsRefusedWithoutRunningThePlugin) {
    RestConfig config = config_for(plugin(k_v1, R"({"token": "t"})"));
    config.exec->interactive_mode = "Always";
    auto material = CredentialSource(config).current();
    ASSERT_FALSE(material);
    EXPECT_NE(material.error().message.find("interactiveMode: Always"), std::string::npos)
        << material.error().message;
    EXPECT_EQ(runs(), 0);
}

TEST_F(ExecPlugin, MissingCommandShowsTheInstallHint) {
    RestConfig config = config_for("minicd-no-such-auth-plugin");
    config.exec->install_hint = "Install it with: gcloud components install gke-gcloud-auth-plugin\n";
    auto material = CredentialSource(config).current();
    ASSERT_FALSE(material);
    EXPECT_EQ(material.error().code, util::ErrorCode::subprocess);
    EXPECT_EQ(material.error().subject, "minicd-no-such-auth-plugin");
    EXPECT_NE(material.error().message.find("could not be run"), std::string::npos) << material.error().message;
    EXPECT_NE(material.error().message.find("Install it with: gcloud components install gke-gcloud-auth-plugin"),
              std::string::npos)
        << material.error().message;
}

TEST_F(ExecPlugin, RelativeCommandFromAKubeconfigRuns) {
    plugin(k_v1, R"({"token": "from-kubeconfig"})", false, "bin/auth.sh");
    Json exec = {{"apiVersion", k_v1}, {"command", "./bin/auth.sh"}, {"interactiveMode", "Never"}};
    Json kubeconfig = {
        {"clusters", Json::array({{{"name", "c"}, {"cluster", {{"server", "https://a"}}}}})},
        {"users", Json::array({{{"name", "u"}, {"user", {{"exec", exec}}}}})},
        {"contexts", Json::array({{{"name", "ctx"}, {"context", {{"cluster", "c"}, {"user", "u"}}}}})},
        {"current-context", "ctx"}};
    std::string path = m_dir.write("kubeconfig.json", kubeconfig.dump());
    auto config = load_rest_config({.path = path});
    ASSERT_TRUE(config) << config.error().describe();
    auto material = CredentialSource(*config).current();
    ASSERT_TRUE(material) << material.error().describe();
    EXPECT_EQ(material->bearer_token, "from-kubeconfig");
}

TEST(ExecTimestamp, ParsesRfc3339Variants) {
    using namespace std::chrono;
    const TimePoint noon = sys_days(year(2024) / 5 / 1) + 12h;
    EXPECT_EQ(parse_rfc3339("2024-05-01T12:00:00Z"), noon);
    EXPECT_EQ(parse_rfc3339("2024-05-01t12:00:00z"), noon);
    EXPECT_EQ(parse_rfc3339("2024-05-01T12:00:00.5Z"), noon + 500ms);
    EXPECT_EQ(parse_rfc3339("2024-05-01T12:00:00.123456789Z"), noon + 123456789ns);
    EXPECT_EQ(parse_rfc3339("2024-05-01T14:00:00+02:00"), noon);
    EXPECT_EQ(parse_rfc3339("2024-05-01T06:30:00.25-05:30"), noon + 250ms);
    EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), TimePoint(sys_days(year(2024) / 2 / 29)));
}

TEST(ExecTimestamp, RejectsMalformedTimestamps) {
    for (std::string_view bad : {"", "2024-05-01", "2024-05-01T12:00:00", "2024-05-01 12:00:00Z",
                                 "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200", "2024-13-01T12:00:00Z",
                                 "2023-02-29T12:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:00:00Zjunk",
                                 "tomorrow"}) {
        EXPECT_FALSE(parse_rfc3339(bad)) << bad;
    }
}

}  // namespace
}  // namespace minicd::kube
