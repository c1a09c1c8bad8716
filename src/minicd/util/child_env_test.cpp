#include "minicd/util/child_env.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "minicd/kube/kubeconfig_test_support.hpp"
#include "minicd/util/subprocess.hpp"

namespace minicd::util {
namespace {

using kube::test_support::ScopedEnv;

// The names of the variables a child of this kind sees, run for real.
std::set<std::string> seen_by(Inherit inherit, std::vector<std::string> kept = {}) {
    auto result = run_subprocess({.inherit = inherit, .argv = {"env"}, .env_keep = std::move(kept)});
    EXPECT_TRUE(result && result->succeeded());
    std::set<std::string> names;
    if (!result) return names;
    std::istringstream lines(result->out);
    for (std::string line; std::getline(lines, line);) names.insert(line.substr(0, line.find('=')));
    return names;
}

TEST(ChildEnv, EveryKindSeesTheCommonVariablesAndNoRegistryPassword) {
    ScopedEnv password("MINICD_REGISTRY_REG_EXAMPLE_COM_PASSWORD", "canary-password");
    ScopedEnv lang("LANG", "C.UTF-8");
    for (Inherit inherit : {Inherit::common, Inherit::git, Inherit::renderer, Inherit::builder, Inherit::platform}) {
        const auto names = seen_by(inherit);
        EXPECT_TRUE(names.contains("PATH"));
        EXPECT_TRUE(names.contains("LANG"));
        EXPECT_FALSE(names.contains("MINICD_REGISTRY_REG_EXAMPLE_COM_PASSWORD"));
    }
}

TEST(ChildEnv, EachKindGetsItsOwnFamilyOnly) {
    ScopedEnv git("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    ScopedEnv buildah("BUILDAH_ISOLATION", "chroot");
    ScopedEnv helm("HELM_CACHE_HOME", "/tmp/helm");
    ScopedEnv cloud("AWS_PROFILE", "deploy");

    const auto of_git = seen_by(Inherit::git);
    EXPECT_TRUE(of_git.contains("GIT_SSH_COMMAND"));
    EXPECT_FALSE(of_git.contains("BUILDAH_ISOLATION"));
    EXPECT_FALSE(of_git.contains("AWS_PROFILE"));

    const auto of_renderer = seen_by(Inherit::renderer);
    EXPECT_TRUE(of_renderer.contains("GIT_SSH_COMMAND"));
    EXPECT_TRUE(of_renderer.contains("HELM_CACHE_HOME"));
    EXPECT_FALSE(of_renderer.contains("BUILDAH_ISOLATION"));

    const auto of_builder = seen_by(Inherit::builder);
    EXPECT_TRUE(of_builder.contains("BUILDAH_ISOLATION"));
    EXPECT_FALSE(of_builder.contains("GIT_SSH_COMMAND"));
    EXPECT_FALSE(of_builder.contains("AWS_PROFILE"));

    // Exec plugins and credential helpers sign in with the platform's variables.
    EXPECT_TRUE(seen_by(Inherit::platform).contains("AWS_PROFILE"));
    EXPECT_FALSE(seen_by(Inherit::common).contains("GIT_SSH_COMMAND"));
}

TEST(ChildEnv, JobTokensReachAChildOnlyWhenKeptByName) {
    ScopedEnv token("GITHUB_TOKEN", "canary-job-token");
    EXPECT_FALSE(seen_by(Inherit::platform).contains("GITHUB_TOKEN"));
    EXPECT_FALSE(seen_by(Inherit::builder).contains("GITHUB_TOKEN"));
    // `--build-arg GITHUB_TOKEN` asks for it by name.
    EXPECT_TRUE(seen_by(Inherit::builder, {"GITHUB_TOKEN"}).contains("GITHUB_TOKEN"));
}

TEST(ChildEnv, WithheldNamesReachNoChildEvenWhenKept) {
    ScopedEnv own("MINICD_CHILD_ENV_TEST_PASSWORD", "canary-own");
    ScopedEnv named("CHILD_ENV_TEST_PROMETHEUS_TOKEN", "canary-prometheus-token");
    EXPECT_TRUE(seen_by(Inherit::platform).contains("CHILD_ENV_TEST_PROMETHEUS_TOKEN"));
    withhold_from_children("CHILD_ENV_TEST_PROMETHEUS_TOKEN");
    EXPECT_TRUE(withheld_from_children("CHILD_ENV_TEST_PROMETHEUS_TOKEN"));
    EXPECT_FALSE(seen_by(Inherit::platform).contains("CHILD_ENV_TEST_PROMETHEUS_TOKEN"));
    EXPECT_FALSE(seen_by(Inherit::builder, {"CHILD_ENV_TEST_PROMETHEUS_TOKEN"}).contains("CHILD_ENV_TEST_PROMETHEUS_TOKEN"));
    EXPECT_FALSE(seen_by(Inherit::builder, {"MINICD_CHILD_ENV_TEST_PASSWORD"}).contains("MINICD_CHILD_ENV_TEST_PASSWORD"));
}

TEST(ChildEnv, SetVariablesWinOverInheritedOnesAndEverythingIsForMinicdItself) {
    ScopedEnv secret("MINICD_TEST_CHILD_ENV", "inherited");
    auto result = run_subprocess({.inherit = Inherit::common,
                                  .argv = {"sh", "-c", "echo \"[$DOCKER_CONFIG][$MINICD_TEST_CHILD_ENV]\""},
                                  .env = {{"DOCKER_CONFIG", "/tmp/auth"}}});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->out, "[/tmp/auth][]\n");
    EXPECT_TRUE(seen_by(Inherit::everything).contains("MINICD_TEST_CHILD_ENV"));
}

}  // namespace
}  // namespace minicd::util
