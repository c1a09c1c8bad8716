#include "minicd/build/detect.hpp"

#include <gtest/gtest.h>

#include "support/git_repo.hpp"
#include "support/scripts.hpp"

namespace minicd::build {
namespace {

using testing::write_script;

// Scripts named like the builders; "docker" answers `docker version` only when told it has a daemon.
class DetectBuilder : public ::testing::Test {
protected:
    std::string bin() const { return m_dir.path("bin"); }
    void add(const std::string& name) { write_script(bin(), name, "exit 0"); }
    void add_docker(bool daemon) {
        write_script(bin(), "docker",
                     daemon ? "echo 24.0.7"
                            : "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2; exit 1");
    }
    DetectOptions options() const { return {.search_path = "/nonexistent:" + bin(), .kaniko_executor = m_dir.path("kaniko")}; }

    testing::TempDir m_dir;
};

TEST_F(DetectBuilder, PrefersBuildah) {
    add("podman");
    add_docker(true);
    add("buildah");
    auto found = find_builder(std::nullopt, options());
    ASSERT_TRUE(found) << found.error().describe();
    EXPECT_EQ(found->kind, BuilderKind::buildah);
    EXPECT_EQ(found->program, bin() + "/buildah");
}

TEST_F(DetectBuilder, DockerWithADaemonComesBeforePodman) {
    add("podman");
    add_docker(true);
    auto found = find_builder(std::nullopt, options());
    ASSERT_TRUE(found) << found.error().describe();
    EXPECT_EQ(found->kind, BuilderKind::docker);
}

TEST_F(DetectBuilder, DockerWithoutADaemonIsPassedOver) {
    add("podman");
    add_docker(false);
    auto found = find_builder(std::nullopt, options());
    ASSERT_TRUE(found) << found.error().describe();
    EXPECT_EQ(found->kind, BuilderKind::podman);
}

TEST_F(DetectBuilder, KanikoIsFoundAtItsFixedPath) {
    write_script(m_dir.path(), "kaniko", "exit 0");
    auto found = find_builder(std::nullopt, options());
    ASSERT_TRUE(found) << found.error().describe();
    EXPECT_EQ(found->kind, BuilderKind::kaniko);
    EXPECT_EQ(found->program, m_dir.path("kaniko"));
}

TEST_F(DetectBuilder, FilesThatAreNotExecutableDoNotCount) {
    testing::write_file(bin() + "/buildah", "not a program");
    add("podman");
    EXPECT_EQ(find_builder(std::nullopt, options()).value().kind, BuilderKind::podman);
}

TEST_F(DetectBuilder, NothingFoundSaysWhereItLooked) {
    add_docker(false);
    auto found = find_builder(std::nullopt, options());
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().code, util::ErrorCode::input);
    EXPECT_NE(found.error().message.find("no image builder found"), std::string::npos);
    EXPECT_NE(found.error().message.find(m_dir.path("kaniko")), std::string::npos);
}

TEST_F(DetectBuilder, AChosenBuilderMustBeInstalled) {
    add("buildah");
    auto found = find_builder(BuilderKind::podman, options());
    ASSERT_FALSE(found);
    EXPECT_EQ(found.error().message, "podman: not found in PATH");
    EXPECT_EQ(find_builder(BuilderKind::buildah, options()).value().program, bin() + "/buildah");
}

TEST_F(DetectBuilder, ByConfiguredNameEmptyMeansDetect) {
    add("podman");
    EXPECT_EQ(find_builder("", options()).value().kind, BuilderKind::podman);
    EXPECT_EQ(find_builder("podman", options()).value().kind, BuilderKind::podman);
    auto unknown = find_builder("img", options());
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, util::ErrorCode::input);
}

TEST_F(DetectBuilder, ChosenDockerWithoutADaemonIsAnErrorWithItsReason) {
    add_docker(false);
    auto found = find_builder(BuilderKind::docker, options());
    ASSERT_FALSE(found);
    EXPECT_NE(found.error().message.find("the docker daemon does not answer"), std::string::npos);
    EXPECT_NE(found.error().message.find("Cannot connect to the Docker daemon"), std::string::npos) << found.error().message;
}

}  // namespace
}  // namespace minicd::build
