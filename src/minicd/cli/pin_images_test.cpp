#include "minicd/cli/pin_images.hpp"

#include <gtest/gtest.h>

#include "minicd/build/artifacts.hpp"
#include "support/git_repo.hpp"

namespace minicd::cli {
namespace {

using model::Json;

const std::string k_digest = "sha256:" + std::string(64, '7');

class PinBuiltImages : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(build::write_artifacts(
            m_dir.path("build.json"), {{.image_name = "shop", .reference = "reg.example/apps/shop:abc1234", .digest = k_digest}}));
    }
    std::vector<source::Manifest> manifests() const {
        Json rollout = {{"apiVersion", "argoproj.io/v1alpha1"},
                        {"kind", "Rollout"},
                        {"metadata", {{"name", "web"}}},
                        {"spec", {{"template", {{"spec", {{"containers", {{{"name", "main"}, {"image", "shop"}}}}}}}}}}};
        Json pod = {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", {{"name", "one"}}},
                    {"spec", {{"containers", {{{"name", "main"}, {"image", "shop:dev"}}}}}}};
        return {{model::Object(rollout), "k8s/rollout.yaml", 1}, {model::Object(pod), "k8s/pod.yaml", 1}};
    }

    testing::TempDir m_dir;
};

TEST_F(PinBuiltImages, PinsWorkloadsAndConfiguredPathsAndReturnsWhatTheReleaseRecords) {
    auto objects = manifests();
    auto pinned = pin_built_images(m_dir.path("build.json"), {"Rollout.argoproj.io:spec.template.spec.containers[].image"},
                                   objects);
    ASSERT_TRUE(pinned) << pinned.error().describe();
    const std::string expected = "reg.example/apps/shop:abc1234@" + k_digest;
    EXPECT_EQ(*pinned, (std::map<std::string, std::string>{{"shop", expected}}));
    EXPECT_EQ(objects[0].object.body()["spec"]["template"]["spec"]["containers"][0]["image"], expected);
    EXPECT_EQ(objects[1].object.body()["spec"]["containers"][0]["image"], expected);
}

TEST_F(PinBuiltImages, ABadImagePathOrArtifactFileIsAnInputError) {
    auto objects = manifests();
    auto bad_path = pin_built_images(m_dir.path("build.json"), {"Rollout"}, objects);
    ASSERT_FALSE(bad_path);
    EXPECT_EQ(bad_path.error().code, util::ErrorCode::input);

    testing::write_file(m_dir.path("broken.json"), R"({"builds": [{"imageName": "shop"}]})");
    auto bad_file = pin_built_images(m_dir.path("broken.json"), {}, objects);
    ASSERT_FALSE(bad_file);
    EXPECT_EQ(bad_file.error().subject, m_dir.path("broken.json"));
}

}  // namespace
}  // namespace minicd::cli
