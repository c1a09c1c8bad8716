// `minicd apply` end to end: the real binary against the real control plane.
#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "minicd/util/subprocess.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using http::Method;

struct Outcome {
    int exit_code = -1;
    std::string out;
    std::string err;
    Json report;  // parsed --output json, null otherwise

    // The action minicd reported for kind/name.
    std::string action(const std::string& kind, const std::string& name) const {
        for (const auto& object : report.value("objects", Json::array())) {
            if (object.value("kind", "") == kind && object.value("name", "") == name) return object.value("action", "");
        }
        return "(not reported)";
    }
};

class Apply : public ClusterTest {
protected:
    void SetUp() override {
        ClusterTest::SetUp();
        char pattern[] = "/tmp/minicd-apply-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_dir = pattern;
    }
    void TearDown() override {
        fs::remove_all(m_dir);
        ClusterTest::TearDown();
    }

    // Writes manifests into a fresh folder and returns its path.
    std::string manifests(const std::string& name, const std::string& yaml) {
        std::string folder = m_dir + "/" + name;
        fs::create_directories(folder);
        std::ofstream(folder + "/objects.yaml") << yaml;
        return folder;
    }

    Outcome minicd(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
        args.insert(args.begin(), MINICD_BINARY);
        env.emplace("XDG_CACHE_HOME", m_dir + "/cache");
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .env = env, .timeout = 300s});
        Outcome outcome;
        if (!result) {
            ADD_FAILURE() << result.error().describe();
            return outcome;
        }
        outcome.exit_code = result->exit_code;
        outcome.out = result->out;
        outcome.err = result->err;
        outcome.report = Json::parse(result->out, nullptr, false);
        if (outcome.report.is_discarded()) outcome.report = nullptr;
        return outcome;
    }

    Outcome apply(const std::string& folder, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"apply", "-f", folder, "-n", ns(), "--app", "shop", "--env", "test", "-o", "json"};
        if (std::find(extra.begin(), extra.end(), "--timeout") == extra.end()) extra.insert(extra.end(), {"--timeout", "60s"});
        args.insert(args.end(), extra.begin(), extra.end());
        return minicd(args);
    }

    ApiReply get(const std::string& path) { return api(cluster().admin(), Method::get, path); }
    std::string configmap(const std::string& name) { return ns_path("/configmaps/" + name); }
    std::string deployment(const std::string& name) {
        return "/apis/apps/v1/namespaces/" + ns() + "/deployments/" + name;
    }

    util::SubprocessResult kubectl(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
        args.insert(args.begin(), "kubectl");
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .env = env, .timeout = 60s});
        EXPECT_TRUE(result && result->succeeded()) << (result ? result->err : result.error().describe());
        return result.value_or(util::SubprocessResult{});
    }

    std::string m_dir;
};

std::string two_configmaps_and_a_deployment(int replicas = 2, const std::string& image = "registry.test/web:1") {
    return fmt::format(R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: "on"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
data:
  a: "1"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: main
        image: {}
        ports: [{{containerPort: 8080}}]
)",
                       replicas, image);
}

TEST_F(Apply, CreatesThenConfiguresThenLeavesUnchanged) {
    auto created = apply(manifests("v1", two_configmaps_and_a_deployment()));
    ASSERT_EQ(created.exit_code, 0) << created.err << created.out;
    EXPECT_EQ(created.action("ConfigMap", "settings"), "created");
    EXPECT_EQ(created.action("Deployment", "web"), "created");
    EXPECT_EQ(get(deployment("web")).body["status"].value("availableReplicas", 0), 2) << "apply waited for health";
    auto settings = get(configmap("settings")).body;
    EXPECT_EQ(settings["data"]["mode"], "on") << "quoted \"on\" stays a string";
    EXPECT_EQ(settings["metadata"]["labels"]["app.kubernetes.io/managed-by"], "minicd");
    EXPECT_EQ(settings["metadata"]["annotations"]["minicd.io/owner"], "shop/test");

    auto configured = apply(manifests("v2", two_configmaps_and_a_deployment(3)));
    ASSERT_EQ(configured.exit_code, 0) << configured.err;
    EXPECT_EQ(configured.action("Deployment", "web"), "configured");
    EXPECT_EQ(configured.action("ConfigMap", "settings"), "unchanged");

    std::string version_before = get(deployment("web")).body["metadata"].value("resourceVersion", "");
    auto again = apply(manifests("v2b", two_configmaps_and_a_deployment(3)));
    ASSERT_EQ(again.exit_code, 0) << again.err;
    for (const auto& object : again.report["objects"]) EXPECT_EQ(object.value("action", ""), "unchanged") << object.dump();
    EXPECT_EQ(get(deployment("web")).body["metadata"].value("resourceVersion", ""), version_before)
        << "a no-op apply writes nothing";
    // Two kinds: one LIST each, plus namespace check, lock, inventory and release bookkeeping (the
    // history, read once under the lock and once for the revision, and the digest's salt).
    EXPECT_LE(again.report.value("requests", 1000), 10) << again.out;
}

TEST_F(Apply, FieldChangedByHandIsDetectedAndRestored) {
    auto folder = manifests("v1", two_configmaps_and_a_deployment());
    ASSERT_EQ(apply(folder).exit_code, 0);
    // kubectl edit with a scripted editor, as a person would change it by hand.
    kubectl({"-n", ns(), "edit", "deployment/web"}, {{"KUBE_EDITOR", "sed -i s/replicas:\\ 2/replicas:\\ 5/"}});
    ASSERT_EQ(get(deployment("web")).body["spec"].value("replicas", 0), 5);

    auto restored = apply(folder);
    ASSERT_EQ(restored.exit_code, 0) << restored.err;
    EXPECT_EQ(restored.action("Deployment", "web"), "configured");
    EXPECT_EQ(restored.action("ConfigMap", "settings"), "unchanged");
    EXPECT_EQ(get(deployment("web")).body["spec"].value("replicas", 0), 2);
}

TEST_F(Apply, PruneRemovesWhatWasDroppedButKeepsWhatItDoesNotOwn) {
    const std::string kept_by_annotation = R"(
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: precious
  annotations: {minicd.io/prune: disabled}
)";
    ASSERT_EQ(apply(manifests("v1", two_configmaps_and_a_deployment() + kept_by_annotation)).exit_code, 0);
    // Same labels and owner annotation as ours, but never applied by us: not in the inventory.
    auto stranger = api(cluster().admin(), Method::post, ns_path("/configmaps"),
                        {{"apiVersion", "v1"},
                         {"kind", "ConfigMap"},
                         {"metadata",
                          {{"name", "lookalike"},
                           {"labels", {{"app.kubernetes.io/managed-by", "minicd"}, {"minicd.io/app", "shop"}, {"minicd.io/env", "test"}}},
                           {"annotations", {{"minicd.io/owner", "shop/test"}}}}}});
    ASSERT_EQ(stranger.status, 201);

    std::string only_settings = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: "on"
)";
    auto without_prune = apply(manifests("v2", only_settings));
    ASSERT_EQ(without_prune.exit_code, 0) << without_prune.err;
    EXPECT_EQ(without_prune.action("ConfigMap", "extra"), "kept");
    EXPECT_EQ(get(configmap("extra")).status, 200) << "nothing is pruned without --prune";

    auto pruned = apply(manifests("v3", only_settings), {"--prune"});
    ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_EQ(pruned.action("ConfigMap", "extra"), "pruned");
    EXPECT_EQ(pruned.action("Deployment", "web"), "pruned");
    EXPECT_EQ(pruned.action("ConfigMap", "precious"), "kept");
    EXPECT_TRUE(eventually([&] { return get(configmap("extra")).status == 404; }, 30s));
    EXPECT_EQ(get(configmap("precious")).status, 200);
    EXPECT_EQ(get(configmap("lookalike")).status, 200) << "not in the inventory: never pruned";
    EXPECT_EQ(get(configmap("settings")).status, 200);
}

TEST_F(Apply, AFailedPruneFailsTheRunAndIsTriedAgainNextTime) {
    const std::string two = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: guarded}
)";
    ASSERT_EQ(apply(manifests("v1", two), {"--prune"}).exit_code, 0);

    // The API server itself refuses the delete: an admission policy on this namespace only.
    const std::string policy = "minicd-e2e-no-delete-" + ns();
    auto made = api(cluster().admin(), Method::post, "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
                    {{"apiVersion", "admissionregistration.k8s.io/v1"},
                     {"kind", "ValidatingAdmissionPolicy"},
                     {"metadata", {{"name", policy}}},
                     {"spec",
                      {{"failurePolicy", "Fail"},
                       {"matchConstraints",
                        {{"resourceRules",
                          {{{"apiGroups", {""}}, {"apiVersions", {"v1"}}, {"operations", {"DELETE"}}, {"resources", {"configmaps"}}}}}}},
                       {"validations", {{{"expression", "oldObject.metadata.name != 'guarded'"}, {"message", "guarded by policy"}}}}}}});
    ASSERT_EQ(made.status, 201) << made.body.dump();
    auto bound = api(cluster().admin(), Method::post,
                     "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
                     {{"apiVersion", "admissionregistration.k8s.io/v1"},
                      {"kind", "ValidatingAdmissionPolicyBinding"},
                      {"metadata", {{"name", policy}}},
                      {"spec",
                       {{"policyName", policy},
                        {"validationActions", {"Deny"}},
                        {"matchResources",
                         {{"namespaceSelector", {{"matchLabels", {{"kubernetes.io/metadata.name", ns()}}}}}}}}}});
    ASSERT_EQ(bound.status, 201) << bound.body.dump();
    const auto unbind = [&] {
        api(cluster().admin(), Method::delete_, "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/" + policy);
        api(cluster().admin(), Method::delete_, "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/" + policy);
    };
    // Policies take effect a moment after they are made: wait until a dry-run delete is refused.
    const bool active = eventually(
        [&] {
            const long status = api(cluster().admin(), Method::delete_, configmap("guarded") + "?dryRun=All").status;
            return status == 422 || status == 403;
        },
        30s);
    if (!active) unbind();
    ASSERT_TRUE(active) << "the admission policy never took effect";

    const std::string one = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n";
    auto refused = apply(manifests("v2", one), {"--prune"});
    EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
    EXPECT_EQ(refused.action("ConfigMap", "guarded"), "failed");
    EXPECT_NE(refused.out.find("could not be pruned"), std::string::npos) << refused.out;
    EXPECT_EQ(get(configmap("guarded")).status, 200);
    auto inventory = get(ns_path("/configmaps/minicd-shop-test-inventory"));
    EXPECT_NE(inventory.body.dump().find("guarded"), std::string::npos) << "a failed prune is not forgotten";

    unbind();
    auto again = eventually([&] { return apply(manifests("v3", one), {"--prune"}).exit_code == 0; }, 30s);
    EXPECT_TRUE(again) << "once the policy is gone the next run prunes it";
    EXPECT_TRUE(eventually([&] { return get(configmap("guarded")).status == 404; }, 30s));
}

TEST_F(Apply, DryRunShowsTheFieldsThatWouldChangeAndHidesSecretValues) {
    auto secret = [](const std::string& password) {
        return fmt::format("---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {}\n", password);
    };
    ASSERT_EQ(apply(manifests("v1", two_configmaps_and_a_deployment() + secret("first-s3cret"))).exit_code, 0);
    std::string version_before = get(deployment("web")).body["metadata"].value("resourceVersion", "");

    auto planned = apply(manifests("v2", two_configmaps_and_a_deployment(3, "registry.test/web:2") + secret("second-s3cret")),
                         {"--dry-run"});
    ASSERT_EQ(planned.exit_code, 0) << planned.err << planned.out;
    EXPECT_EQ(planned.out.find("s3cret"), std::string::npos) << planned.out;
    EXPECT_EQ(planned.err.find("s3cret"), std::string::npos) << planned.err;
    std::map<std::string, Json> changes;
    for (const auto& object : planned.report["objects"]) {
        for (const auto& change : object.value("changes", Json::array())) {
            changes[object.value("kind", "") + " " + change.value("path", "")] = change;
        }
    }
    EXPECT_EQ(changes["Deployment spec.replicas"].value("before", ""), "2") << planned.out;
    EXPECT_EQ(changes["Deployment spec.replicas"].value("after", ""), "3");
    EXPECT_EQ(changes["Deployment spec.template.spec.containers[name=main].image"].value("after", ""),
              "\"registry.test/web:2\"");
    // stringData is folded into data by the server: the key is named, the value is not.
    EXPECT_EQ(changes["Secret data.password"].value("after", ""), "(hidden)") << planned.out;
    EXPECT_EQ(changes.count("Deployment metadata.annotations[\"minicd.io/desired-hash\"]"), 0u) << "bookkeeping is not news";
    EXPECT_EQ(planned.action("ConfigMap", "settings"), "unchanged");
    EXPECT_EQ(get(deployment("web")).body["metadata"].value("resourceVersion", ""), version_before) << "a dry run writes nothing";

    auto text = minicd({"apply", "-f", m_dir + "/v2", "-n", ns(), "--app", "shop", "--env", "test", "--dry-run"});
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("    spec.replicas: 2 -> 3"), std::string::npos) << text.out;
    EXPECT_EQ(text.out.find("s3cret"), std::string::npos) << text.out;
}

TEST_F(Apply, VolumeClaimsArePrunedOnlyWhenAskedFor) {
    const std::string claim = R"(apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
)";
    const std::string settings = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n";
    ASSERT_EQ(apply(manifests("v1", claim + settings), {"--no-wait"}).exit_code, 0);

    auto kept = apply(manifests("v2", settings), {"--prune", "--no-wait"});
    ASSERT_EQ(kept.exit_code, 0) << kept.err;
    EXPECT_EQ(kept.action("PersistentVolumeClaim", "data"), "kept");
    EXPECT_EQ(get(ns_path("/persistentvolumeclaims/data")).status, 200);

    auto pruned = apply(manifests("v3", settings), {"--prune", "--prune-volumes", "--no-wait"});
    ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
    EXPECT_EQ(pruned.action("PersistentVolumeClaim", "data"), "pruned");
    EXPECT_TRUE(eventually([&] { return get(ns_path("/persistentvolumeclaims/data")).status == 404; }, 60s));
}

TEST_F(Apply, EmptyRenderDoesNotPruneEverything) {
    ASSERT_EQ(apply(manifests("v1", two_configmaps_and_a_deployment())).exit_code, 0);
    auto empty = apply(manifests("empty", "# nothing here\n"), {"--prune"});
    EXPECT_EQ(empty.exit_code, 2) << empty.out;
    EXPECT_NE(empty.err.find("--allow-empty"), std::string::npos) << empty.err;
    EXPECT_EQ(get(configmap("settings")).status, 200);
}

TEST_F(Apply, CrdAndItsCustomResourceInOneApply) {
    std::string group = fmt::format("{}.minicd.test", ns());
    auto crd_and_cr = fmt::format(R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{0}
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
---
apiVersion: {0}/v1
kind: Widget
metadata:
  name: first
spec:
  size: 3
)",
                                  group);
    // A dry run cannot have the server check a kind that does not exist yet: it says so, and writes nothing.
    auto planned = apply(manifests("v1", crd_and_cr), {"--dry-run"});
    ASSERT_EQ(planned.exit_code, 0) << planned.err << planned.out;
    EXPECT_EQ(planned.action("CustomResourceDefinition", "widgets." + group), "created");
    EXPECT_EQ(planned.action("Widget", "first"), "created");
    EXPECT_EQ(get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets." + group).status, 404);

    auto applied = apply(manifests("v1", crd_and_cr));
    ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;
    EXPECT_EQ(applied.action("CustomResourceDefinition", "widgets." + group), "created");
    EXPECT_EQ(applied.action("Widget", "first"), "created");
    auto widget = get("/apis/" + group + "/v1/namespaces/" + ns() + "/widgets/first");
    EXPECT_EQ(widget.status, 200);
    EXPECT_EQ(widget.body["spec"].value("size", 0), 3);
    api(cluster().admin(), Method::delete_, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets." + group);
}

TEST_F(Apply, ImmutableSelectorChangeIsExplainedAndRecreatedOnlyWhenAsked) {
    ASSERT_EQ(apply(manifests("v1", two_configmaps_and_a_deployment())).exit_code, 0);
    std::string changed = two_configmaps_and_a_deployment();
    for (std::size_t at; (at = changed.find("app: web")) != std::string::npos;) changed.replace(at, 8, "app: www");

    auto refused = apply(manifests("v2", changed));
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_EQ(refused.action("Deployment", "web"), "failed");
    std::string text = refused.out + refused.err;
    EXPECT_NE(text.find("spec.selector"), std::string::npos) << text;
    EXPECT_NE(text.find("field is immutable"), std::string::npos) << text;
    EXPECT_NE(text.find("--force-recreate"), std::string::npos) << text;
    EXPECT_EQ(refused.action("ConfigMap", "settings"), "unchanged") << "a refused apply writes nothing";

    auto recreated = apply(manifests("v3", changed), {"--force-recreate"});
    ASSERT_EQ(recreated.exit_code, 0) << recreated.err << recreated.out;
    EXPECT_EQ(recreated.action("Deployment", "web"), "recreated");
    EXPECT_EQ(get(deployment("web")).body["spec"]["selector"]["matchLabels"].value("app", ""), "www");
}

TEST_F(Apply, RefusedObjectMeansNothingIsWritten) {
    std::string invalid = two_configmaps_and_a_deployment() + R"(---
apiVersion: v1
kind: Service
metadata:
  name: broken
spec:
  ports: [{port: 80, protocl: TCP}]
)";
    auto refused = apply(manifests("v1", invalid));
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_EQ(refused.action("Service", "broken"), "failed");
    EXPECT_NE((refused.out + refused.err).find("protocl"), std::string::npos) << refused.out;
    EXPECT_EQ(get(configmap("settings")).status, 404) << "nothing was created";
}

TEST_F(Apply, RefusedObjectBesideANewCrdLeavesTheCrdUnwritten) {
    const std::string group = fmt::format("{}.refused.minicd.test", ns());
    const std::string crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets." + group;
    auto refused = apply(manifests("v1", fmt::format(R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gadgets.{0}}}
spec:
  group: {0}
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget}}
  versions:
  - {{name: v1, served: true, storage: true, schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: broken}}
spec:
  ports: [{{port: 80, protocl: TCP}}]
)",
                                                     group)));
    EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
    EXPECT_EQ(refused.action("Service", "broken"), "failed");
    EXPECT_NE(refused.report.value("failure", "").find("nothing was changed"), std::string::npos) << refused.out;
    EXPECT_EQ(get(crd_path).status, 404) << "the CRD waits until everything the server can check passed";
    EXPECT_EQ(get(ns_path("/configmaps/minicd-shop-test-inventory")).status, 404) << "no intent recorded either";
    api(cluster().admin(), Method::delete_, crd_path);
}

TEST_F(Apply, CrashLoopingImageFailsFastNamingTheCause) {
    auto failed = apply(manifests("v1", two_configmaps_and_a_deployment(1, "registry.test/crashloop:1")), {"--timeout", "10m"});
    EXPECT_EQ(failed.exit_code, 1);
    EXPECT_NE(failed.report.value("failure", "").find("rollout failed"), std::string::npos) << failed.out;
    EXPECT_NE(failed.report.value("failure", "").find("CrashLoopBackOff"), std::string::npos) << failed.out;
}

TEST_F(Apply, LimitedUserGetsAClearForbiddenError) {
    auto forbidden = minicd({"apply", "-f", manifests("v1", two_configmaps_and_a_deployment()), "--context", "limited",
                             "-n", ns(), "--app", "shop", "--env", "test"});
    EXPECT_EQ(forbidden.exit_code, 1);
    EXPECT_NE(forbidden.err.find("forbidden"), std::string::npos) << forbidden.err;
    EXPECT_NE(forbidden.err.find("User \"limited\""), std::string::npos) << forbidden.err;
}

TEST_F(Apply, ExecPluginCredentialsAreUsed) {
    // A credential plugin that hands out the admin client certificate, as cloud plugins hand out tokens.
    const std::string pki = cluster().var("MINICD_TEST_PKI");
    const std::string plugin = m_dir + "/credential-plugin";
    std::ofstream(plugin) << "#!/bin/sh\n"
                          << "echo run >> " << m_dir << "/plugin-runs\n"
                          << "cert=$(sed -e ':a' -e 'N' -e '$!ba' -e 's/\\n/\\\\n/g' " << pki << "/admin.crt)\n"
                          << "key=$(sed -e ':a' -e 'N' -e '$!ba' -e 's/\\n/\\\\n/g' " << pki << "/admin.key)\n"
                          << "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                             "\"status\":{\"clientCertificateData\":\"%s\\\\n\",\"clientKeyData\":\"%s\\\\n\"}}' \"$cert\" \"$key\"\n";
    fs::permissions(plugin, fs::perms::owner_all);
    const std::string kubeconfig = m_dir + "/exec.kubeconfig";
    std::ofstream(kubeconfig) << fmt::format(R"(apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: {}
    certificate-authority: {}/ca.crt
users:
- name: plugin-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {}
      interactiveMode: Never
contexts:
- name: exec
  context: {{cluster: test, user: plugin-user}}
current-context: exec
)",
                                             cluster().apiserver(), pki, plugin);
    auto applied = minicd({"apply", "-f", manifests("v1", two_configmaps_and_a_deployment()), "--kubeconfig", kubeconfig,
                           "-n", ns(), "--app", "shop", "--env", "test"});
    EXPECT_EQ(applied.exit_code, 0) << applied.err;
    EXPECT_TRUE(fs::exists(m_dir + "/plugin-runs"));
    EXPECT_EQ(get(configmap("settings")).status, 200);
}

TEST_F(Apply, ConcurrentDeployOfTheSameEnvironmentIsRefusedByTheLock) {
    // The first deploy holds the lock while it waits for a pod that never becomes ready.
    auto slow_folder = manifests("slow", two_configmaps_and_a_deployment(1, "registry.test/neverready:1"));
    Outcome first;
    std::thread first_run([&] { first = apply(slow_folder, {"--timeout", "15s"}); });
    ASSERT_TRUE(eventually(
        [&] { return get("/apis/coordination.k8s.io/v1/namespaces/" + ns() + "/leases/minicd-lock-shop-test").status == 200; },
        30s));
    auto second = apply(manifests("v1", two_configmaps_and_a_deployment()), {"--lock-wait", "0s"});
    first_run.join();
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_NE(second.err.find("locked"), std::string::npos) << second.err;
    EXPECT_EQ(first.exit_code, 1) << "the never-ready pod times out";
}

TEST_F(Apply, ApiServerKilledMidApplyThenRerunConverges) {
    std::string many;
    constexpr int k_objects = 1500;
    for (int i = 0; i < k_objects; ++i) {
        many += fmt::format("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: item-{:03}\ndata:\n  n: \"{}\"\n", i, i);
    }
    auto folder = manifests("many", many);
    const std::string cluster_dir = fs::path(cluster().var("KUBECONFIG")).parent_path().string();
    auto count = [&] {
        auto listed = get(ns_path("/configmaps?labelSelector=minicd.io%2Fapp%3Dshop%2C%21minicd.io%2Frole"));
        return listed.status == 200 ? static_cast<int>(listed.body["items"].size()) : -1;
    };

    Outcome interrupted;
    std::thread run([&] { interrupted = apply(folder, {"--no-wait", "--concurrency", "1"}); });
    bool started = eventually([&] { return count() >= 50; }, 120s);
    auto killed = util::run_subprocess({.inherit = util::Inherit::everything, .argv = {MINICD_SOURCE_DIR "/testenv/cluster", "kill", "--dir", cluster_dir, "kube-apiserver"},
                                        .timeout = 30s});
    run.join();
    auto restarted = util::run_subprocess({.inherit = util::Inherit::everything, .argv = {MINICD_SOURCE_DIR "/testenv/cluster", "start", "--dir", cluster_dir, "kube-apiserver"},
                                           .timeout = 120s});
    ASSERT_TRUE(restarted && restarted->succeeded()) << (restarted ? restarted->err : restarted.error().describe());
    ASSERT_TRUE(started);
    ASSERT_TRUE(killed && killed->succeeded());
    EXPECT_EQ(interrupted.exit_code, 1) << "the apply was cut off: " << interrupted.out;

    // The crashed run's lease is still there until it expires; the default --lock-wait outlasts it.
    auto rerun = apply(folder, {"--no-wait"});
    ASSERT_EQ(rerun.exit_code, 0) << rerun.err << rerun.out << "\nfirst run:\n" << interrupted.err;
    EXPECT_EQ(count(), k_objects);
    int created = 0;
    int unchanged = 0;
    for (const auto& object : rerun.report["objects"]) {
        created += object.value("action", "") == "created";
        unchanged += object.value("action", "") == "unchanged";
    }
    EXPECT_EQ(created + unchanged, k_objects);
    EXPECT_GT(unchanged, 0) << "what the first run applied is recognised, not written again";

    auto inventory = get(configmap("minicd-shop-test-inventory"));
    ASSERT_EQ(inventory.status, 200);
    EXPECT_EQ(Json::parse(inventory.body["data"].value("objects", "[]")).size(), static_cast<std::size_t>(k_objects));
}


// --- Ownership: identity, other owners, the inventory, recreation, CRDs ---

// A ConfigMap named `name` with one data key.
std::string config_map(const std::string& name, const std::string& value = "1") {
    return fmt::format("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n  value: \"{}\"\n---\n", name, value);
}

class Ownership : public Apply {
protected:
    Outcome apply_as(const std::string& app, const std::string& folder, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"apply", "-f", folder, "-n", ns(), "--app", app, "--env", "t", "-o", "json", "--timeout", "60s"};
        args.insert(args.end(), extra.begin(), extra.end());
        return minicd(args);
    }
    std::string owner_of(const std::string& path) {
        auto object = get(path).body;
        return object["metadata"].value("annotations", Json::object()).value("minicd.io/owner", "");
    }
    std::string uid_of(const std::string& path) { return get(path).body["metadata"].value("uid", ""); }

    // A CRD of kind Gadget in a group of this test's own, served as v1beta1 and v1 (v1 stored).
    std::string gadget_crd() {
        return fmt::format(R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.{0}
spec:
  group: {0}
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget}}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema: {{openAPIV3Schema: {{type: object, properties: {{spec: {{type: object, properties: {{size: {{type: integer}}}}}}}}}}}}
  - name: v1
    served: true
    storage: true
    schema: {{openAPIV3Schema: {{type: object, properties: {{spec: {{type: object, properties: {{size: {{type: integer}}}}}}}}}}}}
---
)",
                           group());
    }
    std::string group() const { return ns() + ".acc.test"; }
    std::string crd_path() const { return "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets." + group(); }
    void TearDown() override {
        api(cluster().admin(), Method::delete_, crd_path());
        Apply::TearDown();
    }
};

TEST_F(Ownership, ACustomResourceReappliedUnderAnotherServedVersionIsNotPruned) {
    // The CRD is installed by its own apply, as an operator would ship it.
    ASSERT_EQ(apply_as("crds", manifests("crd", gadget_crd()), {"--no-wait"}).exit_code, 0);
    auto gadget = [&](const std::string& version) {
        return fmt::format("apiVersion: {}/{}\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  size: 3\n", group(), version);
    };
    auto first = apply_as("shop", manifests("beta", gadget("v1beta1")), {"--prune", "--no-wait"});
    ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
    const std::string path = "/apis/" + group() + "/v1/namespaces/" + ns() + "/gadgets/g1";
    const std::string uid = uid_of(path);
    ASSERT_FALSE(uid.empty());

    auto second = apply_as("shop", manifests("stable", gadget("v1")), {"--prune", "--no-wait"});
    ASSERT_EQ(second.exit_code, 0) << second.err << second.out;
    for (const auto& object : second.report["objects"]) {
        EXPECT_NE(object.value("action", ""), "pruned") << "one object under two versions: " << object.dump();
    }
    EXPECT_EQ(uid_of(path), uid) << "the Gadget is still the same object";
    // A third run finds it unchanged: the inventory learned the version it is applied with now.
    auto third = apply_as("shop", manifests("stable2", gadget("v1")), {"--prune", "--no-wait"});
    ASSERT_EQ(third.exit_code, 0) << third.err;
    EXPECT_EQ(third.action("Gadget", "g1"), "unchanged");
    auto inventory = get(configmap("minicd-shop-t-inventory")).body["data"].value("objects", "");
    EXPECT_NE(inventory.find("\"version\":\"v1\""), std::string::npos) << inventory;
}

TEST_F(Ownership, AnotherAppsObjectIsRefusedUntouchedAndNeverPruned) {
    ASSERT_EQ(apply_as("appa", manifests("a", config_map("shared", "a"))).exit_code, 0);
    const std::string before = get(configmap("shared")).body["metadata"].value("resourceVersion", "");

    auto refused = apply_as("appb", manifests("b", config_map("mine") + config_map("shared", "b")), {"--prune"});
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_EQ(refused.action("ConfigMap", "shared"), "refused");
    EXPECT_NE((refused.out + refused.err).find("minicd app appa/t"), std::string::npos) << refused.out << refused.err;
    EXPECT_NE((refused.out + refused.err).find("--adopt"), std::string::npos);
    EXPECT_EQ(get(configmap("shared")).body["metadata"].value("resourceVersion", ""), before) << "not written";
    EXPECT_EQ(get(configmap("mine")).status, 404) << "a refused deploy writes nothing at all";
    EXPECT_EQ(get(configmap("minicd-appb-t-inventory")).status, 404) << "nor records it as its own";

    // Dropping it again, appb has nothing of appa's to prune.
    auto without = apply_as("appb", manifests("b2", config_map("mine")), {"--prune"});
    ASSERT_EQ(without.exit_code, 0) << without.err;
    EXPECT_EQ(owner_of(configmap("shared")), "appa/t");
    EXPECT_EQ(get(configmap("shared")).body["data"].value("value", ""), "a");
}

TEST_F(Ownership, TwoAppsInOneNamespaceWithDisjointObjectsKeepEachOthers) {
    ASSERT_EQ(apply_as("appa", manifests("a1", config_map("a1") + config_map("a2")), {"--prune"}).exit_code, 0);
    ASSERT_EQ(apply_as("appb", manifests("b1", config_map("b1")), {"--prune"}).exit_code, 0);
    auto a_again = apply_as("appa", manifests("a2", config_map("a1")), {"--prune"});
    ASSERT_EQ(a_again.exit_code, 0) << a_again.err;
    EXPECT_EQ(a_again.action("ConfigMap", "a2"), "pruned");
    EXPECT_EQ(a_again.action("ConfigMap", "b1"), "(not reported)");
    EXPECT_EQ(get(configmap("b1")).status, 200);
    EXPECT_TRUE(eventually([&] { return get(configmap("a2")).status == 404; }, 30s));
}

TEST_F(Ownership, AHelmObjectIsRefusedAndAdoptedOnlyWhenAsked) {
    auto helm = api(cluster().admin(), Method::post, ns_path("/configmaps"),
                    {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata",
                      {{"name", "settings"},
                       {"labels", {{"app.kubernetes.io/managed-by", "Helm"}}},
                       {"annotations", {{"meta.helm.sh/release-name", "web"}, {"meta.helm.sh/release-namespace", ns()}}}}},
                     {"data", {{"value", "helm"}}}});
    ASSERT_EQ(helm.status, 201);
    auto refused = apply_as("shop", manifests("v1", config_map("settings", "minicd")));
    EXPECT_EQ(refused.exit_code, 2) << refused.out;
    EXPECT_EQ(refused.action("ConfigMap", "settings"), "refused");
    EXPECT_NE((refused.out + refused.err).find("Helm release web"), std::string::npos) << refused.out << refused.err;
    EXPECT_EQ(get(configmap("settings")).body["data"].value("value", ""), "helm") << "left untouched";

    auto adopted = apply_as("shop", manifests("v2", config_map("settings", "minicd")), {"--adopt"});
    ASSERT_EQ(adopted.exit_code, 0) << adopted.err << adopted.out;
    EXPECT_EQ(adopted.action("ConfigMap", "settings"), "adopted");
    EXPECT_EQ(owner_of(configmap("settings")), "shop/t");
    EXPECT_EQ(get(configmap("settings")).body["data"].value("value", ""), "minicd");
}

TEST_F(Ownership, AnUnownedObjectIsAdoptedAndSaysSo) {
    ASSERT_EQ(api(cluster().admin(), Method::post, ns_path("/configmaps"),
                  {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "by-hand"}}}})
                  .status,
              201);
    auto adopted = apply_as("shop", manifests("v1", config_map("by-hand")));
    ASSERT_EQ(adopted.exit_code, 0) << adopted.err;
    EXPECT_EQ(adopted.action("ConfigMap", "by-hand"), "adopted");
    EXPECT_EQ(owner_of(configmap("by-hand")), "shop/t");
}

TEST_F(Ownership, ATamperedInventoryDeletesNothing) {
    ASSERT_EQ(apply_as("shop", manifests("v1", config_map("own") + config_map("dropped"))).exit_code, 0);
    // A victim elsewhere that even carries our owner marks, and the target namespace itself.
    const std::string victim_ns = ns() + "-victim";
    ASSERT_EQ(api(cluster().admin(), Method::post, "/api/v1/namespaces",
                  {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", victim_ns}}}})
                  .status,
              201);
    ASSERT_EQ(api(cluster().admin(), Method::post, "/api/v1/namespaces/" + victim_ns + "/configmaps",
                  {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata", {{"name", "victim"}, {"annotations", {{"minicd.io/owner", "shop/t"}}}}}})
                  .status,
              201);
    const std::string inventory_path = configmap("minicd-shop-t-inventory");
    const Json original = get(inventory_path).body;
    auto tamper = [&](const Json& entry) {
        Json entries = Json::parse(original["data"].value("objects", "[]"));
        entries.push_back(entry);
        auto patched = api(cluster().admin(), Method::put, inventory_path, [&] {
            Json whole = get(inventory_path).body;
            whole["data"]["objects"] = entries.dump();
            return whole;
        }());
        ASSERT_EQ(patched.status, 200) << patched.body.dump();
    };
    const std::vector<Json> entries = {
        {{"group", ""}, {"version", "v1"}, {"kind", "ConfigMap"}, {"namespace", victim_ns}, {"name", "victim"}},
        {{"group", ""}, {"version", "v1"}, {"kind", "ConfigMap"}, {"namespace", ns()}, {"name", "../../" + victim_ns + "/configmaps/victim"}},
        {{"group", ""}, {"version", "v1"}, {"kind", "ConfigMap"}, {"namespace", ""}, {"name", "victim"}},
        {{"group", ""}, {"version", "v1"}, {"kind", "Namespace"}, {"namespace", ns()}, {"name", victim_ns}},
    };
    for (const auto& entry : entries) {
        tamper(entry);
        auto run = apply_as("shop", manifests("v2", config_map("own")), {"--prune", "--prune-namespaces"});
        EXPECT_NE(run.exit_code, 0) << entry.dump() << "\n" << run.out;
        EXPECT_NE((run.out + run.err).find("minicd-shop-t-inventory"), std::string::npos) << run.out << run.err;
        EXPECT_EQ(get(configmap("dropped")).status, 200) << "an invalid inventory deletes nothing: " << entry.dump();
        EXPECT_EQ(get("/api/v1/namespaces/" + victim_ns + "/configmaps/victim").status, 200) << entry.dump();
        EXPECT_EQ(get("/api/v1/namespaces/" + victim_ns).status, 200) << entry.dump();
    }
    // Repaired, the inventory works again (and no other test meets it unreadable).
    Json repaired = get(inventory_path).body;
    repaired["data"] = original["data"];
    ASSERT_EQ(api(cluster().admin(), Method::put, inventory_path, repaired).status, 200);
    auto after = apply_as("shop", manifests("v3", config_map("own")), {"--prune"});
    EXPECT_EQ(after.exit_code, 0) << after.err << after.out;
    EXPECT_EQ(after.action("ConfigMap", "dropped"), "pruned");
    api(cluster().admin(), Method::delete_, "/api/v1/namespaces/" + victim_ns);
}

TEST_F(Ownership, RecreationNeverDeletesAnotherOwnersObjectOrAVolumeClaim) {
    ASSERT_EQ(apply_as("appa", manifests("a", two_configmaps_and_a_deployment()), {"--no-wait"}).exit_code, 0);
    const std::string uid = uid_of(deployment("web"));
    std::string changed = two_configmaps_and_a_deployment();
    for (std::size_t at; (at = changed.find("app: web")) != std::string::npos;) changed.replace(at, 8, "app: www");
    auto taken = apply_as("appb", manifests("b", changed), {"--adopt", "--force-recreate", "--no-wait"});
    EXPECT_EQ(taken.exit_code, 1) << taken.out;
    EXPECT_EQ(taken.action("Deployment", "web"), "failed");
    EXPECT_NE(taken.out.find("will not delete and re-create"), std::string::npos) << taken.out;
    EXPECT_EQ(uid_of(deployment("web")), uid) << "appa's Deployment was not deleted";

    const std::string claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n"
                              "  accessModes: [{}]\n  resources: {{requests: {{storage: 1Gi}}}}\n";
    ASSERT_EQ(apply_as("vol", manifests("c1", fmt::format(fmt::runtime(claim), "ReadWriteOnce")), {"--no-wait"}).exit_code, 0);
    const std::string claim_uid = uid_of(ns_path("/persistentvolumeclaims/data"));
    auto recreated = apply_as("vol", manifests("c2", fmt::format(fmt::runtime(claim), "ReadWriteMany")), {"--force-recreate", "--no-wait"});
    EXPECT_EQ(recreated.exit_code, 1) << recreated.out;
    EXPECT_NE(recreated.out.find("never re-created"), std::string::npos) << recreated.out;
    EXPECT_EQ(uid_of(ns_path("/persistentvolumeclaims/data")), claim_uid);
}

TEST_F(Ownership, CrdsArePrunedOnlyWhenAskedFor) {
    ASSERT_EQ(apply_as("crds", manifests("v1", gadget_crd() + config_map("keep")), {"--no-wait"}).exit_code, 0);
    auto kept = apply_as("crds", manifests("v2", config_map("keep")), {"--prune", "--no-wait"});
    ASSERT_EQ(kept.exit_code, 0) << kept.err << kept.out;
    EXPECT_EQ(kept.action("CustomResourceDefinition", "gadgets." + group()), "kept");
    EXPECT_NE(kept.out.find("--prune-crds"), std::string::npos) << kept.out;
    EXPECT_EQ(get(crd_path()).status, 200);

    auto pruned = apply_as("crds", manifests("v3", config_map("keep")), {"--prune", "--prune-crds", "--no-wait"});
    ASSERT_EQ(pruned.exit_code, 0) << pruned.err << pruned.out;
    EXPECT_EQ(pruned.action("CustomResourceDefinition", "gadgets." + group()), "pruned");
}

TEST_F(Ownership, AClusterScopedObjectAnotherInventoryListsIsNeverPruned) {
    const std::string role = fmt::format("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
                                         "  name: {}-reader\nrules: []\n---\n", ns());
    const std::string path = "/apis/rbac.authorization.k8s.io/v1/clusterroles/" + ns() + "-reader";
    ASSERT_EQ(apply_as("appa", manifests("a", role + config_map("a"))).exit_code, 0);
    auto adopted = apply_as("appb", manifests("b", role + config_map("b")), {"--adopt"});
    ASSERT_EQ(adopted.exit_code, 0) << adopted.err << adopted.out;
    EXPECT_EQ(adopted.action("ClusterRole", ns() + "-reader"), "adopted");
    auto dropped = apply_as("appb", manifests("b2", config_map("b")), {"--prune"});
    ASSERT_EQ(dropped.exit_code, 0) << dropped.err << dropped.out;
    EXPECT_EQ(dropped.action("ClusterRole", ns() + "-reader"), "kept");
    EXPECT_NE(dropped.out.find("still listed by the inventory of appa/t"), std::string::npos) << dropped.out;
    EXPECT_EQ(get(path).status, 200);
    api(cluster().admin(), Method::delete_, path);
}

TEST_F(Ownership, PruneWithoutAnAppIsRefused) {
    auto run = minicd({"apply", "-f", manifests("v1", config_map("a")), "-n", ns(), "--prune"});
    EXPECT_EQ(run.exit_code, 2) << run.out;
    EXPECT_NE(run.err.find("--prune needs --app"), std::string::npos) << run.err;
    EXPECT_EQ(get(configmap("a")).status, 404);
}

}  // namespace
}  // namespace minicd::e2e
