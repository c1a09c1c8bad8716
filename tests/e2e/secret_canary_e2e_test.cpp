// Secret canaries: distinct strings planted wherever minicd meets a secret (a Secret's data and
// stringData, a kubeconfig token, an exec plugin's token, registry passwords from the environment,
// config.json and a credential helper, a git token), then commands run at debug level, failures
// provoked (401s, a refused object, a kubeconfig that does not parse). None of the strings may show
// up on stdout or stderr, in the ConfigMaps and Secrets minicd writes for itself, or on the command
// line of any program running meanwhile. New commands join this suite.
#include <dirent.h>
#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../support/local_http_server.hpp"
#include "../support/scripts.hpp"
#include "../support/temp_dir.hpp"
#include "cli_run.hpp"
#include "minicd/registry/credentials.hpp"
#include "minicd/util/encoding.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;

const std::string k_app = "shop";
const std::string k_env = "test";

// The planted strings, and every form in which one could leak: as is, base64-encoded, and inside
// the base64 of the "user:password" pairs that Basic authentication and docker's auths carry.
class Canaries {
public:
    std::string plant(const std::string& where) {
        std::string value = fmt::format("canary-{}-{:08x}", where, m_random());
        m_planted.push_back(value);
        return value;
    }

    // The canaries found in `text`, for a failure message; "" when none.
    std::string found_in(const std::string& text) const {
        std::string found;
        for (const auto& canary : m_planted) {
            for (const auto& form : forms(canary)) {
                if (text.find(form) != std::string::npos) found += (found.empty() ? "" : ", ") + canary;
            }
        }
        return found;
    }

private:
    static std::vector<std::string> forms(const std::string& canary) {
        return {canary, util::base64_encode(canary), util::base64_encode("minicd:" + canary),
                util::base64_encode("x-access-token:" + canary)};
    }

    std::mt19937 m_random{std::random_device{}()};
    std::vector<std::string> m_planted;
};

// Reads the command line of every process on the machine while it runs, so that a secret passed
// as an argument to anything minicd starts is seen even if the program lives for a millisecond.
class CommandLineWatch {
public:
    explicit CommandLineWatch(const Canaries& canaries) : m_canaries(canaries), m_thread([this] { watch(); }) {}
    ~CommandLineWatch() {
        m_stop = true;
        m_thread.join();
    }
    CommandLineWatch(const CommandLineWatch&) = delete;
    CommandLineWatch& operator=(const CommandLineWatch&) = delete;

    // Command lines that held a canary, with the canary named.
    std::vector<std::string> leaks() {
        std::lock_guard lock(m_mutex);
        return {m_leaks.begin(), m_leaks.end()};
    }

private:
    void watch() {
        while (!m_stop) {
            scan();
            std::this_thread::sleep_for(1ms);
        }
    }

    void scan() {
        DIR* proc = ::opendir("/proc");
        if (proc == nullptr) return;
        while (const dirent* entry = ::readdir(proc)) {
            if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
            std::ifstream file(fmt::format("/proc/{}/cmdline", entry->d_name), std::ios::binary);
            std::string line((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
            std::replace(line.begin(), line.end(), '\0', ' ');
            if (std::string found = m_canaries.found_in(line); !found.empty()) {
                std::lock_guard lock(m_mutex);
                m_leaks.insert(found + " in: " + line);
            }
        }
        ::closedir(proc);
    }

    const Canaries& m_canaries;
    std::atomic<bool> m_stop{false};
    std::mutex m_mutex;
    std::set<std::string> m_leaks;
    std::thread m_thread;
};

class SecretCanary : public ClusterTest {
protected:
    void TearDown() override {
        expect_no_leak_in_bookkeeping();
        ClusterTest::TearDown();
    }

    // Runs minicd at debug level with `env` on top of the test environment's, and checks what it
    // printed. `KUBECONFIG` may be replaced through `env`.
    Invocation minicd(std::vector<std::string> args, std::map<std::string, std::string> env = {}, std::string cwd = {}) {
        args.insert(args.begin(), MINICD_BINARY);
        args.insert(args.end(), {"--log-level", "debug"});
        env.emplace("KUBECONFIG", cluster().var("KUBECONFIG"));
        env.emplace("XDG_CACHE_HOME", m_dir.path("cache"));
        env.emplace("DOCKER_CONFIG", m_dir.path("no-docker-config"));
        env.emplace("CONTAINERS_REGISTRIES_CONF", cluster().var("MINICD_TEST_REGISTRIES_CONF"));
        env.emplace("BUILDAH_ISOLATION", "chroot");
        Invocation run;
        {
            CommandLineWatch watch(m_canaries);
            run = invocation_of(util::run_subprocess({.inherit = util::Inherit::everything,
                                                      .argv = args,
                                                      .env = env,
                                                      .env_remove = {"MINICD_REGISTRY_USERNAME", "MINICD_REGISTRY_PASSWORD",
                                                                     "MINICD_REGISTRY_HOSTS"},
                                                      .working_dir = cwd.empty() ? m_dir.path() : cwd,
                                                      .timeout = 300s}));
            for (const auto& leak : watch.leaks()) ADD_FAILURE() << "a command line held a secret: " << leak;
        }
        const std::string command = fmt::format("minicd {}", fmt::join(args.begin() + 1, args.end(), " "));
        EXPECT_EQ(m_canaries.found_in(run.out), "") << command << " printed a secret on stdout:\n" << run.out;
        EXPECT_EQ(m_canaries.found_in(run.err), "") << command << " printed a secret on stderr:\n" << run.err;
        return run;
    }

    std::vector<std::string> target() const { return {"-n", ns(), "--app", k_app, "--env", k_env}; }
    std::vector<std::string> apply_args(std::vector<std::string> extra = {}) const {
        std::vector<std::string> args = {"apply", "-f", m_dir.path("manifests"), "--prune"};
        for (const auto& item : target()) args.push_back(item);
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    // The app's manifests: a Secret with both kinds of data, and whatever else a test adds.
    void write_manifests(const std::string& data, const std::string& string_data, const std::string& extra = {}) {
        std::filesystem::create_directories(m_dir.path("manifests"));
        std::ofstream(m_dir.path("manifests/app.yaml")) << fmt::format(R"(apiVersion: v1
kind: Secret
metadata: {{name: app-credentials}}
type: Opaque
data: {{password: {}}}
stringData: {{token: "{}"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-settings}}
data: {{mode: fast}}
{})",
                                                                       util::base64_encode(data), string_data, extra);
    }

    // The ConfigMaps and Secrets in the namespace other than the app's own Secret and the release
    // payloads (which hold the release's objects, Secrets included, by design).
    void expect_no_leak_in_bookkeeping() {
        for (const std::string kind : {"configmaps", "secrets"}) {
            auto listed = api(cluster().admin(), http::Method::get, ns_path("/" + kind));
            if (listed.status != 200) continue;
            for (const auto& item : listed.body.value("items", Json::array())) {
                const std::string name = pick_text(item, "/metadata/name");
                if (name == "app-credentials" || pick_text(item, "/type") == "minicd.io/release-payload") continue;
                const std::string text = item.dump();
                EXPECT_EQ(m_canaries.found_in(text), "") << kind << "/" << name << " holds a secret: " << text;
            }
        }
    }

    // A kubeconfig for the test cluster whose user is `user` (a YAML flow mapping) instead of the admin.
    std::string kubeconfig_with_user(const std::string& file, const std::string& user) {
        auto original = util::read_file(cluster().var("KUBECONFIG"));
        std::smatch ca;
        const std::string text = original.value_or("");
        EXPECT_TRUE(std::regex_search(text, ca, std::regex(R"(certificate-authority-data: (\S+))")));
        std::ofstream(m_dir.path(file)) << fmt::format(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            "clusters: [{{name: c, cluster: {{server: \"{}\", certificate-authority-data: {}}}}}]\n"
            "contexts: [{{name: c, context: {{cluster: c, user: u}}}}]\n"
            "users: [{{name: u, user: {}}}]\n",
            cluster().var("MINICD_TEST_APISERVER"), ca.size() > 1 ? ca[1].str() : "", user);
        return m_dir.path(file);
    }

    testing::TempDir m_dir;
    Canaries m_canaries;
};

TEST_F(SecretCanary, ManifestSecretsStayOutOfEveryOutputAndRecord) {
    write_manifests(m_canaries.plant("data"), m_canaries.plant("string-data"));
    EXPECT_EQ(minicd(apply_args({"--dry-run"})).exit_code, 0);
    EXPECT_EQ(minicd(apply_args({"--dry-run", "-o", "json"})).exit_code, 0);
    auto first = minicd(apply_args({"-o", "json"}));
    ASSERT_EQ(first.exit_code, 0) << first.all();

    // A change of values shows as a change, never as the values.
    write_manifests(m_canaries.plant("data-changed"), m_canaries.plant("string-data-changed"));
    EXPECT_EQ(minicd(apply_args({"--dry-run"})).exit_code, 0);
    auto second = minicd(apply_args());
    ASSERT_EQ(second.exit_code, 0) << second.all();

    // Refused by the API server: nothing is written and the error names no value.
    write_manifests(m_canaries.plant("data-refused"), m_canaries.plant("string-data-refused"), R"(---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 99999}]}
)");
    EXPECT_NE(minicd(apply_args()).exit_code, 0);
    EXPECT_NE(minicd(apply_args({"-o", "json"})).exit_code, 0);

    // A hand edit: drift reports it without the value, in text and JSON.
    const std::string edited = m_canaries.plant("hand-edit");
    Json live = api(cluster().admin(), http::Method::get, ns_path("/secrets/app-credentials")).body;
    live["data"]["password"] = util::base64_encode(edited);
    auto replaced = api(cluster().admin(), http::Method::put, ns_path("/secrets/app-credentials"), live);
    ASSERT_EQ(replaced.status, 200) << replaced.body.dump();
    auto drift = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = {"drift"};
        for (const auto& item : target()) args.push_back(item);
        args.insert(args.end(), extra.begin(), extra.end());
        return minicd(args);
    };
    EXPECT_EQ(drift({}).exit_code, 3);
    EXPECT_EQ(drift({"-o", "json"}).exit_code, 3);
    EXPECT_EQ(drift({"-m", m_dir.path("manifests"), "-o", "json"}).exit_code, 3);

    std::vector<std::string> history = {"history"};
    for (const auto& item : target()) history.push_back(item);
    EXPECT_EQ(minicd(history).exit_code, 0);
    history.insert(history.end(), {"-o", "json"});
    EXPECT_EQ(minicd(history).exit_code, 0);

    std::vector<std::string> rollback = {"rollback", "--to", "1"};
    for (const auto& item : target()) rollback.push_back(item);
    EXPECT_EQ(minicd(rollback).exit_code, 0);
}

TEST_F(SecretCanary, KubeconfigTokensStayOutOfAuthenticationErrors) {
    write_manifests("not-secret", "not-secret-either");
    const std::string bearer = kubeconfig_with_user("bearer.yaml", "{token: " + m_canaries.plant("kubeconfig-token") + "}");

    const std::string plugin_token = m_canaries.plant("exec-plugin-token");
    testing::write_script(m_dir.path("bin"), "exec-canary",
                          fmt::format("printf '%s' '{{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                                      "\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
                                      plugin_token));
    const std::string exec = kubeconfig_with_user(
        "exec.yaml", fmt::format("{{exec: {{apiVersion: client.authentication.k8s.io/v1, command: {}, interactiveMode: Never}}}}",
                                 m_dir.path("bin/exec-canary")));

    // minicd.yaml naming the kubeconfig's only context, for the commands that read it.
    std::ofstream(m_dir.path("minicd.yaml")) << fmt::format(
        "app: {}\n"
        "registry: {}/acme\n"
        "manifests: manifests\n"
        "environments:\n"
        "  preview:\n"
        "    cluster: {{context: c}}\n"
        "    on: {{branch: \"!main\"}}\n"
        "    namespace: \"{{app}}-{{branch}}\"\n"
        "  staging:\n"
        "    cluster: {{context: c}}\n"
        "    on: {{branch: main}}\n"
        "    namespace: {}\n",
        k_app, cluster().var("MINICD_TEST_REGISTRY"), ns());
    const std::string config = m_dir.path("minicd.yaml");

    for (const std::string& kubeconfig : {bearer, exec}) {
        const std::map<std::string, std::string> env = {{"KUBECONFIG", kubeconfig}};
        EXPECT_NE(minicd({"env", "show", "staging", "-f", config}, env).exit_code, 0);
        EXPECT_NE(minicd({"preview", "list", "-f", config}, env).exit_code, 0);
        EXPECT_NE(minicd({"preview", "down", "feature-x", "-f", config}, env).exit_code, 0);
        EXPECT_NE(minicd({"history", "staging", "-f", config}, env).exit_code, 0);
        EXPECT_NE(minicd({"drift", "staging", "-f", config}, env).exit_code, 0);
        auto refused = minicd(apply_args(), env);
        EXPECT_EQ(refused.exit_code, 1);
        EXPECT_NE(refused.err.find("401"), std::string::npos) << refused.err;
        EXPECT_EQ(minicd(apply_args({"--dry-run", "-o", "json"}), env).exit_code, 1);
        std::vector<std::string> history = {"history"};
        for (const auto& item : target()) history.push_back(item);
        EXPECT_NE(minicd(history, env).exit_code, 0);
    }

    // A JSON kubeconfig whose token has a raw line break in it does not parse; the error says where.
    const std::string broken = m_canaries.plant("broken-token");
    std::ofstream(m_dir.path("broken.json"))
        << fmt::format(R"({{"apiVersion": "v1", "kind": "Config", "current-context": "c",
 "clusters": [{{"name": "c", "cluster": {{"server": "{}"}}}}],
 "contexts": [{{"name": "c", "context": {{"cluster": "c", "user": "u"}}}}],
 "users": [{{"name": "u", "user": {{"token": "{}
{}"}}}}]}})",
                       cluster().var("MINICD_TEST_APISERVER"), broken, broken);
    auto unparsed = minicd(apply_args(), {{"KUBECONFIG", m_dir.path("broken.json")}});
    EXPECT_EQ(unparsed.exit_code, 2) << unparsed.all();
    EXPECT_NE(unparsed.err.find("broken.json"), std::string::npos) << unparsed.err;
}

TEST_F(SecretCanary, RegistryPasswordsStayOutOfErrorsAndCommandLines) {
    const std::string registry = cluster().var("MINICD_TEST_AUTH_REGISTRY");
    const std::string ca = cluster().var("MINICD_TEST_AUTH_REGISTRY_CA");
    const std::string user = cluster().var("MINICD_TEST_AUTH_REGISTRY_USER");
    const std::string prefix = registry::environment_prefix(registry).value_or("");
    const std::string image = registry + "/minicd-e2e/canary:1";
    const std::vector<std::string> resolve = {"image", "resolve", image, "--registry-ca", ca};

    // From the environment.
    const std::map<std::string, std::string> from_env = {{prefix + "_USERNAME", user},
                                                         {prefix + "_PASSWORD", m_canaries.plant("registry-env")}};
    auto unauthorized = minicd(resolve, from_env);
    EXPECT_EQ(unauthorized.exit_code, 1);
    EXPECT_NE(unauthorized.err.find("401"), std::string::npos) << unauthorized.err;
    EXPECT_EQ(minicd({"promote", cluster().var("MINICD_TEST_BASE_IMAGE"), registry + "/minicd-e2e/canary:2", "--registry-ca",
                      ca, "-o", "json"},
                     from_env)
                  .exit_code,
              1);

    // From docker's config.json, as an auths entry.
    std::filesystem::create_directories(m_dir.path("docker"));
    std::ofstream(m_dir.path("docker/config.json"))
        << Json{{"auths", {{registry, {{"auth", util::base64_encode("minicd:" + m_canaries.plant("config-json"))}}}}}}.dump();
    EXPECT_EQ(minicd(resolve, {{"DOCKER_CONFIG", m_dir.path("docker")}}).exit_code, 1);

    // From a credential helper that config.json names.
    testing::write_script(m_dir.path("bin"), "docker-credential-canary",
                          fmt::format("cat >/dev/null; printf '%s' '{{\"Username\":\"minicd\",\"Secret\":\"{}\"}}'\n",
                                      m_canaries.plant("credential-helper")));
    std::filesystem::create_directories(m_dir.path("helper"));
    std::ofstream(m_dir.path("helper/config.json")) << Json{{"credHelpers", {{registry, "canary"}}}}.dump();
    const char* path = std::getenv("PATH");
    EXPECT_EQ(minicd(resolve, {{"DOCKER_CONFIG", m_dir.path("helper")},
                               {"PATH", m_dir.path("bin") + ":" + (path ? path : "/usr/bin:/bin")}})
                  .exit_code,
              1);

    // A build pushing with the wrong password: the builder gets it in a file, never as an argument.
    testing::GitRepo app(m_dir.path("app"));
    app.write("Dockerfile", fmt::format("FROM {}\n", cluster().var("MINICD_TEST_BASE_IMAGE")));
    app.commit("add the Dockerfile");
    auto built = minicd({"build", "--push", "--image", "shop", "--repository", registry + "/minicd-e2e/canary-build",
                         "--context", app.path(), "--builder", "buildah",
                         "--builder-arg=--root", "--builder-arg=" + cluster().var("MINICD_TEST_BUILDAH_ROOT"),
                         "--builder-arg=--runroot", "--builder-arg=" + cluster().var("MINICD_TEST_BUILDAH_RUNROOT"),
                         "--builder-arg=--storage-driver", "--builder-arg=vfs", "--registry-ca", ca, "--cert-dir",
                         std::filesystem::path(ca).parent_path().string()},
                        from_env);
    EXPECT_EQ(built.exit_code, 1) << built.all();
    EXPECT_NE(built.err.find("unauthorized"), std::string::npos) << built.err;

    // `minicd ci` on main builds and pushes the same way, with the same credentials.
    app.write("minicd.yaml", fmt::format("app: {}\nregistry: {}/minicd-e2e\nimages: [{{name: shop}}]\nmanifests: k8s\n"
                                         "environments:\n  staging:\n    cluster: {{context: admin}}\n"
                                         "    on: {{branch: main}}\n    namespace: {}\n",
                                         k_app, registry, ns()));
    app.write("k8s/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {mode: fast}\n");
    std::map<std::string, std::string> ci_env = from_env;
    ci_env.insert({{"CI", "true"}, {"GITHUB_ACTIONS", "true"}, {"GITHUB_EVENT_NAME", "push"},
                   {"GITHUB_REF", "refs/heads/main"}, {"GITHUB_SHA", app.commit("configure minicd")}});
    auto ci = minicd({"ci", "--builder", "buildah", "--builder-arg=--root=" + cluster().var("MINICD_TEST_BUILDAH_ROOT"),
                      "--builder-arg=--runroot=" + cluster().var("MINICD_TEST_BUILDAH_RUNROOT"),
                      "--builder-arg=--storage-driver=vfs", "--registry-ca", ca, "--cert-dir",
                      std::filesystem::path(ca).parent_path().string()},
                     ci_env, app.path());
    EXPECT_EQ(ci.exit_code, 1) << ci.all();
    EXPECT_NE(ci.err.find("unauthorized"), std::string::npos) << ci.err;
}

TEST_F(SecretCanary, GitTokenStaysOutOfGitsErrors) {
    testing::LocalHttpServer remote([](const testing::LocalHttpServer::Request&) -> testing::LocalHttpServer::Reply {
        return {.status = 401, .headers = {{"WWW-Authenticate", "Basic realm=\"git\""}}};
    });
    const std::string token_variable = "E2E_CANARY_GIT_TOKEN";
    testing::GitRepo clone(m_dir.path("clone"));
    clone.write("README", "app\n");
    clone.commit("first");
    std::ofstream(clone.path("minicd.yaml")) << fmt::format(
        "app: {}\n"
        "registry: 127.0.0.1:5000/acme\n"
        "environments:\n"
        "  preview:\n"
        "    cluster: {{context: admin}}\n"
        "    on: {{branch: \"!main\"}}\n"
        "    namespace: \"{{app}}-{{branch}}\"\n"
        "    gc: {{branches: remote, remote: \"{}\", tokenEnv: {}}}\n",
        k_app, remote.url("/acme/shop.git"), token_variable);
    const std::map<std::string, std::string> env = {{token_variable, m_canaries.plant("git-token")}};
    EXPECT_EQ(minicd({"config", "validate", "-f", clone.path("minicd.yaml")}, env).exit_code, 0);
    auto gc = minicd({"preview", "gc", "--dry-run", "-f", clone.path("minicd.yaml")}, env);
    EXPECT_EQ(gc.exit_code, 1) << gc.all();
    EXPECT_NE(gc.err.find("git exited"), std::string::npos) << gc.err;
}

}  // namespace
}  // namespace minicd::e2e
