#include "minicd/render/images.hpp"

#include <gtest/gtest.h>

namespace minicd::render {
namespace {

using model::Json;

const std::string k_digest = "sha256:" + std::string(64, 'a');
const std::string k_worker_digest = "sha256:" + std::string(64, 'b');
const std::string k_shop_pinned = "127.0.0.1:5000/apps/shop:abc1234@" + k_digest;

const ImagePin k_shop{.image_name = "shop", .reference = "127.0.0.1:5000/apps/shop:abc1234", .digest = k_digest};
const ImagePin k_worker{.image_name = "reg.example/team/worker",
                        .reference = "reg.example/team/worker:abc1234",
                        .digest = k_worker_digest};

Json containers(const std::string& image) {
    return Json::array({Json{{"name", "main"}, {"image", image}}});
}

Json pod_spec(const std::string& image) { return Json{{"containers", containers(image)}}; }

source::Manifest object(const std::string& api_version, const std::string& kind, Json spec, int line = 1) {
    Json body = {{"apiVersion", api_version}, {"kind", kind}, {"metadata", {{"name", "x"}, {"namespace", "ns"}}}};
    if (!spec.is_null()) body["spec"] = std::move(spec);
    return source::Manifest{model::Object(std::move(body)), "k8s/app.yaml", line};
}

source::Manifest with_template(const std::string& api_version, const std::string& kind, const std::string& image) {
    return object(api_version, kind, Json{{"template", {{"spec", pod_spec(image)}}}});
}

PinResult pin(std::vector<source::Manifest>& manifests, const ImagePinning& pinning) {
    auto result = pin_images(manifests, pinning);
    EXPECT_TRUE(result) << result.error().describe();
    return result.value_or(PinResult{});
}

TEST(PinImages, EveryWorkloadKindHasItsPodTemplatePinned) {
    std::vector<source::Manifest> manifests = {
        object("v1", "Pod", pod_spec("shop")),
        with_template("apps/v1", "Deployment", "shop"),
        with_template("apps/v1", "StatefulSet", "shop"),
        with_template("apps/v1", "DaemonSet", "shop"),
        with_template("apps/v1", "ReplicaSet", "shop"),
        with_template("v1", "ReplicationController", "shop"),
        with_template("batch/v1", "Job", "shop"),
        object("batch/v1", "CronJob", Json{{"schedule", "* * * * *"},
                                           {"jobTemplate", {{"spec", {{"template", {{"spec", pod_spec("shop")}}}}}}}}),
        object("v1", "PodTemplate", Json()),
    };
    manifests.back().object.body()["template"] = Json{{"spec", pod_spec("shop")}};

    auto result = pin(manifests, {.images = {k_shop}});
    ASSERT_EQ(result.replacements.size(), manifests.size());
    const std::vector<std::string> paths = {"spec.containers[0].image",
                                            "spec.template.spec.containers[0].image",
                                            "spec.template.spec.containers[0].image",
                                            "spec.template.spec.containers[0].image",
                                            "spec.template.spec.containers[0].image",
                                            "spec.template.spec.containers[0].image",
                                            "spec.template.spec.containers[0].image",
                                            "spec.jobTemplate.spec.template.spec.containers[0].image",
                                            "template.spec.containers[0].image"};
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        const auto& replacement = result.replacements[i];
        EXPECT_EQ(replacement.object, manifests[i].object.id());
        EXPECT_EQ(replacement.path, paths[i]) << replacement.object.kind;
        EXPECT_EQ(replacement.from, "shop");
        EXPECT_EQ(replacement.to, k_shop_pinned);
    }
    EXPECT_EQ(manifests[0].object.body()["spec"]["containers"][0]["image"], k_shop_pinned);
    EXPECT_EQ(manifests[7].object.body()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"],
              k_shop_pinned);
    EXPECT_TRUE(result.warnings.empty());
}

TEST(PinImages, InitAndEphemeralContainersToo) {
    Json spec = pod_spec("nginx:1.25");
    spec["initContainers"] = containers("shop:old");
    spec["ephemeralContainers"] = Json::array({Json{{"name", "debug"}, {"image", "busybox"}},
                                               Json{{"name", "debug2"}, {"image", "127.0.0.1:5000/apps/shop"}}});
    std::vector<source::Manifest> manifests = {object("apps/v1", "Deployment", Json{{"template", {{"spec", spec}}}})};
    auto result = pin(manifests, {.images = {k_shop}});
    ASSERT_EQ(result.replacements.size(), 2u);
    EXPECT_EQ(result.replacements[0].path, "spec.template.spec.initContainers[0].image");
    EXPECT_EQ(result.replacements[0].from, "shop:old");
    EXPECT_EQ(result.replacements[1].path, "spec.template.spec.ephemeralContainers[1].image");
    const Json& pod = manifests[0].object.body()["spec"]["template"]["spec"];
    EXPECT_EQ(pod["containers"][0]["image"], "nginx:1.25") << "not built here: left alone";
    EXPECT_EQ(pod["ephemeralContainers"][0]["image"], "busybox");
}

TEST(PinImages, MatchesByNameWithOrWithoutDockerHubDefaults) {
    const ImagePin hub{.image_name = "nginx", .reference = "docker.io/acme/nginx:abc1234", .digest = k_digest};
    std::vector<source::Manifest> manifests = {
        with_template("apps/v1", "Deployment", "docker.io/library/nginx:1.25"),
        with_template("apps/v1", "StatefulSet", "nginx@sha256:" + std::string(64, 'c')),
        with_template("apps/v1", "DaemonSet", "acme/nginx:old"),   // the reference's repository
        with_template("apps/v1", "ReplicaSet", "nginxx"),          // another image
        with_template("batch/v1", "Job", "reg.example/team/worker:latest"),
        with_template("apps/v1", "Deployment", "{{ .Values.image }}"),  // not an image reference at all
    };
    auto result = pin(manifests, {.images = {hub, k_worker}});
    ASSERT_EQ(result.replacements.size(), 4u);
    const std::string pinned = "docker.io/acme/nginx:abc1234@" + k_digest;
    EXPECT_EQ(result.replacements[0].to, pinned);
    EXPECT_EQ(result.replacements[1].to, pinned);
    EXPECT_EQ(result.replacements[2].to, pinned);
    EXPECT_EQ(result.replacements[3].to, "reg.example/team/worker:abc1234@" + k_worker_digest);
    EXPECT_EQ(manifests[3].object.body()["spec"]["template"]["spec"]["containers"][0]["image"], "nginxx");
}

TEST(PinImages, AnAlreadyPinnedImageIsNotReportedAgain) {
    std::vector<source::Manifest> manifests = {with_template("apps/v1", "Deployment", k_shop_pinned)};
    auto result = pin(manifests, {.images = {k_shop}});
    EXPECT_TRUE(result.replacements.empty());
    EXPECT_TRUE(result.warnings.empty()) << "the image is used";
}

TEST(PinImages, KindsInOtherGroupsAreNotWorkloads) {
    std::vector<source::Manifest> manifests = {with_template("example.com/v1", "Deployment", "shop")};
    auto result = pin(manifests, {.images = {k_shop}});
    EXPECT_TRUE(result.replacements.empty());
    ASSERT_EQ(result.warnings.size(), 1u);
}

TEST(PinImages, CustomResourcePathsWithListsAndMaps) {
    std::vector<source::Manifest> manifests = {
        object("argoproj.io/v1alpha1", "Rollout", Json{{"template", {{"spec", pod_spec("shop")}}}}),
        object("serving.example/v1", "Function",
               Json{{"runtime", {{"image", "shop"}}},
                    {"sidecars", Json::array({Json{{"image", "reg.example/team/worker"}}, Json{{"name", "no-image"}}})},
                    {"images", {{"main", "shop:1"}, {"helper", "busybox"}}}}),
        object("other.example/v1", "Function", Json{{"runtime", {{"image", "shop"}}}}),
    };
    std::vector<ImagePath> paths;
    for (const char* text : {"Rollout.argoproj.io:spec.template.spec.containers[].image",
                             "Function.serving.example:spec.runtime.image", "Function.serving.example:spec.sidecars[].image",
                             "Function.serving.example:spec.images.*"}) {
        auto path = parse_image_path(text);
        ASSERT_TRUE(path) << path.error().describe();
        paths.push_back(*path);
    }
    auto result = pin(manifests, {.images = {k_shop, k_worker}, .custom_paths = paths});
    std::vector<std::string> replaced;
    for (const auto& r : result.replacements) replaced.push_back(r.object.kind + " " + r.path);
    EXPECT_EQ(replaced, (std::vector<std::string>{"Rollout spec.template.spec.containers[0].image",
                                                  "Function spec.runtime.image", "Function spec.sidecars[0].image",
                                                  "Function spec.images.main"}));
    EXPECT_EQ(manifests[1].object.body()["spec"]["images"]["helper"], "busybox");
    EXPECT_EQ(manifests[2].object.body()["spec"]["runtime"]["image"], "shop") << "group differs";
}

TEST(PinImages, APathWithoutGroupMatchesTheKindInAnyGroup) {
    std::vector<source::Manifest> manifests = {object("a.example/v1", "Function", Json{{"image", "shop"}}),
                                               object("b.example/v1", "Function", Json{{"image", "shop"}})};
    auto path = parse_image_path("Function:spec.image").value();
    EXPECT_EQ(pin(manifests, {.images = {k_shop}, .custom_paths = {path}}).replacements.size(), 2u);
}

TEST(PinImages, DeclaredImageInNoManifestIsAWarning) {
    std::vector<source::Manifest> manifests = {with_template("apps/v1", "Deployment", "shop")};
    auto result = pin(manifests, {.images = {k_shop, k_worker}, .declared = {"shop", "reg.example/team/other"}});
    EXPECT_EQ(result.warnings, (std::vector<std::string>{"image \"reg.example/team/worker\" is used by no manifest",
                                                         "image \"reg.example/team/other\" is used by no manifest"}));
}

TEST(PinImages, DeclaredImageWithoutABuildIsAnErrorNamingObjectAndPath) {
    std::vector<source::Manifest> manifests = {with_template("apps/v1", "Deployment", "shop"),
                                               object("v1", "Pod", pod_spec("reg.example/team/other:v2"), 12)};
    auto result = pin_images(manifests, {.images = {k_shop}, .declared = {"reg.example/team/other"}});
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, util::ErrorCode::input);
    EXPECT_EQ(result.error().subject, "k8s/app.yaml:12");
    EXPECT_EQ(result.error().message,
              "pod/x (v1 Pod) in ns ns spec.containers[0].image: image \"reg.example/team/other:v2\" is declared as "
              "built by minicd, but no build of \"reg.example/team/other\" is in the build artifacts");
}

TEST(ImagePathSyntax, ParsesKindGroupAndSegments) {
    auto path = parse_image_path("Rollout.argoproj.io:spec.template.spec.containers[].image");
    ASSERT_TRUE(path) << path.error().describe();
    EXPECT_EQ(path->kind, "Rollout");
    EXPECT_EQ(path->group, "argoproj.io");
    ASSERT_EQ(path->segments.size(), 5u);
    EXPECT_EQ(path->segments[3].field, "containers");
    EXPECT_TRUE(path->segments[3].each);
    EXPECT_FALSE(path->segments[4].each);

    auto star = parse_image_path("Thing:spec.images.*").value();
    EXPECT_EQ(star.group, "");
    EXPECT_EQ(star.segments.back().field, "");
    EXPECT_TRUE(star.segments.back().each);
}

TEST(ImagePathSyntax, RejectsMalformedPaths) {
    for (const char* bad : {"spec.image", ":spec.image", "Rollout:", "Rollout.:spec.image", "Rollout:spec..image",
                            "Rollout:spec.[].image", "Rollout:spec.containers[0].image", "Rollout:spec.a*"}) {
        auto path = parse_image_path(bad);
        ASSERT_FALSE(path) << bad;
        EXPECT_EQ(path.error().code, util::ErrorCode::input);
        EXPECT_NE(path.error().message.find(bad), std::string::npos) << path.error().message;
    }
}

TEST(DigestPinnedImages, ListsOnlyReferencesThatCarryADigest) {
    std::vector<source::Manifest> manifests = {
        with_template("apps/v1", "Deployment", k_shop_pinned),
        with_template("apps/v1", "StatefulSet", "redis:7"),
        object("batch/v1", "CronJob",
               Json{{"jobTemplate", {{"spec", {{"template", {{"spec", pod_spec("reg.example/team/worker@" + k_worker_digest)}}}}}}}}),
        object("v1", "ConfigMap", Json{{"image", "not/a-workload@" + k_digest}}),
    };
    const auto found = digest_pinned_images(manifests);
    const std::map<std::string, std::string> expected = {
        {"127.0.0.1:5000/apps/shop", k_shop_pinned},
        {"reg.example/team/worker", "reg.example/team/worker@" + k_worker_digest},
    };
    EXPECT_EQ(found, expected);
}

}  // namespace
}  // namespace minicd::render
