// Field-level drift from managedFields, as kube-apiserver 1.33 records them.
#include "minicd/deploy/drift.hpp"

#include <gtest/gtest.h>

namespace minicd::deploy {
namespace {

using model::Json;
using model::ObjectId;

const ObjectId k_web{.group = "apps", .version = "v1", .kind = "Deployment", .namespace_ = "shop", .name = "web"};
const ObjectId k_settings{.group = "", .version = "v1", .kind = "ConfigMap", .namespace_ = "shop", .name = "settings"};
const ObjectId k_creds{.group = "", .version = "v1", .kind = "Secret", .namespace_ = "shop", .name = "creds"};

const Json k_deployment = Json::parse(R"({
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "shop", "labels": {"tier": "web"}},
  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
           "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "main", "image": "registry.test/web:1",
                                                 "resources": {"requests": {"cpu": "0.5"}}}]}}}})");

// minicd's apply of k_deployment.
const Json k_applied = Json::parse(R"({"manager": "minicd", "operation": "Apply", "time": "2026-12-03T20:00:00Z",
  "fieldsType": "FieldsV1", "fieldsV1": {
    "f:metadata": {"f:labels": {"f:tier": {}}},
    "f:spec": {"f:replicas": {}, "f:selector": {},
               "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                              "f:spec": {"f:containers": {"k:{\"name\":\"main\"}": {".": {}, "f:image": {}, "f:name": {},
                                                                                     "f:resources": {"f:requests": {"f:cpu": {}}}}}}}}}})");

Json live_deployment(const Json& entries) {
    Json live = k_deployment;
    // What the server keeps: normalised quantities and defaults minicd never set.
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "500m";
    live["spec"]["strategy"] = {{"type", "RollingUpdate"}};
    live["metadata"]["managedFields"] = entries;
    return live;
}

TEST(Drift, NothingWhenMinicdStillOwnsEveryFieldItApplied) {
    auto controller = Json::parse(R"({"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
      "time": "2026-12-03T20:00:05Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}})");
    EXPECT_TRUE(compare_live(k_web, k_deployment, live_deployment(Json::array({k_applied, controller}))).empty())
        << "quantities the server normalised and defaults are not drift";
}

TEST(Drift, AnImageSetByHandIsModifiedAndNamesWhoSetIt) {
    Json live = live_deployment(Json::array());
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.test/web:9";
    Json ours = k_applied;
    ours["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"main\"}"].erase("f:image");
    auto edit = Json::parse(R"({"manager": "kubectl-set", "operation": "Update", "time": "2026-12-03T22:14:00Z",
      "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers":
        {"k:{\"name\":\"main\"}": {"f:image": {}}}}}}}})");
    live["metadata"]["managedFields"] = Json::array({ours, edit});
    auto entries = compare_live(k_web, k_deployment, live);
    ASSERT_EQ(entries.size(), 1U);
    const ObjectDrift* drift = &entries[0];
    EXPECT_EQ(drift->drift, DriftClass::modified);
    ASSERT_EQ(drift->fields.size(), 1U);
    const FieldDrift& field = drift->fields[0];
    EXPECT_EQ(field.path, "spec.template.spec.containers[main].image");
    EXPECT_EQ(field.before, "registry.test/web:1");
    EXPECT_EQ(field.after, "registry.test/web:9");
    EXPECT_EQ(field.manager, "kubectl-set");
    EXPECT_EQ(field.operation, "Update");
    EXPECT_EQ(field.time, "2026-12-03T22:14:00Z");
}

TEST(Drift, ReplicasAScalerSetAreInformationOnly) {
    Json live = live_deployment(Json::array());
    live["spec"]["replicas"] = 5;
    Json ours = k_applied;
    ours["fieldsV1"]["f:spec"].erase("f:replicas");
    auto hpa = Json::parse(R"({"manager": "kube-controller-manager", "operation": "Update", "subresource": "scale",
      "time": "2026-12-03T21:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}})");
    live["metadata"]["managedFields"] = Json::array({ours, hpa});
    auto entries = compare_live(k_web, k_deployment, live);
    ASSERT_EQ(entries.size(), 1U);
    const ObjectDrift* drift = &entries[0];
    EXPECT_EQ(drift->drift, DriftClass::scaled);
    EXPECT_FALSE(counts(drift->drift));
    ASSERT_EQ(drift->fields.size(), 1U);
    EXPECT_EQ(drift->fields[0].path, "spec.replicas");
    EXPECT_EQ(drift->fields[0].operation, "Update/scale");
}

TEST(Drift, ScaledReplicasNextToAHandEditAreAnEntryOfTheirOwn) {
    Json live = live_deployment(Json::array());
    live["spec"]["replicas"] = 4;
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:latest";
    Json ours = k_applied;
    ours["fieldsV1"]["f:spec"].erase("f:replicas");
    ours["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"main\"}"].erase("f:image");
    auto scale = Json::parse(R"({"manager": "kubectl", "operation": "Update", "subresource": "scale",
      "time": "2026-12-03T21:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}})");
    auto edit = Json::parse(R"({"manager": "kubectl-set", "operation": "Update", "time": "2026-12-03T22:14:00Z",
      "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers":
        {"k:{\"name\":\"main\"}": {"f:image": {}}}}}}}})");
    live["metadata"]["managedFields"] = Json::array({ours, scale, edit});
    auto entries = compare_live(k_web, k_deployment, live);
    ASSERT_EQ(entries.size(), 2U);
    EXPECT_EQ(entries[0].drift, DriftClass::modified);
    ASSERT_EQ(entries[0].fields.size(), 1U);
    EXPECT_EQ(entries[0].fields[0].path, "spec.template.spec.containers[main].image");
    EXPECT_EQ(entries[1].drift, DriftClass::scaled);
    ASSERT_EQ(entries[1].fields.size(), 1U);
    EXPECT_EQ(entries[1].fields[0].path, "spec.replicas");
}

TEST(Drift, SameValueUnderAnotherManagerIsTakenOver) {
    Json ours = k_applied;
    // The server drops sets left empty: minicd's entry no longer mentions metadata at all.
    ours["fieldsV1"].erase("f:metadata");
    auto label = Json::parse(R"({"manager": "kubectl-label", "operation": "Update", "time": "2026-12-03T23:00:00Z",
      "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:tier": {}}}}})");
    auto entries = compare_live(k_web, k_deployment, live_deployment(Json::array({ours, label})));
    ASSERT_EQ(entries.size(), 1U);
    const ObjectDrift* drift = &entries[0];
    EXPECT_EQ(drift->drift, DriftClass::taken_over);
    ASSERT_EQ(drift->fields.size(), 1U);
    EXPECT_EQ(drift->fields[0].path, "metadata.labels.tier");
    EXPECT_EQ(drift->fields[0].manager, "kubectl-label");
}

TEST(Drift, AFieldRemovedByHandIsModifiedToNothing) {
    const Json desired = Json::parse(R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
                                         "data": {"mode": "on", "size": "2"}})");
    Json live = desired;
    live["data"].erase("size");
    live["metadata"]["managedFields"] = Json::array({Json::parse(R"({"manager": "minicd", "operation": "Apply",
      "time": "2026-12-03T20:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:mode": {}}}})"),
                                                     Json::parse(R"({"manager": "kubectl-edit", "operation": "Update",
      "time": "2026-12-03T22:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}})")});
    auto entries = compare_live(k_settings, desired, live);
    ASSERT_EQ(entries.size(), 1U);
    const ObjectDrift* drift = &entries[0];
    EXPECT_EQ(drift->drift, DriftClass::modified);
    ASSERT_EQ(drift->fields.size(), 1U);
    EXPECT_EQ(drift->fields[0].path, "data.size");
    EXPECT_TRUE(drift->fields[0].after.is_null());
}

TEST(Drift, ASecretChangedByHandIsReportedWithoutItsValues) {
    // minicd applied stringData, which the server folds into data; a patch then owns data.password.
    const Json desired = Json::parse(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
                                         "stringData": {"password": "original-s3cret"}})");
    Json live = Json::parse(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "type": "Opaque",
                                "data": {"password": "Y2hhbmdlZC1zM2NyZXQ="}})");
    live["metadata"]["managedFields"] = Json::array({Json::parse(R"({"manager": "minicd", "operation": "Apply",
      "time": "2026-12-03T20:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:stringData": {"f:password": {}}}})"),
                                                     Json::parse(R"({"manager": "kubectl-patch", "operation": "Update",
      "time": "2026-12-03T22:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:password": {}}}})")});
    auto entries = compare_live(k_creds, desired, live);
    ASSERT_EQ(entries.size(), 1U);
    const ObjectDrift* drift = &entries[0];
    EXPECT_EQ(drift->drift, DriftClass::modified);
    ASSERT_EQ(drift->fields.size(), 1U);
    EXPECT_EQ(drift->fields[0].path, "data.password");
    EXPECT_EQ(drift->fields[0].manager, "kubectl-patch");
    EXPECT_EQ(drift->fields[0].after, "(hidden, another value)") << "changed, without saying to what";
    const std::string shown = drift->fields[0].before.dump() + drift->fields[0].after.dump();
    EXPECT_EQ(shown.find("s3cret"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("Y2hhbmdlZC1zM2NyZXQ"), std::string::npos) << shown;
    EXPECT_EQ(shown.find("b3JpZ2luYWwtczNjcmV0"), std::string::npos) << shown;

    // The same value again: no drift, whoever wrote it.
    live["data"]["password"] = "b3JpZ2luYWwtczNjcmV0";
    EXPECT_TRUE(compare_live(k_creds, desired, live).empty());
}

}  // namespace
}  // namespace minicd::deploy
