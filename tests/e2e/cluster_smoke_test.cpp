// The test cluster behaves like a real one: rollouts complete, failing images never become
// available, RBAC refuses what it should, and TLS is verified. These are the behaviours later
// features (apply, health, rollback) are tested against.
#include <fmt/format.h>

#include "minicd/kube/client.hpp"
#include "minicd/util/subprocess.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

Json deployment(const std::string& name, const std::string& image, int replicas) {
    Json labels = {{"app", name}};
    return {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"replicas", replicas},
              {"selector", {{"matchLabels", labels}}},
              {"template",
               {{"metadata", {{"labels", labels}}},
                {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", image}}})}}}}}}}};
}

class Cluster : public ClusterTest {
protected:
    std::string deployments() const { return "/apis/apps/v1/namespaces/" + ns() + "/deployments"; }

    void create_deployment(const std::string& name, const std::string& image, int replicas) {
        auto created = api(cluster().admin(), Method::post, deployments(), deployment(name, image, replicas));
        ASSERT_EQ(created.status, 201) << created.body.dump();
    }

    Json get_deployment(const std::string& name) {
        return api(cluster().admin(), Method::get, deployments() + "/" + name).body;
    }

    // The waiting reasons of the first container of every pod of the app, e.g. {"CrashLoopBackOff"}.
    std::vector<std::string> waiting_reasons(const std::string& app) {
        auto pods = api(cluster().admin(), Method::get, ns_path("/pods?labelSelector=app%3D" + app)).body;
        std::vector<std::string> reasons;
        for (const auto& pod : pods.value("items", Json::array())) {
            auto pointer = Json::json_pointer("/status/containerStatuses/0/state/waiting/reason");
            if (pod.contains(pointer)) reasons.push_back(pod.at(pointer).get<std::string>());
        }
        return reasons;
    }

    // Pods of the app that are Running but whose Ready condition is False.
    int running_unready_pods(const std::string& app) {
        auto pods = api(cluster().admin(), Method::get, ns_path("/pods?labelSelector=app%3D" + app)).body;
        int count = 0;
        for (const auto& pod : pods.value("items", Json::array())) {
            if (pod["status"].value("phase", "") != "Running") continue;
            for (const auto& condition : pod["status"].value("conditions", Json::array())) {
                if (condition.value("type", "") == "Ready" && condition.value("status", "") == "False") ++count;
            }
        }
        return count;
    }
};

TEST_F(Cluster, ApiServerSpeaksHttp2OverVerifiedTls) {
    auto version = api(cluster().admin(), Method::get, "/version");
    EXPECT_EQ(version.status, 200);
    EXPECT_EQ(version.http_version, 20);
    EXPECT_EQ(version.body.value("gitVersion", "").rfind("v1.", 0), 0u) << version.body.dump();
}

TEST_F(Cluster, DeploymentWithTwoReplicasBecomesAvailable) {
    create_deployment("web", "registry.test/web:1", 2);
    Json last;
    bool available = eventually(
        [&] {
            last = get_deployment("web");
            return last["status"].value("availableReplicas", 0) == 2;
        },
        60s);
    EXPECT_TRUE(available) << last["status"].dump();
}

TEST_F(Cluster, RolloutReplacesOldReplicaSet) {
    create_deployment("web", "registry.test/web:1", 2);
    ASSERT_TRUE(eventually([&] { return get_deployment("web")["status"].value("availableReplicas", 0) == 2; }, 60s));

    Json patch = {{"spec", {{"template", {{"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "registry.test/web:2"}}})}}}}}}}};
    http::Request request{.method = Method::patch,
                          .url = cluster().apiserver() + deployments() + "/web",
                          .headers = {{"Content-Type", "application/strategic-merge-patch+json"}},
                          .body = patch.dump()};
    auto patched = cluster().admin().client->send(request);
    ASSERT_TRUE(patched && patched->status == 200) << (patched ? patched->body : patched.error().describe());

    auto rolled_out = [&] {
        Json status = get_deployment("web")["status"];
        return status.value("updatedReplicas", 0) == 2 && status.value("availableReplicas", 0) == 2 &&
               status.value("replicas", 0) == 2 && status.value("observedGeneration", 0) == 2;
    };
    EXPECT_TRUE(eventually(rolled_out, 60s)) << get_deployment("web")["status"].dump();

    auto sets = api(cluster().admin(), Method::get, "/apis/apps/v1/namespaces/" + ns() + "/replicasets").body;
    int scaled_down = 0;
    for (const auto& set : sets["items"]) {
        if (set["spec"].value("replicas", -1) == 0) ++scaled_down;
    }
    EXPECT_EQ(scaled_down, 1) << "the first ReplicaSet is scaled to zero";
}

TEST_F(Cluster, CrashLoopingImageNeverBecomesAvailable) {
    create_deployment("broken", "registry.test/crashloop:1", 1);
    std::vector<std::string> reasons;
    ASSERT_TRUE(eventually(
        [&] {
            reasons = waiting_reasons("broken");
            return !reasons.empty();
        },
        60s));
    EXPECT_EQ(reasons, std::vector<std::string>{"CrashLoopBackOff"});
    Json status = get_deployment("broken")["status"];
    EXPECT_EQ(status.value("availableReplicas", 0), 0) << status.dump();
    EXPECT_EQ(status.value("unavailableReplicas", 0), 1) << status.dump();
}

TEST_F(Cluster, NeverReadyImageRunsButIsNotAvailable) {
    create_deployment("stuck", "registry.test/neverready:1", 1);
    ASSERT_TRUE(eventually([&] { return running_unready_pods("stuck") == 1; }, 60s));
    Json status = get_deployment("stuck")["status"];
    EXPECT_EQ(status.value("availableReplicas", 0), 0) << status.dump();
}

TEST_F(Cluster, LimitedUserIsForbiddenOutsideItsNamespace) {
    auto outside = api(cluster().limited(), Method::get, ns_path("/configmaps"));
    EXPECT_EQ(outside.status, 403);
    EXPECT_EQ(outside.body.value("kind", ""), "Status");
    EXPECT_EQ(outside.body.value("reason", ""), "Forbidden");
    EXPECT_NE(outside.body.value("message", "").find("User \"limited\""), std::string::npos) << outside.body.dump();

    const std::string own = "/api/v1/namespaces/" + cluster().var("MINICD_TEST_LIMITED_NAMESPACE") + "/configmaps";
    EXPECT_EQ(api(cluster().limited(), Method::get, own).status, 200);
}

TEST_F(Cluster, WrongTokenIsUnauthorized) {
    TestCluster::User impostor = cluster().limited();
    impostor.authorization = "Bearer not-the-token";
    EXPECT_EQ(api(impostor, Method::get, "/api/v1/namespaces").status, 401);
}

TEST_F(Cluster, ServerCertificateIsVerified) {
    // No CA given: the system trust store does not know the test CA, so the connection must fail.
    auto client = http::make_curl_client({});
    ASSERT_TRUE(client);
    auto response = (*client)->send({.url = cluster().apiserver() + "/version"});
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, util::ErrorCode::network);
}

TEST_F(Cluster, TlsServerNameOverridesTheNameThatIsVerified) {
    // The serving certificate names "kubernetes" but not "wrong.example"; the address stays 127.0.0.1.
    auto with_name = [&](const std::string& name) {
        const std::string pki = cluster().var("MINICD_TEST_PKI");
        kube::RestConfig config{.server = cluster().apiserver(), .tls_server_name = name,
                                .tls = {.ca_file = pki + "/ca.crt", .client_cert_file = pki + "/admin.crt",
                                        .client_key_file = pki + "/admin.key"}};
        return std::move(*kube::Client::create(config));
    };
    auto right = with_name("kubernetes")->send({.path = "/version"});
    ASSERT_TRUE(right) << right.error().describe();
    EXPECT_EQ(right->status, 200);
    auto wrong = with_name("wrong.example")->send({.path = "/version"});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, util::ErrorCode::network);
}

TEST_F(Cluster, NamespaceDeletionCompletes) {
    const std::string doomed = ns() + "-gone";
    auto created = api(cluster().admin(), Method::post, "/api/v1/namespaces",
                       {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", doomed}}}});
    ASSERT_EQ(created.status, 201);
    auto configmap = api(cluster().admin(), Method::post, "/api/v1/namespaces/" + doomed + "/configmaps",
                         {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}});
    ASSERT_EQ(configmap.status, 201);
    ASSERT_EQ(api(cluster().admin(), Method::delete_, "/api/v1/namespaces/" + doomed).status, 200);
    EXPECT_TRUE(eventually([&] { return api(cluster().admin(), Method::get, "/api/v1/namespaces/" + doomed).status == 404; }, 90s));
}

TEST_F(Cluster, KubectlSeesTheSameCluster) {
    auto nodes = util::run_subprocess({.inherit = util::Inherit::everything, .argv = {"kubectl", "get", "nodes", "-o", "name"}, .timeout = 30s});
    ASSERT_TRUE(nodes) << nodes.error().describe();
    ASSERT_TRUE(nodes->succeeded()) << nodes->err;
    EXPECT_NE(nodes->out.find("node/testenv-node-0"), std::string::npos) << nodes->out;
}

}  // namespace
}  // namespace minicd::e2e
