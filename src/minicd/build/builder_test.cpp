#include "minicd/build/builder.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace minicd::build {
namespace {

using Argv = std::vector<std::string>;

BuildRequest shop_request() {
    return BuildRequest{.image_name = "shop",
                        .repository = "127.0.0.1:5000/apps/shop",
                        .tag = "abc1234",
                        .extra_tags = {"latest"},
                        .context_dir = "/src/shop",
                        .build_args = {"VERSION=1.2", "NPM_TOKEN"},
                        .target = "runtime"};
}

BuildPlan plan(const BuilderConfig& config, const BuildRequest& request = shop_request()) {
    auto planned = plan_build(config, request, "/scratch");
    EXPECT_TRUE(planned) << planned.error().describe();
    return planned.value_or(BuildPlan{});
}

TEST(BuilderKind, ParsesEveryNameAndRejectsOthers) {
    for (auto kind : {BuilderKind::buildah, BuilderKind::docker, BuilderKind::podman, BuilderKind::kaniko}) {
        EXPECT_EQ(parse_builder_kind(to_string(kind)).value(), kind);
    }
    auto unknown = parse_builder_kind("img");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, util::ErrorCode::input);
    EXPECT_NE(unknown.error().message.find("buildah, docker, podman or kaniko"), std::string::npos);
}

TEST(BuildPlan, ReferencesAreTheTagThenExtraTagsWithoutRepeats) {
    auto request = shop_request();
    request.extra_tags = {"latest", "abc1234", "latest"};
    EXPECT_EQ(image_references(request),
              (Argv{"127.0.0.1:5000/apps/shop:abc1234", "127.0.0.1:5000/apps/shop:latest"}));
}

TEST(BuildPlan, BuildahBuildsOnceThenPushesEachReferenceWithADigestFile) {
    BuilderConfig config{.kind = BuilderKind::buildah,
                         .global_args = {"--root", "/var/r", "--storage-driver", "vfs"},
                         .env = {{"BUILDAH_ISOLATION", "chroot"}},
                         .insecure_registries = {"127.0.0.1:5000"},
                         .auth_file = "/run/auth.json",
                         .cert_dir = "/etc/certs"};
    auto built = plan(config);
    ASSERT_EQ(built.invocations.size(), 3u);
    EXPECT_FALSE(built.docker_config_link);

    const auto& build = built.invocations[0];
    EXPECT_EQ(build.spec.argv,
              (Argv{"buildah", "--root", "/var/r", "--storage-driver", "vfs", "bud", "-f", "/src/shop/Dockerfile", "-t",
                    "127.0.0.1:5000/apps/shop:abc1234", "-t", "127.0.0.1:5000/apps/shop:latest", "--build-arg",
                    "VERSION=1.2", "--build-arg", "NPM_TOKEN", "--target", "runtime", "--authfile", "/run/auth.json",
                    "--cert-dir", "/etc/certs", "/src/shop"}));
    EXPECT_TRUE(build.pushes.empty());
    EXPECT_EQ(build.spec.env.at("BUILDAH_ISOLATION"), "chroot");
    EXPECT_EQ(build.spec.timeout, std::chrono::minutes(30));

    const auto& push = built.invocations[1];
    EXPECT_EQ(push.spec.argv,
              (Argv{"buildah", "--root", "/var/r", "--storage-driver", "vfs", "push", "--tls-verify=false", "--authfile",
                    "/run/auth.json", "--cert-dir", "/etc/certs", "--digestfile", "/scratch/digest-0",
                    "127.0.0.1:5000/apps/shop:abc1234", "docker://127.0.0.1:5000/apps/shop:abc1234"}));
    EXPECT_EQ(push.pushes, Argv{"127.0.0.1:5000/apps/shop:abc1234"});
    EXPECT_EQ(push.digest_file, "/scratch/digest-0");
    EXPECT_EQ(built.invocations[2].pushes, Argv{"127.0.0.1:5000/apps/shop:latest"});
    EXPECT_EQ(built.invocations[2].digest_file, "/scratch/digest-1");
}

TEST(BuildPlan, TlsIsVerifiedForRegistriesNotListedInsecure) {
    auto built = plan({.kind = BuilderKind::buildah, .insecure_registries = {"127.0.0.1:5001"}});
    ASSERT_EQ(built.invocations.size(), 3u);
    const auto& argv = built.invocations[1].spec.argv;
    EXPECT_EQ(std::find(argv.begin(), argv.end(), "--tls-verify=false"), argv.end());
}

TEST(BuildPlan, NoPushMeansOnlyTheBuild) {
    auto request = shop_request();
    request.push = false;
    for (auto kind : {BuilderKind::buildah, BuilderKind::podman, BuilderKind::docker}) {
        auto built = plan({.kind = kind}, request);
        ASSERT_EQ(built.invocations.size(), 1u) << to_string(kind);
        EXPECT_TRUE(built.invocations[0].pushes.empty());
    }
    auto kaniko = plan({.kind = BuilderKind::kaniko}, request);
    ASSERT_EQ(kaniko.invocations.size(), 1u);
    EXPECT_EQ(kaniko.invocations[0].spec.argv.back(), "--no-push");
    EXPECT_TRUE(kaniko.invocations[0].pushes.empty());
}

TEST(BuildPlan, PodmanUsesBuildAndPushLikeBuildah) {
    auto request = shop_request();
    request.extra_tags.clear();
    request.build_args.clear();
    request.target.clear();
    request.dockerfile = "/src/shop/build/Containerfile";
    auto built = plan({.kind = BuilderKind::podman, .program = "/opt/bin/podman", .insecure_registries = {"127.0.0.1:5000"}},
                      request);
    ASSERT_EQ(built.invocations.size(), 2u);
    EXPECT_EQ(built.invocations[0].spec.argv,
              (Argv{"/opt/bin/podman", "build", "-f", "/src/shop/build/Containerfile", "-t",
                    "127.0.0.1:5000/apps/shop:abc1234", "/src/shop"}));
    EXPECT_EQ(built.invocations[1].spec.argv,
              (Argv{"/opt/bin/podman", "push", "--tls-verify=false", "--digestfile", "/scratch/digest-0",
                    "127.0.0.1:5000/apps/shop:abc1234", "docker://127.0.0.1:5000/apps/shop:abc1234"}));
}

TEST(BuildPlan, DockerPushesEachTagAndReadsCredentialsFromDockerConfig) {
    auto built = plan({.kind = BuilderKind::docker, .auth_file = "/home/ci/.docker/config.json"});
    ASSERT_EQ(built.invocations.size(), 3u);
    EXPECT_EQ(built.invocations[0].spec.argv,
              (Argv{"docker", "build", "-f", "/src/shop/Dockerfile", "-t", "127.0.0.1:5000/apps/shop:abc1234", "-t",
                    "127.0.0.1:5000/apps/shop:latest", "--build-arg", "VERSION=1.2", "--build-arg", "NPM_TOKEN",
                    "--target", "runtime", "/src/shop"}));
    EXPECT_EQ(built.invocations[1].spec.argv, (Argv{"docker", "push", "127.0.0.1:5000/apps/shop:abc1234"}));
    EXPECT_EQ(built.invocations[2].spec.argv, (Argv{"docker", "push", "127.0.0.1:5000/apps/shop:latest"}));
    for (const auto& invocation : built.invocations) {
        EXPECT_EQ(invocation.spec.env.at("DOCKER_CONFIG"), "/home/ci/.docker");
        EXPECT_EQ(invocation.digest_file, "") << "docker prints the digest";
    }
    EXPECT_FALSE(built.docker_config_link);
}

TEST(BuildPlan, AnAuthFileWithAnotherNameIsLinkedAsConfigJson) {
    auto built = plan({.kind = BuilderKind::kaniko, .auth_file = "/run/secrets/registry-auth"});
    ASSERT_TRUE(built.docker_config_link);
    EXPECT_EQ(built.docker_config_link->first, "/scratch/docker-config/config.json");
    EXPECT_EQ(built.docker_config_link->second, "/run/secrets/registry-auth");
    EXPECT_EQ(built.invocations[0].spec.env.at("DOCKER_CONFIG"), "/scratch/docker-config");
}

TEST(BuildPlan, KanikoBuildsAndPushesEveryDestinationInOneCall) {
    auto built = plan({.kind = BuilderKind::kaniko, .insecure_registries = {"127.0.0.1:5000"}});
    ASSERT_EQ(built.invocations.size(), 1u);
    const auto& call = built.invocations[0];
    EXPECT_EQ(call.spec.argv,
              (Argv{"/kaniko/executor", "--context", "/src/shop", "--dockerfile", "/src/shop/Dockerfile", "--destination",
                    "127.0.0.1:5000/apps/shop:abc1234", "--destination", "127.0.0.1:5000/apps/shop:latest",
                    "--build-arg", "VERSION=1.2", "--build-arg", "NPM_TOKEN", "--target", "runtime", "--digest-file",
                    "/scratch/digest", "--insecure-registry", "127.0.0.1:5000"}));
    EXPECT_EQ(call.pushes, (Argv{"127.0.0.1:5000/apps/shop:abc1234", "127.0.0.1:5000/apps/shop:latest"}));
    EXPECT_EQ(call.digest_file, "/scratch/digest");
}

TEST(BuildPlan, NoCredentialEverAppearsOnTheCommandLine) {
    for (auto kind : {BuilderKind::buildah, BuilderKind::docker, BuilderKind::podman, BuilderKind::kaniko}) {
        auto built = plan({.kind = kind, .auth_file = "/run/auth.json"});
        for (const auto& invocation : built.invocations) {
            for (const auto& arg : invocation.spec.argv) {
                EXPECT_EQ(arg.find("--creds"), std::string::npos) << to_string(kind);
                EXPECT_EQ(arg.find("--password"), std::string::npos) << to_string(kind);
            }
        }
    }
}

TEST(BuildPlan, FoundCredentialsGoToAPrivateAuthFileNeverTheCommandLine) {
    registry::Credentials credentials{.username = "ci", .password = registry::Secret("s3cret-value"), .source = "env"};
    for (auto kind : {BuilderKind::buildah, BuilderKind::docker, BuilderKind::podman, BuilderKind::kaniko}) {
        auto built = plan({.kind = kind, .credentials = credentials});
        EXPECT_EQ(built.auth_file_to_write, "/scratch/docker-config/config.json") << to_string(kind);
        EXPECT_FALSE(built.docker_config_link) << "already named config.json";
        for (const auto& invocation : built.invocations) {
            for (const auto& arg : invocation.spec.argv) EXPECT_EQ(arg.find("s3cret"), std::string::npos);
            for (const auto& [name, value] : invocation.spec.env) EXPECT_EQ(value.find("s3cret"), std::string::npos);
        }
    }
    auto buildah = plan({.kind = BuilderKind::buildah, .credentials = credentials});
    const auto& push = buildah.invocations[1].spec.argv;
    auto authfile = std::find(push.begin(), push.end(), "--authfile");
    ASSERT_NE(authfile, push.end());
    EXPECT_EQ(*std::next(authfile), "/scratch/docker-config/config.json");
    EXPECT_EQ(plan({.kind = BuilderKind::docker, .credentials = credentials}).invocations[0].spec.env.at("DOCKER_CONFIG"),
              "/scratch/docker-config");

    auto given = plan({.kind = BuilderKind::buildah, .auth_file = "/run/auth.json", .credentials = credentials});
    EXPECT_EQ(given.auth_file_to_write, "") << "an auth file given by the user wins";
}

TEST(AuthFile, HoldsBasicAuthOrAnIdentityTokenForTheRegistry) {
    auto text = auth_file_text("127.0.0.1:5000", {.username = "ci", .password = registry::Secret("pw")});
    EXPECT_EQ(nlohmann::json::parse(text),
              nlohmann::json::parse(R"({"auths": {"127.0.0.1:5000": {"auth": "Y2k6cHc="}}})"));
    auto hub = auth_file_text("docker.io", {.identity_token = registry::Secret("refresh")});
    EXPECT_EQ(nlohmann::json::parse(hub),
              nlohmann::json::parse(R"({"auths": {"https://index.docker.io/v1/": {"identitytoken": "refresh"}}})"));
}

TEST(BuildPlan, RejectsInvalidRequestsNamingTheProblem) {
    struct Case {
        std::function<void(BuildRequest&)> change;
        std::string message;
    };
    const std::vector<Case> cases = {
        {[](BuildRequest& r) { r.repository = "127.0.0.1:5000/apps/shop:v1"; }, "must not carry a tag or digest"},
        {[](BuildRequest& r) { r.repository = "127.0.0.1:5000/Apps/shop"; }, "lowercase"},
        {[](BuildRequest& r) { r.tag = ""; }, "\"\" is not a valid tag"},
        {[](BuildRequest& r) { r.tag = "-bad"; }, "\"-bad\" is not a valid tag"},
        {[](BuildRequest& r) { r.extra_tags = {"a b"}; }, "\"a b\" is not a valid tag"},
        {[](BuildRequest& r) { r.build_args = {"=value"}; }, "must be KEY=VALUE or KEY"},
        {[](BuildRequest& r) { r.context_dir = ""; }, "context directory is required"},
    };
    for (const auto& bad : cases) {
        auto request = shop_request();
        bad.change(request);
        auto planned = plan_build({}, request, "/scratch");
        ASSERT_FALSE(planned) << bad.message;
        EXPECT_EQ(planned.error().code, util::ErrorCode::input);
        EXPECT_NE(planned.error().message.find(bad.message), std::string::npos) << planned.error().message;
    }
}

TEST(BuildPlan, ContextsAndDockerfilesStartingWithADashArePassedAsPaths) {
    // From minicd.yaml: a context "-x" must not read as an option of the builder.
    auto request = shop_request();
    request.context_dir = "-x";
    for (const std::string dockerfile : {"", "-x/Dockerfile", "-Dockerfile.ci"}) {
        request.dockerfile = dockerfile;
        const std::string expected_file = dockerfile.empty() ? "./-x/Dockerfile" : "./" + dockerfile;
        for (auto kind : {BuilderKind::buildah, BuilderKind::docker, BuilderKind::podman, BuilderKind::kaniko}) {
            const BuildPlan built = plan({.kind = kind}, request);
            const auto& argv = built.invocations.at(0).spec.argv;
            for (const auto& arg : argv) {
                EXPECT_FALSE(arg.starts_with("-x") || arg.starts_with("-D")) << to_string(kind) << ": " << arg;
            }
            EXPECT_NE(std::find(argv.begin(), argv.end(), "./-x"), argv.end()) << to_string(kind);
            EXPECT_NE(std::find(argv.begin(), argv.end(), expected_file), argv.end()) << to_string(kind);
        }
    }
    // Paths that cannot be read as options stay as they were.
    request.context_dir = "/src/-x";
    request.dockerfile = "";
    const BuildPlan buildah = plan({.kind = BuilderKind::buildah}, request);
    const auto& argv = buildah.invocations.at(0).spec.argv;
    EXPECT_EQ(argv.back(), "/src/-x");
    EXPECT_NE(std::find(argv.begin(), argv.end(), "/src/-x/Dockerfile"), argv.end());
}

TEST(DockerPush, DigestIsReadFromTheSummaryLine) {
    const std::string digest = "sha256:" + std::string(64, 'e');
    EXPECT_EQ(digest_from_docker_push("The push refers to repository [127.0.0.1:5000/apps/shop]\n"
                                      "5f70bf18a086: Pushed\n"
                                      "abc1234: digest: " + digest + " size: 528\n"),
              digest);
    EXPECT_EQ(digest_from_docker_push("nothing useful\n"), "");
}

}  // namespace
}  // namespace minicd::build
