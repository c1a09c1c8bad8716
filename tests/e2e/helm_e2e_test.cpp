// Helm charts end to end: `minicd ci` renders a chart with the helm testenv builds (MINICD_TEST_HELM)
// and deploys it to the test control plane like any manifests, its hooks running as the pre and
// post phases. kwok completes the hook Jobs' pods.
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli_run.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using http::Method;

const std::string k_app = "shop";

const std::string k_chart_yaml = "apiVersion: v2\nname: web\nversion: 0.1.0\n";

const std::string k_values_yaml = "image: registry.test/web:1\nmessage: from values\n";

// The app, its hooks, and a test hook helm template leaves out.
const std::string k_templates[][2] = {
    {"deployment.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: {{ .Values.image | quote }}}]
)"},
    {"configmap.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  message: {{ .Values.message | quote }}
  namespace: {{ .Release.Namespace | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
)"},
    {"hooks.yaml", R"(apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {helm.sh/hook: "pre-install,pre-upgrade", helm.sh/hook-weight: "0"}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: registry.test/migrate:1}]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: init-db
  annotations: {helm.sh/hook: pre-install}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: registry.test/init-db:1}]
---
apiVersion: v1
kind: Secret
metadata:
  name: seed
  annotations: {helm.sh/hook: pre-install}
stringData: {password: generated-once}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: smoke
  annotations: {helm.sh/hook: "post-install,post-upgrade"}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: registry.test/smoke:1}]
)"},
    {"tests/test-connection.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {helm.sh/hook: test}
spec:
  restartPolicy: Never
  containers: [{name: main, image: registry.test/test:1}]
)"},
};

class Helm : public ClusterTest {
protected:
    // minicd.yaml sending main to `staging` in this test's namespace, from the chart in chart/.
    std::string ci_config() {
        return staging_config(cluster(), k_app, ns(), {.top = R"(manifests:
  helm:
    chart: chart
    values: [values-staging.yaml]
    set: {message: "hello, world"}
)",
                                                       .staging = ""});
    }

    // A clone of a bare "origin" with minicd.yaml and the chart on main, pushed.
    testing::GitRepo& ci_repository() {
        m_clone = testing::clone_with_origin(m_tmp.path());
        m_clone->write("minicd.yaml", ci_config());
        m_clone->write("chart/Chart.yaml", k_chart_yaml);
        m_clone->write("chart/values.yaml", k_values_yaml);
        for (const auto& [file, text] : k_templates) m_clone->write("chart/templates/" + std::string(file), text);
        m_clone->write("values-staging.yaml", "message: from staging values\n");
        m_clone->commit_and_push("First version");
        return *m_clone;
    }

    // PATH with the testenv's helm first, or without any helm.
    std::string path_with_helm() {
        return std::filesystem::path(cluster().var("MINICD_TEST_HELM")).parent_path().string() + ":" + std::getenv("PATH");
    }

    Invocation run_ci(const std::string& path) {
        CiVariables variables = github_variables(*m_clone, "push", "refs/heads/main");
        variables["PATH"] = path;
        return e2e::run_ci(cluster(), *m_clone, m_tmp.path("cache"), std::move(variables));
    }

    // `helm ARGS` against the test cluster, its own caches and settings in the test's directory.
    void helm(std::vector<std::string> args) {
        args.insert(args.begin(), cluster().var("MINICD_TEST_HELM"));
        auto run = util::run_subprocess({.inherit = util::Inherit::everything,
                                         .argv = std::move(args),
                                         .env = {{"KUBECONFIG", cluster().var("KUBECONFIG")},
                                                 {"HELM_CACHE_HOME", m_tmp.path("helm/cache")},
                                                 {"HELM_CONFIG_HOME", m_tmp.path("helm/config")},
                                                 {"HELM_DATA_HOME", m_tmp.path("helm/data")}},
                                         .timeout = std::chrono::seconds(120)});
        ASSERT_TRUE(run) << run.error().describe();
        ASSERT_EQ(run->exit_code, 0) << run->out << run->err;
    }

    // The minicd binary with `args` in the clone, helm in its PATH.
    Invocation minicd_in_clone(std::vector<std::string> args) {
        args.insert(args.begin(), MINICD_BINARY);
        return invocation_of(util::run_subprocess(
            {.inherit = util::Inherit::everything,
             .argv = std::move(args),
             .env = {{"KUBECONFIG", cluster().var("KUBECONFIG")}, {"PATH", path_with_helm()}, {"XDG_CACHE_HOME", m_tmp.path("cache")}},
             .working_dir = m_clone->path(),
             .timeout = std::chrono::seconds(120)}));
    }

    ApiReply get(const std::string& path) { return api(cluster().admin(), Method::get, path); }
    long job(const std::string& name) { return get("/apis/batch/v1/namespaces/" + ns() + "/jobs/" + name).status; }
    Json settings() { return get(ns_path("/configmaps/settings")).body; }

    testing::TempDir m_tmp;
    std::unique_ptr<testing::GitRepo> m_clone;
};

TEST_F(Helm, ChartDeploysWithItsHooksAsPhases) {
    ci_repository();
    auto first = run_ci(path_with_helm());
    ASSERT_EQ(first.exit_code, 0) << first.all();

    // Values files, then --set (a comma kept as written), into the environment's namespace.
    EXPECT_EQ(pick_text(settings(), "/data/message"), "hello, world");
    EXPECT_EQ(pick_text(settings(), "/data/namespace"), ns());
    // Rendered for the cluster it goes to, as helm install would render it.
    EXPECT_EQ(pick_text(settings(), "/data/kubeVersion"), pick_text(get("/version").body, "/gitVersion"));
    const Json web = get("/apis/apps/v1/namespaces/" + ns() + "/deployments/shop-web").body;
    EXPECT_EQ(pick_text(web, "/metadata/annotations/minicd.io~1owner"), "shop/staging") << web.dump(2);
    EXPECT_EQ(pick_text(web, "/metadata/labels/app.kubernetes.io~1managed-by"), "minicd");
    // Every hook ran, each in its phase, once for this release; the test hook was left out.
    EXPECT_EQ(job("migrate-1"), 200);
    EXPECT_EQ(job("init-db-1"), 200);
    EXPECT_EQ(job("smoke-1"), 200);
    EXPECT_EQ(get(ns_path("/secrets/seed")).status, 200);
    EXPECT_EQ(get(ns_path("/pods/shop-test")).status, 404);

    // An upgrade runs the upgrade hooks only; the install hooks' Secret stays as it is.
    m_clone->write("values-staging.yaml", "message: second\n");
    m_clone->write("minicd.yaml", ci_config() + "    manifests: {helm: {chart: chart, values: values-staging.yaml}}\n");
    m_clone->commit_and_push("Second version");
    auto second = run_ci(path_with_helm());
    ASSERT_EQ(second.exit_code, 0) << second.all();
    EXPECT_EQ(pick_text(settings(), "/data/message"), "second") << "the environment's own chart settings win";
    EXPECT_EQ(job("migrate-2"), 200);
    EXPECT_EQ(job("smoke-2"), 200);
    EXPECT_EQ(job("init-db-2"), 404);
    EXPECT_NE(second.all().find("init-db (batch/v1 Job)"), std::string::npos) << second.all();
    EXPECT_NE(second.all().find("not run: helm.sh/hook pre-install is not for an upgrade"), std::string::npos) << second.all();
    EXPECT_EQ(get(ns_path("/secrets/seed")).status, 200) << "a held-back hook object is not pruned";

    // Drift renders the chart the same way: nothing differs from the release.
    auto drift = minicd_in_clone({"drift", "staging", "-o", "json"});
    EXPECT_EQ(drift.exit_code, 0) << drift.all();

    // A rollback prunes what the release it returns to lacks, but never a phase object other than a
    // Job: stored releases do not hold them, so the hook's Secret stays.
    auto rolled = minicd_in_clone({"rollback", "staging", "--to", "1"});
    ASSERT_EQ(rolled.exit_code, 0) << rolled.all();
    EXPECT_EQ(pick_text(settings(), "/data/message"), "hello, world");
    EXPECT_EQ(get(ns_path("/secrets/seed")).status, 200) << rolled.all();
}

TEST_F(Helm, AReleaseHelmInstalledIsTakenOverOnlyWhenAdopted) {
    ci_repository();
    ASSERT_NO_FATAL_FAILURE(helm({"install", "shop", m_clone->path("chart"), "--namespace", ns(), "--kube-context", "admin",
                                  "--no-hooks", "--values", m_clone->path("values-staging.yaml")}));
    ASSERT_EQ(pick_text(settings(), "/data/message"), "from staging values");

    auto refused = run_ci(path_with_helm());
    EXPECT_EQ(refused.exit_code, 1) << refused.all();
    EXPECT_NE(refused.err.find("Helm release shop (ns " + ns() + ")"), std::string::npos) << refused.all();
    EXPECT_EQ(pick_text(settings(), "/data/message"), "from staging values") << "a refused deploy writes nothing";

    m_clone->write("minicd.yaml", ci_config() + "    adopt: true\n");
    m_clone->commit_and_push("Take the app over from Helm");
    auto adopted = run_ci(path_with_helm());
    ASSERT_EQ(adopted.exit_code, 0) << adopted.all();
    EXPECT_EQ(pick_text(settings(), "/data/message"), "hello, world");
    EXPECT_EQ(pick_text(settings(), "/metadata/annotations/minicd.io~1owner"), "shop/staging");
    // Helm's own record of its release is nothing minicd declared: it is left alone.
    EXPECT_EQ(get(ns_path("/secrets/sh.helm.release.v1.shop.v1")).status, 200);
}

TEST_F(Helm, AHookMinicdCannotRunIsRefusedNamingItsTemplate) {
    ci_repository();
    m_clone->write("chart/templates/cleanup.yaml", R"(apiVersion: batch/v1
kind: Job
metadata:
  name: cleanup
  annotations: {helm.sh/hook: pre-delete}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: registry.test/cleanup:1}]
)");
    m_clone->commit_and_push("Add a delete hook");
    auto refused = run_ci(path_with_helm());
    EXPECT_EQ(refused.exit_code, 1) << "a failed step fails the job: " << refused.all();
    EXPECT_NE(refused.err.find("chart/templates/cleanup.yaml (rendered by helm):"), std::string::npos) << refused.all();
    EXPECT_NE(refused.err.find("helm.sh/hook: pre-delete"), std::string::npos) << refused.all();
    EXPECT_EQ(get(ns_path("/configmaps/settings")).status, 404) << "nothing is written";
}

TEST_F(Helm, WithoutHelmTheErrorSaysWhichVersionIsNeeded) {
    ci_repository();
    auto refused = run_ci("/usr/local/bin:/usr/bin:/bin");
    EXPECT_EQ(refused.exit_code, 1) << "a failed step fails the job: " << refused.all();
    EXPECT_NE(refused.err.find("helm is not installed (not found in PATH): minicd renders charts with helm v3.8.0 or newer"),
              std::string::npos)
        << refused.all();
    EXPECT_EQ(get(ns_path("/configmaps/settings")).status, 404) << "nothing is written";
}

}  // namespace
}  // namespace minicd::e2e
