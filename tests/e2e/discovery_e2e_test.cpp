// Discovery against the real kube-apiserver: kinds map to the resources the server names (never a
// plural made up from the kind), aggregated discovery answers a cold resolve in two requests, the
// disk cache saves them on the next run, and a CRD installed after the cache was written is found.
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "minicd/kube/discovery.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

std::unique_ptr<kube::Client> admin_client() { return TestCluster::get().admin_kube_client(); }

class Discovery : public ClusterTest {
protected:
    void SetUp() override {
        ClusterTest::SetUp();
        char pattern[] = "/tmp/minicd-discovery-e2e-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_cache_dir = pattern;
        m_client = admin_client();
        ASSERT_NE(m_client, nullptr);
    }
    void TearDown() override {
        if (!m_crd.empty()) api(cluster().admin(), Method::delete_, k_crds + "/" + m_crd);
        std::error_code ignored;
        std::filesystem::remove_all(m_cache_dir, ignored);
        ClusterTest::TearDown();
    }

    kube::ResourceInfo resolved(kube::Discovery& discovery, std::string_view group, std::string_view version,
                                std::string_view kind) {
        auto info = discovery.resolve(group, version, kind);
        EXPECT_TRUE(info) << info.error().describe();
        return info ? *info : kube::ResourceInfo{};
    }

    // A namespaced CRD in a group of this test's own, whose plural no rule would guess; deleted afterwards.
    void install_widget_crd(const std::string& group) {
        m_crd = "gizmos." + group;
        Json schema = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
        Json crd = {{"apiVersion", "apiextensions.k8s.io/v1"},
                    {"kind", "CustomResourceDefinition"},
                    {"metadata", {{"name", m_crd}}},
                    {"spec",
                     {{"group", group},
                      {"scope", "Namespaced"},
                      {"names", {{"plural", "gizmos"}, {"singular", "gizmo"}, {"kind", "Widget"}}},
                      {"versions", Json::array({{{"name", "v1"},
                                                 {"served", true},
                                                 {"storage", true},
                                                 {"schema", {{"openAPIV3Schema", schema}}}}})}}}};
        auto created = api(cluster().admin(), Method::post, k_crds, crd);
        ASSERT_EQ(created.status, 201) << created.body.dump();
        bool established = eventually(
            [&] {
                auto current = api(cluster().admin(), Method::get, k_crds + "/" + m_crd).body;
                for (const auto& condition : current["status"].value("conditions", Json::array())) {
                    if (condition.value("type", "") == "Established" && condition.value("status", "") == "True") {
                        return true;
                    }
                }
                return false;
            },
            30s);
        ASSERT_TRUE(established) << m_crd << " never became Established";
    }

    inline static const std::string k_crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    std::string m_cache_dir;
    std::unique_ptr<kube::Client> m_client;
    std::string m_crd;  // "" when none was installed
};

TEST_F(Discovery, MapsBuiltInKindsThroughAggregatedDiscovery) {
    kube::Discovery discovery(*m_client, "");

    auto deployment = resolved(discovery, "apps", "v1", "Deployment");
    // A cold resolve is one request per root: the server answered with aggregated documents.
    EXPECT_EQ(m_client->requests_sent(), 2);
    EXPECT_EQ(deployment.resource, "deployments");
    EXPECT_TRUE(deployment.namespaced);
    EXPECT_NE(std::find(deployment.verbs.begin(), deployment.verbs.end(), "patch"), deployment.verbs.end());

    auto ingress = resolved(discovery, "networking.k8s.io", "v1", "Ingress");
    EXPECT_EQ(ingress.resource, "ingresses");
    EXPECT_TRUE(ingress.namespaced);

    auto crd = resolved(discovery, "apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    EXPECT_EQ(crd.resource, "customresourcedefinitions");
    EXPECT_FALSE(crd.namespaced);
    EXPECT_EQ(crd.object_path("ignored", "x"), "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x");

    auto lease = resolved(discovery, "coordination.k8s.io", "v1", "Lease");
    EXPECT_EQ(lease.resource, "leases");
    EXPECT_TRUE(lease.namespaced);

    auto endpoints = resolved(discovery, "", "v1", "Endpoints");
    EXPECT_EQ(endpoints.resource, "endpoints");
    EXPECT_EQ(endpoints.collection_path("shop"), "/api/v1/namespaces/shop/endpoints");

    auto namespace_ = resolved(discovery, "", "v1", "Namespace");
    EXPECT_EQ(namespace_.resource, "namespaces");
    EXPECT_FALSE(namespace_.namespaced);

    // Subresources are not kinds, and everything above came from the first two requests.
    EXPECT_FALSE(discovery.resolve("autoscaling", "v1", "Scale"));
    EXPECT_EQ(m_client->requests_sent(), 2);
}

TEST_F(Discovery, ResolvedPathsAreServed) {
    kube::Discovery discovery(*m_client, "");
    const std::vector<std::pair<std::string, std::string>> kinds = {{"", "ConfigMap"},
                                                                     {"", "Endpoints"},
                                                                     {"apps", "Deployment"},
                                                                     {"networking.k8s.io", "Ingress"},
                                                                     {"coordination.k8s.io", "Lease"}};
    for (const auto& [group, kind] : kinds) {
        auto info = resolved(discovery, group, "v1", kind);
        auto listed = api(cluster().admin(), Method::get, info.collection_path(ns()));
        EXPECT_EQ(listed.status, 200) << kind << " " << info.collection_path(ns());
    }
    auto nodes = api(cluster().admin(), Method::get, resolved(discovery, "", "v1", "Node").collection_path(ns()));
    EXPECT_EQ(nodes.status, 200);
    EXPECT_EQ(nodes.body.value("items", Json::array()).size(), 2u);
}

TEST_F(Discovery, DiskCacheSavesTheRequestsOfTheNextRun) {
    {
        kube::Discovery first(*m_client, m_cache_dir);
        resolved(first, "apps", "v1", "Deployment");
    }
    EXPECT_EQ(m_client->requests_sent(), 2);

    auto next_run = admin_client();
    ASSERT_NE(next_run, nullptr);
    kube::Discovery second(*next_run, m_cache_dir);
    EXPECT_EQ(resolved(second, "apps", "v1", "Deployment").resource, "deployments");
    EXPECT_EQ(resolved(second, "coordination.k8s.io", "v1", "Lease").resource, "leases");
    EXPECT_EQ(next_run->requests_sent(), 0);
}

TEST_F(Discovery, CrdInstalledAfterTheCacheWasWrittenIsFound) {
    const std::string group = ns() + ".minicd.test";
    {
        kube::Discovery before(*m_client, m_cache_dir);
        auto missing = before.resolve(group, "v1", "Widget");
        ASSERT_FALSE(missing);
        EXPECT_EQ(missing.error().code, util::ErrorCode::input);
        EXPECT_EQ(missing.error().message,
                  "no matches for kind \"Widget\" in version \"" + group +
                      "/v1\" (is its CustomResourceDefinition installed?)");
    }
    install_widget_crd(group);
    if (HasFatalFailure()) return;

    // Discovery may lag Established by a moment; each attempt is a new run reading the cache.
    std::optional<kube::ResourceInfo> widget;
    bool found = eventually(
        [&] {
            kube::Discovery run(*m_client, m_cache_dir);
            auto info = run.resolve(group, "v1", "Widget");
            if (info) widget = *info;
            return info.has_value();
        },
        30s);
    ASSERT_TRUE(found) << "Widget never appeared in discovery";
    EXPECT_EQ(widget->resource, "gizmos");
    EXPECT_TRUE(widget->namespaced);

    // The refresh rewrote the cache: the next run finds the CRD without asking.
    long before = m_client->requests_sent();
    kube::Discovery cached(*m_client, m_cache_dir);
    EXPECT_EQ(resolved(cached, group, "v1", "Widget").resource, "gizmos");
    EXPECT_EQ(m_client->requests_sent(), before);
}

}  // namespace
}  // namespace minicd::e2e
