#include "minicd/render/render.hpp"

#include <gtest/gtest.h>

#include "support/git_repo.hpp"
#include "support/temp_dir.hpp"

namespace minicd::render {
namespace {

const std::string k_digest = "sha256:" + std::string(64, 'c');
const std::string k_shop_pinned = "127.0.0.1:5000/apps/shop:abc1234@" + k_digest;
const ImagePin k_shop{.image_name = "shop", .reference = "127.0.0.1:5000/apps/shop:abc1234", .digest = k_digest};

const char* k_deployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: main
          image: shop:dev
)";

const char* k_ingress = R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
    - host: shop.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 80
)";

const char* k_ruleless_ingress = R"(apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: default
spec:
  defaultBackend:
    service:
      name: web
      port:
        number: 80
)";

class Render : public ::testing::Test {
protected:
    std::string write(const std::string& relative, const std::string& text) const {
        testing::write_file(m_dir.path(relative), text);
        return m_dir.path(relative);
    }

    testing::TempDir m_dir;
};

TEST_F(Render, PinsABuiltImageAndRecordsItForTheRelease) {
    write("k8s/deployment.yaml", k_deployment);
    auto rendered = render({.manifest_paths = {m_dir.path("k8s")}, .pinning = ImagePinning{.images = {k_shop}}});
    ASSERT_TRUE(rendered) << rendered.error().describe();
    ASSERT_EQ(rendered->manifests.size(), 1U);
    EXPECT_EQ(rendered->manifests[0].object.body()["spec"]["template"]["spec"]["containers"][0]["image"], k_shop_pinned);
    ASSERT_EQ(rendered->replacements.size(), 1U);
    EXPECT_EQ(rendered->replacements[0].from, "shop:dev");
    EXPECT_EQ(rendered->images, (std::map<std::string, std::string>{{"shop", k_shop_pinned}}));
    EXPECT_TRUE(rendered->warnings.empty());
}

TEST_F(Render, CustomPathsArePinnedToo) {
    write("k8s/function.yaml", "apiVersion: example.com/v1\nkind: Function\nmetadata:\n  name: f\nspec:\n  image: shop\n");
    auto path = parse_image_path("Function:spec.image");
    ASSERT_TRUE(path) << path.error().describe();
    auto rendered = render(
        {.manifest_paths = {m_dir.path("k8s")}, .pinning = ImagePinning{.images = {k_shop}}, .custom_paths = {*path}});
    ASSERT_TRUE(rendered) << rendered.error().describe();
    EXPECT_EQ(rendered->manifests[0].object.body()["spec"]["image"], k_shop_pinned);
}

TEST_F(Render, WithoutPinningRecordsWhatTheManifestsPinByDigest) {
    std::string deployment = k_deployment;
    deployment.replace(deployment.find("shop:dev"), 8, k_shop_pinned);
    write("k8s/deployment.yaml", deployment);
    auto rendered = render({.manifest_paths = {m_dir.path("k8s")}});
    ASSERT_TRUE(rendered) << rendered.error().describe();
    EXPECT_TRUE(rendered->replacements.empty());
    EXPECT_EQ(rendered->images, (std::map<std::string, std::string>{{"127.0.0.1:5000/apps/shop", k_shop_pinned}}));
}

TEST_F(Render, PreviewRoutingSetsTheHost) {
    write("k8s/ingress.yaml", k_ingress);
    auto rendered = render({.manifest_paths = {m_dir.path("k8s")}, .preview = PreviewRouting{.host = "feat-a.dev.example.com"}});
    ASSERT_TRUE(rendered) << rendered.error().describe();
    EXPECT_EQ(rendered->manifests[0].object.body()["spec"]["rules"][0]["host"], "feat-a.dev.example.com");
}

TEST_F(Render, AMissingManifestPathIsAnInputErrorNamingIt) {
    const std::string missing = m_dir.path("does/not/exist.yaml");
    auto rendered = render({.manifest_paths = {missing}, .pinning = ImagePinning{.images = {k_shop}}});
    ASSERT_FALSE(rendered);
    EXPECT_EQ(rendered.error().code, util::ErrorCode::input);
    EXPECT_EQ(rendered.error().subject, missing);
}

TEST_F(Render, AnImageDeclaredButNotBuiltKeepsItsFileAndLine) {
    const std::string file = write("k8s/deployment.yaml", k_deployment);
    auto rendered = render({.manifest_paths = {file}, .pinning = ImagePinning{.declared = {"shop"}}});
    ASSERT_FALSE(rendered);
    EXPECT_EQ(rendered.error().code, util::ErrorCode::input);
    EXPECT_EQ(rendered.error().subject, file + ":1");
}

TEST_F(Render, ReturnsEachWarningOnceInTheOrderFound) {
    write("k8s/deployment.yaml", k_deployment);
    write("k8s/ingress.yaml", k_ruleless_ingress);
    auto rendered = render({.manifest_paths = {m_dir.path("k8s")},
                            .pinning = ImagePinning{.images = {k_shop}, .declared = {"worker", "worker"}},
                            .preview = PreviewRouting{.host = "feat-a.dev.example.com"}});
    ASSERT_TRUE(rendered) << rendered.error().describe();
    ASSERT_EQ(rendered->warnings.size(), 2U) << ::testing::PrintToString(rendered->warnings);
    EXPECT_EQ(rendered->warnings[0], "image \"worker\" is used by no manifest");
    EXPECT_NE(rendered->warnings[1].find("has no rules"), std::string::npos) << rendered->warnings[1];
}

}  // namespace
}  // namespace minicd::render
