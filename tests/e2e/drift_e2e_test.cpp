// Drift end to end: `minicd drift` compares the live cluster with the newest release minicd recorded
// (and, with -m, that release with the manifests in Git), reports who changed what, and with --fix
// puts back the drifted objects; a scheduled `minicd ci` does the same for every fixed environment.
// Only fields minicd applied count: defaults, normalised quantities and scaled replicas never drift.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "../support/git_repo.hpp"
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
constexpr int k_exit_drift = 3;

std::vector<std::string> joined(std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
}

// --- Manifests ---

// Deployment `web` as a chart would write it: no replicas (a scaler owns them), a CPU request of
// "0.5" (the API server stores 500m) and nothing about the rollout strategy.
std::string deployment_yaml(const std::string& image) {
    return fmt::format(R"(---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: main
        image: "{}"
        ports: [{{containerPort: 8080}}]
        resources: {{requests: {{cpu: "0.5", memory: 64Mi}}}}
)",
                       image);
}

// Service `web` leaving clusterIP, type, targetPort and protocol to the API server's defaults.
std::string service_yaml() {
    return R"(---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
)";
}

std::string configmap_yaml(const std::string& name, const std::string& key, const std::string& value) {
    return fmt::format("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {}, labels: {{tier: web}}}}\ndata: {{{}: \"{}\"}}\n",
                       name, key, value);
}

std::string secret_yaml(const std::string& name, const std::string& password) {
    return fmt::format("---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {}}}\nstringData:\n  password: \"{}\"\n", name,
                       password);
}

// The usual app: Deployment and Service `web`, and ConfigMap `settings` (label tier=web) with `mode`.
std::string web_app(const std::string& image, const std::string& mode = "on") {
    return deployment_yaml(image) + service_yaml() + configmap_yaml("settings", "mode", mode);
}

// --- Reading JSON ---

Json pick_array(const Json& json, const std::string& pointer) {
    const Json found = pick(json, pointer);
    return found.is_array() ? found : Json::array();
}

// The one environment a drift report for -n/--app/--env covers.
Json only_environment(const Json& report) {
    const Json environments = pick_array(report, "/environments");
    EXPECT_EQ(environments.size(), 1U) << report.dump(2);
    return environments.empty() ? Json::object() : environments[0];
}

// The entry for kind/name in a list of a report ("live" or "undeployed"); null when absent.
Json entry_for(const Json& entries, const std::string& kind, const std::string& name) {
    for (const auto& entry : entries.is_array() ? entries : Json::array()) {
        if (pick(entry, "/kind") == kind && pick(entry, "/name") == name) return entry;
    }
    return Json();
}

// The first field of an entry whose path satisfies `matches`; null when none does.
template <typename Predicate>
Json field_where(const Json& entry, Predicate matches) {
    for (const auto& field : pick_array(entry, "/fields")) {
        const Json path = pick(field, "/path");
        if (path.is_string() && matches(path.get<std::string>())) return field;
    }
    return Json();
}
Json field_at(const Json& entry, const std::string& path) {
    return field_where(entry, [&](const std::string& candidate) { return candidate == path; });
}

bool is_rfc3339(const std::string& text) {
    static const std::regex k_timestamp(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))");
    return std::regex_match(text, k_timestamp);
}

// Asserts what a field a kubectl command changed says about who changed it.
void expect_changed_by(const Json& field, const std::string& manager) {
    EXPECT_EQ(pick_text(field, "/manager"), manager) << field.dump(2);
    EXPECT_EQ(pick_text(field, "/operation"), "Update") << field.dump(2);
    EXPECT_TRUE(is_rfc3339(pick_text(field, "/time"))) << field.dump(2);
}

class Drift : public ClusterTest {
protected:
    // Writes `yaml` as the only file of a new folder and returns the folder.
    std::string manifests(const std::string& name, const std::string& yaml) {
        testing::write_file(m_tmp.path(name + "/objects.yaml"), yaml);
        return m_tmp.path(name);
    }

    Invocation minicd(const std::vector<std::string>& args, std::chrono::seconds limit = 300s) {
        return run_minicd(cluster(), m_tmp.path("cache"), args, limit);
    }

    std::vector<std::string> target() const { return {"-n", ns(), "--app", k_app, "--env", k_env}; }

    // `minicd apply` of a folder as this test's app and environment; fails the test unless it deployed.
    void apply(const std::string& folder) {
        auto run = minicd(joined(joined({"apply", "-f", folder}, target()), {"--timeout", "60s", "-o", "json"}));
        ASSERT_EQ(run.exit_code, 0) << run.all();
    }

    Invocation drift(const std::vector<std::string>& extra = {}) { return minicd(joined(joined({"drift"}, target()), extra)); }
    // `drift -o json`: stdout is the report whatever the exit code.
    Invocation drift_json(const std::vector<std::string>& extra = {}) {
        auto run = drift(joined(extra, {"-o", "json"}));
        EXPECT_TRUE(run.is_json) << run.all();
        return run;
    }

    // `minicd history -o json`, newest first.
    Json releases(const std::string& env = k_env) {
        auto run = minicd({"history", "-n", ns(), "--app", k_app, "--env", env, "-o", "json"});
        EXPECT_EQ(run.exit_code, 0) << run.all();
        return pick_array(run.json, "/releases");
    }

    // kubectl in this test's namespace; a failure fails the test.
    void kubectl(const std::vector<std::string>& args) {
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = joined(joined({"kubectl"}, args), {"-n", ns()}),
                                            .env = {{"KUBECONFIG", cluster().var("KUBECONFIG")}},
                                            .timeout = 60s});
        EXPECT_TRUE(result && result->succeeded()) << (result ? result->err : result.error().describe());
    }

    // The hand edits most tests make: a new image by `kubectl set image` and the Service deleted.
    void edit_image_and_delete_service() {
        kubectl({"set", "image", "deployment/web", "main=registry.test/web:9"});
        kubectl({"delete", "service", "web"});
        ASSERT_EQ(web_image(), "registry.test/web:9");
        ASSERT_EQ(get(ns_path("/services/web")).status, 404);
    }

    ApiReply get(const std::string& path) { return api(cluster().admin(), Method::get, path); }

    // One data key of a ConfigMap in this namespace; "(absent)" when the ConfigMap is not there.
    std::string data_of(const std::string& configmap, const std::string& key) {
        auto reply = get(ns_path("/configmaps/" + configmap));
        if (reply.status == 404) return "(absent)";
        if (reply.status != 200) return fmt::format("(HTTP {})", reply.status);
        return pick_text(reply.body, "/data/" + key);
    }
    std::string resource_version_of(const std::string& configmap) {
        return pick_text(get(ns_path("/configmaps/" + configmap)).body, "/metadata/resourceVersion");
    }

    Json web_deployment() { return get("/apis/apps/v1/namespaces/" + ns() + "/deployments/web").body; }
    std::string web_image() { return pick_text(web_deployment(), "/spec/template/spec/containers/0/image"); }

    // minicd.yaml sending main to `staging` in this test's namespace; `drift` is the environment's
    // drift setting, left to the default when empty. It declares no images: nothing is built.
    std::string ci_config(const std::string& drift_setting) {
        return staging_config(cluster(), k_app, ns(),
                              {.top = "", .staging = drift_setting.empty() ? "" : "    drift: " + drift_setting + "\n"});
    }

    // A clone of a bare "origin" with minicd.yaml (default drift setting) and the app on main, pushed.
    testing::GitRepo& ci_repository(const std::string& image) {
        m_clone = testing::clone_with_origin(m_tmp.path());
        m_clone->write("minicd.yaml", ci_config(""));
        m_clone->write("k8s/app.yaml", web_app(image));
        m_clone->commit_and_push("First version");
        return *m_clone;
    }

    Invocation run_ci(testing::GitRepo& clone, const std::string& event) {
        return run_ci_on_main(cluster(), clone, m_tmp.path("cache"), event);
    }

    testing::TempDir m_tmp;
    std::unique_ptr<testing::GitRepo> m_clone;
};

TEST_F(Drift, CleanAfterApplyDespiteDefaultsScaleAndQuantities) {
    ASSERT_NO_FATAL_FAILURE(apply(manifests("v1", web_app("registry.test/web:1"))));
    const Json container = pick(web_deployment(), "/spec/template/spec/containers/0");
    ASSERT_EQ(pick_text(container, "/resources/requests/cpu"), "500m") << "the API server normalises 0.5";
    ASSERT_TRUE(pick(get(ns_path("/services/web")).body, "/spec/clusterIP").is_string()) << "given by the API server";
    kubectl({"scale", "deployment", "web", "--replicas", "3"});
    ASSERT_EQ(pick_int(web_deployment(), "/spec/replicas"), 3);

    auto run = drift_json();
    EXPECT_EQ(run.exit_code, 0) << run.all();
    EXPECT_EQ(pick(run.json, "/drifted"), Json(false)) << run.out;
    EXPECT_TRUE(pick(run.json, "/requests").is_number_integer()) << run.out;
    const Json environment = only_environment(run.json);
    EXPECT_EQ(pick(environment, "/drifted"), Json(false)) << environment.dump(2);
    EXPECT_EQ(pick_text(environment, "/app"), k_app);
    EXPECT_EQ(pick_text(environment, "/env"), k_env);
    EXPECT_EQ(pick_text(environment, "/namespace"), ns());
    EXPECT_EQ(pick_int(environment, "/revision", 0), 1) << environment.dump(2);
    EXPECT_FALSE(environment.contains("undeployed")) << "no -m, no comparison with Git: " << environment.dump(2);
    EXPECT_FALSE(environment.contains("fixed")) << environment.dump(2);

    const Json live = pick_array(environment, "/live");
    EXPECT_LE(live.size(), 1U) << live.dump(2);
    for (const auto& entry : live) {
        EXPECT_EQ(pick_text(entry, "/class"), "scaled") << "defaults, 500m and scaled replicas are no drift: " << entry.dump(2);
        EXPECT_EQ(pick_text(entry, "/kind"), "Deployment") << entry.dump(2);
        EXPECT_EQ(pick_text(entry, "/name"), "web") << entry.dump(2);
    }
}

TEST_F(Drift, HandEditsAreReportedWithWhoMadeThem) {
    ASSERT_NO_FATAL_FAILURE(apply(manifests("v1", web_app("registry.test/web:1"))));
    kubectl({"patch", "configmap", "settings", "--type", "merge", "-p", R"({"data":{"mode":"off"}})"});
    kubectl({"label", "configmap", "settings", "tier=edited", "--overwrite"});
    ASSERT_NO_FATAL_FAILURE(edit_image_and_delete_service());

    auto run = drift_json();
    EXPECT_EQ(run.exit_code, k_exit_drift) << run.all();
    EXPECT_EQ(pick(run.json, "/drifted"), Json(true)) << run.out;
    const Json environment = only_environment(run.json);
    EXPECT_EQ(pick(environment, "/drifted"), Json(true));
    const Json live = pick_array(environment, "/live");

    const Json deployment = entry_for(live, "Deployment", "web");
    ASSERT_TRUE(deployment.is_object()) << live.dump(2);
    EXPECT_EQ(pick_text(deployment, "/class"), "modified") << deployment.dump(2);
    EXPECT_EQ(pick_text(deployment, "/apiVersion"), "apps/v1");
    EXPECT_EQ(pick_text(deployment, "/namespace"), ns());
    const Json image = field_where(deployment, [](const std::string& path) { return path.ends_with(".image"); });
    ASSERT_TRUE(image.is_object()) << deployment.dump(2);
    EXPECT_EQ(pick_text(image, "/path"), "spec.template.spec.containers[main].image");
    EXPECT_EQ(pick(image, "/before"), Json("registry.test/web:1")) << image.dump(2);
    EXPECT_EQ(pick(image, "/after"), Json("registry.test/web:9")) << image.dump(2);
    EXPECT_TRUE(pick_text(image, "/manager").starts_with("kubectl")) << "kubectl-set or kubectl-patch: " << image.dump(2);
    EXPECT_EQ(pick_text(image, "/operation"), "Update") << image.dump(2);
    EXPECT_TRUE(is_rfc3339(pick_text(image, "/time"))) << image.dump(2);

    const Json settings = entry_for(live, "ConfigMap", "settings");
    ASSERT_TRUE(settings.is_object()) << live.dump(2);
    EXPECT_EQ(pick_text(settings, "/class"), "modified") << settings.dump(2);
    const Json mode = field_at(settings, "data.mode");
    ASSERT_TRUE(mode.is_object()) << settings.dump(2);
    EXPECT_EQ(pick(mode, "/before"), Json("on")) << mode.dump(2);
    EXPECT_EQ(pick(mode, "/after"), Json("off")) << mode.dump(2);
    expect_changed_by(mode, "kubectl-patch");
    const Json tier = field_at(settings, "metadata.labels.tier");
    ASSERT_TRUE(tier.is_object()) << settings.dump(2);
    EXPECT_EQ(pick(tier, "/before"), Json("web")) << tier.dump(2);
    EXPECT_EQ(pick(tier, "/after"), Json("edited")) << tier.dump(2);
    expect_changed_by(tier, "kubectl-label");

    const Json service = entry_for(live, "Service", "web");
    ASSERT_TRUE(service.is_object()) << live.dump(2);
    EXPECT_EQ(pick_text(service, "/class"), "deleted") << service.dump(2);
    EXPECT_TRUE(pick_array(service, "/fields").empty()) << service.dump(2);

    auto text = drift();
    EXPECT_EQ(text.exit_code, k_exit_drift) << text.all();
    EXPECT_NE(text.out.find("kubectl-patch"), std::string::npos) << text.all();
    EXPECT_NE(text.out.find("deleted"), std::string::npos) << text.all();
    EXPECT_NE(text.out.find("settings"), std::string::npos) << text.all();
}

TEST_F(Drift, SecretEditedByHandIsReportedWithoutItsValue) {
    std::mt19937 random(std::random_device{}());
    const std::string original = fmt::format("original-{:08x}", random());
    const std::string changed = fmt::format("changed-{:08x}", random());
    ASSERT_NO_FATAL_FAILURE(apply(manifests("v1", configmap_yaml("settings", "mode", "on") + secret_yaml("creds", original))));
    kubectl({"patch", "secret", "creds", "--type", "merge", "-p", fmt::format(R"({{"stringData":{{"password":"{}"}}}})", changed)});
    ASSERT_EQ(pick_text(get(ns_path("/secrets/creds")).body, "/data/password"), util::base64_encode(changed));

    auto json = drift_json();
    EXPECT_EQ(json.exit_code, k_exit_drift) << json.all();
    const Json creds = entry_for(pick_array(only_environment(json.json), "/live"), "Secret", "creds");
    ASSERT_TRUE(creds.is_object()) << json.out;
    EXPECT_EQ(pick_text(creds, "/class"), "modified") << creds.dump(2);
    const Json password = field_where(creds, [](const std::string& path) { return path.starts_with("data.password"); });
    ASSERT_TRUE(password.is_object()) << creds.dump(2);
    EXPECT_EQ(pick_text(password, "/manager"), "kubectl-patch") << password.dump(2);

    auto text = drift();
    EXPECT_EQ(text.exit_code, k_exit_drift) << text.all();
    EXPECT_NE(text.out.find("creds"), std::string::npos) << text.all();
    for (const auto* run : {&json, &text}) {
        for (const std::string& secret : {original, changed, util::base64_encode(original), util::base64_encode(changed)}) {
            EXPECT_EQ(run->out.find(secret), std::string::npos) << secret << " on stdout:\n" << run->out;
            EXPECT_EQ(run->err.find(secret), std::string::npos) << secret << " on stderr:\n" << run->err;
        }
    }
}

TEST_F(Drift, FixRestoresExactlyTheDriftedObjects) {
    ASSERT_NO_FATAL_FAILURE(apply(manifests("v1", web_app("registry.test/web:1") + configmap_yaml("other", "a", "1"))));
    const std::string untouched = resource_version_of("other");
    ASSERT_NO_FATAL_FAILURE(edit_image_and_delete_service());

    auto fixed = drift_json({"--fix"});
    ASSERT_EQ(fixed.exit_code, 0) << fixed.all();
    const Json environment = only_environment(fixed.json);
    EXPECT_EQ(pick(environment, "/fixed/succeeded"), Json(true)) << environment.dump(2);
    EXPECT_EQ(web_image(), "registry.test/web:1");
    EXPECT_EQ(get(ns_path("/services/web")).status, 200) << "deleted by hand, created again";
    EXPECT_EQ(resource_version_of("other"), untouched) << "not drifted, not written";
    EXPECT_EQ(data_of("settings", "mode"), "on");

    const Json listed = releases();
    ASSERT_EQ(listed.size(), 2U) << listed.dump(2);
    EXPECT_EQ(pick_text(listed[0], "/message"), "drift correction") << listed.dump(2);
    EXPECT_EQ(pick_text(listed[0], "/outcome"), "deployed") << listed.dump(2);
    EXPECT_EQ(pick_int(environment, "/fixed/revision", 0), pick_int(listed[0], "/revision")) << environment.dump(2);

    auto again = drift_json();
    EXPECT_EQ(again.exit_code, 0) << again.all();
    EXPECT_EQ(pick(again.json, "/drifted"), Json(false)) << again.out;
}

TEST_F(Drift, UndeployedGitChangesAreReportedApartFromLiveDrift) {
    ASSERT_NO_FATAL_FAILURE(apply(manifests("v1", web_app("registry.test/web:1"))));
    const std::string v2 = manifests("v2", deployment_yaml("registry.test/web:1") + configmap_yaml("settings", "mode", "off") +
                                               configmap_yaml("added", "a", "1"));

    auto run = drift_json({"-m", v2});
    EXPECT_EQ(run.exit_code, 0) << "Git ahead of the cluster is no drift: " << run.all();
    EXPECT_EQ(pick(run.json, "/drifted"), Json(false)) << run.out;
    const Json environment = only_environment(run.json);
    EXPECT_TRUE(pick(environment, "/live").is_array()) << environment.dump(2);
    EXPECT_TRUE(pick_array(environment, "/live").empty()) << environment.dump(2);

    const Json undeployed = pick(environment, "/undeployed");
    ASSERT_TRUE(undeployed.is_array()) << environment.dump(2);
    EXPECT_TRUE(entry_for(undeployed, "Deployment", "web").is_null()) << "unchanged: " << undeployed.dump(2);
    const Json settings = entry_for(undeployed, "ConfigMap", "settings");
    EXPECT_EQ(pick_text(settings, "/change"), "changed") << undeployed.dump(2);
    // Field changes read as `minicd apply --dry-run` reports them: each side as compact JSON text.
    const Json mode = field_at(settings, "data.mode");
    EXPECT_EQ(pick(mode, "/before"), Json("\"on\"")) << settings.dump(2);
    EXPECT_EQ(pick(mode, "/after"), Json("\"off\"")) << settings.dump(2);
    EXPECT_EQ(pick_array(settings, "/fields").size(), 1U) << "the hash annotation minicd rewrites is no news: " << settings.dump(2);
    EXPECT_EQ(pick_text(entry_for(undeployed, "ConfigMap", "added"), "/change"), "added") << undeployed.dump(2);
    EXPECT_EQ(pick_text(entry_for(undeployed, "Service", "web"), "/change"), "removed") << undeployed.dump(2);

    EXPECT_EQ(data_of("settings", "mode"), "on") << "drift only reads";
    EXPECT_EQ(data_of("added", "a"), "(absent)");
    EXPECT_EQ(releases().size(), 1U);
}

TEST_F(Drift, NothingDeployedIsAnError) {
    auto run = drift();
    EXPECT_TRUE(run.exit_code == 1 || run.exit_code == 2) << "an error, neither clean nor drift: " << run.all();
    std::string err = run.err;
    std::transform(err.begin(), err.end(), err.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    EXPECT_NE(err.find("no release"), std::string::npos) << run.all();
}

// Assumes: a scheduled run reads minicd.yaml from the checkout it runs in, checks every fixed
// environment whatever its trigger, and exits 3 when it only reports drift.
TEST_F(Drift, ScheduledCiReportsDriftAndFixesWhenTold) {
    testing::GitRepo& clone = ci_repository("registry.test/web:1");
    auto deployed = run_ci(clone, "push");
    ASSERT_EQ(deployed.exit_code, 0) << deployed.all();
    ASSERT_EQ(data_of("settings", "mode"), "on");
    kubectl({"patch", "configmap", "settings", "--type", "merge", "-p", R"({"data":{"mode":"off"}})"});

    auto reported = run_ci(clone, "schedule");
    EXPECT_EQ(reported.exit_code, k_exit_drift) << reported.all();
    EXPECT_NE(reported.out.find("settings"), std::string::npos) << "names the drifted object: " << reported.all();
    EXPECT_EQ(data_of("settings", "mode"), "off") << "drift: report (the default) changes nothing";
    EXPECT_EQ(releases("staging").size(), 1U);

    clone.write("minicd.yaml", ci_config("fix"));
    clone.commit_and_push("Fix drift in staging");
    auto fixed = run_ci(clone, "schedule");
    EXPECT_EQ(fixed.exit_code, 0) << fixed.all();
    EXPECT_EQ(data_of("settings", "mode"), "on") << "drift: fix puts the release's value back";
    const Json listed = releases("staging");
    ASSERT_FALSE(listed.empty());
    EXPECT_EQ(pick_text(listed[0], "/message"), "drift correction") << listed.dump(2);
    EXPECT_EQ(web_image(), "registry.test/web:1");
}

}  // namespace
}  // namespace minicd::e2e
