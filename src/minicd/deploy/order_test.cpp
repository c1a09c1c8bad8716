#include "minicd/deploy/order.hpp"

#include <gtest/gtest.h>

namespace minicd::deploy {
namespace {

model::ObjectId id(std::string kind, std::string name, std::string group = "") {
    return model::ObjectId{std::move(group), "v1", std::move(kind), "shop", std::move(name)};
}

std::vector<std::string> kinds(const std::vector<model::ObjectId>& ids) {
    std::vector<std::string> out;
    for (const auto& i : ids) out.push_back(i.kind + "/" + i.name);
    return out;
}

TEST(Order, FoundationsFirstWorkloadsAfterTheirConfigCustomResourcesLateWebhooksLast) {
    std::vector<model::ObjectId> ids = {
        id("ValidatingWebhookConfiguration", "guard"), id("Widget", "w", "example.com"), id("Deployment", "web"),
        id("ConfigMap", "cfg"), id("Service", "web"), id("CustomResourceDefinition", "widgets.example.com"),
        id("Namespace", "shop"), id("ServiceAccount", "web"), id("Ingress", "web"),
    };
    sort_for_apply(ids);
    EXPECT_EQ(kinds(ids), (std::vector<std::string>{"Namespace/shop", "CustomResourceDefinition/widgets.example.com",
                                                    "ServiceAccount/web", "ConfigMap/cfg", "Service/web",
                                                    "Deployment/web", "Ingress/web", "Widget/w",
                                                    "ValidatingWebhookConfiguration/guard"}));
}

TEST(Order, SameKindIsSortedByNameAndDeletionIsReversed) {
    std::vector<model::ObjectId> ids = {id("ConfigMap", "b"), id("Namespace", "shop"), id("ConfigMap", "a")};
    sort_for_delete(ids);
    EXPECT_EQ(kinds(ids), (std::vector<std::string>{"ConfigMap/b", "ConfigMap/a", "Namespace/shop"}));
}

TEST(Order, FoundationKinds) {
    EXPECT_TRUE(is_foundation("Namespace"));
    EXPECT_TRUE(is_foundation("CustomResourceDefinition"));
    EXPECT_FALSE(is_foundation("Deployment"));
    EXPECT_LT(kind_rank("Secret"), kind_rank("Deployment"));
}

}  // namespace
}  // namespace minicd::deploy
