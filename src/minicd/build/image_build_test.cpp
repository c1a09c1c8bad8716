#include "minicd/build/image_build.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "support/git_repo.hpp"
#include "support/scripts.hpp"

namespace minicd::build {
namespace {

const std::string k_digest = "sha256:" + std::string(64, 'd');
const std::string k_other_digest = "sha256:" + std::string(64, 'f');

// A fake buildah: a real one cannot be made to report a digest other than the one it pushed, or to
// fail on demand with a given status. It logs its arguments, writes FAKE_DIGEST to the digest file
// on push, and fails the build with FAKE_FAIL_STATUS when that is set.
constexpr const char* k_fake_buildah = R"(
echo "$@" >> "$FAKE_LOG"
case " $* " in
  *" bud "*)
    if [ -n "$FAKE_FAIL_STATUS" ]; then
      for i in 1 2 3 4 5 6 7; do echo "step $i went wrong" >&2; done
      exit "$FAKE_FAIL_STATUS"
    fi
    echo "STEP 1/1: FROM scratch";;
  *" push "*)
    while [ $# -gt 0 ]; do
      if [ "$1" = "--digestfile" ]; then printf '%s\n' "$FAKE_DIGEST" > "$2"; fi
      if [ "$1" = "--authfile" ]; then stat -c 'authfile mode %a' "$2" >> "$FAKE_LOG"; cp "$2" "$FAKE_LOG.auth"; fi
      shift
    done;;
esac
)";

class BuildImage : public ::testing::Test {
protected:
    BuildImage() { m_program = testing::write_script(m_dir.path(), "fake-buildah", k_fake_buildah); }

    BuilderConfig config(std::map<std::string, std::string> env = {}) {
        env["FAKE_LOG"] = m_dir.path("calls.log");
        if (env.count("FAKE_DIGEST") == 0) env["FAKE_DIGEST"] = k_digest;
        return {.kind = BuilderKind::buildah, .program = m_program, .env = env};
    }
    BuildRequest request() const {
        return {.image_name = "shop", .repository = "127.0.0.1:5000/apps/shop", .tag = "abc1234",
                .context_dir = m_dir.path()};
    }
    DigestResolver registry(std::string digest) {
        return [this, digest](const model::ImageRef& ref) -> Result<std::string> {
            m_resolved.push_back(ref.str());
            return digest;
        };
    }

    testing::TempDir m_dir;
    std::string m_program;
    std::vector<std::string> m_resolved;
};

TEST_F(BuildImage, PushesAndTakesTheDigestFromTheRegistry) {
    auto req = request();
    req.extra_tags = {"latest"};
    auto artifact = build_image(config(), req, registry(k_digest));
    ASSERT_TRUE(artifact) << artifact.error().describe();
    EXPECT_EQ(artifact->image_name, "shop");
    EXPECT_EQ(artifact->reference, "127.0.0.1:5000/apps/shop:abc1234");
    EXPECT_EQ(artifact->digest, k_digest);
    EXPECT_EQ(m_resolved, (std::vector<std::string>{"127.0.0.1:5000/apps/shop:abc1234", "127.0.0.1:5000/apps/shop:latest"}));
    auto log = util::read_file(m_dir.path("calls.log")).value();
    EXPECT_NE(log.find("bud -f " + m_dir.path() + "/Dockerfile -t 127.0.0.1:5000/apps/shop:abc1234"), std::string::npos) << log;
    EXPECT_NE(log.find("push --digestfile"), std::string::npos) << log;
}

TEST_F(BuildImage, ADigestTheBuilderReportsDifferentlyFromTheRegistryIsAnError) {
    auto artifact = build_image(config({{"FAKE_DIGEST", k_other_digest}}), request(), registry(k_digest));
    ASSERT_FALSE(artifact);
    EXPECT_EQ(artifact.error().subject, "127.0.0.1:5000/apps/shop:abc1234");
    EXPECT_EQ(artifact.error().message,
              fmt::format("the registry serves {} but buildah reported pushing {}", k_digest, k_other_digest));
}

TEST_F(BuildImage, ABuilderThatReportsNoDigestIsFine) {
    auto artifact = build_image(config({{"FAKE_DIGEST", ""}}), request(), registry(k_digest));
    ASSERT_TRUE(artifact) << artifact.error().describe();
    EXPECT_EQ(artifact->digest, k_digest);
}

TEST_F(BuildImage, BuilderFailureNamesTheStepTheStatusAndTheEndOfStderr) {
    auto artifact = build_image(config({{"FAKE_FAIL_STATUS", "3"}}), request(), registry(k_digest));
    ASSERT_FALSE(artifact);
    const auto& error = artifact.error();
    EXPECT_EQ(error.code, util::ErrorCode::subprocess);
    EXPECT_EQ(error.subject, m_program);
    EXPECT_EQ(error.message.rfind("build 127.0.0.1:5000/apps/shop:abc1234: exited with status 3: ", 0), 0u) << error.message;
    EXPECT_NE(error.message.find("step 7 went wrong"), std::string::npos);
    EXPECT_EQ(error.message.find("step 1 went wrong"), std::string::npos) << "only the tail";
    EXPECT_TRUE(m_resolved.empty());
}

TEST_F(BuildImage, RegistryErrorsSayWhatWasBeingReadBack) {
    DigestResolver broken = [](const model::ImageRef& ref) -> Result<std::string> {
        return fail(util::ErrorCode::http, "HTTP 404 MANIFEST_UNKNOWN", ref.str());
    };
    auto artifact = build_image(config(), request(), broken);
    ASSERT_FALSE(artifact);
    EXPECT_EQ(artifact.error().message,
              "reading back the digest of 127.0.0.1:5000/apps/shop:abc1234: HTTP 404 MANIFEST_UNKNOWN");
}

TEST_F(BuildImage, CredentialsReachTheBuilderInAPrivateFileThatIsRemovedAfterwards) {
    auto cfg = config();
    cfg.credentials = registry::Credentials{.username = "ci", .password = registry::Secret("pw"), .source = "test"};
    auto artifact = build_image(cfg, request(), registry(k_digest));
    ASSERT_TRUE(artifact) << artifact.error().describe();
    auto log = util::read_file(m_dir.path("calls.log")).value();
    EXPECT_NE(log.find("authfile mode 600"), std::string::npos) << log;
    EXPECT_EQ(log.find("pw"), std::string::npos) << "not on the command line";
    EXPECT_EQ(util::read_file(m_dir.path("calls.log.auth")).value(), R"({"auths":{"127.0.0.1:5000":{"auth":"Y2k6cHc="}}})");
    auto authfile = log.substr(log.find("--authfile ") + 11);
    authfile = authfile.substr(0, authfile.find(' '));
    EXPECT_FALSE(std::filesystem::exists(authfile)) << authfile;
}

TEST_F(BuildImage, WithoutPushNothingIsAskedOfTheRegistry) {
    auto req = request();
    req.push = false;
    auto artifact = build_image(config(), req, registry(k_digest));
    ASSERT_TRUE(artifact) << artifact.error().describe();
    EXPECT_EQ(artifact->digest, "");
    EXPECT_TRUE(m_resolved.empty());
}

TEST(PushCredentials, AreWhatMinicdFindsForTheRegistryPushedTo) {
    const std::map<std::string, std::string> variables = {
        {"MINICD_REGISTRY_REG_EXAMPLE_COM_5000_USERNAME", "robot"},
        {"MINICD_REGISTRY_REG_EXAMPLE_COM_5000_PASSWORD", "robot-pw"}};
    registry::CredentialOptions options{.docker_config_dir = "/nonexistent", .environment = variables};
    BuildRequest request{.image_name = "shop", .repository = "reg.example.com:5000/apps/shop", .tag = "abc1234",
                         .context_dir = "."};
    auto found = push_credentials(request, "", options);
    ASSERT_TRUE(found) << found.error().describe();
    ASSERT_TRUE(*found);
    EXPECT_EQ((*found)->username, "robot");

    auto with_auth_file = push_credentials(request, "/run/auth.json", options);
    ASSERT_TRUE(with_auth_file);
    EXPECT_FALSE(*with_auth_file) << "the builder reads the auth file given";
    request.push = false;
    auto without_push = push_credentials(request, "", options);
    ASSERT_TRUE(without_push);
    EXPECT_FALSE(*without_push);
    request.push = true;
    request.repository = "other.example.com/apps/shop";
    auto elsewhere = push_credentials(request, "", options);
    ASSERT_TRUE(elsewhere);
    EXPECT_FALSE(*elsewhere) << "credentials go to their own registry only";
}

}  // namespace
}  // namespace minicd::build
