// The inventory and release store against the real kube-apiserver: what is saved loads back, a
// missing store reads as empty, revisions count up and old ones are dropped, concurrent recorders
// (and one recording over a stale copy of the history) never lose a release, and a corrupt
// inventory is an error rather than an empty set.
#include <fmt/format.h>

#include <functional>
#include <set>
#include <thread>
#include <vector>

#include "minicd/deploy/store.hpp"
#include "minicd/util/encoding.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using http::Method;
using model::ObjectId;

std::unique_ptr<kube::Client> admin_client() { return TestCluster::get().admin_kube_client(); }

const ObjectId k_deployment{.group = "apps", .version = "v1", .kind = "Deployment", .namespace_ = "", .name = "web"};
const ObjectId k_service{.group = "", .version = "v1", .kind = "Service", .namespace_ = "", .name = "web"};
const ObjectId k_role{.group = "rbac.authorization.k8s.io", .version = "v1", .kind = "ClusterRole", .name = "reader"};

deploy::Release release(const std::string& sha) {
    return {.git_sha = sha,
            .images = {{"reg.example/web", "reg.example/web@sha256:" + std::string(64, 'a')}},
            .manifest_digest = "sha256:" + std::string(64, 'b'),
            .outcome = deploy::ReleaseOutcome::deployed,
            .message = "deployed " + sha};
}

class Store : public ClusterTest {
protected:
    void SetUp() override {
        ClusterTest::SetUp();
        if (HasFatalFailure()) return;
        m_client = admin_client();
        ASSERT_NE(m_client, nullptr);
    }

    deploy::Store store(const std::string& app = "web", const std::string& env = "staging") {
        return deploy::Store(*m_client, ns(), app, env);
    }
    std::vector<ObjectId> in_namespace(std::vector<ObjectId> ids) {
        for (auto& id : ids) {
            if (id.kind != "ClusterRole") id.namespace_ = ns();
        }
        return ids;
    }

    std::unique_ptr<kube::Client> m_client;
};

TEST_F(Store, InventoryIsEmptyWhenNeverSaved) {
    auto loaded = store().load_inventory();
    ASSERT_TRUE(loaded) << loaded.error().describe();
    EXPECT_TRUE(loaded->empty());
    auto releases = store().load_releases();
    ASSERT_TRUE(releases) << releases.error().describe();
    EXPECT_TRUE(releases->empty());
}

TEST_F(Store, SavedInventoryLoadsBackSorted) {
    auto saved = store().save_inventory(in_namespace({k_role, k_service, k_deployment}));
    ASSERT_TRUE(saved) << saved.error().describe();
    auto loaded = store().load_inventory();
    ASSERT_TRUE(loaded) << loaded.error().describe();
    EXPECT_EQ(*loaded, in_namespace({k_service, k_deployment, k_role}));
    // Another environment of the same app has its own inventory.
    auto other = store("web", "production").load_inventory();
    ASSERT_TRUE(other) << other.error().describe();
    EXPECT_TRUE(other->empty());
}

TEST_F(Store, SecondSaveReplacesTheFirst) {
    ASSERT_TRUE(store().save_inventory(in_namespace({k_deployment, k_service})));
    auto saved = store().save_inventory(in_namespace({k_role}));
    ASSERT_TRUE(saved) << saved.error().describe();
    auto loaded = store().load_inventory();
    ASSERT_TRUE(loaded) << loaded.error().describe();
    EXPECT_EQ(*loaded, in_namespace({k_role}));

    ASSERT_TRUE(store().save_inventory({}));
    loaded = store().load_inventory();
    ASSERT_TRUE(loaded) << loaded.error().describe();
    EXPECT_TRUE(loaded->empty());
}

TEST_F(Store, ReleasesCountUpAndKeepOnlyTheNewest) {
    auto history = store();
    for (int i = 1; i <= 3; ++i) {
        auto recorded = history.record_release(release("sha" + std::to_string(i)), {.keep = 10});
        ASSERT_TRUE(recorded) << recorded.error().describe();
        EXPECT_EQ(recorded->revision, i);
        EXPECT_FALSE(recorded->time.empty());
    }
    auto loaded = history.load_releases();
    ASSERT_TRUE(loaded) << loaded.error().describe();
    ASSERT_EQ(loaded->size(), 3U);
    EXPECT_EQ((*loaded)[0].revision, 3);
    EXPECT_EQ((*loaded)[0].git_sha, "sha3");
    EXPECT_EQ((*loaded)[0].images, release("sha3").images);
    EXPECT_EQ((*loaded)[2].revision, 1);

    for (int i = 4; i <= 5; ++i) ASSERT_TRUE(history.record_release(release("sha" + std::to_string(i)), {.keep = 2}));
    loaded = history.load_releases();
    ASSERT_TRUE(loaded) << loaded.error().describe();
    ASSERT_EQ(loaded->size(), 2U);
    EXPECT_EQ((*loaded)[0].revision, 5);
    EXPECT_EQ((*loaded)[1].revision, 4);

    // Revisions keep counting from the newest kept one, never reusing a dropped number.
    auto next = history.record_release(release("sha6"), {.keep = 2});
    ASSERT_TRUE(next) << next.error().describe();
    EXPECT_EQ(next->revision, 6);
}

TEST_F(Store, ConcurrentRecordersBothLand) {
    // Each writer gets its own client, like two CI jobs. With five records each, a writer loses at
    // most five rounds (one per write of the other), which the store's retries cover.
    constexpr int k_per_writer = 5;
    auto second_client = admin_client();
    ASSERT_NE(second_client, nullptr);
    std::vector<int> revisions[2];
    std::vector<std::string> errors[2];
    auto writer = [&](kube::Client& client, int which) {
        deploy::Store history(client, ns(), "web", "staging");
        for (int i = 0; i < k_per_writer; ++i) {
            auto recorded = history.record_release(release(fmt::format("w{}-{}", which, i)), {.keep = 100});
            if (recorded) {
                revisions[which].push_back(recorded->revision);
            } else {
                errors[which].push_back(recorded.error().describe());
            }
        }
    };
    std::thread first(writer, std::ref(*m_client), 0);
    std::thread second(writer, std::ref(*second_client), 1);
    first.join();
    second.join();
    for (const auto& failed : errors) EXPECT_TRUE(failed.empty()) << failed.front();

    std::set<int> distinct(revisions[0].begin(), revisions[0].end());
    distinct.insert(revisions[1].begin(), revisions[1].end());
    EXPECT_EQ(distinct.size(), 2U * k_per_writer);
    auto loaded = store().load_releases();
    ASSERT_TRUE(loaded) << loaded.error().describe();
    ASSERT_EQ(loaded->size(), 2U * k_per_writer);
    std::set<std::string> shas;
    for (std::size_t i = 0; i < loaded->size(); ++i) {
        EXPECT_EQ((*loaded)[i].revision, static_cast<int>(2 * k_per_writer - i));
        shas.insert((*loaded)[i].git_sha);
    }
    EXPECT_EQ(shas.size(), 2U * k_per_writer);
}

TEST_F(Store, AHistorySeenBeforeAnotherWriterRecordedIsReadAgainNotWrittenOver) {
    deploy::Store ours = store();
    ASSERT_TRUE(ours.record_release(release("ours-1")));
    auto seen = ours.releases();
    ASSERT_TRUE(seen) << seen.error().describe();
    ASSERT_EQ(seen->size(), 1U);

    // Another process records behind our back: what we saw is stale now.
    auto theirs = store().record_release(release("theirs-2"));
    ASSERT_TRUE(theirs) << theirs.error().describe();
    EXPECT_EQ(theirs->revision, 2);
    auto still_seen = ours.releases();
    ASSERT_TRUE(still_seen);
    EXPECT_EQ(still_seen->size(), 1U) << "releases() answers from what this Store saw last";

    // Our next record is refused by the server over the stale copy, reads again and lands after theirs.
    auto next = ours.record_release(release("ours-3"));
    ASSERT_TRUE(next) << next.error().describe();
    EXPECT_EQ(next->revision, 3);
    auto loaded = store().load_releases();
    ASSERT_TRUE(loaded) << loaded.error().describe();
    std::vector<std::string> shas;
    for (const auto& recorded : *loaded) shas.push_back(recorded.git_sha);
    EXPECT_EQ(shas, (std::vector<std::string>{"ours-3", "theirs-2", "ours-1"}));
    // What we wrote is what we see now, without asking again.
    auto after = ours.releases();
    ASSERT_TRUE(after);
    ASSERT_EQ(after->size(), 3U);
    EXPECT_EQ(after->front().git_sha, "ours-3");
}

TEST_F(Store, CorruptInventoryIsAnError) {
    ASSERT_TRUE(store().save_inventory(in_namespace({k_deployment})));
    const std::string path = ns_path("/configmaps/minicd-web-staging-inventory");
    auto live = api(cluster().admin(), Method::get, path);
    ASSERT_EQ(live.status, 200) << live.body.dump();
    live.body["data"]["objects"] = "[{\"group\":\"apps\",";
    auto updated = api(cluster().admin(), Method::put, path, live.body);
    ASSERT_EQ(updated.status, 200) << updated.body.dump();

    auto loaded = store().load_inventory();
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().code, util::ErrorCode::api);
    EXPECT_EQ(loaded.error().subject, "configmap " + ns() + "/minicd-web-staging-inventory");
    EXPECT_NE(loaded.error().message.find("prune"), std::string::npos) << loaded.error().message;

    // Saving a fresh inventory repairs it.
    ASSERT_TRUE(store().save_inventory(in_namespace({k_service})));
    auto repaired = store().load_inventory();
    ASSERT_TRUE(repaired) << repaired.error().describe();
    EXPECT_EQ(*repaired, in_namespace({k_service}));
}

TEST_F(Store, ConfigMapsCarryTheLabelsAndOwner) {
    ASSERT_TRUE(store().save_inventory(in_namespace({k_deployment})));
    ASSERT_TRUE(store().record_release(release("abc")));
    for (std::string role : {"inventory", "releases"}) {
        auto live = api(cluster().admin(), Method::get, ns_path("/configmaps/minicd-web-staging-" + role));
        ASSERT_EQ(live.status, 200) << live.body.dump();
        const Json& metadata = live.body["metadata"];
        EXPECT_EQ(metadata["labels"]["app.kubernetes.io/managed-by"], "minicd") << role;
        EXPECT_EQ(metadata["labels"]["minicd.io/app"], "web") << role;
        EXPECT_EQ(metadata["labels"]["minicd.io/env"], "staging") << role;
        EXPECT_EQ(metadata["labels"]["minicd.io/role"], role);
        EXPECT_EQ(metadata["annotations"]["minicd.io/owner"], "web/staging") << role;
        EXPECT_TRUE(live.body["data"].contains(role == "inventory" ? "objects" : "releases")) << live.body.dump();
    }
}

TEST_F(Store, PairsSharingANameDoNotOverwriteEachOther) {
    // "web-api"/"prod" and "web"/"api-prod" both map to minicd-web-api-prod-inventory.
    ASSERT_TRUE(store("web-api", "prod").save_inventory(in_namespace({k_deployment})));
    auto clash = store("web", "api-prod").save_inventory(in_namespace({k_service}));
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code, util::ErrorCode::input);
    EXPECT_NE(clash.error().message.find("web-api/prod"), std::string::npos) << clash.error().message;
    EXPECT_FALSE(store("web", "api-prod").load_inventory());

    auto first = store("web-api", "prod").load_inventory();
    ASSERT_TRUE(first) << first.error().describe();
    EXPECT_EQ(*first, in_namespace({k_deployment}));
}

TEST_F(Store, OversizedInventoryIsRefused) {
    std::vector<ObjectId> many;
    for (int i = 0; i < 12'000; ++i) {
        many.push_back({.group = "", .version = "v1", .kind = "ConfigMap", .namespace_ = ns(),
                        .name = fmt::format("config-{:05}-{}", i, std::string(20, 'x'))});
    }
    auto saved = store().save_inventory(many);
    ASSERT_FALSE(saved);
    EXPECT_EQ(saved.error().code, util::ErrorCode::input);
    EXPECT_NE(saved.error().message.find("900 KiB"), std::string::npos) << saved.error().message;
    EXPECT_EQ(api(cluster().admin(), Method::get, ns_path("/configmaps/minicd-web-staging-inventory")).status, 404);
}

// --- The keyed manifest digest: its salt lives in a Secret of ours ---

// What a release's objects look like when stored: one holds a Secret's value.
std::vector<Json> digest_objects(const std::string& namespace_) {
    return {Json{{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "db"}, {"namespace", namespace_}}},
                 {"data", {{"password", "aHVudGVyMg=="}}}},
            Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "web"}, {"namespace", namespace_}}},
                 {"data", {{"a", "b"}}}}};
}

TEST_F(Store, TheDigestIsKeyedWithASaltCreatedOnceInASecretOfOurs) {
    const std::string text = Json(digest_objects(ns())).dump();
    auto digest = store("web", "prod").manifest_digest(text);
    ASSERT_TRUE(digest) << digest.error().describe();
    EXPECT_TRUE(digest->starts_with("hmac-sha256:")) << *digest;
    EXPECT_EQ(digest->find(util::sha256_hex(text)), std::string::npos) << "not the plain hash anyone can recompute";

    auto salt = api(cluster().admin(), Method::get, ns_path("/secrets/minicd-web-prod-salt"));
    ASSERT_EQ(salt.status, 200) << salt.body.dump();
    EXPECT_EQ(salt.body["type"], "minicd.io/digest-salt");
    EXPECT_EQ(salt.body["metadata"]["annotations"]["minicd.io/owner"], "web/prod");
    EXPECT_EQ(salt.body["metadata"]["labels"]["minicd.io/role"], "digest-salt");
    const std::string key = util::base64_decode(salt.body["data"]["salt"].get<std::string>()).value();
    EXPECT_EQ(key.size(), 32u);
    EXPECT_EQ(*digest, "hmac-sha256:" + util::hmac_sha256_hex(key, text).value());

    // Read back, never made again: the same objects get the same digest, from any run.
    EXPECT_EQ(store("web", "prod").manifest_digest(text).value(), *digest);
    auto again = api(cluster().admin(), Method::get, ns_path("/secrets/minicd-web-prod-salt"));
    EXPECT_EQ(again.body["metadata"]["resourceVersion"], salt.body["metadata"]["resourceVersion"]);
    EXPECT_NE(store("web", "prod").manifest_digest(text + " ").value(), *digest);
    // Another environment has a salt of its own.
    EXPECT_NE(store("web", "staging").manifest_digest(text).value(), *digest);
}

TEST_F(Store, ASaltSecretThatIsNotOursIsAnErrorAndStaysUntouched) {
    for (const std::string owner : {"web-prod/x", ""}) {
        Json foreign = {{"apiVersion", "v1"},
                        {"kind", "Secret"},
                        {"metadata", {{"name", "minicd-web-prod-salt"}}},
                        {"data", {{"salt", util::base64_encode("their-salt-hunter2-0123456789")}}}};
        if (!owner.empty()) foreign["metadata"]["annotations"] = {{"minicd.io/owner", owner}};
        api(cluster().admin(), Method::delete_, ns_path("/secrets/minicd-web-prod-salt"));
        auto created = api(cluster().admin(), Method::post, ns_path("/secrets"), foreign);
        ASSERT_EQ(created.status, 201) << created.body.dump();

        auto digest = store("web", "prod").manifest_digest(Json(digest_objects(ns())).dump());
        ASSERT_FALSE(digest) << owner;
        EXPECT_EQ(digest.error().code, util::ErrorCode::input);
        EXPECT_NE(digest.error().message.find("not minicd's digest salt for \"web/prod\""), std::string::npos)
            << digest.error().message;
        EXPECT_EQ(digest.error().describe().find("hunter2"), std::string::npos);
        auto after = api(cluster().admin(), Method::get, ns_path("/secrets/minicd-web-prod-salt"));
        EXPECT_EQ(after.body["metadata"]["resourceVersion"], created.body["metadata"]["resourceVersion"]) << "never overwritten";
    }
}

TEST_F(Store, PayloadsOfOldAndNewRecordsAreBothVerified) {
    const std::vector<Json> objects = digest_objects(ns());
    const std::string text = Json(objects).dump();
    auto keeper = store("web", "prod");
    ASSERT_EQ(keeper.save_payload(3, objects).value(), 1);
    deploy::Release stored{.revision = 3, .payload_chunks = 1};

    // A record written before digests were keyed; checking it makes no salt.
    stored.manifest_digest = "sha256:" + util::sha256_hex(text);
    auto old = keeper.load_payload(stored);
    ASSERT_TRUE(old) << old.error().describe();
    EXPECT_EQ(*old, objects);
    EXPECT_EQ(api(cluster().admin(), Method::get, ns_path("/secrets/minicd-web-prod-salt")).status, 404);

    stored.manifest_digest = keeper.manifest_digest(text).value();
    auto keyed = keeper.load_payload(stored);
    ASSERT_TRUE(keyed) << keyed.error().describe();
    EXPECT_EQ(*keyed, objects);

    for (const std::string& wrong : {"hmac-sha256:" + util::sha256_hex(text), "sha256:" + std::string(64, '0')}) {
        stored.manifest_digest = wrong;
        auto swapped = keeper.load_payload(stored);
        ASSERT_FALSE(swapped) << wrong;
        EXPECT_NE(swapped.error().message.find("manifest digest differs"), std::string::npos) << swapped.error().message;
    }
}

TEST_F(Store, CheckingAKeyedDigestNeverCreatesTheSalt) {
    auto checked = store("web", "prod").digest_matches("hmac-sha256:" + std::string(64, 'a'), "[]");
    ASSERT_FALSE(checked);
    EXPECT_NE(checked.error().message.find("minicd-web-prod-salt, which is gone"), std::string::npos)
        << checked.error().message;
    EXPECT_EQ(api(cluster().admin(), Method::get, ns_path("/secrets/minicd-web-prod-salt")).status, 404);
    EXPECT_FALSE(store("web", "prod").digest_matches("", "[]").value()) << "an empty digest matches nothing";
}

}  // namespace
}  // namespace minicd::e2e
