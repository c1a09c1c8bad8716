#include "minicd/deploy/changes.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "minicd/deploy/drift.hpp"
#include "minicd/deploy/ownership.hpp"

namespace minicd::deploy {
namespace {

using model::Json;

// managedFields as kube-apiserver 1.33 recorded them for a server-side apply by "minicd".
const Json k_applied_fields = Json::parse(R"({
  "f:metadata": {"f:labels": {"f:app": {}}},
  "f:spec": {"f:replicas": {}, "f:selector": {},
    "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
      "f:spec": {"f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:args": {},
        "f:env": {"k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}}},
        "f:image": {}, "f:name": {},
        "f:ports": {"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}})");

const Json k_desired = Json::parse(R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}},
      "spec": {"containers": [{"name": "main", "image": "reg/web:1", "ports": [{"containerPort": 8080}],
                               "env": [{"name": "A", "value": "1"}], "args": ["--x", "--y"]}]}}}})");

Json live_with(const Json& entries) {
    Json live = k_desired;
    live["metadata"]["managedFields"] = entries;
    return live;
}

Json entry(const std::string& manager, const std::string& operation, const Json& fields) {
    return {{"manager", manager}, {"operation", operation}, {"apiVersion", "apps/v1"}, {"fieldsType", "FieldsV1"},
            {"fieldsV1", fields}};
}

TEST(Changes, OwnsEveryFieldAfterOurOwnApply) {
    Json live = live_with(Json::array({entry("minicd", "Apply", k_applied_fields)}));
    EXPECT_TRUE(owns_all_fields(live, k_desired, "minicd"));
}

TEST(Changes, FieldEditedByHandIsNoLongerOurs) {
    Json fields = k_applied_fields;
    fields["f:spec"].erase("f:replicas");
    Json live = live_with(Json::array({entry("minicd", "Apply", fields),
                                       entry("kubectl-edit", "Update", {{"f:spec", {{"f:replicas", Json::object()}}}})}));
    EXPECT_FALSE(owns_all_fields(live, k_desired, "minicd"));
}

TEST(Changes, NewFieldInTheManifestIsNotYetOwned) {
    Json desired = k_desired;
    desired["spec"]["template"]["spec"]["containers"][0]["env"].push_back({{"name", "B"}, {"value", "2"}});
    EXPECT_FALSE(owns_all_fields(live_with(Json::array({entry("minicd", "Apply", k_applied_fields)})), desired, "minicd"));
}

TEST(Changes, DefaultedListKeyStillMatchesTheItem) {
    // The manifest leaves protocol out; the server keys the port by containerPort and protocol.
    EXPECT_TRUE(owns_all_fields(live_with(Json::array({entry("minicd", "Apply", k_applied_fields)})), k_desired, "minicd"));
    Json desired = k_desired;
    desired["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 9090;
    EXPECT_FALSE(owns_all_fields(live_with(Json::array({entry("minicd", "Apply", k_applied_fields)})), desired, "minicd"));
}

TEST(Changes, OtherManagersOrOperationsDoNotCount) {
    EXPECT_FALSE(owns_all_fields(live_with(Json::array({entry("kubectl", "Apply", k_applied_fields)})), k_desired, "minicd"));
    EXPECT_FALSE(owns_all_fields(live_with(Json::array({entry("minicd", "Update", k_applied_fields)})), k_desired, "minicd"));
    Json no_fields = k_desired;
    EXPECT_FALSE(owns_all_fields(no_fields, k_desired, "minicd"));
}

TEST(Changes, SameStateIgnoresStatusAndServerMetadata) {
    Json a = k_desired;
    Json b = k_desired;
    b["status"] = {{"replicas", 2}};
    b["metadata"]["resourceVersion"] = "42";
    b["metadata"]["generation"] = 3;
    b["metadata"]["managedFields"] = Json::array();
    b["metadata"]["uid"] = "u";
    EXPECT_TRUE(same_state(a, b));
    b["spec"]["replicas"] = 3;
    EXPECT_FALSE(same_state(a, b));
}

TEST(Changes, ReplicasSetThroughTheScaleSubresourceBelongToTheScaler) {
    // As kube-apiserver 1.33 records an HPA's (or `kubectl scale`'s) write of the scale subresource.
    Json scaled = {{"manager", "kube-controller-manager"},
                   {"operation", "Update"},
                   {"apiVersion", "apps/v1"},
                   {"fieldsType", "FieldsV1"},
                   {"fieldsV1", {{"f:spec", {{"f:replicas", Json::object()}}}}},
                   {"subresource", "scale"}};
    EXPECT_EQ(replicas_scaled_by(live_with(Json::array({scaled})), "minicd"), "kube-controller-manager");

    Json ours = scaled;
    ours["manager"] = "minicd";
    EXPECT_EQ(replicas_scaled_by(live_with(Json::array({ours})), "minicd"), "") << "our own scale is not someone else's";
    Json main_resource = scaled;
    main_resource.erase("subresource");
    EXPECT_EQ(replicas_scaled_by(live_with(Json::array({main_resource})), "minicd"), "")
        << "an edit of the Deployment itself is drift, not an autoscaler";
    Json other_field = scaled;
    other_field["fieldsV1"] = {{"f:status", {{"f:replicas", Json::object()}}}};
    EXPECT_EQ(replicas_scaled_by(live_with(Json::array({other_field})), "minicd"), "");
    EXPECT_EQ(replicas_scaled_by(k_desired, "minicd"), "") << "no managedFields";
    EXPECT_EQ(replicas_scaled_by(live_with(Json::array({"junk", 7})), "minicd"), "");
}

// Live objects as an odd controller, a hand edit or a broken proxy may leave them: every field
// the readers look at holds a type other than the API's.
std::vector<Json> odd_live_objects() {
    std::vector<Json> objects;
    for (const char* text : {
             R"({"kind":"Deployment","metadata":{"annotations":["a","b"],"labels":"app=web"}})",
             R"({"kind":7,"apiVersion":["v1"],"metadata":[]})",
             R"({"metadata":{"managedFields":{"manager":"minicd"}}})",
             R"({"metadata":{"managedFields":[{"manager":7,"operation":{"o":1},"fieldsV1":{}},
                                              {"manager":"minicd","operation":"Apply","fieldsV1":[]},
                                              {"manager":"hpa","subresource":"scale","fieldsV1":{"f:spec":"x"}}]}})",
             R"({"apiVersion":"v1","kind":"Secret","data":["x"],"stringData":"y",
                 "metadata":{"managedFields":[{"manager":"minicd","operation":"Apply","time":5,"fieldsV1":{"f:data":7}}]}})",
             R"("a string")", R"(null)", R"([1,2])"}) {
        objects.push_back(Json::parse(text));
    }
    objects.push_back(Json(Json::value_t::discarded));
    return objects;
}

TEST(Changes, LiveObjectsOfOddShapeAreJudgedNotThrownOn) {
    const model::ObjectId secret{.group = "", .version = "v1", .kind = "Secret", .namespace_ = "shop", .name = "s"};
    const Json desired_secret = Json::parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},
                                                "stringData":{"a":"b"}})");
    for (const Json& live : odd_live_objects()) {
        EXPECT_NO_THROW({
            EXPECT_FALSE(owns_all_fields(live, k_desired, "minicd"));
            EXPECT_FALSE(holds_what_it_applied(secret, live, desired_secret, "minicd"));
            (void)replicas_scaled_by(live, "minicd");
            (void)same_state(live, k_desired);
            (void)visible_changes(live, k_desired);
            (void)compare_live(secret, desired_secret, live);
            (void)compare_live(model::Object(k_desired).id(), k_desired, live);
            (void)owner_of(live, render::Target{.app = "shop", .env = "prod", .namespace_ = "shop"});
        }) << live.dump();
    }
}

TEST(Changes, ADesiredObjectOfOddShapeOwnsNothing) {
    const Json live = live_with(Json::array({{{"manager", "minicd"}, {"operation", "Apply"}, {"fieldsV1", k_applied_fields}}}));
    for (const char* text : {R"([1])", R"("x")", R"({"metadata":"web","spec":{}})"}) {
        const Json desired = Json::parse(text);
        bool owned = true;
        EXPECT_NO_THROW(owned = owns_all_fields(live, desired, "minicd")) << text;
        if (desired.is_object()) continue;
        EXPECT_FALSE(owned) << text;
    }
}

}  // namespace
}  // namespace minicd::deploy
