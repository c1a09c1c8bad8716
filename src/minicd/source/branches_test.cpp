#include "minicd/source/branches.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <mutex>

#include "minicd/util/encoding.hpp"
#include "support/git_repo.hpp"
#include "support/local_http_server.hpp"

namespace minicd::source {
namespace {

using testing::GitRepo;
using testing::TempDir;

const std::vector<std::string> k_no_branches;

// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
public:
    ScopedEnv(std::string name, const std::string& value) : m_name(std::move(name)) { ::setenv(m_name.c_str(), value.c_str(), 1); }
    ~ScopedEnv() { ::unsetenv(m_name.c_str()); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string m_name;
};

// A bare "remote" with main and two feature branches, and a clone of it.
class BranchListing : public ::testing::Test {
protected:
    void SetUp() override {
        GitRepo work(m_dir.path("work"));
        work.write("README", "hello\n");
        work.commit("first");
        work.run({"branch", "feature/login"});
        work.run({"branch", "fix-42"});
        testing::git(m_dir.path(), {"clone", "--quiet", "--bare", work.path(), m_dir.path("remote.git")});
        testing::git(m_dir.path(), {"clone", "--quiet", m_dir.path("remote.git"), m_dir.path("clone")});
    }

    TempDir m_dir;
};

TEST(ParseLsRemoteHeads, ReadsBranchNamesSorted) {
    auto branches = parse_ls_remote_heads(
        "1111111111111111111111111111111111111111\trefs/heads/main\n"
        "2222222222222222222222222222222222222222\trefs/heads/feature/a b\n"
        "\n"
        "3333333333333333333333333333333333333333\trefs/heads/Feature/A\n");
    ASSERT_TRUE(branches) << branches.error().describe();
    EXPECT_EQ(*branches, (std::vector<std::string>{"Feature/A", "feature/a b", "main"}));
}

TEST(ParseLsRemoteHeads, EmptyOutputIsAnEmptyList) {
    auto branches = parse_ls_remote_heads("\n");
    ASSERT_TRUE(branches);
    EXPECT_EQ(*branches, k_no_branches);
}

TEST(ParseLsRemoteHeads, RefusesLinesThatAreNotBranches) {
    EXPECT_FALSE(parse_ls_remote_heads("1111\trefs/tags/v1\n"));
    EXPECT_FALSE(parse_ls_remote_heads("warning: something\n"));
    EXPECT_FALSE(parse_ls_remote_heads("1111\trefs/heads/\n"));
}

TEST(GitAuthEnvironment, ScopesTheHeaderToTheRemotesHostAfterClearingOthers) {
    auto env = git_auth_environment("https://user@git.example.com:8443/acme/shop.git", "x-access-token:s3cret", 2);
    const std::string key = "http.https://git.example.com:8443/.extraHeader";
    EXPECT_EQ(env["GIT_CONFIG_COUNT"], "4");
    EXPECT_EQ(env["GIT_CONFIG_KEY_2"], key);
    EXPECT_EQ(env["GIT_CONFIG_VALUE_2"], "");
    EXPECT_EQ(env["GIT_CONFIG_KEY_3"], key);
    EXPECT_EQ(env["GIT_CONFIG_VALUE_3"], "Authorization: Basic " + util::base64_encode("x-access-token:s3cret"));
}

TEST(GitAuthEnvironment, NothingForSshRemotes) {
    EXPECT_TRUE(git_auth_environment("git@github.com:acme/shop.git", "u:t").empty());
    EXPECT_TRUE(git_auth_environment("ssh://git@github.com/acme/shop.git", "u:t").empty());
}

TEST(MaskUrlCredentials, HidesUserInformationOnly) {
    EXPECT_EQ(mask_url_credentials("fatal: unable to access 'https://bob:hunter2@git.example.com/a.git/': 403"),
              "fatal: unable to access 'https://***@git.example.com/a.git/': 403");
    EXPECT_EQ(mask_url_credentials("https://git.example.com/a@b"), "https://git.example.com/a@b");
    EXPECT_EQ(mask_url_credentials("no url here"), "no url here");
}

TEST_F(BranchListing, ListsTheRemotesBranchesByRemoteName) {
    auto branches = list_remote_branches({.remote = "origin", .repository = m_dir.path("clone")});
    ASSERT_TRUE(branches) << branches.error().describe();
    EXPECT_EQ(*branches, (std::vector<std::string>{"feature/login", "fix-42", "main"}));
}

TEST_F(BranchListing, ListsTheRemotesBranchesByUrl) {
    auto branches = list_remote_branches({.remote = m_dir.path("remote.git"), .repository = {}});
    ASSERT_TRUE(branches) << branches.error().describe();
    EXPECT_EQ(branches->size(), 3u);
}

TEST_F(BranchListing, SeesABranchDeletedOnTheRemoteAtOnce) {
    testing::git(m_dir.path("remote.git"), {"branch", "-D", "fix-42"});
    auto branches = list_remote_branches({.remote = "origin", .repository = m_dir.path("clone")});
    ASSERT_TRUE(branches) << branches.error().describe();
    EXPECT_EQ(*branches, (std::vector<std::string>{"feature/login", "main"}));
}

TEST_F(BranchListing, AMissingRemoteIsAnError) {
    auto branches = list_remote_branches({.remote = m_dir.path("nowhere.git"), .repository = {}});
    ASSERT_FALSE(branches);
    EXPECT_EQ(branches.error().code, util::ErrorCode::subprocess);
    EXPECT_NE(branches.error().message.find("exited with status"), std::string::npos) << branches.error().message;
}

TEST_F(BranchListing, AnUnknownRemoteNameIsAnError) {
    EXPECT_FALSE(list_remote_branches({.remote = "upstream", .repository = m_dir.path("clone")}));
}

TEST_F(BranchListing, ARemoteWithoutBranchesIsAnError) {
    testing::git(m_dir.path(), {"init", "--quiet", "--bare", m_dir.path("empty.git")});
    auto branches = list_remote_branches({.remote = m_dir.path("empty.git"), .repository = {}});
    ASSERT_FALSE(branches);
    EXPECT_NE(branches.error().message.find("no branches"), std::string::npos) << branches.error().message;
}

TEST_F(BranchListing, ARemoteThatLooksLikeAnOptionIsNotOne) {
    auto branches = list_remote_branches({.remote = "--upload-pack=touch " + m_dir.path("pwned"), .repository = {}});
    EXPECT_FALSE(branches);
    EXPECT_FALSE(std::filesystem::exists(m_dir.path("pwned")));
}

TEST_F(BranchListing, TrackingBranchesComeFromTheLastFetch) {
    testing::git(m_dir.path("remote.git"), {"branch", "-D", "fix-42"});
    auto before = list_tracking_branches(m_dir.path("clone"), "origin");
    ASSERT_TRUE(before) << before.error().describe();
    EXPECT_EQ(*before, (std::vector<std::string>{"feature/login", "fix-42", "main"}));
    testing::git(m_dir.path("clone"), {"fetch", "--quiet", "--prune", "origin"});
    auto after = list_tracking_branches(m_dir.path("clone"), "origin");
    ASSERT_TRUE(after) << after.error().describe();
    EXPECT_EQ(*after, (std::vector<std::string>{"feature/login", "main"}));
}

TEST_F(BranchListing, AnUnknownTrackedRemoteIsAnError) {
    auto branches = list_tracking_branches(m_dir.path("clone"), "upstream");
    ASSERT_FALSE(branches);
    EXPECT_NE(branches.error().describe().find("upstream"), std::string::npos) << branches.error().describe();
}

TEST_F(BranchListing, AShallowCloneCannotListTrackingBranches) {
    testing::git(m_dir.path(), {"clone", "--quiet", "--no-single-branch", "--depth", "1", "file://" + m_dir.path("remote.git"),
                                m_dir.path("shallow")});
    auto branches = list_tracking_branches(m_dir.path("shallow"), "origin");
    ASSERT_FALSE(branches);
    EXPECT_NE(branches.error().message.find("shallow"), std::string::npos) << branches.error().message;
    EXPECT_NE(branches.error().message.find("gc.branches: remote"), std::string::npos) << branches.error().message;
}

TEST_F(BranchListing, ASingleBranchCloneCannotListTrackingBranches) {
    // What CI checkouts that fetch one ref look like: only origin/main is tracked.
    testing::git(m_dir.path(), {"clone", "--quiet", "--single-branch", m_dir.path("remote.git"), m_dir.path("single")});
    auto branches = list_tracking_branches(m_dir.path("single"), "origin");
    ASSERT_FALSE(branches);
    EXPECT_NE(branches.error().message.find("single branches"), std::string::npos) << branches.error().message;
}

TEST_F(BranchListing, NoTrackingBranchesIsAnError) {
    testing::git(m_dir.path("clone"), {"remote", "add", "upstream", m_dir.path("remote.git")});
    auto branches = list_tracking_branches(m_dir.path("clone"), "upstream");
    ASSERT_FALSE(branches);
    EXPECT_NE(branches.error().message.find("git fetch"), std::string::npos) << branches.error().message;
}

TEST_F(BranchListing, ANamedTokenThatIsNotSetIsAnError) {
    testing::git(m_dir.path("clone"), {"remote", "add", "web", "https://127.0.0.1:9/acme/shop.git"});
    ::unsetenv("MINICD_TEST_GIT_TOKEN");
    auto branches = list_remote_branches({.remote = "web", .repository = m_dir.path("clone"), .token_env = "MINICD_TEST_GIT_TOKEN"});
    ASSERT_FALSE(branches);
    EXPECT_NE(branches.error().message.find("MINICD_TEST_GIT_TOKEN"), std::string::npos) << branches.error().message;
}

TEST_F(BranchListing, TheTokenReachesTheServerAsBasicAuthAndNeverTheError) {
    std::mutex mutex;
    std::vector<std::string> authorizations;
    testing::LocalHttpServer server([&](const testing::LocalHttpServer::Request& request) {
        std::lock_guard lock(mutex);
        auto found = request.headers.find("authorization");
        authorizations.push_back(found == request.headers.end() ? "" : found->second);
        return testing::LocalHttpServer::Reply{.status = 403, .headers = {}, .body = "denied", .delay_ms = 0, .parts = {}};
    });
    testing::git(m_dir.path("clone"), {"remote", "add", "web", server.url("/acme/shop.git")});
    // A header set for the host elsewhere (as actions/checkout does) must not be sent alongside ours.
    testing::git(m_dir.path("clone"), {"config", fmt::format("http.{}.extraHeader", server.url("/")), "Authorization: Basic b2xkOm9sZA=="});
    ScopedEnv token("MINICD_TEST_GIT_TOKEN", "tok-123456");

    auto branches = list_remote_branches({.remote = "web", .repository = m_dir.path("clone"), .token_env = "MINICD_TEST_GIT_TOKEN"});
    ASSERT_FALSE(branches);
    const std::string text = branches.error().describe();
    EXPECT_EQ(text.find("tok-123456"), std::string::npos) << text;
    EXPECT_EQ(text.find(util::base64_encode("x-access-token:tok-123456")), std::string::npos) << text;
    std::lock_guard lock(mutex);
    ASSERT_FALSE(authorizations.empty());
    EXPECT_EQ(authorizations.front(), "Basic " + util::base64_encode("x-access-token:tok-123456"));
}

TEST_F(BranchListing, ATokenWithAUserNameKeepsIt) {
    std::mutex mutex;
    std::string authorization;
    testing::LocalHttpServer server([&](const testing::LocalHttpServer::Request& request) {
        std::lock_guard lock(mutex);
        auto found = request.headers.find("authorization");
        if (found != request.headers.end()) authorization = found->second;
        return testing::LocalHttpServer::Reply{.status = 404, .headers = {}, .body = "", .delay_ms = 0, .parts = {}};
    });
    ScopedEnv token("MINICD_TEST_GIT_TOKEN", "gitlab-ci-token:job-token");
    auto branches = list_remote_branches({.remote = server.url("/acme/shop.git"), .repository = {}, .token_env = "MINICD_TEST_GIT_TOKEN"});
    ASSERT_FALSE(branches);
    std::lock_guard lock(mutex);
    EXPECT_EQ(authorization, "Basic " + util::base64_encode("gitlab-ci-token:job-token"));
}

}  // namespace
}  // namespace minicd::source
