#include "minicd/cli/pin_images.hpp"

#include <gtest/gtest.h>

#include "minicd/build/artifacts.hpp"
#include "support/git_repo.hpp"

namespace minicd::cli {
namespace {

const std::string k_digest = "sha256:" + std::string(64, '7');

class CliPinImages : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(build::write_artifacts(
            m_dir.path("build.json"), {{.image_name = "shop", .reference = "reg.example/apps/shop:abc1234", .digest = k_digest}}));
        testing::write_file(m_dir.path("k8s/rollout.yaml"), R"(apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: main
          image: shop
)");
        testing::write_file(m_dir.path("k8s/pod.yaml"), R"(apiVersion: v1
kind: Pod
metadata:
  name: one
spec:
  containers:
    - name: main
      image: shop:dev
)");
    }

    testing::TempDir m_dir;
};

TEST_F(CliPinImages, BuildArtifactsPinWorkloadsAndConfiguredPathsAndAreWhatTheReleaseRecords) {
    auto pinning = pinning_from_artifacts(m_dir.path("build.json"));
    ASSERT_TRUE(pinning) << pinning.error().describe();
    ASSERT_TRUE(pinning->has_value());
    auto paths = parse_image_paths({"Rollout.argoproj.io:spec.template.spec.containers[].image"});
    ASSERT_TRUE(paths) << paths.error().describe();
    auto rendered = render::render(
        {.manifest_paths = {m_dir.path("k8s")}, .pinning = std::move(*pinning), .custom_paths = std::move(*paths)});
    ASSERT_TRUE(rendered) << rendered.error().describe();
    const std::string expected = "reg.example/apps/shop:abc1234@" + k_digest;
    EXPECT_EQ(rendered->images, (std::map<std::string, std::string>{{"shop", expected}}));
    ASSERT_EQ(rendered->manifests.size(), 2U);
    EXPECT_EQ(rendered->manifests[0].object.body()["spec"]["containers"][0]["image"], expected);  // pod.yaml sorts first
    EXPECT_EQ(rendered->manifests[1].object.body()["spec"]["template"]["spec"]["containers"][0]["image"], expected);
}

TEST_F(CliPinImages, WithoutBuildArtifactsNothingIsPinned) {
    auto pinning = pinning_from_artifacts("");
    ASSERT_TRUE(pinning) << pinning.error().describe();
    EXPECT_FALSE(pinning->has_value());
}

TEST_F(CliPinImages, ABadImagePathOrArtifactFileIsAnInputError) {
    auto bad_path = parse_image_paths({"Rollout"});
    ASSERT_FALSE(bad_path);
    EXPECT_EQ(bad_path.error().code, util::ErrorCode::input);

    testing::write_file(m_dir.path("broken.json"), R"({"builds": [{"imageName": "shop"}]})");
    auto bad_file = pinning_from_artifacts(m_dir.path("broken.json"));
    ASSERT_FALSE(bad_file);
    EXPECT_EQ(bad_file.error().subject, m_dir.path("broken.json"));
}

}  // namespace
}  // namespace minicd::cli
