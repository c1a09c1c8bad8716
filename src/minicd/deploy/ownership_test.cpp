#include "minicd/deploy/ownership.hpp"

#include <gtest/gtest.h>

namespace minicd::deploy {
namespace {

using model::Json;

const render::Target k_target{.app = "shop", .env = "staging", .namespace_ = "shop"};

Json with_metadata(Json labels, Json annotations) {
    return {{"metadata", {{"name", "x"}, {"labels", std::move(labels)}, {"annotations", std::move(annotations)}}}};
}

TEST(Ownership, OurAnnotationIsOurs) {
    auto live = with_metadata(Json::object(), {{"minicd.io/owner", "shop/staging"}});
    EXPECT_EQ(owner_of(live, k_target).owner, Owner::us);
}

TEST(Ownership, AnotherAppOrEnvironmentIsNamed) {
    auto live = with_metadata(Json::object(), {{"minicd.io/owner", "shop/production"}});
    auto found = owner_of(live, k_target);
    EXPECT_EQ(found.owner, Owner::other_app);
    EXPECT_EQ(found.who, "minicd app shop/production");
}

TEST(Ownership, MinicdLabelsWithoutTheAnnotationStillNameTheOwner) {
    auto live = with_metadata({{"app.kubernetes.io/managed-by", "minicd"}, {"minicd.io/app", "appa"}, {"minicd.io/env", "t"}},
                              Json::object());
    EXPECT_EQ(owner_of(live, k_target).owner, Owner::other_app);
}

TEST(Ownership, OurLabelsWithoutTheAnnotationAreNotEnoughToBeOurs) {
    auto lookalike = with_metadata(
        {{"app.kubernetes.io/managed-by", "minicd"}, {"minicd.io/app", "shop"}, {"minicd.io/env", "staging"}}, Json::object());
    EXPECT_EQ(owner_of(lookalike, k_target).owner, Owner::nobody) << "adopted, never recreated or pruned as ours";
}

TEST(Ownership, HelmArgoAndFluxMarksAreAnotherTool) {
    auto helm = with_metadata(Json::object(), {{"meta.helm.sh/release-name", "web"}, {"meta.helm.sh/release-namespace", "shop"}});
    EXPECT_EQ(owner_of(helm, k_target).owner, Owner::other_tool);
    EXPECT_EQ(owner_of(helm, k_target).who, "Helm release web (ns shop)");
    auto helm_label = with_metadata({{"app.kubernetes.io/managed-by", "Helm"}}, Json::object());
    EXPECT_EQ(owner_of(helm_label, k_target).owner, Owner::other_tool);
    auto argo = with_metadata(Json::object(), {{"argocd.argoproj.io/tracking-id", "guestbook:apps/Deployment:shop/web"}});
    EXPECT_EQ(owner_of(argo, k_target).who, "Argo CD application guestbook");
    auto flux = with_metadata({{"kustomize.toolkit.fluxcd.io/name", "apps"}, {"kustomize.toolkit.fluxcd.io/namespace", "flux-system"}},
                              Json::object());
    EXPECT_EQ(owner_of(flux, k_target).who, "Flux Kustomization apps (ns flux-system)");
}

TEST(Ownership, OurAnnotationWinsOverToolMarksWeAdoptedFrom) {
    auto adopted = with_metadata({{"app.kubernetes.io/managed-by", "minicd"}},
                                 {{"minicd.io/owner", "shop/staging"}, {"meta.helm.sh/release-name", "web"}});
    EXPECT_EQ(owner_of(adopted, k_target).owner, Owner::us);
}

TEST(Ownership, UnmarkedOrOddlyTypedMetadataIsNobodys) {
    EXPECT_EQ(owner_of(Json::parse(R"({"metadata":{"name":"x"}})"), k_target).owner, Owner::nobody);
    EXPECT_EQ(owner_of(Json::parse(R"({"metadata":{"annotations":{"minicd.io/owner":7}}})"), k_target).owner, Owner::nobody);
    EXPECT_EQ(owner_of(Json::parse(R"({"metadata":[]})"), k_target).owner, Owner::nobody);
    EXPECT_EQ(owner_of(Json::parse(R"(null)"), k_target).owner, Owner::nobody);
}

}  // namespace
}  // namespace minicd::deploy
