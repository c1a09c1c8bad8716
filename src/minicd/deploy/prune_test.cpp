#include "minicd/deploy/prune.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "support/local_http_server.hpp"

namespace minicd::deploy {
namespace {

using model::Json;
using minicd::testing::LocalHttpServer;

const model::ObjectId k_role{
    .group = "rbac.authorization.k8s.io", .version = "v1", .kind = "ClusterRole", .namespace_ = "", .name = "reader"};

// An API server with ClusterRoles, our ClusterRole "reader", and the inventories `inventories`
// (a ConfigMap list's items) that a prune of a cluster-scoped object reads. Deletes are recorded.
class PruneServer {
public:
    explicit PruneServer(Json inventories) : m_inventories(std::move(inventories)) {}

    std::unique_ptr<kube::Client> client() const {
        auto made =
            kube::Client::create(kube::RestConfig{.server = m_server.url("")}, kube::ClientOptions{.max_attempts = 1});
        EXPECT_TRUE(made) << made.error().describe();
        return std::move(*made);
    }
    int deletes() const {
        std::lock_guard lock(m_mutex);
        return m_deletes;
    }

private:
    LocalHttpServer::Reply answer(const LocalHttpServer::Request& request) {
        std::lock_guard lock(m_mutex);
        auto json = [](int status, const Json& body) {
            return LocalHttpServer::Reply{
                .status = status, .headers = {{"Content-Type", "application/json"}}, .body = body.dump()};
        };
        const std::string& target = request.target;
        if (request.method == "DELETE") {
            ++m_deletes;
            return json(200, Json::object());
        }
        if (target == "/api") return json(200, {{"kind", "APIVersions"}, {"versions", {"v1"}}});
        if (target == "/apis") {
            return json(200, Json::parse(R"({"kind": "APIGroupList", "groups": [{"name": "rbac.authorization.k8s.io",
                "versions": [{"groupVersion": "rbac.authorization.k8s.io/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "rbac.authorization.k8s.io/v1", "version": "v1"}}]})"));
        }
        if (target == "/api/v1") {
            return json(200, Json::parse(R"({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "configmaps", "namespaced": true, "kind": "ConfigMap", "verbs": ["get", "list"]}]})"));
        }
        if (target == "/apis/rbac.authorization.k8s.io/v1") {
            return json(200, Json::parse(R"({"kind": "APIResourceList", "groupVersion": "rbac.authorization.k8s.io/v1",
                "resources": [{"name": "clusterroles", "namespaced": false, "kind": "ClusterRole",
                               "verbs": ["delete", "get", "list"]}]})"));
        }
        if (target == "/apis/rbac.authorization.k8s.io/v1/clusterroles/reader") {
            return json(200, Json::parse(R"({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "reader", "uid": "u-1", "annotations": {"minicd.io/owner": "shop/prod"}}})"));
        }
        if (target.starts_with("/api/v1/configmaps?")) {
            return json(200, {{"kind", "ConfigMapList"}, {"metadata", Json::object()}, {"items", m_inventories}});
        }
        return json(404, {{"kind", "Status"}, {"code", 404}});
    }

    mutable std::mutex m_mutex;
    Json m_inventories;
    int m_deletes = 0;
    LocalHttpServer m_server{[this](const LocalHttpServer::Request& request) { return answer(request); }};
};

PruneOptions removing() {
    return {.target = {.app = "shop", .env = "prod", .namespace_ = "shop"},
            .mode = PruneMode::remove,
            .scope = {},
            .inventory = "minicd-shop-prod-inventory"};
}

std::string listing_the_role() {
    return Json::array({{{"group", k_role.group}, {"version", "v1"}, {"kind", "ClusterRole"}, {"namespace", ""},
                         {"name", "reader"}}})
        .dump();
}

TEST(Prune, OtherInventoriesWithOddlyTypedMetadataStillProtectWhatTheyList) {
    // Another app's inventory lists the ClusterRole; its metadata holds types the API never writes.
    PruneServer server(Json::array({
        {{"metadata", {{"namespace", 7}, {"name", {"x"}}, {"annotations", {{"minicd.io/owner", "other/app"}}}}},
         {"data", {{"objects", listing_the_role()}}}},
        {{"metadata", "not an object"}, {"data", Json::array({"objects"})}},
        {{"data", {{"objects", 12}}}},
    }));
    auto client = server.client();
    kube::Discovery discovery(*client, "");
    model::ChangeSet reports;
    ASSERT_NO_THROW(reports = prune(*client, discovery, {k_role}, removing()));
    ASSERT_EQ(reports.size(), 1U);
    EXPECT_EQ(reports[0].action, model::Action::kept) << reports[0].detail;
    EXPECT_EQ(reports[0].detail, "still listed by the inventory of other/app");
    EXPECT_EQ(server.deletes(), 0);
}

TEST(Prune, ARoleNoOtherInventoryListsIsDeleted) {
    PruneServer server(Json::array({{{"metadata", {{"namespace", "shop"}, {"name", "minicd-shop-prod-inventory"}}},
                                     {"data", {{"objects", listing_the_role()}}}}}));
    auto client = server.client();
    kube::Discovery discovery(*client, "");
    auto reports = prune(*client, discovery, {k_role}, removing());
    ASSERT_EQ(reports.size(), 1U);
    EXPECT_EQ(reports[0].action, model::Action::pruned) << reports[0].detail;
    EXPECT_EQ(server.deletes(), 1);
}

}  // namespace
}  // namespace minicd::deploy
