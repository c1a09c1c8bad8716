#include "minicd/kube/kubeconfig.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "minicd/kube/kubeconfig_test_support.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::kube {
namespace {

using model::Json;
using test_support::ScopedEnv;
using test_support::TempDir;

constexpr std::string_view k_ca_pem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr std::string_view k_cert_pem = "-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n";
constexpr std::string_view k_key_pem = "-----BEGIN EC PRIVATE KEY-----\nKEY\n-----END EC PRIVATE KEY-----\n";

// A kubeconfig with one entry in each list; `cluster` and `user` are the inner objects.
Json single_config(Json cluster, Json user, std::string current_context = "ctx", std::string namespace_ = {}) {
    Json context = {{"cluster", "c"}, {"user", "u"}};
    if (!namespace_.empty()) context["namespace"] = namespace_;
    Json config = {{"apiVersion", "v1"},
                   {"kind", "Config"},
                   {"clusters", Json::array({{{"name", "c"}, {"cluster", std::move(cluster)}}})},
                   {"users", Json::array({{{"name", "u"}, {"user", std::move(user)}}})},
                   {"contexts", Json::array({{{"name", "ctx"}, {"context", std::move(context)}}})}};
    if (!current_context.empty()) config["current-context"] = current_context;
    return config;
}

// Every test runs with an empty home and none of the variables that steer loading, whatever the
// machine running the tests has set.
class Kubeconfig : public ::testing::Test {
protected:
    std::string write(std::string_view relative, const Json& config) { return m_dir.write(relative, config.dump(2)); }

    TempDir m_dir;
    ScopedEnv m_kubeconfig{"KUBECONFIG", std::nullopt};
    ScopedEnv m_home{"HOME", m_dir.path().string()};
    ScopedEnv m_host{"KUBERNETES_SERVICE_HOST", std::nullopt};
    ScopedEnv m_port{"KUBERNETES_SERVICE_PORT", std::nullopt};
    ScopedEnv m_pod_namespace{"POD_NAMESPACE", std::nullopt};
};

TEST_F(Kubeconfig, LoadsJsonFileGivenByPath) {
    std::string path = write("kc.json", single_config({{"server", "https://api.example:6443/"},
                                                       {"tls-server-name", "api.internal"},
                                                       {"proxy-url", "socks5://proxy:1080"}},
                                                      {{"token", "t0ken"}}, "ctx", "shop"));
    auto config = load_rest_config({.path = path});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://api.example:6443");  // trailing slash dropped
    EXPECT_EQ(config->tls_server_name, "api.internal");
    EXPECT_EQ(config->proxy_url, "socks5://proxy:1080");
    EXPECT_EQ(config->token, "t0ken");
    EXPECT_EQ(config->namespace_, "shop");
    EXPECT_EQ(config->context, "ctx");
    EXPECT_EQ(config->cluster_name, "c");
    EXPECT_EQ(config->user_name, "u");
    EXPECT_FALSE(config->exec);
    EXPECT_FALSE(config->tls.insecure_skip_verify);
}

TEST_F(Kubeconfig, NamespaceDefaultsToDefault) {
    std::string path = write("kc.json", single_config({{"server", "https://a"}}, {{"token", "t"}}));
    auto config = load_rest_config({.path = path});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->namespace_, "default");
}

TEST_F(Kubeconfig, DecodesBase64DataAndPrefersItOverPaths) {
    std::string path = write("kc.json", single_config({{"server", "https://a"},
                                                       {"certificate-authority-data", util::base64_encode(k_ca_pem)},
                                                       {"certificate-authority", "ignored-ca.crt"}},
                                                      {{"client-certificate-data", util::base64_encode(k_cert_pem)},
                                                       {"client-certificate", "ignored.crt"},
                                                       {"client-key-data", util::base64_encode(k_key_pem)},
                                                       {"client-key", "ignored.key"}}));
    auto config = load_rest_config({.path = path});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->tls.ca_pem, k_ca_pem);
    EXPECT_EQ(config->tls.client_cert_pem, k_cert_pem);
    EXPECT_EQ(config->tls.client_key_pem, k_key_pem);
    EXPECT_EQ(config->tls.ca_file, "");
    EXPECT_EQ(config->tls.client_cert_file, "");
    EXPECT_EQ(config->tls.client_key_file, "");
}

TEST_F(Kubeconfig, BadBase64NamesTheEntryAndField) {
    Json cluster = {{"server", "https://a"}, {"certificate-authority-data", "!!not base64!!"}};
    std::string path = write("kc.json", single_config(cluster, {}));
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, util::ErrorCode::input);
    EXPECT_EQ(config.error().subject, path);
    EXPECT_EQ(config.error().message, "cluster \"c\": certificate-authority-data is not valid base64");
}

TEST_F(Kubeconfig, ResolvesRelativePathsAgainstTheFileThatDefinesThem) {
    // The cluster lives in one folder, the user (and context) in another; each path belongs to its own file.
    Json cluster = {{"server", "https://a"}, {"certificate-authority", "pki/ca.crt"}};
    Json first = {{"clusters", Json::array({{{"name", "c"}, {"cluster", cluster}}})}};
    Json second = {{"users", Json::array({{{"name", "u"},
                                           {"user",
                                            {{"client-certificate", "certs/me.crt"},
                                             {"client-key", "/abs/me.key"},
                                             {"tokenFile", "../tok"}}}}})},
                   {"contexts", Json::array({{{"name", "ctx"}, {"context", {{"cluster", "c"}, {"user", "u"}}}}})},
                   {"current-context", "ctx"}};
    std::string first_path = write("one/config", first);
    std::string second_path = write("two/sub/config", second);
    ScopedEnv env("KUBECONFIG", first_path + ":" + second_path);

    auto config = load_rest_config({});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->tls.ca_file, m_dir.file("one/pki/ca.crt"));
    EXPECT_EQ(config->tls.client_cert_file, m_dir.file("two/sub/certs/me.crt"));
    EXPECT_EQ(config->tls.client_key_file, "/abs/me.key");
    EXPECT_EQ(config->token_file, m_dir.file("two/tok"));
}

TEST_F(Kubeconfig, ResolvesExecCommandsWithASlashButNotBareNames) {
    auto load_command = [&](const std::string& command) {
        std::string path = write("dir/kc.json", single_config({{"server", "https://a"}},
                                                              {{"exec",
                                                                {{"apiVersion", "client.authentication.k8s.io/v1"},
                                                                 {"command", command},
                                                                 {"interactiveMode", "Never"}}}}));
        auto config = load_rest_config({.path = path});
        EXPECT_TRUE(config) << config.error().describe();
        return config ? config->exec->command : std::string();
    };
    EXPECT_EQ(load_command("./bin/plugin"), m_dir.file("dir/bin/plugin"));
    EXPECT_EQ(load_command("gke-gcloud-auth-plugin"), "gke-gcloud-auth-plugin");
    EXPECT_EQ(load_command("/usr/bin/plugin"), "/usr/bin/plugin");
}

TEST_F(Kubeconfig, MergesKubeconfigListWithTheFirstFileWinningWholeEntries) {
    Json first = {{"clusters", Json::array({{{"name", "c"}, {"cluster", {{"server", "https://first"}}}}})},
                  {"users", Json::array({{{"name", "u"}, {"user", {{"token", "first-token"}}}}})}};
    // The second file's "c" adds a field the first lacks: it is still dropped, entries are not deep-merged.
    Json second = {
        {"clusters",
         Json::array({{{"name", "c"}, {"cluster", {{"server", "https://second"}, {"tls-server-name", "second"}}}}})},
        {"users", Json::array({{{"name", "u"}, {"user", {{"token", "second-token"}}}},
                               {{"name", "other"}, {"user", {{"token", "other-token"}}}}})},
        {"contexts", Json::array({{{"name", "ctx"}, {"context", {{"cluster", "c"}, {"user", "u"}}}},
                                  {{"name", "alt"}, {"context", {{"cluster", "c"}, {"user", "other"}}}}})},
        {"current-context", "ctx"}};
    ScopedEnv env("KUBECONFIG", write("a.json", first) + ":" + write("b.json", second));

    auto config = load_rest_config({});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://first");
    EXPECT_EQ(config->tls_server_name, "");
    EXPECT_EQ(config->token, "first-token");

    // Names only the second file defines are still found.
    auto alt = load_rest_config({.context = "alt"});
    ASSERT_TRUE(alt) << alt.error().describe();
    EXPECT_EQ(alt->token, "other-token");
    EXPECT_EQ(alt->server, "https://first");
}

TEST_F(Kubeconfig, CurrentContextComesFromTheFirstFileThatSetsIt) {
    Json base = single_config({{"server", "https://a"}}, {{"token", "t"}}, "");
    base["contexts"].push_back({{"name", "two"}, {"context", {{"cluster", "c"}, {"user", "u"}, {"namespace", "two"}}}});
    base["contexts"].push_back(
        {{"name", "three"}, {"context", {{"cluster", "c"}, {"user", "u"}, {"namespace", "three"}}}});
    std::string one = write("one.json", base);
    std::string two = write("two.json", {{"current-context", "two"}});
    std::string three = write("three.json", {{"current-context", "three"}});
    ScopedEnv env("KUBECONFIG", fmt::format("{}:{}:{}", one, two, three));

    auto config = load_rest_config({});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->context, "two");
    EXPECT_EQ(config->namespace_, "two");
}

TEST_F(Kubeconfig, ContextOptionWinsOverCurrentContext) {
    Json base = single_config({{"server", "https://a"}}, {{"token", "t"}});
    base["contexts"].push_back({{"name", "other"}, {"context", {{"cluster", "c"}, {"user", "u"}, {"namespace", "o"}}}});
    std::string path = write("kc.json", base);
    auto config = load_rest_config({.path = path, .context = "other"});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->context, "other");
    EXPECT_EQ(config->namespace_, "o");
}

TEST_F(Kubeconfig, SkipsEmptyAndMissingEntriesOfTheList) {
    std::string path = write("kc.json", single_config({{"server", "https://a"}}, {{"token", "t"}}));
    ScopedEnv env("KUBECONFIG", fmt::format(":{}:{}::", m_dir.file("missing.json"), path));
    auto config = load_rest_config({});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://a");
}

TEST_F(Kubeconfig, ExplicitPathIsNotMergedWithTheList) {
    std::string explicit_path = write("explicit.json", single_config({{"server", "https://explicit"}}, {}, "ctx"));
    Json listed = single_config({{"server", "https://listed"}}, {{"token", "t"}});
    listed["contexts"].push_back({{"name", "only-listed"}, {"context", {{"cluster", "c"}}}});
    ScopedEnv env("KUBECONFIG", write("listed.json", listed));

    auto config = load_rest_config({.path = explicit_path});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://explicit");
    EXPECT_EQ(config->token, "");

    auto missing = load_rest_config({.path = explicit_path, .context = "only-listed"});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().describe(), explicit_path + ": context \"only-listed\" not found");
}

TEST_F(Kubeconfig, ExplicitPathMustExist) {
    // Even with a usable file in $KUBECONFIG: --kubeconfig means that file and no other.
    ScopedEnv env("KUBECONFIG", write("kc.json", single_config({{"server", "https://a"}}, {})));
    auto config = load_rest_config({.path = m_dir.file("nope.yaml")});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, util::ErrorCode::input);
    EXPECT_EQ(config.error().subject, m_dir.file("nope.yaml"));
}

TEST_F(Kubeconfig, ReadsHomeConfigWhenTheListIsUnset) {
    write(".kube/config", single_config({{"server", "https://home"}}, {{"token", "t"}}));
    auto config = load_rest_config({});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://home");
}

TEST_F(Kubeconfig, NoFileAndNoClusterIsAClearError) {
    auto config = load_rest_config({});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, util::ErrorCode::input);
    EXPECT_NE(config.error().message.find("no kubeconfig found"), std::string::npos) << config.error().message;
    EXPECT_NE(config.error().message.find(m_dir.file(".kube/config")), std::string::npos) << config.error().message;
    EXPECT_NE(config.error().message.find("not running in a cluster"), std::string::npos);
}

TEST_F(Kubeconfig, FallsBackToInClusterConfigWhenNoFileExists) {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    ScopedEnv port("KUBERNETES_SERVICE_PORT", "443");
    auto config = load_rest_config({});
    // Whether this machine is a pod decides whether the service account exists; either way the
    // in-cluster path was taken.
    if (config) {
        EXPECT_EQ(config->server, "https://10.96.0.1:443");
    } else {
        EXPECT_EQ(config.error().subject, "/var/run/secrets/kubernetes.io/serviceaccount/token");
    }
}

TEST_F(Kubeconfig, TokenWinsOverTokenFile) {
    std::string path =
        write("kc.json", single_config({{"server", "https://a"}}, {{"token", "inline"}, {"tokenFile", "tok"}}));
    auto config = load_rest_config({.path = path});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->token, "inline");
    EXPECT_EQ(config->token_file, "");
}

TEST_F(Kubeconfig, InsecureSkipVerifyIsKeptWithoutACa) {
    std::string path =
        write("kc.json", single_config({{"server", "https://a"}, {"insecure-skip-tls-verify", true}}, {}));
    auto config = load_rest_config({.path = path});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_TRUE(config->tls.insecure_skip_verify);
}

TEST_F(Kubeconfig, InsecureSkipVerifyWithACaIsAnError) {
    for (const Json& ca : {Json{{"certificate-authority", "ca.crt"}},
                           Json{{"certificate-authority-data", util::base64_encode(k_ca_pem)}}}) {
        Json cluster = ca;
        cluster["server"] = "https://a";
        cluster["insecure-skip-tls-verify"] = true;
        std::string path = write("kc.json", single_config(cluster, {}));
        auto config = load_rest_config({.path = path});
        ASSERT_FALSE(config);
        EXPECT_EQ(config.error().code, util::ErrorCode::input);
        EXPECT_EQ(config.error().describe(),
                  path + ": cluster \"c\": insecure-skip-tls-verify cannot be combined with a certificate authority");
    }
}

TEST_F(Kubeconfig, MoreThanOneAuthMethodIsAnErrorNamingTheUser) {
    std::string path =
        write("kc.json", single_config({{"server", "https://a"}},
                                       {{"token", "secret-token"},
                                        {"exec", {{"apiVersion", "client.authentication.k8s.io/v1beta1"},
                                                  {"command", "plugin"}}}}));
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, util::ErrorCode::input);
    EXPECT_EQ(config.error().subject, path);
    EXPECT_EQ(config.error().message,
              "user \"u\": more than one authentication method (token, exec); only one is allowed");
    EXPECT_EQ(config.error().message.find("secret-token"), std::string::npos);
}

TEST_F(Kubeconfig, ClientCertificateWithTokenIsAllowedButNotWithExec) {
    Json user = {{"token", "t"},
                 {"client-certificate-data", util::base64_encode(k_cert_pem)},
                 {"client-key-data", util::base64_encode(k_key_pem)}};
    auto with_token = load_rest_config({.path = write("kc.json", single_config({{"server", "https://a"}}, user))});
    ASSERT_TRUE(with_token) << with_token.error().describe();
    EXPECT_EQ(with_token->token, "t");
    EXPECT_EQ(with_token->tls.client_cert_pem, k_cert_pem);

    user.erase("token");
    user["exec"] = {{"apiVersion", "client.authentication.k8s.io/v1beta1"}, {"command", "plugin"}};
    auto with_exec = load_rest_config({.path = write("kc.json", single_config({{"server", "https://a"}}, user))});
    ASSERT_FALSE(with_exec);
    EXPECT_NE(with_exec.error().message.find("exec, client certificate"), std::string::npos)
        << with_exec.error().message;
}

TEST_F(Kubeconfig, ClientCertificateNeedsAKey) {
    Json user = {{"client-certificate-data", util::base64_encode(k_cert_pem)}};
    std::string path = write("kc.json", single_config({{"server", "https://a"}}, user));
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, "user \"u\": client-certificate is set without client-key");
}

TEST_F(Kubeconfig, UnsupportedAuthMethodsAreNamed) {
    auto basic = load_rest_config(
        {.path = write("kc.json", single_config({{"server", "https://a"}}, {{"username", "me"}, {"password", "pw"}}))});
    ASSERT_FALSE(basic);
    EXPECT_EQ(basic.error().message, "user \"u\": username/password (basic) authentication is not supported");
    auto provider = load_rest_config(
        {.path = write("kc.json", single_config({{"server", "https://a"}}, {{"auth-provider", {{"name", "gcp"}}}}))});
    ASSERT_FALSE(provider);
    EXPECT_NE(provider.error().message.find("auth-provider is not supported"), std::string::npos);
}

TEST_F(Kubeconfig, MissingContextNamesTheFilesRead) {
    std::string one = write("one.json", single_config({{"server", "https://a"}}, {}));
    std::string two = write("two.json", {{"kind", "Config"}});
    ScopedEnv env("KUBECONFIG", one + ":" + two);
    auto config = load_rest_config({.context = "prod"});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, util::ErrorCode::input);
    EXPECT_EQ(config.error().describe(), fmt::format("{}, {}: context \"prod\" not found", one, two));
}

TEST_F(Kubeconfig, NoContextSelectedIsAnError) {
    std::string path = write("kc.json", single_config({{"server", "https://a"}}, {}, ""));
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().describe(),
              path + ": no context: current-context is not set and no --context was given");
}

TEST_F(Kubeconfig, ContextReferringToUnknownEntriesIsAnError) {
    Json base = single_config({{"server", "https://a"}}, {});
    base["contexts"] = Json::array({{{"name", "ctx"}, {"context", {{"cluster", "c"}, {"user", "ghost"}}}}});
    std::string path = write("kc.json", base);
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, fmt::format("context \"ctx\": user \"ghost\" not found in {}", path));

    base["contexts"] = Json::array({{{"name", "ctx"}, {"context", {{"cluster", "nowhere"}}}}});
    config = load_rest_config({.path = write("kc.json", base)});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, fmt::format("context \"ctx\": cluster \"nowhere\" not found in {}", path));
}

TEST_F(Kubeconfig, ContextWithoutUserIsAnonymous) {
    Json base = single_config({{"server", "https://a"}}, {{"token", "t"}});
    base["contexts"] = Json::array({{{"name", "ctx"}, {"context", {{"cluster", "c"}}}}});
    auto config = load_rest_config({.path = write("kc.json", base)});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->token, "");
    EXPECT_EQ(config->user_name, "");
}

TEST_F(Kubeconfig, MissingServerNamesTheCluster) {
    std::string path = write("kc.json", single_config({{"certificate-authority-data", ""}}, {}));
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().describe(), path + ": cluster \"c\": no server");
}

TEST_F(Kubeconfig, DuplicateNamesInOneFileAreAnError) {
    Json base = single_config({{"server", "https://a"}}, {});
    base["clusters"].push_back({{"name", "c"}, {"cluster", {{"server", "https://b"}}}});
    std::string path = write("kc.json", base);
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().describe(), path + ": clusters: \"c\" is defined twice");
}

TEST_F(Kubeconfig, WrongFieldTypesNameTheField) {
    Json cluster = {{"server", "https://a"}, {"insecure-skip-tls-verify", "yes"}};
    std::string path = write("kc.json", single_config(cluster, {}));
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, "cluster \"c\": insecure-skip-tls-verify must be true or false, not a string");
}

// A secret that must never reach an error message, whatever is wrong around it.
constexpr std::string_view k_canary = "canary-token-DO-NOT-PRINT";

// Whether an error shows any of the canary: the whole, or either half of it.
bool shows_canary(const util::Error& error) {
    const std::string text = error.describe();
    return text.find("canary") != std::string::npos || text.find("DO-NOT-PRINT") != std::string::npos;
}

TEST_F(Kubeconfig, WrongTypesNameFileKeyExpectedAndFoundTypeButNoValue) {
    const Json exec_base = {
        {"apiVersion", "client.authentication.k8s.io/v1"}, {"command", "p"}, {"interactiveMode", "Never"}};
    Json exec_arg = exec_base;
    exec_arg["args"] = Json::array({7});
    Json exec_env = exec_base;
    exec_env["env"] = Json::array({{{"name", "A"}, {"value", {{"secret", k_canary}}}}});
    const std::pair<Json, std::string_view> cases[] = {
        {{{"token", Json::array({k_canary})}}, "user \"u\": token must be a string, not a list"},
        {{{"token", {{"value", k_canary}}}}, "user \"u\": token must be a string, not a mapping"},
        {{{"tokenFile", 42}}, "user \"u\": tokenFile must be a string, not a number"},
        {{{"exec", k_canary}}, "user \"u\": exec must be a mapping, not a string"},
        {{{"exec", exec_arg}}, "user \"u\": exec: args[0] must be a string, not a number"},
        {{{"exec", exec_env}}, "user \"u\": exec: env \"A\": value must be a string, not a mapping"},
    };
    for (const auto& [user, message] : cases) {
        std::string path = write("kc.json", single_config({{"server", "https://a"}}, user));
        auto config = load_rest_config({.path = path});
        ASSERT_FALSE(config) << message;
        EXPECT_EQ(config.error().code, util::ErrorCode::input);
        EXPECT_EQ(config.error().describe(), path + ": " + std::string(message));
        EXPECT_FALSE(shows_canary(config.error())) << config.error().describe();
    }

    Json top = single_config({{"server", "https://a"}}, {});
    top["current-context"] = Json::array({k_canary});
    auto config = load_rest_config({.path = write("kc.json", top)});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, "current-context must be a string, not a list");

    top = single_config({{"server", "https://a"}}, {});
    top["users"] = {{"u", {{"token", k_canary}}}};
    config = load_rest_config({.path = write("kc.json", top)});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, "users must be a list, not a mapping");
    EXPECT_FALSE(shows_canary(config.error())) << config.error().describe();
}

TEST_F(Kubeconfig, ValuesOutsideTheirVocabularyAreNotQuoted) {
    // No scheme: the whole URL would have read as one, password included.
    Json cluster = {{"server", "https://a"}, {"proxy-url", fmt::format("user:{}@proxy:3128", k_canary)}};
    std::string path = write("kc.json", single_config(cluster, {}));
    auto proxy = load_rest_config({.path = path});
    ASSERT_FALSE(proxy);
    EXPECT_EQ(proxy.error().describe(),
              path + ": cluster \"c\": proxy-url must start with http://, https:// or socks5://");

    auto load_exec = [&](Json exec) {
        exec["command"] = "plugin";
        return load_rest_config({.path = write("kc.json", single_config({{"server", "https://a"}}, {{"exec", exec}}))});
    };
    auto version = load_exec({{"apiVersion", k_canary}, {"interactiveMode", "Never"}});
    ASSERT_FALSE(version);
    EXPECT_EQ(version.error().message,
              "user \"u\": exec: this apiVersion is not supported (use client.authentication.k8s.io/v1 or "
              "client.authentication.k8s.io/v1beta1)");
    auto mode = load_exec({{"apiVersion", "client.authentication.k8s.io/v1"}, {"interactiveMode", k_canary}});
    ASSERT_FALSE(mode);
    EXPECT_EQ(mode.error().message, "user \"u\": exec: interactiveMode must be Never, IfAvailable or Always");
}

TEST_F(Kubeconfig, JsonSyntaxErrorGivesLineAndColumnButNoContent) {
    // A token pasted with its line break: the classic way a JSON kubeconfig breaks.
    std::string path = m_dir.write("kc.json", fmt::format(R"({{
  "apiVersion": "v1",
  "users": [{{"name": "u", "user": {{"token": "{}
"}}}}]
}})",
                                                          k_canary));
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, util::ErrorCode::input);
    EXPECT_EQ(config.error().describe(),
              path + ": not a valid JSON kubeconfig: line 3, column 71: a string holds a raw control character such "
                     "as a line break; it must be escaped");
    EXPECT_FALSE(shows_canary(config.error())) << config.error().describe();
}

TEST_F(Kubeconfig, JsonNumberTooLargeIsAnErrorNotAnException) {
    // nlohmann's parse throws out_of_range here, not parse_error: it used to escape the loader.
    std::string path = m_dir.write(
        "kc.json",
        fmt::format(R"({{"users": [{{"name": "u", "user": {{"token": "{}", "expiry": 1e400}}}}]}})", k_canary));
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().describe(),
              path + ": not a valid JSON kubeconfig: line 1, column 87: a number is too large");
}

TEST_F(Kubeconfig, JsonListsAndByteOrderMarksAreReadAsJsonWithoutQuoting) {
    // Both used to go to the YAML reader, whose JSON errors quote what nlohmann last read.
    const std::string in_list = fmt::format("[\"{}\n\"]", k_canary);
    for (const std::string& text : {in_list, "\xEF\xBB\xBF" + in_list}) {
        std::string path = m_dir.write("kc.json", text);
        auto config = load_rest_config({.path = path});
        ASSERT_FALSE(config);
        EXPECT_EQ(config.error().describe(),
                  path + ": not a valid JSON kubeconfig: line 1, column 28: a string holds a raw control character "
                         "such as a line break; it must be escaped");
    }
    auto list = load_rest_config({.path = m_dir.write("kc.json", fmt::format("[\"{}\"]", k_canary))});
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().message, "a kubeconfig must be a mapping, not a list");
}

TEST_F(Kubeconfig, InvalidJsonNamesTheFile) {
    std::string path = m_dir.write("kc.json", "{\"clusters\": [\n  {\"name\": }\n]}");
    auto config = load_rest_config({.path = path});
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, util::ErrorCode::input);
    EXPECT_EQ(config.error().subject, path);
    EXPECT_NE(config.error().message.find("line 2"), std::string::npos) << config.error().message;
}

TEST_F(Kubeconfig, ReadsExecConfig) {
    Json exec = {{"apiVersion", "client.authentication.k8s.io/v1"},
                 {"command", "gke-gcloud-auth-plugin"},
                 {"args", {"--verbose", "x"}},
                 {"env", Json::array({{{"name", "A"}, {"value", "1"}}, {{"name", "EMPTY"}}})},
                 {"installHint", "install it with gcloud components install"},
                 {"provideClusterInfo", true},
                 {"interactiveMode", "IfAvailable"}};
    std::string path = write("kc.json", single_config({{"server", "https://a"}}, {{"exec", exec}}));
    auto config = load_rest_config({.path = path});
    ASSERT_TRUE(config) << config.error().describe();
    ASSERT_TRUE(config->exec);
    EXPECT_EQ(config->exec->api_version, "client.authentication.k8s.io/v1");
    EXPECT_EQ(config->exec->command, "gke-gcloud-auth-plugin");
    EXPECT_EQ(config->exec->args, (std::vector<std::string>{"--verbose", "x"}));
    EXPECT_EQ(config->exec->env, (std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"EMPTY", ""}}));
    EXPECT_EQ(config->exec->install_hint, "install it with gcloud components install");
    EXPECT_TRUE(config->exec->provide_cluster_info);
    EXPECT_EQ(config->exec->interactive_mode, "IfAvailable");
}

TEST_F(Kubeconfig, ExecApiVersionAndInteractiveModeAreChecked) {
    auto load_exec = [&](Json exec) {
        exec["command"] = "plugin";
        return load_rest_config({.path = write("kc.json", single_config({{"server", "https://a"}}, {{"exec", exec}}))});
    };
    auto missing = load_exec({{"interactiveMode", "Never"}});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().message, "user \"u\": exec: apiVersion is required");

    auto alpha = load_exec({{"apiVersion", "client.authentication.k8s.io/v1alpha1"}});
    ASSERT_FALSE(alpha);
    EXPECT_NE(alpha.error().message.find("\"client.authentication.k8s.io/v1alpha1\" is not supported"),
              std::string::npos);

    auto v1_without_mode = load_exec({{"apiVersion", "client.authentication.k8s.io/v1"}});
    ASSERT_FALSE(v1_without_mode);
    EXPECT_EQ(v1_without_mode.error().message,
              "user \"u\": exec: interactiveMode is required for client.authentication.k8s.io/v1");

    auto bad_mode = load_exec({{"apiVersion", "client.authentication.k8s.io/v1"}, {"interactiveMode", "Sometimes"}});
    ASSERT_FALSE(bad_mode);

    auto beta_without_mode = load_exec({{"apiVersion", "client.authentication.k8s.io/v1beta1"}});
    ASSERT_TRUE(beta_without_mode) << beta_without_mode.error().describe();
    EXPECT_EQ(beta_without_mode->exec->interactive_mode, "");

    auto no_command = load_rest_config({.path = write(
        "kc.json", single_config({{"server", "https://a"}},
                                 {{"exec", {{"apiVersion", "client.authentication.k8s.io/v1beta1"}}}}))});
    ASSERT_FALSE(no_command);
    EXPECT_EQ(no_command.error().message, "user \"u\": exec: command is required");
}

TEST_F(Kubeconfig, EmptyFileIsAnEmptyConfiguration) {
    std::string empty = m_dir.write("empty", "");
    std::string json = write("kc.json", single_config({{"server", "https://a"}}, {}));
    ScopedEnv env("KUBECONFIG", empty + ":" + json);
    auto config = load_rest_config({});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://a");
}

// YAML kubeconfigs go through source::parse_yaml, like every other YAML minicd reads.
using KubeconfigYaml = Kubeconfig;

TEST_F(KubeconfigYaml, LoadsAKubeconfigAsKubectlWritesIt) {
    std::string path = m_dir.write("config", fmt::format(R"(apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: {}
users:
- name: admin
  user:
    client-certificate-data: {}
    client-key-data: {}
- name: limited
  user:
    token: abc.def
contexts:
- name: admin
  context:
    cluster: testenv
    user: admin
- name: limited
  context:
    cluster: testenv
    user: limited
    namespace: team-a
current-context: admin
)",
                                                         util::base64_encode(k_ca_pem), util::base64_encode(k_cert_pem),
                                                         util::base64_encode(k_key_pem)));
    auto admin = load_rest_config({.path = path});
    ASSERT_TRUE(admin) << admin.error().describe();
    EXPECT_EQ(admin->server, "https://127.0.0.1:6443");
    EXPECT_EQ(admin->tls.ca_pem, k_ca_pem);
    EXPECT_EQ(admin->tls.client_cert_pem, k_cert_pem);
    EXPECT_EQ(admin->tls.client_key_pem, k_key_pem);

    auto limited = load_rest_config({.path = path, .context = "limited"});
    ASSERT_TRUE(limited) << limited.error().describe();
    EXPECT_EQ(limited->token, "abc.def");
    EXPECT_EQ(limited->namespace_, "team-a");
}

TEST_F(KubeconfigYaml, MergesYamlAndJsonFiles) {
    std::string yaml = m_dir.write("a/config", R"(clusters:
- name: c
  cluster:
    server: https://yaml
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin
      interactiveMode: Never
      provideClusterInfo: true
      env:
      - name: MODE
        value: "on"
)");
    std::string json = write("b/config.json", single_config({{"server", "https://json"}}, {{"token", "t"}}));
    ScopedEnv env("KUBECONFIG", yaml + ":" + json);
    auto config = load_rest_config({});
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://yaml");
    EXPECT_TRUE(config->tls.insecure_skip_verify);
    ASSERT_TRUE(config->exec);
    EXPECT_EQ(config->exec->command, m_dir.file("a/plugin"));
    EXPECT_TRUE(config->exec->provide_cluster_info);
    EXPECT_EQ(config->exec->env, (std::vector<std::pair<std::string, std::string>>{{"MODE", "on"}}));
}

TEST_F(KubeconfigYaml, ReaderErrorsGiveTheLineButNoContent) {
    const std::pair<std::string, std::string_view> cases[] = {
        // The reader names the anchor, which here is the token.
        {fmt::format("apiVersion: v1\nusers:\n- name: u\n  user:\n    token: *{}\n", k_canary),
         "line 5: an alias (a value starting with *) names no anchor; quote the value if it is text"},
        // The reader quotes the separator line.
        {fmt::format("apiVersion: v1\n--- {}\n", k_canary), "line 2: only a comment may follow ---"},
        {fmt::format("users:\n- name: u\n  user:\n    token: !!int {}\n", k_canary),
         "line 4: a value does not fit its !! tag"},
    };
    for (const auto& [text, problem] : cases) {
        std::string path = m_dir.write("config", text);
        auto config = load_rest_config({.path = path});
        ASSERT_FALSE(config) << problem;
        EXPECT_EQ(config.error().code, util::ErrorCode::input);
        EXPECT_EQ(config.error().describe(), fmt::format("{}: not a valid YAML kubeconfig: {}", path, problem));
        EXPECT_FALSE(shows_canary(config.error())) << config.error().describe();
    }
}

TEST_F(KubeconfigYaml, SyntaxErrorsNearATokenShowNoneOfIt) {
    // Whatever the YAML library says about these, only a line and fixed words come out.
    for (const std::string& text : {fmt::format("users:\n- name: u\n  user:\n    token: \"{}\n", k_canary),
                                    fmt::format("users:\n- name: u\n  user:\n    token: {}: x: y\n", k_canary),
                                    fmt::format("users:\n- name: u\n  user: {{token: [{}\n", k_canary)}) {
        std::string path = m_dir.write("config", text);
        auto config = load_rest_config({.path = path});
        ASSERT_FALSE(config) << text;
        EXPECT_EQ(config.error().subject, path);
        EXPECT_TRUE(config.error().message.starts_with("not a valid YAML kubeconfig: line ")) << config.error().message;
        EXPECT_FALSE(shows_canary(config.error())) << config.error().describe();
    }
}

class InCluster : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir.write("token", "sa-token\n");
        m_dir.write("ca.crt", std::string(k_ca_pem));
    }

    TempDir m_dir;
    ScopedEnv m_host{"KUBERNETES_SERVICE_HOST", "10.96.0.1"};
    ScopedEnv m_port{"KUBERNETES_SERVICE_PORT", "443"};
    ScopedEnv m_pod_namespace{"POD_NAMESPACE", std::nullopt};
};

TEST_F(InCluster, ReadsTheServiceAccountFolder) {
    m_dir.write("namespace", "shop\n");
    auto config = in_cluster_config(m_dir.path().string());
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://10.96.0.1:443");
    EXPECT_EQ(config->token_file, m_dir.file("token"));
    EXPECT_EQ(config->token, "");  // the file is re-read, never copied
    EXPECT_EQ(config->tls.ca_file, m_dir.file("ca.crt"));
    EXPECT_EQ(config->namespace_, "shop");
    EXPECT_EQ(config->context, "");
}

TEST_F(InCluster, BracketsIpv6Hosts) {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", "fd00::1");
    auto config = in_cluster_config(m_dir.path().string());
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->server, "https://[fd00::1]:443");
}

TEST_F(InCluster, PodNamespaceWinsOverTheFile) {
    m_dir.write("namespace", "from-file");
    ScopedEnv pod_namespace("POD_NAMESPACE", "from-env");
    auto config = in_cluster_config(m_dir.path().string());
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->namespace_, "from-env");
}

TEST_F(InCluster, NamespaceDefaultsWithoutTheFile) {
    auto config = in_cluster_config(m_dir.path().string());
    ASSERT_TRUE(config) << config.error().describe();
    EXPECT_EQ(config->namespace_, "default");
}

TEST_F(InCluster, NeedsHostAndPort) {
    for (const char* name : {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}) {
        ScopedEnv empty(name, "");
        auto config = in_cluster_config(m_dir.path().string());
        ASSERT_FALSE(config);
        EXPECT_NE(config.error().message.find("not running in a cluster"), std::string::npos);
    }
}

TEST_F(InCluster, NeedsTheTokenFile) {
    std::filesystem::remove(m_dir.file("token"));
    auto config = in_cluster_config(m_dir.path().string());
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().subject, m_dir.file("token"));
}

}  // namespace
}  // namespace minicd::kube
