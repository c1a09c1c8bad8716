#include "minicd/pipeline/ci.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <optional>

#include "minicd/kube/kubeconfig_test_support.hpp"
#include "minicd/registry/credentials.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/text.hpp"
#include "support/local_http_server.hpp"
#include "support/scripts.hpp"
#include "support/temp_dir.hpp"

namespace minicd::pipeline {
namespace {

using deploy::DriftClass;
using minicd::testing::LocalHttpServer;

model::ObjectId object(std::string kind, std::string name) {
    return {.group = "", .version = "v1", .kind = std::move(kind), .namespace_ = "shop", .name = std::move(name)};
}

TEST(CiDrift, SummaryNamesTheDriftedObjectsOnly) {
    deploy::DriftReport report;
    EXPECT_EQ(drift_summary(report), "no drift");
    report.live.push_back({.id = object("Deployment", "web"), .drift = DriftClass::scaled, .fields = {}});
    EXPECT_EQ(drift_summary(report), "no drift") << "scaled replicas are information";
    report.live.push_back({.id = object("ConfigMap", "settings"), .drift = DriftClass::modified, .fields = {}});
    EXPECT_EQ(drift_summary(report), "1 object drifted (cm/settings modified)");
    report.live.push_back({.id = object("Service", "web"), .drift = DriftClass::deleted, .fields = {}});
    EXPECT_EQ(drift_summary(report), "2 objects drifted (cm/settings modified, svc/web deleted)");
}

TEST(CiDrift, SummaryNamesFiveObjectsAtMost) {
    deploy::DriftReport report;
    for (int i = 1; i <= 7; ++i) {
        report.live.push_back(
            {.id = object("ConfigMap", "c" + std::to_string(i)), .drift = DriftClass::taken_over, .fields = {}});
    }
    EXPECT_EQ(drift_summary(report),
              "7 objects drifted (cm/c1 taken-over, cm/c2 taken-over, cm/c3 taken-over, cm/c4 taken-over, cm/c5 "
              "taken-over and 2 more)");
}

TEST(CiDrift, OnlyDriftLeftAsItIsCountsForTheExitCode) {
    CiReport report;
    deploy::DriftReport clean;
    deploy::DriftReport drifted;
    drifted.live.push_back({.id = object("ConfigMap", "settings"), .drift = DriftClass::modified, .fields = {}});
    report.drift.push_back({.environment = "staging", .target = {}, .report = clean, .fixed = std::nullopt});
    EXPECT_EQ(report.drifted_environments(), 0);
    report.drift.push_back({.environment = "production", .target = {}, .report = drifted, .fixed = std::nullopt});
    EXPECT_EQ(report.drifted_environments(), 1);
    report.drift.back().fixed = deploy::DeployResult{};
    EXPECT_EQ(report.drifted_environments(), 0) << "put back";
    report.drift.back().fixed->outcome = deploy::Outcome::failed;
    EXPECT_EQ(report.drifted_environments(), 1) << "putting it back failed";
}

TEST(CiDrift, ReleaseImagesBecomePinsOfTheirDigests) {
    const std::string digest = "sha256:" + std::string(64, 'a');
    auto pins = release_pins({{"shop", "ghcr.io/acme/shop:1a2b3c4@" + digest}});
    ASSERT_TRUE(pins) << pins.error().describe();
    ASSERT_EQ(pins->size(), 1u);
    EXPECT_EQ((*pins)[0].image_name, "shop");
    EXPECT_EQ((*pins)[0].reference, "ghcr.io/acme/shop:1a2b3c4");
    EXPECT_EQ((*pins)[0].digest, digest);
    EXPECT_FALSE(release_pins({{"shop", "not a reference"}}));
}

using kube::test_support::ScopedEnv;

// A stand-in for buildah found in PATH: it keeps a copy of the auth file it is given and writes
// BUILDAH_FAKE_DIGEST as the digest of what it "pushed". Its settings are named BUILDAH_* because a
// builder inherits only its own family of variables.
constexpr const char* k_recording_buildah = R"(
echo "$@" >> "$BUILDAH_FAKE_LOG"
while [ $# -gt 0 ]; do
  if [ "$1" = "--digestfile" ]; then printf '%s\n' "$BUILDAH_FAKE_DIGEST" > "$2"; fi
  if [ "$1" = "--authfile" ]; then cp "$2" "$BUILDAH_FAKE_LOG.auth"; fi
  shift
done
)";

TEST(CiBuild, PushesWithTheRegistryCredentialsMinicdFinds) {
    const std::string digest = "sha256:" + std::string(64, 'e');
    LocalHttpServer registry([&](const LocalHttpServer::Request& request) -> LocalHttpServer::Reply {
        if (request.target == "/v2/") return {.status = 200};
        return {.status = 200,
                .headers = {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"},
                            {"Docker-Content-Digest", digest}}};
    });
    const std::string host = registry.url("").substr(std::string("http://").size());
    testing::TempDir dir;
    testing::write_script(dir.path("bin"), "buildah", k_recording_buildah);
    const char* path = ::getenv("PATH");
    ScopedEnv search("PATH", dir.path("bin") + ":" + (path ? path : "/usr/bin:/bin"));
    ScopedEnv log("BUILDAH_FAKE_LOG", dir.path("calls.log"));
    ScopedEnv reported("BUILDAH_FAKE_DIGEST", digest);
    auto prefix = registry::environment_prefix(host);
    ASSERT_TRUE(prefix);
    ScopedEnv user(*prefix + "_USERNAME", "ci-robot");
    ScopedEnv password(*prefix + "_PASSWORD", "ci-robot-pw");
    ScopedEnv no_docker_config("DOCKER_CONFIG", dir.path("no-docker-config"));

    config::Config config;
    config.app = "shop";
    config.registry = host + "/apps";
    config.images = {{.name = "shop"}};
    config.build.builder = "buildah";
    Plan plan;
    plan.steps = {{.kind = StepKind::build, .environment = "", .description = "build"}};
    auto report =
        run_ci(config, plan, {.sha = std::string(40, 'a'), .image_tag = "aaaaaaa"}, {.config_dir = dir.path()});
    ASSERT_TRUE(report.succeeded()) << report.error->describe();

    auto auth = util::read_file(dir.path("calls.log.auth"));
    ASSERT_TRUE(auth) << "the builder got no auth file: " << util::read_file(dir.path("calls.log")).value_or("");
    EXPECT_NE(auth->find(host), std::string::npos) << *auth;
    EXPECT_NE(auth->find(util::base64_encode("ci-robot:ci-robot-pw")), std::string::npos) << *auth;
}

}  // namespace
}  // namespace minicd::pipeline
