// Canary releases end to end: `minicd apply --canary-steps`, `minicd canary ...` and `minicd ci` with
// strategy.canary, the real binary against the test control plane, gated by a real Prometheus that
// scrapes a Pushgateway. A feeder thread in the test pushes one series per canary pod (named by the
// pods the API server lists), so the analysis runs real PromQL over the very pods minicd made.
// kwok makes pods of registry.test/crashloop:1 crash-loop; every other registry.test image becomes ready.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../support/git_repo.hpp"
#include "../support/pushgateway.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/subprocess.hpp"
#include "cli_run.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

const std::string k_app = "shop";
const std::string k_env = "test";
const std::string k_crashloop = "registry.test/crashloop:1";
const std::string k_metric = "minicd_e2e_success";

// --- Manifests ---

// Deployment `web` reading ConfigMap `settings` through envFrom, its Service, and the ConfigMap.
std::string web_app(const std::string& image, const std::string& version, std::optional<int> replicas = 4) {
    const std::string replicas_line = replicas ? fmt::format("  replicas: {}\n", *replicas) : std::string();
    return fmt::format(R"(---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
{0}  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: main
          image: "{1}"
          envFrom: [{{configMapRef: {{name: settings}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
data: {{version: "{2}"}}
)",
                       replicas_line, image, version);
}

// The analysis file: one metric over the canary's pods, measured every second.
std::string analysis_yaml(const std::string& prometheus, const std::string& no_data = "inconclusive",
                          const std::string& extra_metric_lines = "") {
    return fmt::format(R"(prometheus: {{address: "{0}"}}
interval: 1s
noData: {1}
metrics:
  - name: success-rate
    query: 'min({2}{{namespace="{{{{namespace}}}}",pod=~"{{{{canary_pods}}}}"}})'
    successCondition: ">= 0.99"
{3})",
                       prometheus, no_data, k_metric, extra_metric_lines);
}

// --- The metric feeder ---

// Pushes `value` for every canary pod of the namespace, about every 250 ms, until stopped: the
// series Prometheus then scrapes are labelled with exactly the pods minicd's canary runs.
class MetricFeeder {
public:
    MetricFeeder(TestCluster& cluster, std::string namespace_, double value)
        : m_cluster(cluster), m_namespace(std::move(namespace_)), m_value(value) {
        m_thread = std::thread([this] { run(); });
    }
    ~MetricFeeder() {
        m_stop = true;
        m_thread.join();
        testing::delete_group(m_cluster.var("MINICD_TEST_PUSHGATEWAY"), m_namespace);
    }
    void set(double value) { m_value = value; }

private:
    void run() {
        const std::string path = fmt::format("/api/v1/namespaces/{}/pods?labelSelector={}", m_namespace,
                                             util::percent_encode("minicd.io/track=canary"));
        while (!m_stop) {
            auto pods = api(m_cluster.admin(), Method::get, path);
            std::vector<std::pair<std::string, double>> values;
            const Json items = pick(pods.body, "/items");
            for (const auto& pod : items.is_array() ? items : Json::array()) {
                values.emplace_back(pick_text(pod, "/metadata/name"), m_value.load());
            }
            if (!values.empty()) {
                try {
                    testing::push_gauge(m_cluster.var("MINICD_TEST_PUSHGATEWAY"), m_namespace, k_metric, values,
                                        {{"namespace", m_namespace}});
                } catch (const std::exception& error) {
                    ADD_FAILURE() << "pushing metrics: " << error.what();
                }
            }
            std::this_thread::sleep_for(250ms);
        }
    }

    TestCluster& m_cluster;
    std::string m_namespace;
    std::atomic<double> m_value;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
};

class Canary : public ClusterTest {
protected:
    std::string manifests(const std::string& name, const std::string& yaml) {
        testing::write_file(m_tmp.path(name + "/objects.yaml"), yaml);
        return m_tmp.path(name);
    }
    std::string file(const std::string& name, const std::string& text) {
        testing::write_file(m_tmp.path(name), text);
        return m_tmp.path(name);
    }
    std::string prometheus() { return cluster().var("MINICD_TEST_PROMETHEUS"); }

    Invocation minicd(std::vector<std::string> args, std::chrono::seconds limit = 300s) {
        return run_minicd(cluster(), m_tmp.path("cache"), std::move(args), limit);
    }

    std::vector<std::string> target(std::vector<std::string> extra) const {
        std::vector<std::string> args = {"-n", ns(), "--app", k_app, "--env", k_env};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    // `minicd apply` of `folder` (JSON output unless `extra` asks for text), 60s health timeout.
    Invocation apply(const std::string& folder, std::vector<std::string> extra = {}, std::chrono::seconds limit = 300s) {
        std::vector<std::string> args = {"apply", "-f", folder, "--timeout", "60s", "--prune"};
        if (std::find(extra.begin(), extra.end(), "text") == extra.end()) args.insert(args.end(), {"-o", "json"});
        auto rest = target(std::move(extra));
        args.insert(args.end(), rest.begin(), rest.end());
        return minicd(args, limit);
    }

    // The first version, deployed at once (there is nothing to run a canary next to).
    void deploy_v1() {
        auto v1 = apply(manifests("v1", web_app("registry.test/web:1", "1")));
        ASSERT_EQ(v1.exit_code, 0) << v1.all();
    }

    Json canary_args_report(const Invocation& run) { return pick(run.json, "/canary"); }

    ApiReply get(const std::string& path) { return api(cluster().admin(), Method::get, path); }
    std::string apps_path(const std::string& rest) const { return "/apis/apps/v1/namespaces/" + ns() + rest; }
    Json web() { return get(apps_path("/deployments/web")).body; }
    std::string web_image() { return pick_text(web(), "/spec/template/spec/containers/0/image"); }
    long canary_status() { return get(apps_path("/deployments/web-canary")).status; }

    // Objects of this namespace labelled as a canary's, of one collection ("configmaps", ...).
    std::vector<std::string> canary_objects(const std::string& collection) {
        const std::string path = (collection == "deployments" ? apps_path("/") : ns_path("/")) + collection +
                                 "?labelSelector=" + util::percent_encode("minicd.io/track=canary");
        std::vector<std::string> names;
        const Json items = pick(get(path).body, "/items");
        for (const auto& item : items.is_array() ? items : Json::array()) names.push_back(pick_text(item, "/metadata/name"));
        return names;
    }
    void expect_no_canary_left() {
        EXPECT_EQ(canary_objects("deployments"), std::vector<std::string>{});
        EXPECT_EQ(canary_objects("configmaps"), std::vector<std::string>{});
        EXPECT_EQ(canary_objects("secrets"), std::vector<std::string>{});
    }

    Json releases() {
        auto run = minicd({"history", "-n", ns(), "--app", k_app, "--env", k_env, "-o", "json"});
        EXPECT_EQ(run.exit_code, 0) << run.all();
        const Json found = pick(run.json, "/releases");
        return found.is_array() ? found : Json::array();
    }

    // What the stable Deployment looked like: a canary must not change any of it.
    struct StableMark {
        std::string resource_version;
        int generation = 0;
        std::string image;
        std::string settings_version;  // what ConfigMap settings says
    };
    StableMark stable_mark() {
        const Json deployment = web();
        return {pick_text(deployment, "/metadata/resourceVersion"), pick_int(deployment, "/metadata/generation"),
                pick_text(deployment, "/spec/template/spec/containers/0/image"),
                pick_text(get(ns_path("/configmaps/settings")).body, "/data/version")};
    }

    testing::TempDir m_tmp;
};

TEST_F(Canary, GoodMetricsPassEveryStepThenTheReleaseIsPromoted) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    MetricFeeder feeder(cluster(), ns(), 1.0);
    auto v2 = apply(manifests("v2", web_app("registry.test/web:2", "2")),
                    {"--canary-steps", "25:3s,50:3s", "--canary-analysis", file("analysis.yaml", analysis_yaml(prometheus()))});
    ASSERT_EQ(v2.exit_code, 0) << v2.all();
    const Json canary = canary_args_report(v2);
    EXPECT_EQ(pick_text(canary, "/end"), "promoted") << v2.out;
    EXPECT_EQ(pick_int(canary, "/reached"), 2) << v2.out;
    EXPECT_EQ(pick(canary, "/workloads"), Json::array({"web"})) << v2.out;
    EXPECT_FALSE(pick(canary, "/measurements").empty()) << v2.out;
    // The stable Deployment runs the new version, and nothing of the canary is left.
    EXPECT_EQ(web_image(), "registry.test/web:2");
    EXPECT_EQ(pick_text(get(ns_path("/configmaps/settings")).body, "/data/version"), "2");
    expect_no_canary_left();
    const Json history = releases();
    ASSERT_EQ(history.size(), 2u) << history.dump();
    EXPECT_EQ(pick_text(history[0], "/outcome"), "deployed") << history.dump();
    EXPECT_EQ(pick_text(history[1], "/outcome"), "superseded") << history.dump();
}

TEST_F(Canary, BadMetricsAbortTheCanaryAndLeaveTheStableVersionUntouched) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    const StableMark before = stable_mark();
    MetricFeeder feeder(cluster(), ns(), 0.5);
    auto v2 = apply(manifests("v2", web_app("registry.test/web:2", "2")),
                    {"--canary-steps", "25:60s,50:60s", "--canary-analysis", file("analysis.yaml", analysis_yaml(prometheus()))});
    EXPECT_EQ(v2.exit_code, 1) << v2.all();
    const std::string failure = pick_text(v2.json, "/failure");
    EXPECT_NE(failure.find("success-rate = 0.5"), std::string::npos) << failure;
    EXPECT_NE(failure.find(">= 0.99"), std::string::npos) << failure;
    EXPECT_NE(failure.find("step 1/2"), std::string::npos) << failure;
    EXPECT_EQ(pick_text(canary_args_report(v2), "/end"), "aborted") << v2.out;

    // Not one field of the stable Deployment or of its config changed.
    const StableMark after = stable_mark();
    EXPECT_EQ(after.resource_version, before.resource_version);
    EXPECT_EQ(after.generation, before.generation);
    EXPECT_EQ(after.image, "registry.test/web:1");
    EXPECT_EQ(after.settings_version, "1");
    expect_no_canary_left();

    const Json history = releases();
    ASSERT_EQ(history.size(), 2u) << history.dump();
    EXPECT_EQ(pick_text(history[0], "/outcome"), "failed") << history.dump();
    EXPECT_EQ(pick(history[0], "/held"), Json(true)) << history.dump();
    EXPECT_EQ(pick_text(history[1], "/outcome"), "deployed") << history.dump();
}

TEST_F(Canary, UnreachablePrometheusAbortsAfterTheConsecutiveErrorLimit) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    // Port 1 on loopback: nothing listens there, every query fails to connect.
    const std::string analysis = R"(prometheus: {address: "http://127.0.0.1:1"}
interval: 1s
metrics:
  - name: success-rate
    query: 'min(up)'
    successCondition: ">= 0.99"
    consecutiveErrorLimit: 2
)";
    auto v2 = apply(manifests("v2", web_app("registry.test/web:2", "2")),
                    {"--canary-steps", "25:60s", "--canary-analysis", file("analysis.yaml", analysis)});
    EXPECT_EQ(v2.exit_code, 1) << v2.all();
    const std::string failure = pick_text(v2.json, "/failure");
    EXPECT_NE(failure.find("3 times in a row"), std::string::npos) << failure;
    EXPECT_EQ(web_image(), "registry.test/web:1");
    expect_no_canary_left();
}

TEST_F(Canary, NoDataFollowsItsPolicy) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    // No series is pushed at all: the query always returns an empty vector.
    auto run_with = [&](const std::string& policy, const std::string& image) {
        return apply(manifests(policy, web_app(image, policy)),
                     {"--canary-steps", "25:3s", "--canary-analysis", file(policy + ".yaml", analysis_yaml(prometheus(), policy))});
    };
    auto failing = run_with("fail", "registry.test/web:2");
    EXPECT_EQ(failing.exit_code, 1) << failing.all();
    EXPECT_NE(pick_text(failing.json, "/failure").find("no data"), std::string::npos) << failing.out;

    auto inconclusive = run_with("inconclusive", "registry.test/web:3");
    EXPECT_EQ(inconclusive.exit_code, 1) << inconclusive.all();
    EXPECT_NE(pick_text(inconclusive.json, "/failure").find("no data"), std::string::npos) << inconclusive.out;
    EXPECT_EQ(web_image(), "registry.test/web:1");

    auto passing = run_with("pass", "registry.test/web:4");
    EXPECT_EQ(passing.exit_code, 0) << passing.all();
    EXPECT_EQ(web_image(), "registry.test/web:4");
    expect_no_canary_left();
}

TEST_F(Canary, CrashLoopingCanaryAbortsWithoutWaitingForThePause) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    const StableMark before = stable_mark();
    const auto started = std::chrono::steady_clock::now();
    auto v2 = apply(manifests("v2", web_app(k_crashloop, "2")), {"--canary-steps", "25:10m"});
    EXPECT_EQ(v2.exit_code, 1) << v2.all();
    EXPECT_NE(pick_text(v2.json, "/failure").find("CrashLoopBackOff"), std::string::npos) << v2.out;
    // Far less than the ten minutes of the pause (the check is loose on purpose: it is not a timing test).
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5min);
    EXPECT_EQ(stable_mark().resource_version, before.resource_version);
    expect_no_canary_left();
}

TEST_F(Canary, ReplicasOfAScaledStableAreReadLiveAndKept) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    // What an HPA does: another manager sets the stable's replicas.
    auto scaled = util::run_subprocess({.inherit = util::Inherit::everything, .argv = {"kubectl", "scale", "deployment", "web", "--replicas", "6", "-n", ns()},
                                        .env = {{"KUBECONFIG", cluster().var("KUBECONFIG")}},
                                        .timeout = 60s});
    ASSERT_TRUE(scaled && scaled->succeeded()) << (scaled ? scaled->err : scaled.error().describe());
    auto v2 = apply(manifests("v2", web_app("registry.test/web:2", "2")), {"--canary-steps", "50:1s", "-o", "text"});
    ASSERT_EQ(v2.exit_code, 0) << v2.all();
    // 50% next to 6 stable pods: ceil(50 × 6 / 50) = 6 canary pods.
    EXPECT_NE(v2.err.find("6 canary pods next to 6"), std::string::npos) << v2.all();
    EXPECT_EQ(pick_int(web(), "/spec/replicas"), 6);
    EXPECT_EQ(web_image(), "registry.test/web:2");
}

TEST_F(Canary, AKilledRunIsResumedAtTheSameStepAndTheCanaryKeepsItsOwnConfig) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    MetricFeeder feeder(cluster(), ns(), 1.0);
    const std::string analysis = file("analysis.yaml", analysis_yaml(prometheus()));
    // The job is killed (SIGTERM, as a cancelled CI job) during step 1's ten-minute pause.
    apply(manifests("v2", web_app("registry.test/web:2", "2")), {"--canary-steps", "25:10m,50:10m", "--canary-analysis", analysis},
          20s);

    // The canary runs on: its own Deployment, reading its own copy of the changed ConfigMap.
    const Json canary = get(apps_path("/deployments/web-canary")).body;
    ASSERT_EQ(pick_text(canary, "/metadata/name"), "web-canary") << canary.dump();
    const std::string copy = pick_text(canary, "/spec/template/spec/containers/0/envFrom/0/configMapRef/name");
    EXPECT_TRUE(copy.starts_with("settings-canary-")) << copy;
    EXPECT_EQ(pick_text(get(ns_path("/configmaps/" + copy)).body, "/data/version"), "2");
    EXPECT_EQ(pick_text(get(ns_path("/configmaps/settings")).body, "/data/version"), "1");
    // The stable Deployment neither adopted nor counted the canary's pods.
    const Json stable = web();
    EXPECT_EQ(pick_text(stable, "/spec/template/spec/containers/0/image"), "registry.test/web:1");
    EXPECT_EQ(pick_int(stable, "/status/replicas"), 4) << stable.dump();

    auto status = minicd({"canary", "status", "-n", ns(), "--app", k_app, "--env", k_env, "-o", "json"});
    ASSERT_EQ(status.exit_code, 0) << status.all();
    EXPECT_EQ(pick(status.json, "/running"), Json(true)) << status.out;
    EXPECT_EQ(pick_int(status.json, "/step"), 1) << status.out;
    EXPECT_EQ(pick_int(status.json, "/weight"), 25) << status.out;
    const Json history = releases();
    ASSERT_FALSE(history.empty());
    EXPECT_EQ(pick_text(history[0], "/outcome"), "canary") << history.dump();

    // Resumed with shorter pauses: it goes on from step 1, not from a new release.
    auto resumed = minicd({"canary", "resume", "-n", ns(), "--app", k_app, "--env", k_env, "--canary-steps", "25:2s,50:2s",
                           "--canary-analysis", analysis, "--timeout", "60s", "-o", "text"});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.all();
    EXPECT_NE(resumed.err.find("continuing the canary of release 2 at step 1/2"), std::string::npos) << resumed.all();
    EXPECT_EQ(web_image(), "registry.test/web:2");
    EXPECT_EQ(pick_text(get(ns_path("/configmaps/settings")).body, "/data/version"), "2");
    expect_no_canary_left();
    const Json after = releases();
    ASSERT_EQ(after.size(), 2u) << after.dump();
    EXPECT_EQ(pick_text(after[0], "/outcome"), "deployed") << after.dump();
}

TEST_F(Canary, AbortByHandHoldsTheReleaseAndRollbackWaitsForTheCanary) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    // The job is killed during the pause.
    apply(manifests("v2", web_app("registry.test/web:2", "2")), {"--canary-steps", "25:10m"}, 20s);
    ASSERT_EQ(canary_status(), 200);
    // A rollback would leave the canary running next to what it restores: refused.
    auto rollback = minicd({"rollback", "-n", ns(), "--app", k_app, "--env", k_env, "--lock-wait", "90s"});
    EXPECT_EQ(rollback.exit_code, 2) << rollback.all();
    EXPECT_NE(rollback.err.find("canary abort"), std::string::npos) << rollback.all();

    auto aborted = minicd({"canary", "abort", "-n", ns(), "--app", k_app, "--env", k_env, "--reason", "errors in the logs",
                           "-o", "json"});
    EXPECT_EQ(aborted.exit_code, 0) << aborted.all();
    EXPECT_NE(pick_text(aborted.json, "/failure").find("errors in the logs"), std::string::npos) << aborted.out;
    expect_no_canary_left();
    EXPECT_EQ(web_image(), "registry.test/web:1");
    const Json history = releases();
    ASSERT_EQ(history.size(), 2u) << history.dump();
    EXPECT_EQ(pick_text(history[0], "/outcome"), "failed") << history.dump();
    EXPECT_EQ(pick_text(history[1], "/outcome"), "deployed") << history.dump();
}

TEST_F(Canary, ANameTakenByAnotherOwnerIsNeverWritten) {
    ASSERT_NO_FATAL_FAILURE(deploy_v1());
    // Someone else's Deployment already has the canary's name.
    auto created = api(cluster().admin(), Method::post, apps_path("/deployments"), Json::parse(R"({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web-canary", "labels": {"app.kubernetes.io/managed-by": "Helm"},
                     "annotations": {"meta.helm.sh/release-name": "other"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "other"}},
                 "template": {"metadata": {"labels": {"app": "other"}},
                              "spec": {"containers": [{"name": "main", "image": "registry.test/other:1"}]}}}})"));
    ASSERT_EQ(created.status, 201) << created.body.dump();
    const StableMark before = stable_mark();
    auto v2 = apply(manifests("v2", web_app("registry.test/web:2", "2")), {"--canary-steps", "25:1s"});
    EXPECT_EQ(v2.exit_code, 2) << v2.all();
    EXPECT_NE(pick_text(v2.json, "/failure").find("Helm release other"), std::string::npos) << v2.out;
    const Json theirs = get(apps_path("/deployments/web-canary")).body;
    EXPECT_EQ(pick_text(theirs, "/spec/template/spec/containers/0/image"), "registry.test/other:1");
    EXPECT_EQ(stable_mark().resource_version, before.resource_version);
}

TEST_F(Canary, CiRunsTheEnvironmentsCanaryAndHoldsTheCommitItAborted) {
    const auto checkout = testing::clone_with_origin(m_tmp.path());
    testing::GitRepo& clone = *checkout;
    clone.write("minicd.yaml", staging_config(cluster(), k_app, ns(), {.top = "", .staging = fmt::format(R"(    strategy:
      canary:
        steps: [{{weight: 25, pause: 30s}}]
        analysis:
          prometheus: {{address: "{0}"}}
          interval: 1s
          noData: inconclusive
          metrics:
            - name: success-rate
              query: 'min({1}{{namespace="{{{{namespace}}}}",pod=~"{{{{canary_pods}}}}"}})'
              successCondition: ">= 0.99"
)",
                                                                                                    prometheus(), k_metric)}));
    auto ship = [&](const std::string& image, const std::string& version) {
        clone.write("k8s/app.yaml", web_app(image, version));
        clone.commit_and_push("Version " + version);
        return run_ci_on_main(cluster(), clone, m_tmp.path("cache"));
    };
    // The first deploy has no stable version to run a canary next to.
    auto first = ship("registry.test/web:1", "1");
    ASSERT_EQ(first.exit_code, 0) << first.all();

    MetricFeeder feeder(cluster(), ns(), 0.5);
    auto second = ship("registry.test/web:2", "2");
    EXPECT_NE(second.exit_code, 0) << second.all();
    EXPECT_NE(second.all().find("canary aborted at step 1/1"), std::string::npos) << second.all();
    EXPECT_EQ(web_image(), "registry.test/web:1");
    expect_no_canary_left();

    // The same commit again: refused, it failed its canary.
    auto again = run_ci_on_main(cluster(), clone, m_tmp.path("cache"));
    EXPECT_EQ(again.exit_code, 2) << again.all();
    EXPECT_NE(again.all().find("held"), std::string::npos) << again.all();
    EXPECT_EQ(canary_status(), 404);
}

}  // namespace
}  // namespace minicd::e2e
