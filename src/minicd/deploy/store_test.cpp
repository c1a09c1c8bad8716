#include "minicd/deploy/store.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "minicd/deploy/deployment.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::deploy {
namespace {

using model::Json;
using model::ObjectId;

const ObjectId k_deployment{.group = "apps", .version = "v1", .kind = "Deployment", .namespace_ = "shop", .name = "web"};
const ObjectId k_service{.group = "", .version = "v1", .kind = "Service", .namespace_ = "shop", .name = "web"};
const ObjectId k_cluster_role{
    .group = "rbac.authorization.k8s.io", .version = "v1", .kind = "ClusterRole", .namespace_ = "", .name = "reader"};

Release full_release() {
    return Release{.revision = 7,
                   .time = "2024-05-06T13:02:44Z",
                   .git_sha = "3f9a2c1d0e4b5a6978877665544332211ffeedcc",
                   .images = {{"reg.example/shop/web", "reg.example/shop/web@sha256:" + std::string(64, 'a')},
                              {"reg.example/shop/worker", "reg.example/shop/worker@sha256:" + std::string(64, 'b')}},
                   .manifest_digest = "sha256:" + std::string(64, 'c'),
                   .outcome = ReleaseOutcome::failed,
                   .message = "deploy/web (apps/v1 Deployment) in ns shop: ProgressDeadlineExceeded",
                   .deployed_by = {.by = "github-actions", .job_url = "https://github.com/acme/shop/actions/runs/42"},
                   .duration_seconds = 12.5,
                   .rollback_to = 3,
                   .payload_chunks = 2,
                   .payload_revision = 5};
}

TEST(StoreSerialization, ObjectIdRoundTrips) {
    for (const auto& id : {k_deployment, k_service, k_cluster_role}) {
        auto back = object_id_from_json(to_json(id));
        ASSERT_TRUE(back) << to_json(id).dump();
        EXPECT_EQ(*back, id);
    }
}

TEST(StoreSerialization, ObjectIdKeepsEveryKeyEvenWhenEmpty) {
    EXPECT_EQ(to_json(k_cluster_role),
              Json::parse(R"({"group":"rbac.authorization.k8s.io","version":"v1","kind":"ClusterRole",
                              "namespace":"","name":"reader"})"));
    EXPECT_EQ(to_json(k_service)["group"], "");
}

TEST(StoreSerialization, ObjectIdReadsMissingGroupAndNamespaceAsEmpty) {
    auto id = object_id_from_json(Json::parse(R"({"version":"v1","kind":"Namespace","name":"shop"})"));
    ASSERT_TRUE(id);
    EXPECT_EQ(*id, (ObjectId{.group = "", .version = "v1", .kind = "Namespace", .namespace_ = "", .name = "shop"}));
}

TEST(StoreSerialization, ObjectIdRejectsMissingPartsAndWrongTypes) {
    EXPECT_FALSE(object_id_from_json(Json::parse(R"({"group":"apps","version":"v1","kind":"Deployment"})")));
    EXPECT_FALSE(object_id_from_json(Json::parse(R"({"version":"","kind":"Deployment","name":"web"})")));
    EXPECT_FALSE(object_id_from_json(Json::parse(R"({"version":"v1","kind":"Deployment","name":7})")));
    EXPECT_FALSE(object_id_from_json(Json::parse(R"({"version":"v1","kind":"Pod","name":"a","namespace":null})")));
    EXPECT_FALSE(object_id_from_json(Json::parse(R"(["apps","v1","Deployment","shop","web"])")));
}

TEST(StoreSerialization, ReleaseRoundTrips) {
    auto back = release_from_json(to_json(full_release()));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, full_release());
}

TEST(StoreSerialization, ACanaryReleaseRoundTrips) {
    Release canary = full_release();
    canary.outcome = model::ReleaseOutcome::canary;
    canary.rollout = model::Rollout::canary;
    canary.canary_step = 2;
    auto back = parse_releases(releases_text({canary}));
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->size(), 1U);
    EXPECT_EQ(back->front(), canary);
    EXPECT_FALSE(release_from_json(Json::parse(R"({"revision":2,"rollout":"half"})")));
}

TEST(StoreSerialization, AReleaseStoppedInItsPrePhaseRoundTripsAndDidNotRun) {
    Release stopped = full_release();
    stopped.outcome = model::ReleaseOutcome::failed;
    stopped.rollout = model::Rollout::pre_phase;
    auto back = parse_releases(releases_text({stopped}));
    ASSERT_TRUE(back) << back.error().describe();
    ASSERT_EQ(back->size(), 1u);
    EXPECT_EQ(back->front(), stopped);
    EXPECT_EQ(to_json(stopped)["rollout"], "pre-phase");
    // What ran before it still runs: it neither supersedes that release nor becomes the current one.
    EXPECT_FALSE(model::ran(stopped));
}

TEST(StoreSerialization, ReleaseRoundTripsThroughText) {
    // Numbers parsed from text are unsigned in nlohmann::json; built in code they are signed.
    auto back = parse_releases(releases_text({full_release()}));
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(back->size(), 1U);
    EXPECT_EQ(back->front(), full_release());
}

TEST(StoreSerialization, ReleaseUsesTheDocumentedKeys) {
    Json json = to_json(full_release());
    EXPECT_EQ(json["revision"], 7);
    EXPECT_EQ(json["gitSha"], full_release().git_sha);
    EXPECT_EQ(json["manifestDigest"], full_release().manifest_digest);
    EXPECT_EQ(json["images"]["reg.example/shop/web"], full_release().images.at("reg.example/shop/web"));
    EXPECT_EQ(json["deployedBy"], "github-actions");
    EXPECT_EQ(json["jobUrl"], "https://github.com/acme/shop/actions/runs/42");
    EXPECT_EQ(json["rollbackTo"], 3);
    EXPECT_EQ(json["payloadChunks"], 2);
    EXPECT_EQ(json["outcome"], "failed");
    EXPECT_EQ(json["payloadRevision"], 5);
    EXPECT_EQ(json["rollout"], "whole");
    EXPECT_EQ(json["canaryStep"], 0);
    EXPECT_EQ(json.size(), 15U) << json.dump();
    EXPECT_TRUE(to_json(Release{.revision = 1})["images"].is_object());
}

TEST(StoreSerialization, ReleaseReadsMissingStringsAsEmpty) {
    auto release = release_from_json(Json::parse(R"({"revision": 3})"));
    ASSERT_TRUE(release);
    EXPECT_EQ(*release, Release{.revision = 3});
}

TEST(StoreSerialization, ReleaseRejectsBadRevisionsAndWrongTypes) {
    for (const char* text : {R"({"time":"2024-05-06T13:02:44Z"})", R"({"revision":0})", R"({"revision":-2})",
                             R"({"revision":1.5})", R"({"revision":"4"})", R"({"revision":4294967297})",
                             R"({"revision":2,"images":["web"]})", R"({"revision":2,"images":{"web":1}})",
                             R"({"revision":2,"outcome":true})", R"({"revision":2,"outcome":"healthy"})",
                             R"({"revision":2,"rollbackTo":-1})", R"({"revision":2,"payloadChunks":"1"})",
                             R"({"revision":2,"durationSeconds":-3})", R"({"revision":2,"durationSeconds":"3s"})",
                             R"({"revision":2,"deployedBy":{}})"}) {
        EXPECT_FALSE(release_from_json(Json::parse(text))) << text;
    }
}

TEST(StoreSerialization, InventoryTextIsSortedWhateverTheInputOrder) {
    std::string forward = inventory_text({k_deployment, k_service, k_cluster_role});
    std::string backward = inventory_text({k_cluster_role, k_service, k_deployment});
    EXPECT_EQ(forward, backward);
    EXPECT_EQ(forward,
              R"([{"group":"","kind":"Service","name":"web","namespace":"shop","version":"v1"},)"
              R"({"group":"apps","kind":"Deployment","name":"web","namespace":"shop","version":"v1"},)"
              R"({"group":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"reader","namespace":"","version":"v1"}])");
}

TEST(StoreSerialization, InventoryTextDropsDuplicates) {
    EXPECT_EQ(inventory_text({k_service, k_deployment, k_service}), inventory_text({k_deployment, k_service}));
    EXPECT_EQ(inventory_text({}), "[]");
}

TEST(StoreSerialization, InventoryRoundTripsSorted) {
    auto back = parse_inventory(inventory_text({k_cluster_role, k_deployment, k_service}));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, (std::vector<ObjectId>{k_service, k_deployment, k_cluster_role}));
}

TEST(StoreSerialization, CorruptInventoryTextIsAnError) {
    for (const char* text : {"", "[{\"group\":", "{}", "null", R"([{"version":"v1","kind":"Service"}])"}) {
        auto parsed = parse_inventory(text);
        ASSERT_FALSE(parsed) << text;
        EXPECT_EQ(parsed.error().code, util::ErrorCode::api);
    }
    EXPECT_NE(parse_inventory(R"([{"version":"v1","kind":"Service","name":"a"},7])").error().message.find("entry 1"),
              std::string::npos);
}

TEST(StoreSerialization, InventoryEntriesThatCouldSteerARequestElsewhereAreRefused) {
    for (const char* entry : {
             R"({"version":"v1","kind":"ConfigMap","namespace":"shop","name":"../../../namespaces/prod"})",
             R"({"version":"v1","kind":"ConfigMap","namespace":"shop","name":".."})",
             R"({"version":"v1","kind":"ConfigMap","namespace":"shop","name":"a%2Fb"})",
             R"({"version":"v1","kind":"ConfigMap","namespace":"shop","name":"a b"})",
             R"({"version":"v1","kind":"ConfigMap","namespace":"../kube-system","name":"a"})",
             R"({"version":"v1","kind":"ConfigMap","namespace":"Shop","name":"a"})",
             R"({"version":"v1/namespaces","kind":"ConfigMap","name":"a"})",
             R"({"group":"apps/v1/x","version":"v1","kind":"Deployment","name":"a"})",
             R"({"version":"v1","kind":"Config/Map","name":"a"})",
         }) {
        EXPECT_FALSE(object_id_from_json(Json::parse(entry))) << entry;
    }
    // RBAC names are not DNS names, and are still valid objects.
    EXPECT_TRUE(object_id_from_json(Json::parse(
        R"({"group":"rbac.authorization.k8s.io","version":"v1","kind":"ClusterRole","name":"system:shop:reader"})")));
}

TEST(StoreSerialization, EveryOutcomeRoundTrips) {
    for (auto outcome : {ReleaseOutcome::deployed, ReleaseOutcome::superseded, ReleaseOutcome::failed,
                         ReleaseOutcome::rolled_back, ReleaseOutcome::held, ReleaseOutcome::refused}) {
        Release release{.revision = 1, .outcome = outcome};
        auto back = release_from_json(to_json(release));
        ASSERT_TRUE(back) << to_json(release).dump();
        EXPECT_EQ(back->outcome, outcome);
    }
    EXPECT_EQ(to_json(Release{.revision = 1, .outcome = ReleaseOutcome::rolled_back})["outcome"], "rolled-back");
}

TEST(StoreSerialization, ReleasesWrittenAsSucceededReadAsDeployed) {
    auto release = release_from_json(Json::parse(R"({"revision": 3, "outcome": "succeeded"})"));
    ASSERT_TRUE(release);
    EXPECT_EQ(release->outcome, ReleaseOutcome::deployed);
    EXPECT_EQ(to_json(*release)["outcome"], "deployed");
    EXPECT_FALSE(release_from_json(Json::parse(R"({"revision": 3, "outcome": "great"})")));
}

TEST(StoreSerialization, ReleasesReadNewestFirst) {
    auto releases = parse_releases(R"([{"revision":2},{"revision":9},{"revision":4}])");
    ASSERT_TRUE(releases) << releases.error().message;
    ASSERT_EQ(releases->size(), 3U);
    EXPECT_EQ((*releases)[0].revision, 9);
    EXPECT_EQ((*releases)[1].revision, 4);
    EXPECT_EQ((*releases)[2].revision, 2);
}

TEST(StoreSerialization, DuplicateOrCorruptReleasesAreAnError) {
    auto twice = parse_releases(R"([{"revision":3},{"revision":3}])");
    ASSERT_FALSE(twice);
    EXPECT_NE(twice.error().message.find("revision 3 appears twice"), std::string::npos);
    EXPECT_FALSE(parse_releases("[{\"revision\":1},"));
    EXPECT_FALSE(parse_releases(R"({"revision":1})"));
}

// The names need no server; the client is never asked to send anything.
class StoreNames : public ::testing::Test {
protected:
    void SetUp() override {
        auto client = kube::Client::create({.server = "https://127.0.0.1:1"});
        ASSERT_TRUE(client) << client.error().describe();
        m_client = std::move(*client);
    }
    std::unique_ptr<kube::Client> m_client;
};

TEST_F(StoreNames, JoinAppEnvironmentAndRole) {
    Store store(*m_client, "shop", "web", "pr-42");
    EXPECT_EQ(store.inventory_name().value(), "minicd-web-pr-42-inventory");
    EXPECT_EQ(store.releases_name().value(), "minicd-web-pr-42-releases");
}

TEST_F(StoreNames, TooLongIsAnInputError) {
    Store store(*m_client, "shop", std::string(200, 'a'), std::string(60, 'b'));
    auto name = store.inventory_name();
    ASSERT_FALSE(name);
    EXPECT_EQ(name.error().code, util::ErrorCode::input);
    EXPECT_NE(name.error().message.find("over the 253"), std::string::npos) << name.error().message;
}

TEST_F(StoreNames, InvalidNamesAreInputErrors) {
    EXPECT_FALSE(Store(*m_client, "shop", "Web", "prod").inventory_name());
    EXPECT_FALSE(Store(*m_client, "shop", "web_app", "prod").releases_name());
    EXPECT_FALSE(Store(*m_client, "shop/x", "web", "prod").inventory_name());
    EXPECT_FALSE(Store(*m_client, "", "web", "prod").inventory_name());
}

TEST_F(StoreNames, KeepBelowOneIsRefusedBeforeAnyRequest) {
    Store store(*m_client, "shop", "web", "prod");
    auto recorded = store.record_release(Release{}, {.keep = 0});
    ASSERT_FALSE(recorded);
    EXPECT_EQ(recorded.error().code, util::ErrorCode::input);
    EXPECT_EQ(m_client->requests_sent(), 0);
}

}  // namespace
}  // namespace minicd::deploy
