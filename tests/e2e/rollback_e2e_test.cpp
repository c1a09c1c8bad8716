// Release history and rollback end to end: `minicd apply --on-failure rollback`, `minicd rollback`,
// `minicd history` and the hold `minicd ci` puts on a commit that failed, with the real binary
// against the test control plane. kwok makes pods of registry.test/crashloop:1 crash-loop, which
// minicd's health check reports at once; every other registry.test image becomes ready.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
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
const std::string k_crashloop = "registry.test/crashloop:1";

// --- Manifests ---

std::string deployment_yaml(const std::string& image, std::optional<int> replicas = 1) {
    const std::string replicas_line = replicas ? fmt::format("  replicas: {}\n", *replicas) : std::string();
    return fmt::format(R"(---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
{}  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: main, image: "{}", ports: [{{containerPort: 8080}}]}}]
)",
                       replicas_line, image);
}

std::string service_yaml() {
    return R"(---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
)";
}

std::string configmap_yaml(const std::string& name, const std::string& key, const std::string& value) {
    return fmt::format("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {}}}\ndata: {{{}: \"{}\"}}\n", name, key, value);
}

// The usual app: Deployment and Service `web`, and ConfigMap `settings` saying which version it is.
std::string web_app(const std::string& image, const std::string& version) {
    return deployment_yaml(image) + service_yaml() + configmap_yaml("settings", "version", version);
}

// --- Reading JSON ---


std::vector<int> revisions(const Json& releases) {
    std::vector<int> out;
    for (const auto& release : releases) out.push_back(pick_int(release, "/revision"));
    return out;
}

std::vector<std::string> outcomes(const Json& releases) {
    std::vector<std::string> out;
    for (const auto& release : releases) out.push_back(pick_text(release, "/outcome"));
    return out;
}

// The release with that revision; empty when the history has none.
Json release_of(const Json& releases, int revision) {
    for (const auto& release : releases) {
        if (pick_int(release, "/revision") == revision) return release;
    }
    return Json::object();
}

// The action a deploy or rollback report gives kind/name.
std::string action_of(const Json& report, const std::string& kind, const std::string& name) {
    const Json objects = pick(report, "/objects");
    for (const auto& object : objects.is_array() ? objects : Json::array()) {
        if (pick(object, "/kind") == kind && pick(object, "/name") == name) return pick_text(object, "/action");
    }
    return "(not reported)";
}

class Rollback : public ClusterTest {
protected:
    void TearDown() override {
        for (const auto& path : m_cluster_scoped) api(cluster().admin(), Method::delete_, path);
        ClusterTest::TearDown();
    }

    // Writes `yaml` as the only file of a new folder and returns the folder.
    std::string manifests(const std::string& name, const std::string& yaml) {
        testing::write_file(m_tmp.path(name + "/objects.yaml"), yaml);
        return m_tmp.path(name);
    }

    Invocation minicd(std::vector<std::string> args, std::chrono::seconds limit = 300s) {
        return run_minicd(cluster(), m_tmp.path("cache"), std::move(args), limit);
    }

    // Flags naming this test's app and environment, with JSON output and a short health timeout
    // unless `extra` gives one.
    std::vector<std::string> target_flags(std::vector<std::string> extra) const {
        std::vector<std::string> args = {"-n", ns(), "--app", k_app, "--env", k_env, "-o", "json"};
        if (std::find(extra.begin(), extra.end(), "--timeout") == extra.end()) args.insert(args.end(), {"--timeout", "60s"});
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    Invocation apply(const std::string& folder, std::vector<std::string> extra = {}, std::chrono::seconds limit = 300s) {
        std::vector<std::string> args = {"apply", "-f", folder};
        auto rest = target_flags(std::move(extra));
        args.insert(args.end(), rest.begin(), rest.end());
        return minicd(args, limit);
    }

    Invocation rollback(std::vector<std::string> extra = {}, std::chrono::seconds limit = 300s) {
        std::vector<std::string> args = {"rollback"};
        auto rest = target_flags(std::move(extra));
        args.insert(args.end(), rest.begin(), rest.end());
        return minicd(args, limit);
    }

    // `minicd history -o json`, newest first: the whole answer.
    Json history(const std::string& env = k_env) {
        auto run = minicd({"history", "-n", ns(), "--app", k_app, "--env", env, "-o", "json"});
        EXPECT_EQ(run.exit_code, 0) << run.all();
        EXPECT_TRUE(run.is_json) << run.all();
        return run.json;
    }
    Json releases(const std::string& env = k_env) {
        Json found = pick(history(env), "/releases");
        EXPECT_TRUE(found.is_array()) << found.dump();
        return found.is_array() ? found : Json::array();
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
    int web_replicas() { return pick_int(web_deployment(), "/spec/replicas"); }

    // The payload Secrets in this namespace (all revisions).
    Json payload_secrets() {
        auto listed = get(ns_path("/secrets?labelSelector=" + util::percent_encode("minicd.io/role=release-payload")));
        EXPECT_EQ(listed.status, 200) << listed.body.dump();
        const Json items = pick(listed.body, "/items");
        return items.is_array() ? items : Json::array();
    }

    util::SubprocessResult kubectl(std::vector<std::string> args) {
        args.insert(args.begin(), "kubectl");
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .env = {{"KUBECONFIG", cluster().var("KUBECONFIG")}}, .timeout = 60s});
        EXPECT_TRUE(result && result->succeeded()) << (result ? result->err : result.error().describe());
        return result.value_or(util::SubprocessResult{});
    }

    // A clone of a bare "origin" whose minicd.yaml sends main to `staging` in this test's namespace,
    // rolling back on failure. It declares no images: nothing is built, manifests deploy as written.
    testing::GitRepo& ci_repository() {
        m_clone = testing::clone_with_origin(m_tmp.path());
        m_clone->write("minicd.yaml",
                       staging_config(cluster(), k_app, ns(), {.top = "", .staging = "    onFailure: rollback\n    history: 8\n"}));
        return *m_clone;
    }

    // Commits the app with `image` and pushes it to main; returns the commit.
    std::string ship_to_main(testing::GitRepo& clone, const std::string& image, const std::string& version) {
        clone.write("k8s/app.yaml", web_app(image, version));
        return clone.commit_and_push("Version " + version);
    }

    Invocation run_ci(testing::GitRepo& clone, std::vector<std::string> extra = {}) {
        return run_ci_on_main(cluster(), clone, m_tmp.path("cache"), "push", extra);
    }

    testing::TempDir m_tmp;
    std::vector<std::string> m_cluster_scoped;  // API paths of cluster-scoped objects deleted after the test
    std::unique_ptr<testing::GitRepo> m_clone;
};

TEST_F(Rollback, AutomaticRollbackRestoresTheWholeApp) {
    auto v1 = apply(manifests("v1", web_app("registry.test/web:1", "1") + configmap_yaml("old-only", "a", "1")), {"--prune"});
    ASSERT_EQ(v1.exit_code, 0) << v1.all();
    ASSERT_EQ(pick_int(v1.json, "/revision", 0), 1) << v1.all();

    auto v2 = apply(manifests("v2", web_app(k_crashloop, "2") + configmap_yaml("new-only", "b", "2")),
                    {"--prune", "--on-failure", "rollback"});
    EXPECT_EQ(v2.exit_code, 1) << v2.all();
    ASSERT_TRUE(v2.is_json) << v2.all();
    EXPECT_EQ(pick(v2.json, "/succeeded"), Json(false));
    ASSERT_TRUE(v2.json.contains("rollback")) << v2.out;
    const Json done = pick(v2.json, "/rollback");
    EXPECT_EQ(pick_int(done, "/target", -1), 1) << done.dump();
    EXPECT_EQ(pick(done, "/succeeded"), Json(true)) << done.dump();
    EXPECT_EQ(pick_int(done, "/revision", 0), 3) << done.dump();
    EXPECT_EQ(action_of(done, "ConfigMap", "new-only"), "pruned") << done.dump();

    EXPECT_EQ(web_image(), "registry.test/web:1");
    EXPECT_EQ(data_of("settings", "version"), "1");
    EXPECT_TRUE(eventually([&] { return get(ns_path("/configmaps/new-only")).status == 404; }, 30s))
        << "added by the failed release, pruned by the rollback";
    EXPECT_EQ(data_of("old-only", "a"), "1") << "dropped by the failed release, back with the rollback";
    EXPECT_EQ(get(ns_path("/services/web")).status, 200);

    const Json listed = releases();
    ASSERT_EQ(revisions(listed), (std::vector<int>{3, 2, 1})) << listed.dump(2);
    EXPECT_EQ(outcomes(listed), (std::vector<std::string>{"deployed", "rolled-back", "superseded"})) << listed.dump(2);
    EXPECT_EQ(pick_int(listed[0], "/rollbackTo", 0), 1);
    EXPECT_EQ(pick_text(listed[0], "/message"), "rollback to 1");
    EXPECT_EQ(pick_int(listed[1], "/rollbackTo", 0), 0);
    EXPECT_EQ(pick(listed[1], "/held"), Json(true)) << "a rolled-back release is held";
    EXPECT_EQ(pick(listed[0], "/held"), Json(false));
    EXPECT_EQ(pick(listed[2], "/held"), Json(false));
}

TEST_F(Rollback, ManualRollbackToAnOlderRevision) {
    for (int version = 1; version <= 3; ++version) {
        auto run = apply(manifests(fmt::format("v{}", version), web_app(fmt::format("registry.test/web:{}", version),
                                                                          std::to_string(version))));
        ASSERT_EQ(run.exit_code, 0) << "version " << version << ": " << run.all();
    }

    auto to_first = rollback({"--to", "1"});
    ASSERT_EQ(to_first.exit_code, 0) << to_first.all();
    EXPECT_EQ(pick(to_first.json, "/succeeded"), Json(true)) << to_first.out;
    EXPECT_EQ(pick_int(to_first.json, "/rollbackTo", 0), 1) << to_first.out;
    EXPECT_EQ(pick_int(to_first.json, "/revision", 0), 4) << to_first.out;
    EXPECT_EQ(web_image(), "registry.test/web:1");
    EXPECT_EQ(data_of("settings", "version"), "1");

    Json listed = releases();
    ASSERT_EQ(revisions(listed), (std::vector<int>{4, 3, 2, 1})) << listed.dump(2);
    EXPECT_EQ(pick_text(listed[0], "/outcome"), "deployed");
    EXPECT_EQ(pick_int(listed[0], "/rollbackTo", 0), 1);
    EXPECT_EQ(pick_text(listed[1], "/outcome"), "held") << "replaced by a manual rollback";
    EXPECT_EQ(pick(listed[1], "/held"), Json(true));
    EXPECT_EQ(pick_text(listed[2], "/outcome"), "superseded");

    // Without --to: the newest healthy release before the current one. Revision 3 is held, so 2.
    auto by_default = rollback();
    ASSERT_EQ(by_default.exit_code, 0) << by_default.all();
    EXPECT_EQ(pick_int(by_default.json, "/rollbackTo", 0), 2) << by_default.out;
    EXPECT_EQ(pick_int(by_default.json, "/revision", 0), 5) << by_default.out;
    EXPECT_EQ(web_image(), "registry.test/web:2");
    EXPECT_EQ(data_of("settings", "version"), "2");
    listed = releases();
    ASSERT_EQ(revisions(listed), (std::vector<int>{5, 4, 3, 2, 1})) << listed.dump(2);
    EXPECT_EQ(pick_int(listed[0], "/rollbackTo", 0), 2);
    EXPECT_EQ(pick_text(listed[0], "/outcome"), "deployed");
    EXPECT_EQ(pick_text(listed[1], "/outcome"), "held");
    EXPECT_EQ(pick_text(listed[2], "/outcome"), "held") << "stays held";
}

TEST_F(Rollback, RollbackLeavesReplicasSetByAnotherManagerAlone) {
    auto unscaled = [](const std::string& image) {
        return deployment_yaml(image, std::nullopt) + configmap_yaml("settings", "version", image);
    };
    ASSERT_EQ(apply(manifests("v1", unscaled("registry.test/web:1"))).exit_code, 0);
    kubectl({"scale", "deployment", "web", "--replicas", "3", "-n", ns()});
    ASSERT_EQ(web_replicas(), 3);

    auto v2 = apply(manifests("v2", unscaled("registry.test/web:2")));
    ASSERT_EQ(v2.exit_code, 0) << v2.all();
    EXPECT_EQ(web_replicas(), 3) << "the manifests do not declare replicas";

    auto back = rollback({"--to", "1"});
    ASSERT_EQ(back.exit_code, 0) << back.all();
    EXPECT_EQ(web_image(), "registry.test/web:1");
    EXPECT_EQ(web_replicas(), 3) << "release 1 never set replicas, so its rollback does not either";
}

TEST_F(Rollback, ReplicasAScalerSetSurviveDeploysAndRollbacksThatDeclareReplicas) {
    auto scaled = [](const std::string& image) {
        return deployment_yaml(image, 2) + configmap_yaml("settings", "version", image);
    };
    ASSERT_EQ(apply(manifests("v1", scaled("registry.test/web:1"))).exit_code, 0);
    ASSERT_EQ(web_replicas(), 2);
    // What an HPA does: write the scale subresource.
    kubectl({"scale", "deployment", "web", "--replicas", "4", "-n", ns()});
    ASSERT_EQ(web_replicas(), 4);

    auto v2 = apply(manifests("v2", scaled("registry.test/web:2")));
    ASSERT_EQ(v2.exit_code, 0) << v2.all();
    EXPECT_EQ(web_image(), "registry.test/web:2");
    EXPECT_EQ(web_replicas(), 4) << "the scaler's count is not reset to the manifests' 2";

    auto back = rollback({"--to", "1"});
    ASSERT_EQ(back.exit_code, 0) << back.all();
    EXPECT_EQ(web_image(), "registry.test/web:1");
    EXPECT_EQ(web_replicas(), 4) << "nor by a rollback to a release that declared 2";
}

TEST_F(Rollback, RollbackDoesNotRevertACrd) {
    const std::string group = ns() + ".rollback.minicd.test";
    const std::string crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets." + group;
    m_cluster_scoped.push_back(crd_path);
    auto crd = [&](bool with_column) {
        return fmt::format(R"(---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{0}}}
spec:
  group: {0}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: integer}}
{1})",
                           group,
                           with_column ? "    additionalPrinterColumns: [{name: Size, type: integer, jsonPath: .spec.size}]\n" : "");
    };
    auto columns = [&] {
        auto live = get(crd_path);
        std::vector<std::string> names;
        if (live.status != 200) return names;
        for (const auto& version : live.body["spec"].value("versions", Json::array())) {
            for (const auto& column : version.value("additionalPrinterColumns", Json::array())) {
                names.push_back(column.value("name", ""));
            }
        }
        return names;
    };

    ASSERT_EQ(apply(manifests("v1", crd(false) + configmap_yaml("settings", "version", "1"))).exit_code, 0);
    auto v2 = apply(manifests("v2", crd(true) + configmap_yaml("settings", "version", "2")));
    ASSERT_EQ(v2.exit_code, 0) << v2.all();
    ASSERT_EQ(columns(), std::vector<std::string>{"Size"});

    auto back = rollback({"--to", "1"});
    ASSERT_EQ(back.exit_code, 0) << back.all();
    EXPECT_EQ(data_of("settings", "version"), "1");
    EXPECT_EQ(columns(), std::vector<std::string>{"Size"}) << "CRDs are left alone without --include-crds";
    EXPECT_EQ(get(crd_path).status, 200);
}

TEST_F(Rollback, PayloadsAreSecretsAndSecretValuesNeverLeak) {
    std::mt19937 random(std::random_device{}());
    const std::string canary = fmt::format("s3cr3t-canary-{:08x}", random());
    const std::string encoded = util::base64_encode(canary);
    const std::string secret =
        fmt::format("---\napiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData:\n  password: {}\n", canary);
    auto applied = apply(manifests("v1", configmap_yaml("settings", "version", "1") + secret));
    ASSERT_EQ(applied.exit_code, 0) << applied.all();
    EXPECT_EQ(applied.out.find(canary), std::string::npos) << applied.out;
    EXPECT_EQ(applied.err.find(canary), std::string::npos) << applied.err;

    auto configmaps = get(ns_path("/configmaps"));
    ASSERT_EQ(configmaps.status, 200);
    ASSERT_FALSE(configmaps.body.value("items", Json::array()).empty());
    const std::string dump = configmaps.body.dump();
    EXPECT_EQ(dump.find(canary), std::string::npos) << "a secret value in a ConfigMap";
    EXPECT_EQ(dump.find(encoded), std::string::npos) << "a secret value, base64-encoded, in a ConfigMap";

    const Json payloads = payload_secrets();
    ASSERT_FALSE(payloads.empty()) << "release 1's objects are stored";
    for (const auto& payload : payloads) {
        const Json& metadata = payload["metadata"];
        const std::string name = metadata.value("name", "");
        EXPECT_EQ(payload.value("type", ""), "minicd.io/release-payload") << name;
        EXPECT_TRUE(name.starts_with("minicd-shop-test-release-1-")) << name;
        const Json labels = metadata.value("labels", Json::object());
        EXPECT_EQ(labels.value("minicd.io/app", ""), k_app) << name;
        EXPECT_EQ(labels.value("minicd.io/env", ""), k_env) << name;
        EXPECT_EQ(labels.value("minicd.io/role", ""), "release-payload") << name;
        EXPECT_EQ(labels.value("minicd.io/revision", ""), "1") << name;
        EXPECT_FALSE(payload.value("data", Json::object()).empty()) << name;
    }
    // The first chunk begins a gzip stream.
    auto first = get(ns_path("/secrets/minicd-shop-test-release-1-0"));
    ASSERT_EQ(first.status, 200) << first.body.dump();
    bool gzip = false;
    const Json first_data = first.body.value("data", Json::object());
    for (const auto& [key, value] : first_data.items()) {
        auto bytes = util::base64_decode(value.get<std::string>());
        gzip = gzip || (bytes && bytes->size() > 2 && static_cast<unsigned char>((*bytes)[0]) == 0x1f &&
                        static_cast<unsigned char>((*bytes)[1]) == 0x8b);
    }
    EXPECT_TRUE(gzip) << "the payload is stored gzip-compressed";

    const Json listed = releases();
    ASSERT_EQ(revisions(listed), std::vector<int>{1}) << listed.dump(2);
    EXPECT_EQ(pick_int(listed[0], "/payloadChunks", 0), static_cast<int>(payloads.size()));
    auto as_json = minicd({"history", "-n", ns(), "--app", k_app, "--env", k_env, "-o", "json"});
    auto as_text = minicd({"history", "-n", ns(), "--app", k_app, "--env", k_env});
    EXPECT_EQ(as_json.exit_code, 0) << as_json.all();
    ASSERT_EQ(as_text.exit_code, 0) << as_text.all();
    EXPECT_NE(as_text.out.find("deployed"), std::string::npos) << "a table of the releases: " << as_text.out;
    for (const auto* run : {&as_json, &as_text}) {
        EXPECT_EQ(run->out.find(canary), std::string::npos) << run->out;
        EXPECT_EQ(run->err.find(canary), std::string::npos) << run->err;
        EXPECT_EQ(run->out.find(encoded), std::string::npos) << run->out;
    }
}

TEST_F(Rollback, AThousandObjectReleaseStoresAndRestores) {
    constexpr int k_objects = 1000;
    // Each ConfigMap carries 1200 random characters of a 64-letter alphabet, which gzip cannot
    // take below 6 bits each: about 900 kB compressed per release, more than one payload Secret holds.
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    auto blob = [&](int index) {
        std::mt19937 random(static_cast<unsigned>(index) + 1);
        std::string text(1200, ' ');
        for (auto& c : text) c = alphabet[random() % alphabet.size()];
        return text;
    };
    std::vector<std::string> blobs;
    for (int i = 0; i < k_objects; ++i) blobs.push_back(blob(i));
    auto many = [&](const std::string& version) {
        std::string yaml;
        for (int i = 0; i < k_objects; ++i) {
            yaml += fmt::format("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: item-{:04}}}\ndata:\n  version: \"{}\"\n"
                                "  blob: \"{}\"\n",
                                i, version, blobs[static_cast<std::size_t>(i)]);
        }
        return yaml;
    };
    const std::vector<std::string> large = {"--concurrency", "16", "--timeout", "10m"};
    auto v1 = apply(manifests("v1", many("1")), large, 900s);
    ASSERT_EQ(v1.exit_code, 0) << v1.err;
    auto v2 = apply(manifests("v2", many("2")), large, 900s);
    ASSERT_EQ(v2.exit_code, 0) << v2.err;
    ASSERT_EQ(data_of("item-0500", "version"), "2");

    auto back = rollback({"--to", "1", "--no-wait", "--timeout", "10m"}, 900s);
    ASSERT_EQ(back.exit_code, 0) << back.err << back.out.substr(0, 4000);
    EXPECT_EQ(pick_int(back.json, "/rollbackTo", 0), 1);

    for (const char* name : {"item-0000", "item-0001", "item-0499", "item-0777", "item-0998", "item-0999"}) {
        EXPECT_EQ(data_of(name, "version"), "1") << name;
    }
    EXPECT_EQ(data_of("item-0123", "blob"), blobs[123]);
    auto listed = get(ns_path("/configmaps?labelSelector=" + util::percent_encode("minicd.io/app=shop,!minicd.io/role")));
    ASSERT_EQ(listed.status, 200);
    const Json items = listed.body.value("items", Json::array());
    EXPECT_EQ(items.size(), static_cast<std::size_t>(k_objects));
    const auto at_v1 = std::count_if(items.begin(), items.end(), [](const Json& item) {
        return item.value("data", Json::object()).value("version", "") == "1";
    });
    EXPECT_EQ(at_v1, k_objects);

    const Json history_now = releases();
    ASSERT_EQ(revisions(history_now), (std::vector<int>{3, 2, 1})) << history_now.dump(2);
    const int chunks = pick_int(release_of(history_now, 1), "/payloadChunks", 0);
    EXPECT_GE(chunks, 2) << "about 900 kB of compressed objects is cut into several Secrets";
    std::map<std::string, int> per_revision;
    for (const auto& payload : payload_secrets()) {
        const std::string name = payload["metadata"].value("name", "");
        ++per_revision[payload["metadata"].value("labels", Json::object()).value("minicd.io/revision", "")];
        std::size_t encoded = 0;
        const Json data = payload.value("data", Json::object());
        for (const auto& [key, value] : data.items()) encoded += value.get<std::string>().size();
        EXPECT_GT(encoded, 0U) << name;
        EXPECT_LT(encoded, std::size_t{900} * 1024) << name;
    }
    EXPECT_EQ(per_revision["1"], chunks);
    EXPECT_EQ(per_revision["2"], pick_int(release_of(history_now, 2), "/payloadChunks", -1));
    // The rollback applied release 1's very objects: it points at them instead of storing them again.
    EXPECT_EQ(pick_int(release_of(history_now, 3), "/payloadRevision", -1), 1) << history_now.dump(2);
    EXPECT_EQ(pick_int(release_of(history_now, 3), "/payloadChunks", -1), chunks);
    EXPECT_EQ(per_revision["3"], 0);
}

TEST_F(Rollback, NoHealthyReleaseMeansNoRollback) {
    auto failed = apply(manifests("v1", web_app(k_crashloop, "1")), {"--on-failure", "rollback"});
    EXPECT_EQ(failed.exit_code, 1) << failed.all();
    ASSERT_TRUE(failed.is_json) << failed.all();
    ASSERT_TRUE(failed.json.contains("rollback")) << failed.out;
    EXPECT_EQ(pick_int(failed.json, "/rollback/target"), 0) << "nothing to return to: " << failed.json["rollback"].dump();
    EXPECT_EQ(web_image(), k_crashloop) << "nothing was rolled back";

    const Json listed = releases();
    ASSERT_EQ(revisions(listed), std::vector<int>{1}) << listed.dump(2);
    EXPECT_EQ(pick_text(listed[0], "/outcome"), "failed");
    EXPECT_EQ(pick(listed[0], "/held"), Json(true));

    auto by_hand = rollback();
    EXPECT_EQ(by_hand.exit_code, 2) << "no healthy release to return to: " << by_hand.all();
    EXPECT_EQ(revisions(releases()), std::vector<int>{1}) << "nothing recorded";
}

TEST_F(Rollback, KeepLeavesTheFailedRolloutInPlace) {
    ASSERT_EQ(apply(manifests("v1", web_app("registry.test/web:1", "1"))).exit_code, 0);
    auto failed = apply(manifests("v2", web_app(k_crashloop, "2")));
    EXPECT_EQ(failed.exit_code, 1) << failed.all();
    ASSERT_TRUE(failed.is_json) << failed.all();
    EXPECT_FALSE(failed.json.contains("rollback")) << "keep is the default: " << failed.out;
    EXPECT_EQ(web_image(), k_crashloop);
    EXPECT_EQ(data_of("settings", "version"), "2");

    const Json listed = releases();
    ASSERT_EQ(revisions(listed), (std::vector<int>{2, 1})) << listed.dump(2);
    EXPECT_EQ(outcomes(listed), (std::vector<std::string>{"failed", "superseded"})) << listed.dump(2);
}

// Assumes: a minicd.yaml that declares no `images:` builds nothing, so the manifests' images are
// deployed exactly as written; a fixed environment may deploy into an existing plain namespace
// (this test's); `minicd ci` exits 1 when the deploy failed even though the automatic rollback
// restored the previous release, and 2 when it refuses a held commit before writing anything.
TEST_F(Rollback, CiRefusesAHeldCommitUnlessForced) {
    testing::GitRepo& clone = ci_repository();
    auto ship = [&](const std::string& image, const std::string& version) { return ship_to_main(clone, image, version); };
    auto ci = [&](std::vector<std::string> extra = {}) { return run_ci(clone, std::move(extra)); };

    ship("registry.test/web:1", "1");
    auto healthy = ci();
    ASSERT_EQ(healthy.exit_code, 0) << healthy.all();
    ASSERT_EQ(web_image(), "registry.test/web:1");

    const std::string broken = ship(k_crashloop, "2");
    auto rolled_back = ci();
    EXPECT_EQ(rolled_back.exit_code, 1) << rolled_back.all();
    EXPECT_EQ(web_image(), "registry.test/web:1") << "staging rolls back by default";
    EXPECT_EQ(data_of("settings", "version"), "1");
    Json listed = releases("staging");
    ASSERT_EQ(revisions(listed), (std::vector<int>{3, 2, 1})) << listed.dump(2);
    EXPECT_EQ(outcomes(listed), (std::vector<std::string>{"deployed", "rolled-back", "superseded"})) << listed.dump(2);
    EXPECT_EQ(pick_int(listed[0], "/rollbackTo", 0), 1);
    EXPECT_EQ(pick_text(listed[1], "/gitSha"), broken);

    auto refused = ci();
    EXPECT_EQ(refused.exit_code, 2) << refused.all();
    EXPECT_NE((refused.out + refused.err).find("held"), std::string::npos) << refused.all();
    EXPECT_NE((refused.out + refused.err).find("--force"), std::string::npos) << refused.all();
    EXPECT_EQ(revisions(releases("staging")), (std::vector<int>{3, 2, 1})) << "refused before writing";
    EXPECT_EQ(web_image(), "registry.test/web:1");

    auto forced = ci({"--force", "--reason", "retry"});
    EXPECT_EQ(forced.exit_code, 1) << "runs, and fails again: " << forced.all();
    listed = releases("staging");
    EXPECT_GT(listed.size(), 3U) << listed.dump(2);
    EXPECT_EQ(web_image(), "registry.test/web:1") << "rolled back again";
}

// A job killed during its automatic rollback leaves the failed release as the newest, never rolled
// back; running the job again refuses the held commit and finishes that rollback first.
TEST_F(Rollback, CiFinishesARollbackThatAnInterruptedJobLeftUndone) {
    testing::GitRepo& clone = ci_repository();
    ship_to_main(clone, "registry.test/web:1", "1");
    auto healthy = run_ci(clone);
    ASSERT_EQ(healthy.exit_code, 0) << healthy.all();

    // What a killed job leaves: the broken commit applied and recorded failed, nothing rolled back.
    const std::string broken = ship_to_main(clone, k_crashloop, "2");
    auto interrupted = minicd({"apply", "-f", clone.path() + "/k8s", "-n", ns(), "--app", k_app, "--env", "staging",
                               "--git-sha", broken, "--prune", "--timeout", "60s", "-o", "json"});
    ASSERT_EQ(interrupted.exit_code, 1) << interrupted.all();
    ASSERT_EQ(web_image(), k_crashloop);
    ASSERT_EQ(outcomes(releases("staging")), (std::vector<std::string>{"failed", "superseded"}));

    auto again = run_ci(clone);
    EXPECT_EQ(again.exit_code, 2) << "the commit is still held: " << again.all();
    EXPECT_NE(again.out.find("never rolled back"), std::string::npos) << again.all();
    EXPECT_EQ(web_image(), "registry.test/web:1") << "the owed rollback ran";
    EXPECT_EQ(data_of("settings", "version"), "1");
    const Json listed = releases("staging");
    EXPECT_EQ(outcomes(listed), (std::vector<std::string>{"deployed", "rolled-back", "superseded"})) << listed.dump(2);
    EXPECT_EQ(pick_int(listed[0], "/rollbackTo", 0), 1) << listed.dump(2);

    auto third = run_ci(clone);
    EXPECT_EQ(third.exit_code, 2) << third.all();
    EXPECT_EQ(releases("staging").size(), 3U) << "nothing more to finish: refused before writing";
}

TEST_F(Rollback, RollbackToAnUnknownRevisionIsAnInputError) {
    ASSERT_EQ(apply(manifests("v1", web_app("registry.test/web:1", "1"))).exit_code, 0);
    ASSERT_EQ(apply(manifests("v2", web_app("registry.test/web:2", "2"))).exit_code, 0);
    const std::string before = resource_version_of("settings");

    auto unknown = rollback({"--to", "99"});
    EXPECT_EQ(unknown.exit_code, 2) << unknown.all();
    EXPECT_NE(unknown.err.find("99"), std::string::npos) << unknown.err;
    EXPECT_EQ(resource_version_of("settings"), before) << "nothing was written";
    EXPECT_EQ(web_image(), "registry.test/web:2");
    const Json listed = releases();
    EXPECT_EQ(revisions(listed), (std::vector<int>{2, 1})) << listed.dump(2);
    EXPECT_EQ(outcomes(listed), (std::vector<std::string>{"deployed", "superseded"})) << listed.dump(2);
}

}  // namespace
}  // namespace minicd::e2e
