#include "minicd/render/ownership.hpp"

#include <gtest/gtest.h>

namespace minicd::render {
namespace {

using model::Json;

source::Manifest manifest(const std::string& json, int line = 1) {
    return source::Manifest{model::Object(Json::parse(json)), "k8s/app.yaml", line};
}

Result<bool> scope(const model::ObjectId& id) {
    if (id.kind == "Namespace" || id.kind == "ClusterRole") return false;
    if (id.kind == "Unknown") return fail(util::ErrorCode::input, "no matches for kind \"Unknown\"");
    return true;
}

const Target k_target{.app = "shop", .env = "staging", .namespace_ = "shop"};

TEST(Ownership, LabelsAnnotatesAndSetsTheNamespace) {
    auto prepared = prepare({manifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1"}})")},
                            k_target, scope);
    ASSERT_TRUE(prepared) << prepared.error().describe();
    const Json& body = (*prepared)[0].object.body();
    EXPECT_EQ(body["metadata"]["namespace"], "shop");
    EXPECT_EQ(body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "minicd");
    EXPECT_EQ(body["metadata"]["labels"]["minicd.io/app"], "shop");
    EXPECT_EQ(body["metadata"]["labels"]["minicd.io/env"], "staging");
    EXPECT_EQ(body["metadata"]["annotations"]["minicd.io/owner"], "shop/staging");
    EXPECT_EQ(body["metadata"]["annotations"]["minicd.io/desired-hash"], desired_hash(body));
    EXPECT_EQ((*prepared)[0].id.namespace_, "shop");
    EXPECT_EQ((*prepared)[0].origin, "k8s/app.yaml:1");
}

TEST(Ownership, HashChangesWithContentOnly) {
    auto a = prepare({manifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1"}})")}, k_target, scope);
    auto b = prepare({manifest(R"({"kind":"ConfigMap","apiVersion":"v1","data":{"a":"1"},"metadata":{"name":"cfg"}})", 9)}, k_target, scope);
    auto c = prepare({manifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"2"}})")}, k_target, scope);
    ASSERT_TRUE(a && b && c);
    auto hash = [](const auto& p) { return (*p)[0].object.body()["metadata"]["annotations"]["minicd.io/desired-hash"]; };
    EXPECT_EQ(hash(a), hash(b));
    EXPECT_NE(hash(a), hash(c));
}

TEST(Ownership, OtherNamespaceIsRefusedUnlessAllowed) {
    auto m = manifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"other"}})", 7);
    auto refused = prepare({m}, k_target, scope);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().subject, "k8s/app.yaml:7");
    EXPECT_NE(refused.error().message.find("namespace \"other\""), std::string::npos);

    Target relaxed = k_target;
    relaxed.allow_other_namespaces = true;
    auto allowed = prepare({m}, relaxed, scope);
    ASSERT_TRUE(allowed);
    EXPECT_EQ((*allowed)[0].id.namespace_, "other");
}

TEST(Ownership, ClusterScopedObjectsLoseTheirNamespace) {
    auto prepared = prepare({manifest(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","namespace":"x"}})")},
                            k_target, scope);
    ASSERT_TRUE(prepared);
    EXPECT_FALSE((*prepared)[0].object.body()["metadata"].contains("namespace"));
    EXPECT_FALSE((*prepared)[0].namespaced);
}

TEST(Ownership, DuplicateObjectNamesBothPlaces) {
    auto twice = prepare({manifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"}})", 1),
                          manifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"shop"}})", 12)},
                         k_target, scope);
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().subject, "k8s/app.yaml:12");
    EXPECT_NE(twice.error().message.find("first at k8s/app.yaml:1"), std::string::npos);
}

TEST(Ownership, TheCanaryTrackLabelIsRefusedSoACanaryNeverRemovesADeclaredObject) {
    auto refused = prepare({manifest(R"({"apiVersion":"v1","kind":"ConfigMap",
                                         "metadata":{"name":"cfg","labels":{"minicd.io/track":"canary"}}})",
                                     6)},
                           k_target, scope);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().subject, "k8s/app.yaml:6");
    EXPECT_NE(refused.error().message.find("minicd.io/track"), std::string::npos) << refused.error().message;
}

TEST(Ownership, UnknownKindErrorNamesTheManifest) {
    auto unknown = prepare({manifest(R"({"apiVersion":"x/v1","kind":"Unknown","metadata":{"name":"u"}})", 4)}, k_target, scope);
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().subject, "k8s/app.yaml:4");
}

TEST(Ownership, ServerFieldsAreStripped) {
    auto prepared = prepare({manifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","resourceVersion":"5",
                                          "creationTimestamp":null,"managedFields":[]},"status":{}})")},
                            k_target, scope);
    ASSERT_TRUE(prepared);
    const Json& body = (*prepared)[0].object.body();
    EXPECT_FALSE(body["metadata"].contains("resourceVersion"));
    EXPECT_FALSE(body["metadata"].contains("managedFields"));
    EXPECT_FALSE(body.contains("status"));
}

TEST(Ownership, TargetNamesMustBeDnsLabels) {
    EXPECT_TRUE(validate_target(k_target));
    EXPECT_FALSE(validate_target(Target{.app = "Shop", .env = "staging", .namespace_ = "shop"}));
    EXPECT_FALSE(validate_target(Target{.app = "shop", .env = "stag ing", .namespace_ = "shop"}));
    EXPECT_EQ(k_target.label_selector(), "minicd.io/app=shop,minicd.io/env=staging");
}

}  // namespace
}  // namespace minicd::render
