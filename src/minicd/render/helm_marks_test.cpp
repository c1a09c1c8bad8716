#include "minicd/render/helm_marks.hpp"

#include <gtest/gtest.h>

#include "minicd/model/json_read.hpp"

namespace minicd::render {
namespace {

using model::Json;

source::Manifest hook(const std::string& events, const std::string& kind = "Job", int line = 3) {
    Json body = {{"apiVersion", kind == "Job" ? "batch/v1" : "v1"},
                 {"kind", kind},
                 {"metadata", {{"name", "migrate"}, {"annotations", {{"helm.sh/hook", events}}}}}};
    return source::Manifest{model::Object(std::move(body)), "chart/templates/migrate.yaml (rendered by helm)", line};
}

std::string annotation(const source::Manifest& manifest, const std::string& key) {
    return model::string_at(manifest.object.body(), {"metadata", "annotations", key});
}

TEST(HelmMarks, DeployHooksRunInTheirPhase) {
    std::vector<source::Manifest> manifests = {hook("pre-install,pre-upgrade"), hook("post-upgrade"),
                                               hook(" pre-install "), hook("post-install, post-upgrade")};
    ASSERT_TRUE(translate_helm_marks(manifests));
    EXPECT_EQ(annotation(manifests[0], "minicd.io/phase"), "pre");
    EXPECT_EQ(annotation(manifests[1], "minicd.io/phase"), "post");
    EXPECT_EQ(annotation(manifests[2], "minicd.io/phase"), "pre");
    EXPECT_EQ(annotation(manifests[3], "minicd.io/phase"), "post");
}

TEST(HelmMarks, ObjectsWithoutHooksAreLeftAsWritten) {
    const Json plain = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "settings"}}}};
    std::vector<source::Manifest> manifests = {{model::Object(plain), "chart/templates/cm.yaml", 2}};
    ASSERT_TRUE(translate_helm_marks(manifests));
    EXPECT_EQ(manifests[0].object.body(), plain);
}

TEST(HelmMarks, HooksMinicdCannotHonourAreRefusedWithTheirTemplate) {
    for (const std::string events : {"pre-delete", "post-rollback", "pre-install,pre-rollback", "test", "crd-install"}) {
        std::vector<source::Manifest> manifests = {hook(events)};
        auto refused = translate_helm_marks(manifests);
        ASSERT_FALSE(refused) << events;
        EXPECT_EQ(refused.error().code, util::ErrorCode::input);
        EXPECT_EQ(refused.error().subject, "chart/templates/migrate.yaml (rendered by helm):3");
        EXPECT_NE(refused.error().message.find("Job migrate: helm.sh/hook"), std::string::npos) << refused.error().message;
        EXPECT_NE(refused.error().message.find("runs the hooks of a deploy only"), std::string::npos) << refused.error().message;
    }
}

TEST(HelmMarks, AHookBeforeAndAfterTheReleaseIsRefused) {
    std::vector<source::Manifest> manifests = {hook("pre-install,post-install")};
    auto refused = translate_helm_marks(manifests);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("not both"), std::string::npos) << refused.error().message;
}

TEST(HelmMarks, APhaseAnnotationMustAgreeWithTheHook) {
    source::Manifest agreeing = hook("pre-upgrade");
    agreeing.object.body()["metadata"]["annotations"]["minicd.io/phase"] = "pre";
    source::Manifest disagreeing = hook("pre-upgrade");
    disagreeing.object.body()["metadata"]["annotations"]["minicd.io/phase"] = "post";
    std::vector<source::Manifest> ok = {agreeing};
    EXPECT_TRUE(translate_helm_marks(ok));
    std::vector<source::Manifest> refused = {disagreeing};
    auto result = translate_helm_marks(refused);
    ASSERT_FALSE(result);
    EXPECT_NE(result.error().message.find("says the pre phase"), std::string::npos) << result.error().message;
}

TEST(HelmMarks, ResourcePolicyKeepIsNeverPruned) {
    Json body = {{"apiVersion", "v1"},
                 {"kind", "PersistentVolumeClaim"},
                 {"metadata", {{"name", "data"}, {"annotations", {{"helm.sh/resource-policy", "keep"}}}}}};
    std::vector<source::Manifest> manifests = {{model::Object(std::move(body)), "chart/templates/pvc.yaml", 2}};
    ASSERT_TRUE(translate_helm_marks(manifests));
    EXPECT_EQ(annotation(manifests[0], "minicd.io/prune"), "disabled");
}

TEST(HelmMarks, InstallHooksRunOnInstallAndUpgradeHooksOnUpgrade) {
    const Json install_only = hook("pre-install").object.body();
    const Json upgrade_only = hook("post-upgrade").object.body();
    const Json both = hook("pre-install,pre-upgrade").object.body();
    const Json plain = {{"metadata", {{"name", "web"}}}};
    EXPECT_TRUE(runs_on(install_only, DeployEvent::install));
    EXPECT_FALSE(runs_on(install_only, DeployEvent::upgrade));
    EXPECT_FALSE(runs_on(upgrade_only, DeployEvent::install));
    EXPECT_TRUE(runs_on(upgrade_only, DeployEvent::upgrade));
    EXPECT_TRUE(runs_on(both, DeployEvent::install));
    EXPECT_TRUE(runs_on(both, DeployEvent::upgrade));
    EXPECT_TRUE(runs_on(plain, DeployEvent::install));
    EXPECT_TRUE(runs_on(plain, DeployEvent::upgrade));
}

}  // namespace
}  // namespace minicd::render
