#include "minicd/model/object.hpp"

#include <gtest/gtest.h>

namespace minicd::model {
namespace {

TEST(Object, ReadsIdentityFromGroupedKind) {
    Object deployment(Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
                                      "metadata":{"name":"web","namespace":"shop"}})"));
    ObjectId id = deployment.id();
    EXPECT_EQ(id.group, "apps");
    EXPECT_EQ(id.version, "v1");
    EXPECT_EQ(id.kind, "Deployment");
    EXPECT_EQ(id.namespace_, "shop");
    EXPECT_EQ(id.name, "web");
    EXPECT_EQ(id.api_version(), "apps/v1");
    EXPECT_EQ(id.describe(), "deploy/web (apps/v1 Deployment) in ns shop");
}

TEST(Object, CoreGroupAndClusterScope) {
    Object ns(Json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})"));
    EXPECT_EQ(ns.id().group, "");
    EXPECT_EQ(ns.id().api_version(), "v1");
    EXPECT_EQ(ns.id().describe(), "ns/shop (v1 Namespace)");
}

TEST(Object, MissingOrNonStringFieldsReadAsEmpty) {
    Object odd(Json::parse(R"({"kind":7,"metadata":{"name":null}})"));
    EXPECT_EQ(odd.kind(), "");
    EXPECT_EQ(odd.name(), "");
    EXPECT_EQ(odd.api_version(), "");
    EXPECT_EQ(Object().id(), ObjectId{});
}

TEST(ObjectId, TheVersionIsNotPartOfIdentity) {
    ObjectId beta{.group = "acc.example.com", .version = "v1beta1", .kind = "Gadget", .namespace_ = "ns", .name = "g1"};
    ObjectId stable = beta;
    stable.version = "v1";
    EXPECT_EQ(beta, stable) << "one object, read through two served versions";
    EXPECT_FALSE(beta < stable);
    EXPECT_FALSE(stable < beta);
    ObjectId other_group = stable;
    other_group.group = "other.example.com";
    EXPECT_NE(stable, other_group);
    ObjectId other_namespace = stable;
    other_namespace.namespace_ = "elsewhere";
    EXPECT_NE(stable, other_namespace);
}

TEST(ShortKind, KnownAbbreviationsAndLowercaseFallback) {
    EXPECT_EQ(short_kind("Service"), "svc");
    EXPECT_EQ(short_kind("CustomResourceDefinition"), "crd");
    EXPECT_EQ(short_kind("Certificate"), "certificate");
}

}  // namespace
}  // namespace minicd::model
