#include "minicd/build/tag_policy.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "support/git_repo.hpp"

namespace minicd::build {
namespace {

class CommitTag : public ::testing::Test {
protected:
    CommitTag() : m_repo(m_dir.path("work")) {
        m_repo.write("app.txt", "v1");
        m_sha = m_repo.commit("first");
    }
    source::Repository open() { return source::Repository::open(m_repo.path()).value(); }

    testing::TempDir m_dir;
    testing::GitRepo m_repo;
    std::string m_sha;
};

TEST_F(CommitTag, CleanTreeIsTheShortSha) {
    auto repository = open();
    EXPECT_EQ(commit_tag(repository, {.in_ci = true}).value(), m_sha.substr(0, 7));
    EXPECT_EQ(commit_tag(repository, {.length = 10}).value(), m_sha.substr(0, 10));
}

TEST_F(CommitTag, DirtyTreeOutsideCiGetsASuffix) {
    m_repo.write("app.txt", "v2, not committed");
    auto repository = open();
    EXPECT_EQ(commit_tag(repository, {}).value(), m_sha.substr(0, 7) + "-dirty");
}

TEST_F(CommitTag, DirtyTreeIsRefusedWhenPushingFromCi) {
    m_repo.write("app.txt", "v2, not committed");
    m_repo.write("stray.txt", "untracked");
    auto repository = open();
    auto tag = commit_tag(repository, {.in_ci = true});
    ASSERT_FALSE(tag);
    EXPECT_EQ(tag.error().code, util::ErrorCode::input);
    EXPECT_EQ(tag.error().subject, repository.path());
    EXPECT_NE(tag.error().message.find("1 modified, 1 untracked (app.txt, stray.txt)"), std::string::npos)
        << tag.error().message;
    EXPECT_NE(tag.error().message.find("--allow-dirty"), std::string::npos);
}

TEST_F(CommitTag, DirtyTreeInCiIsAllowedWhenAskedOrWhenNotPushing) {
    m_repo.write("app.txt", "v2, not committed");
    auto repository = open();
    EXPECT_EQ(commit_tag(repository, {.in_ci = true, .allow_dirty = true}).value(), m_sha.substr(0, 7) + "-dirty");
    EXPECT_EQ(commit_tag(repository, {.pushing = false, .in_ci = true}).value(), m_sha.substr(0, 7) + "-dirty");
}

TEST_F(CommitTag, SkippedPathsSuchAsTheArtifactFileKeepTheTreeClean) {
    m_repo.write("build.json", "{}");
    auto repository = open();
    EXPECT_EQ(commit_tag(repository, {.in_ci = true, .skip_paths = {"build.json"}}).value(), m_sha.substr(0, 7));
    EXPECT_FALSE(commit_tag(repository, {.in_ci = true}));
}

TEST_F(CommitTag, InvalidLengthIsAnInputError) {
    auto repository = open();
    auto tag = commit_tag(repository, {.length = 2});
    ASSERT_FALSE(tag);
    EXPECT_EQ(tag.error().code, util::ErrorCode::input);
}

TEST(RunningInCi, FollowsTheCiVariable) {
    const char* saved = std::getenv("CI");
    const std::string before = saved != nullptr ? saved : "";
    for (const auto& [value, expected] : std::vector<std::pair<std::string, bool>>{
             {"true", true}, {"1", true}, {"TRUE", true}, {"false", false}, {"", false}}) {
        ::setenv("CI", value.c_str(), 1);
        EXPECT_EQ(running_in_ci(), expected) << value;
    }
    ::unsetenv("CI");
    EXPECT_FALSE(running_in_ci());
    if (saved != nullptr) ::setenv("CI", before.c_str(), 1);
}

}  // namespace
}  // namespace minicd::build
