// Pre and post phases end to end: Jobs annotated minicd.io/phase run before the release is written
// and after it is healthy, with the real binary against the test control plane. Its
// kube-controller-manager runs the Jobs; kwok completes their pods, except those of
// registry.test/crashloop:1, which crash-loop (minicd's health check fails them at once).
#include <fmt/format.h>

#include <string>
#include <vector>

#include "cli_run.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

const std::string k_app = "shop";
const std::string k_env = "test";
const std::string k_crashloop = "registry.test/crashloop:1";

std::string job_yaml(const std::string& name, const std::string& phase, const std::string& image) {
    return fmt::format(R"(---
apiVersion: batch/v1
kind: Job
metadata:
  name: {}
  annotations: {{minicd.io/phase: "{}"}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: main, image: "{}"}}]
)",
                       name, phase, image);
}

std::string web_yaml(const std::string& image, const std::string& version) {
    return fmt::format(R"(---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: main, image: "{}"}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
data: {{version: "{}"}}
)",
                       image, version);
}

// What a deploy report says about kind/name: {"action", "phase"}; empty when it does not name it.
Json reported(const Json& report, const std::string& kind, const std::string& name) {
    const Json objects = pick(report, "/objects");
    for (const auto& object : objects.is_array() ? objects : Json::array()) {
        if (pick(object, "/kind") == kind && pick(object, "/name") == name) return object;
    }
    return Json::object();
}

// The lastTransitionTime of a true condition of `type`; "" when it is not true.
std::string true_since(const Json& object, const std::string& type) {
    const Json conditions = pick(object, "/status/conditions");
    for (const auto& condition : conditions.is_array() ? conditions : Json::array()) {
        if (pick(condition, "/type") == type && pick(condition, "/status") == "True") {
            return pick_text(condition, "/lastTransitionTime");
        }
    }
    return "";
}

class Phases : public ClusterTest {
protected:
    std::string manifests(const std::string& name, const std::string& yaml) {
        testing::write_file(m_tmp.path(name + "/objects.yaml"), yaml);
        return m_tmp.path(name);
    }

    Invocation apply(const std::string& folder, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"apply", "-f",    folder, "-n", ns(),      "--app", k_app,
                                         "--env", k_env,   "-o",   "json", "--timeout", "60s"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_minicd(cluster(), m_tmp.path("cache"), std::move(args));
    }

    ApiReply job(const std::string& name) { return api(cluster().admin(), Method::get, "/apis/batch/v1/namespaces/" + ns() + "/jobs/" + name); }
    Json web() { return api(cluster().admin(), Method::get, "/apis/apps/v1/namespaces/" + ns() + "/deployments/web").body; }
    Json settings() { return api(cluster().admin(), Method::get, ns_path("/configmaps/settings")).body; }

    Json releases() {
        auto run = run_minicd(cluster(), m_tmp.path("cache"), {"history", "-n", ns(), "--app", k_app, "--env", k_env, "-o", "json"});
        EXPECT_EQ(run.exit_code, 0) << run.all();
        return pick(run.json, "/releases");
    }

    testing::TempDir m_tmp;
};

TEST_F(Phases, PreJobCompletesBeforeTheReleaseIsWritten) {
    const std::string folder = manifests("v1", job_yaml("migrate", "pre", "registry.test/migrate:1") + web_yaml("registry.test/web:1", "1"));

    // The plan names the Job as the release will run it, in its phase.
    auto planned = apply(folder, {"--dry-run"});
    ASSERT_EQ(planned.exit_code, 0) << planned.all();
    EXPECT_EQ(pick_text(reported(planned.json, "Job", "migrate-1"), "/phase"), "pre") << planned.out;
    EXPECT_EQ(pick_text(reported(planned.json, "Deployment", "web"), "/phase"), "main") << planned.out;
    EXPECT_EQ(job("migrate-1").status, 404);

    auto applied = apply(folder);
    ASSERT_EQ(applied.exit_code, 0) << applied.all();
    EXPECT_EQ(pick_int(applied.json, "/revision", 0), 1) << applied.out;
    const Json reported_job = reported(applied.json, "Job", "migrate-1");
    EXPECT_EQ(pick_text(reported_job, "/action"), "created") << applied.out;
    EXPECT_EQ(pick_text(reported_job, "/phase"), "pre") << applied.out;

    // The Job completed no later than the Deployment was created (RFC 3339 UTC compares as text).
    auto written = job("migrate-1");
    ASSERT_EQ(written.status, 200);
    const std::string completed = true_since(written.body, "Complete");
    ASSERT_FALSE(completed.empty()) << written.body.dump();
    const std::string created = pick_text(web(), "/metadata/creationTimestamp");
    EXPECT_LE(completed, created);
    EXPECT_EQ(pick_text(settings(), "/data/version"), "1");
}

TEST_F(Phases, FailedPreJobLeavesEverythingElseAsItWas) {
    auto v1 = apply(manifests("v1", web_yaml("registry.test/web:1", "1")));
    ASSERT_EQ(v1.exit_code, 0) << v1.all();
    const std::string settings_version = pick_text(settings(), "/metadata/resourceVersion");
    const int web_generation = pick_int(web(), "/metadata/generation");

    auto v2 = apply(manifests("v2", job_yaml("migrate", "pre", k_crashloop) + web_yaml("registry.test/web:2", "2")),
                    {"--prune", "--on-failure", "rollback"});
    EXPECT_EQ(v2.exit_code, 1) << v2.all();
    const std::string failure = pick_text(v2.json, "/failure");
    EXPECT_NE(failure.find("the pre phase failed"), std::string::npos) << failure;
    EXPECT_NE(failure.find("job/migrate-2"), std::string::npos) << failure;
    EXPECT_NE(failure.find("CrashLoopBackOff"), std::string::npos) << failure;
    // Nothing was rolled back: nothing of the release was written.
    EXPECT_TRUE(pick(v2.json, "/rollback").is_null()) << v2.out;

    EXPECT_EQ(pick_text(settings(), "/metadata/resourceVersion"), settings_version);
    EXPECT_EQ(pick_text(settings(), "/data/version"), "1");
    EXPECT_EQ(pick_int(web(), "/metadata/generation"), web_generation);
    EXPECT_EQ(pick_text(web(), "/spec/template/spec/containers/0/image"), "registry.test/web:1");
    EXPECT_EQ(job("migrate-2").status, 200);  // left for a person to look at
    const Json history = releases();
    EXPECT_EQ(pick_int(history, "/0/revision"), 2) << history.dump();
    EXPECT_EQ(pick_text(history, "/0/outcome"), "failed") << history.dump();
    // Release 1 still runs: the failed release did not replace it.
    EXPECT_EQ(pick_text(history, "/1/outcome"), "deployed") << history.dump();
}

TEST_F(Phases, PostJobRunsOnceTheReleaseIsHealthy) {
    auto applied = apply(manifests("v1", web_yaml("registry.test/web:1", "1") + job_yaml("smoke", "post", "registry.test/smoke:1")));
    ASSERT_EQ(applied.exit_code, 0) << applied.all();
    EXPECT_EQ(pick_text(reported(applied.json, "Job", "smoke-1"), "/phase"), "post") << applied.out;

    auto smoke = job("smoke-1");
    ASSERT_EQ(smoke.status, 200);
    EXPECT_FALSE(true_since(smoke.body, "Complete").empty()) << smoke.body.dump();
    const std::string available = true_since(web(), "Available");
    ASSERT_FALSE(available.empty());
    EXPECT_LE(available, pick_text(smoke.body, "/metadata/creationTimestamp"));
}

TEST_F(Phases, FailedPostJobFailsTheRolloutAndRollsBack) {
    auto v1 = apply(manifests("v1", web_yaml("registry.test/web:1", "1")));
    ASSERT_EQ(v1.exit_code, 0) << v1.all();
    auto v2 = apply(manifests("v2", web_yaml("registry.test/web:2", "2") + job_yaml("smoke", "post", k_crashloop)),
                    {"--on-failure", "rollback"});
    EXPECT_EQ(v2.exit_code, 1) << v2.all();
    const std::string failure = pick_text(v2.json, "/failure");
    EXPECT_NE(failure.find("the post phase failed"), std::string::npos) << failure;
    EXPECT_NE(failure.find("job/smoke-2"), std::string::npos) << failure;
    EXPECT_EQ(pick_int(v2.json, "/rollback/target"), 1) << v2.out;
    EXPECT_EQ(pick_text(web(), "/spec/template/spec/containers/0/image"), "registry.test/web:1");
}

TEST_F(Phases, EachReleaseRunsItsOwnJobAndPrunesTheOlderOne) {
    const std::string yaml = job_yaml("migrate", "pre", "registry.test/migrate:1") + web_yaml("registry.test/web:1", "1");
    auto first = apply(manifests("v1", yaml), {"--prune"});
    ASSERT_EQ(first.exit_code, 0) << first.all();
    auto second = apply(manifests("v2", yaml), {"--prune"});
    ASSERT_EQ(second.exit_code, 0) << second.all();
    EXPECT_EQ(pick_text(reported(second.json, "Job", "migrate-2"), "/action"), "created") << second.out;
    EXPECT_EQ(pick_text(reported(second.json, "Job", "migrate-1"), "/action"), "pruned") << second.out;
    EXPECT_EQ(pick_text(reported(second.json, "Deployment", "web"), "/action"), "unchanged") << second.out;
    EXPECT_EQ(job("migrate-2").status, 200);
    EXPECT_TRUE(eventually([&] { return job("migrate-1").status == 404; }, 30s));
}

TEST_F(Phases, UnknownPhaseIsRefusedWithFileAndLine) {
    const std::string folder = manifests("v1", web_yaml("registry.test/web:1", "1") + job_yaml("migrate", "before", "registry.test/migrate:1"));
    auto refused = apply(folder);
    EXPECT_EQ(refused.exit_code, 2) << refused.all();
    // The app's two documents take lines 1-16; the Job's starts after its "---" on line 17.
    EXPECT_NE(refused.err.find("objects.yaml:18"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("minicd.io/phase: \"before\" is not a phase"), std::string::npos) << refused.err;
    EXPECT_EQ(job("migrate").status, 404);
    EXPECT_EQ(api(cluster().admin(), Method::get, "/apis/apps/v1/namespaces/" + ns() + "/deployments/web").status, 404);
}

}  // namespace
}  // namespace minicd::e2e
