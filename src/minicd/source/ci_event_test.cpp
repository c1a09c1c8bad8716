#include "minicd/source/ci_event.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace minicd::source {
namespace {

// The variables each case sets are those the provider documents for that kind of run
// (see the links in ci_event.cpp); values are made up.
struct EventCase {
    std::string name;
    EnvironmentVariables env;
    GitHead git;
    EventKind kind;
    Provider provider;
    std::string ref;
    std::string branch;
    std::string tag;
    std::string sha;
    std::string pull_number;  // "-" when no pull request is expected
};

const GitHead k_on_main{.branch = "main", .tags = {}, .sha = "0000000000000000000000000000000000000000"};
const GitHead k_detached{.branch = "", .tags = {}, .sha = "1111111111111111111111111111111111111111"};
const GitHead k_detached_tagged{.branch = "", .tags = {"v1.2.0", "latest"}, .sha = "2222222222222222222222222222222222222222"};

void expect_event(const EventCase& test, const Event& event) {
    SCOPED_TRACE(test.name);
    EXPECT_EQ(to_string(event.kind), to_string(test.kind));
    EXPECT_EQ(to_string(event.provider), to_string(test.provider));
    EXPECT_EQ(event.ref, test.ref);
    EXPECT_EQ(event.branch, test.branch);
    EXPECT_EQ(event.tag, test.tag);
    EXPECT_EQ(event.sha, test.sha);
    if (test.pull_number == "-") {
        EXPECT_FALSE(event.pull_request.has_value());
    } else {
        ASSERT_TRUE(event.pull_request.has_value());
        EXPECT_EQ(event.pull_request->number, test.pull_number);
    }
}

void run_cases(const std::vector<EventCase>& cases) {
    for (const EventCase& test : cases) {
        auto event = detect_event(test.env, test.git);
        ASSERT_TRUE(event) << test.name << ": " << event.error().describe();
        expect_event(test, *event);
    }
}

TEST(CiEvent, CircleCi) {
    run_cases({
        {"branch build",
         {{"CI", "true"}, {"CIRCLECI", "true"}, {"CIRCLE_BRANCH", "feature/a"}, {"CIRCLE_SHA1", "abc123"}},
         k_on_main, EventKind::branch_push, Provider::circleci, "refs/heads/feature/a", "feature/a", "", "abc123", "-"},
        {"tag build on a detached HEAD has no CIRCLE_BRANCH",
         {{"CIRCLECI", "true"}, {"CIRCLE_TAG", "v1.2.0"}, {"CIRCLE_SHA1", "abc123"}},
         k_detached, EventKind::tag_push, Provider::circleci, "refs/tags/v1.2.0", "", "v1.2.0", "abc123", "-"},
        {"branch with an open pull request is still a branch build",
         {{"CIRCLECI", "true"}, {"CIRCLE_BRANCH", "feature/a"}, {"CIRCLE_SHA1", "abc123"},
          {"CIRCLE_PULL_REQUEST", "https://github.com/acme/shop/pull/42"}},
         k_on_main, EventKind::branch_push, Provider::circleci, "refs/heads/feature/a", "feature/a", "", "abc123", "42"},
        {"pull request from a fork",
         {{"CIRCLECI", "true"}, {"CIRCLE_BRANCH", "pull/43"}, {"CIRCLE_SHA1", "abc123"}, {"CIRCLE_PR_NUMBER", "43"},
          {"CIRCLE_PULL_REQUEST", "https://github.com/acme/shop/pull/43"}},
         k_detached, EventKind::pull_request, Provider::circleci, "refs/heads/pull/43", "pull/43", "", "abc123", "43"},
        {"nothing said: git decides",
         {{"CIRCLECI", "true"}},
         k_detached_tagged, EventKind::tag_push, Provider::circleci, "refs/tags/v1.2.0", "", "v1.2.0",
         k_detached_tagged.sha, "-"},
    });
}

TEST(CiEvent, GitHubActionsPushesAndOtherTriggers) {
    const EnvironmentVariables base = {{"CI", "true"}, {"GITHUB_ACTIONS", "true"}, {"GITHUB_SHA", "def456"}};
    auto with = [&base](EnvironmentVariables extra) {
        extra.insert(base.begin(), base.end());
        return extra;
    };
    run_cases({
        {"branch push",
         with({{"GITHUB_EVENT_NAME", "push"}, {"GITHUB_REF", "refs/heads/main"}, {"GITHUB_REF_NAME", "main"},
               {"GITHUB_REF_TYPE", "branch"}}),
         k_detached, EventKind::branch_push, Provider::github, "refs/heads/main", "main", "", "def456", "-"},
        {"tag push on a detached HEAD",
         with({{"GITHUB_EVENT_NAME", "push"}, {"GITHUB_REF", "refs/tags/v1.2.0"}, {"GITHUB_REF_NAME", "v1.2.0"},
               {"GITHUB_REF_TYPE", "tag"}}),
         k_detached, EventKind::tag_push, Provider::github, "refs/tags/v1.2.0", "", "v1.2.0", "def456", "-"},
        {"create of a tag",
         with({{"GITHUB_EVENT_NAME", "create"}, {"GITHUB_REF", "refs/tags/v2.0.0"}, {"GITHUB_REF_TYPE", "tag"}}),
         k_detached, EventKind::tag_push, Provider::github, "refs/tags/v2.0.0", "", "v2.0.0", "def456", "-"},
        {"branch name with slashes and dots",
         with({{"GITHUB_EVENT_NAME", "push"}, {"GITHUB_REF", "refs/heads/release/1.2.x"}}),
         k_detached, EventKind::branch_push, Provider::github, "refs/heads/release/1.2.x", "release/1.2.x", "", "def456",
         "-"},
        {"pull request",
         with({{"GITHUB_EVENT_NAME", "pull_request"}, {"GITHUB_REF", "refs/pull/7/merge"},
               {"GITHUB_REF_NAME", "7/merge"}, {"GITHUB_HEAD_REF", "feature/a"}, {"GITHUB_BASE_REF", "main"}}),
         k_detached, EventKind::pull_request, Provider::github, "refs/pull/7/merge", "feature/a", "", "def456", "7"},
        {"schedule runs on the default branch",
         with({{"GITHUB_EVENT_NAME", "schedule"}, {"GITHUB_REF", "refs/heads/main"}}),
         k_on_main, EventKind::scheduled, Provider::github, "refs/heads/main", "main", "", "def456", "-"},
        {"manual run on a branch",
         with({{"GITHUB_EVENT_NAME", "workflow_dispatch"}, {"GITHUB_REF", "refs/heads/develop"}}),
         k_on_main, EventKind::branch_push, Provider::github, "refs/heads/develop", "develop", "", "def456", "-"},
    });
}

// A payload file made by the test, removed with it.
class PayloadFile {
public:
    explicit PayloadFile(const std::string& json)
        : m_path(std::filesystem::temp_directory_path() /
                 ("minicd-event-" + std::to_string(::getpid()) + "-" + std::to_string(s_counter++) + ".json")) {
        std::ofstream(m_path) << json;
    }
    ~PayloadFile() { std::filesystem::remove(m_path); }
    PayloadFile(const PayloadFile&) = delete;
    PayloadFile& operator=(const PayloadFile&) = delete;

    std::string path() const { return m_path.string(); }

private:
    static inline int s_counter = 0;
    std::filesystem::path m_path;
};

// GITHUB_REF and GITHUB_SHA of a delete run name the default branch, not what was deleted.
EnvironmentVariables github_delete(const std::string& payload_path) {
    return {{"GITHUB_ACTIONS", "true"}, {"GITHUB_EVENT_NAME", "delete"}, {"GITHUB_REF", "refs/heads/main"},
            {"GITHUB_REF_NAME", "main"},  {"GITHUB_SHA", "def456"},       {"GITHUB_EVENT_PATH", payload_path}};
}

TEST(CiEvent, GitHubDeleteOfABranchReadsThePayload) {
    const PayloadFile payload(R"({"ref": "feature/a", "ref_type": "branch", "pusher_type": "user",
                                  "repository": {"full_name": "acme/shop", "default_branch": "main"}})");
    auto event = detect_event(github_delete(payload.path()), k_on_main);
    ASSERT_TRUE(event) << event.error().describe();
    expect_event({"delete", {}, {}, EventKind::branch_delete, Provider::github, "refs/heads/feature/a", "feature/a", "",
                  "def456", "-"},
                 *event);
}

TEST(CiEvent, GitHubDeleteOfATagIsNothingToDo) {
    const PayloadFile payload(R"({"ref": "v1.0.0", "ref_type": "tag"})");
    auto event = detect_event(github_delete(payload.path()), k_on_main);
    ASSERT_TRUE(event) << event.error().describe();
    // Not the branch checked out (main): that would deploy staging for a deleted tag.
    EXPECT_EQ(event->kind, EventKind::unknown);
    EXPECT_EQ(event->tag, "v1.0.0");
    EXPECT_EQ(event->branch, "");
}

TEST(CiEvent, GitHubPushThatDeletesABranch) {
    const PayloadFile payload(R"({"ref": "refs/heads/feature/a", "deleted": true, "created": false})");
    auto env = github_delete(payload.path());
    env["GITHUB_EVENT_NAME"] = "push";
    env["GITHUB_REF"] = "refs/heads/feature/a";
    auto event = detect_event(env, k_detached);
    ASSERT_TRUE(event) << event.error().describe();
    EXPECT_EQ(event->kind, EventKind::branch_delete);
    EXPECT_EQ(event->branch, "feature/a");
}

TEST(CiEvent, GitHubPushWhosePayloadSaysDeletedInAnotherTypeIsAPush) {
    for (const char* deleted : {R"("yes")", "1", "null", "{}"}) {
        const PayloadFile payload(std::string(R"({"ref": "refs/heads/feature/a", "deleted": )") + deleted + "}");
        auto env = github_delete(payload.path());
        env["GITHUB_EVENT_NAME"] = "push";
        env["GITHUB_REF"] = "refs/heads/feature/a";
        auto event = detect_event(env, k_detached);
        ASSERT_TRUE(event) << event.error().describe();
        EXPECT_EQ(event->kind, EventKind::branch_push) << deleted;
    }
}

TEST(CiEvent, GitHubDeleteWithoutAUsablePayloadIsAnError) {
    const PayloadFile not_json("{not json");
    const PayloadFile no_ref(R"({"ref_type": "branch"})");
    const PayloadFile bad_type(R"({"ref": "feature/a", "ref_type": "repository"})");
    for (const std::string& path : {not_json.path(), no_ref.path(), bad_type.path(), std::string("/nonexistent/x.json")}) {
        auto event = detect_event(github_delete(path), k_on_main);
        EXPECT_FALSE(event) << path;
    }
    auto env = github_delete("");
    env.erase("GITHUB_EVENT_PATH");
    auto event = detect_event(env, k_on_main);
    ASSERT_FALSE(event);
    EXPECT_NE(event.error().message.find("GITHUB_EVENT_PATH"), std::string::npos);
}

TEST(CiEvent, GitLabCi) {
    run_cases({
        {"branch pipeline",
         {{"GITLAB_CI", "true"}, {"CI_PIPELINE_SOURCE", "push"}, {"CI_COMMIT_BRANCH", "main"},
          {"CI_COMMIT_REF_NAME", "main"}, {"CI_COMMIT_SHA", "fed789"}},
         k_detached, EventKind::branch_push, Provider::gitlab, "refs/heads/main", "main", "", "fed789", "-"},
        {"tag pipeline has no CI_COMMIT_BRANCH",
         {{"GITLAB_CI", "true"}, {"CI_PIPELINE_SOURCE", "push"}, {"CI_COMMIT_TAG", "v1.2.0"},
          {"CI_COMMIT_REF_NAME", "v1.2.0"}, {"CI_COMMIT_SHA", "fed789"}},
         k_detached, EventKind::tag_push, Provider::gitlab, "refs/tags/v1.2.0", "", "v1.2.0", "fed789", "-"},
        {"merge request pipeline",
         {{"GITLAB_CI", "true"}, {"CI_PIPELINE_SOURCE", "merge_request_event"}, {"CI_COMMIT_REF_NAME", "feature/a"},
          {"CI_MERGE_REQUEST_IID", "12"}, {"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/a"},
          {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"}, {"CI_COMMIT_SHA", "fed789"}},
         k_detached, EventKind::pull_request, Provider::gitlab, "", "feature/a", "", "fed789", "12"},
        {"stop job of a deleted branch",
         {{"GITLAB_CI", "true"}, {"CI_PIPELINE_SOURCE", "push"}, {"CI_ENVIRONMENT_ACTION", "stop"},
          {"CI_COMMIT_BRANCH", "feature/a"}, {"CI_COMMIT_REF_NAME", "feature/a"}, {"CI_COMMIT_SHA", "fed789"}},
         k_detached, EventKind::branch_delete, Provider::gitlab, "refs/heads/feature/a", "feature/a", "", "fed789",
         "-"},
        {"scheduled pipeline",
         {{"GITLAB_CI", "true"}, {"CI_PIPELINE_SOURCE", "schedule"}, {"CI_COMMIT_BRANCH", "main"},
          {"CI_COMMIT_REF_NAME", "main"}, {"CI_COMMIT_SHA", "fed789"}},
         k_detached, EventKind::scheduled, Provider::gitlab, "refs/heads/main", "main", "", "fed789", "-"},
        {"manual run from the web on a branch",
         {{"GITLAB_CI", "true"}, {"CI_PIPELINE_SOURCE", "web"}, {"CI_COMMIT_BRANCH", "develop"},
          {"CI_COMMIT_SHA", "fed789"}},
         k_detached, EventKind::branch_push, Provider::gitlab, "refs/heads/develop", "develop", "", "fed789", "-"},
    });
}

TEST(CiEvent, GenericFallbackAsksGit) {
    run_cases({
        {"branch checked out", {{"CI", "true"}}, k_on_main, EventKind::branch_push, Provider::generic,
         "refs/heads/main", "main", "", k_on_main.sha, "-"},
        {"detached HEAD with tags takes the first", {}, k_detached_tagged, EventKind::tag_push, Provider::generic,
         "refs/tags/v1.2.0", "", "v1.2.0", k_detached_tagged.sha, "-"},
        {"detached HEAD without tags", {}, k_detached, EventKind::unknown, Provider::generic, "", "", "",
         k_detached.sha, "-"},
        {"a variable that is not exactly true names no provider", {{"GITHUB_ACTIONS", "1"}}, k_on_main,
         EventKind::branch_push, Provider::generic, "refs/heads/main", "main", "", k_on_main.sha, "-"},
    });
}

TEST(CiEvent, ProcessEnvironmentIsRead) {
    ::setenv("MINICD_CI_EVENT_TEST", "a=b", 1);
    const auto env = process_environment();
    ::unsetenv("MINICD_CI_EVENT_TEST");
    ASSERT_TRUE(env.contains("MINICD_CI_EVENT_TEST"));
    EXPECT_EQ(env.at("MINICD_CI_EVENT_TEST"), "a=b");
}

}  // namespace
}  // namespace minicd::source
