#include "minicd/cli/ci_result.hpp"

#include <gtest/gtest.h>

#include "minicd/util/text.hpp"
#include "support/git_repo.hpp"
#include "support/temp_dir.hpp"

namespace minicd::cli {
namespace {

using std::chrono::milliseconds;

constexpr const char* k_digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
constexpr const char* k_sha = "0123456789abcdef0123456789abcdef01234567";

// A push of feature/login built and deployed to its preview, as `minicd ci` reports it.
CiResult preview_deployed() {
    CiResult result;
    result.plan.event = {.kind = source::EventKind::branch_push,
                         .provider = source::Provider::github,
                         .trigger = "push",
                         .ref = "refs/heads/feature/login",
                         .branch = "feature/login",
                         .sha = k_sha};
    result.plan.environments = {"preview"};
    result.plan.steps = {{.kind = pipeline::StepKind::build, .environment = "", .description = "build"},
                         {.kind = pipeline::StepKind::deploy, .environment = "preview", .description = "deploy"}};
    result.git = {.sha = k_sha, .image_tag = "0123456"};
    const std::string pinned = std::string("reg.example/shop:0123456@") + k_digest;
    pipeline::CiReport report;
    report.steps = {{.step = result.plan.steps[0],
                     .status = pipeline::StepStatus::done,
                     .detail = "pushed " + pinned + " with buildah",
                     .elapsed = milliseconds(3240)},
                    {.step = result.plan.steps[1],
                     .status = pipeline::StepStatus::done,
                     .detail = "release 4 healthy",
                     .elapsed = milliseconds(10000)}};
    report.environments = {{.environment = "preview",
                            .namespace_ = "shop-feature-login-1a2b",
                            .url = "https://feature-login.preview.example.com",
                            .images = {{"shop", pinned}},
                            .revision = 4,
                            .succeeded = true}};
    result.report = std::move(report);
    return result;
}

const std::string k_preview_markdown = std::string(R"(### minicd ci: succeeded

Event: branch push of feature/login at 0123456 (github: push). Commit `0123456789abcdef0123456789abcdef01234567`, images tagged `0123456`.

| Step | Environment | Status | Time | Detail |
| --- | --- | --- | --- | --- |
| build |  | done | 3.2s | pushed reg.example/shop:0123456@sha256:1111111111111111111111111111111111111111111111111111111111111111 with buildah |
| deploy | preview | done | 10.0s | release 4 healthy |

#### preview: healthy

Namespace `shop-feature-login-1a2b`, release 4: <https://feature-login.preview.example.com>

| Image | Reference |
| --- | --- |
| `shop` | `reg.example/shop:0123456@sha256:1111111111111111111111111111111111111111111111111111111111111111` |

)");

std::string read(const std::string& path) { return util::read_file(path).value_or("(unreadable)"); }

TEST(CiResult, MarkdownShowsEventStepsEnvironmentUrlAndImagesWithDigests) {
    EXPECT_EQ(ci_markdown(preview_deployed()), k_preview_markdown);
}

TEST(CiResult, MarkdownOfAFailedRunShowsTheErrorAndTheSkippedSteps) {
    CiResult result = preview_deployed();
    result.report->steps[1].status = pipeline::StepStatus::failed;
    result.report->steps[1].detail = "not ready | crash loop";
    result.report->environments[0].succeeded = false;
    result.report->environments[0].revision = 0;
    result.report->environments[0].url.clear();
    result.report->environments[0].images.clear();
    result.report->error = util::make_error(util::ErrorCode::timeout, "not ready before the timeout", "deploy/web");
    const std::string markdown = ci_markdown(result);
    EXPECT_TRUE(markdown.starts_with("### minicd ci: FAILED\n")) << markdown;
    EXPECT_NE(markdown.find("| deploy | preview | failed | 10.0s | not ready \\| crash loop |\n"), std::string::npos) << markdown;
    EXPECT_NE(markdown.find("~~~~text\n" + result.report->error->describe() + "\n~~~~\n"), std::string::npos) << markdown;
    EXPECT_NE(markdown.find("#### preview: NOT healthy\n\nNamespace `shop-feature-login-1a2b`.\n\n"), std::string::npos) << markdown;
}

TEST(CiResult, MarkdownOfANothingToDoRunSaysWhy) {
    CiResult result = preview_deployed();
    result.plan.steps.clear();
    result.plan.reason = "no environment is triggered by this event";
    result.report.reset();
    EXPECT_EQ(ci_markdown(result),
              "### minicd ci: nothing to do\n\n"
              "Event: branch push of feature/login at 0123456 (github: push). Commit "
              "`0123456789abcdef0123456789abcdef01234567`, images tagged `0123456`.\n\n"
              "Nothing to do: no environment is triggered by this event.\n\n");
}

TEST(CiResult, OutputsNameTheLastDeployedEnvironmentAndItsFirstImageDigest) {
    CiResult result = preview_deployed();
    result.report->environments[0].images["api"] = "reg.example/api:0123456@sha256:2222";
    const CiOutputs outputs = ci_outputs(result);
    EXPECT_EQ(outputs.url, "https://feature-login.preview.example.com");
    EXPECT_EQ(outputs.environment, "preview");
    EXPECT_EQ(outputs.release, "4");
    EXPECT_EQ(outputs.digest, "sha256:2222") << "images are taken by name: api before shop";

    result.report->environments.clear();
    const CiOutputs none = ci_outputs(result);
    EXPECT_EQ(none.url + none.environment + none.release + none.digest, "");
}

TEST(CiResult, GitHubAppendsTheSummaryAndTheStepOutputs) {
    testing::TempDir dir;
    testing::write_file(dir.path("summary.md"), "earlier step\n");
    testing::write_file(dir.path("output"), "earlier=1\n");
    ASSERT_TRUE(write_github(preview_deployed(), {.github_summary = dir.path("summary.md"),
                                                  .github_output = dir.path("output"),
                                                  .report = dir.path("unused")}));
    EXPECT_EQ(read(dir.path("summary.md")), "earlier step\n" + k_preview_markdown);
    EXPECT_EQ(read(dir.path("output")), std::string("earlier=1\n"
                                                    "url=https://feature-login.preview.example.com\n"
                                                    "environment=preview\n"
                                                    "release=4\n"
                                                    "digest=") +
                                            k_digest + "\n");
    EXPECT_FALSE(std::filesystem::exists(dir.path("unused")));
}

TEST(CiResult, GitHubOutputsUseADelimiterForAValueThatBreaksALine) {
    const std::string text = github_outputs({.url = "https://a.example\nMINICD_EOF", .environment = "staging", .release = "", .digest = ""});
    EXPECT_EQ(text,
              "url<<MINICD_EOF_\nhttps://a.example\nMINICD_EOF\nMINICD_EOF_\n"
              "environment=staging\n"
              "release=\n"
              "digest=\n");
}

TEST(CiResult, GitHubWithoutItsVariablesWritesNothing) {
    EXPECT_TRUE(write_github(preview_deployed(), {}));
}

TEST(CiResult, GitLabReplacesTheDotenvReport) {
    testing::TempDir dir;
    testing::write_file(dir.path("minicd.env"), "DYNAMIC_ENVIRONMENT_URL=https://old.example\n");
    ASSERT_TRUE(write_gitlab(preview_deployed(), {.report = dir.path("minicd.env")}));
    EXPECT_EQ(read(dir.path("minicd.env")), std::string("DYNAMIC_ENVIRONMENT_URL=https://feature-login.preview.example.com\n"
                                                        "MINICD_ENVIRONMENT=preview\n"
                                                        "MINICD_RELEASE=4\n"
                                                        "MINICD_DIGEST=") +
                                                k_digest + "\n");

    // Nothing deployed (a teardown, a nightly run): the report is empty, not the last run's.
    CiResult teardown = preview_deployed();
    teardown.report->environments.clear();
    ASSERT_TRUE(write_gitlab(teardown, {.report = dir.path("minicd.env")}));
    EXPECT_EQ(read(dir.path("minicd.env")), "");
}

TEST(CiResult, GitLabLeavesOutEmptyValuesAndValuesThatBreakALine) {
    EXPECT_EQ(gitlab_dotenv({.url = "", .environment = "staging", .release = "2\n", .digest = "sha256:3"}),
              "MINICD_ENVIRONMENT=staging\nMINICD_DIGEST=sha256:3\n");
}

TEST(CiResult, CircleCiWritesTheSummaryFileItsArtifactsStepKeeps) {
    testing::TempDir dir;
    const std::string path = dir.path("minicd/summary.md");
    ASSERT_TRUE(write_circleci(preview_deployed(), {.report = path}));
    ASSERT_TRUE(write_circleci(preview_deployed(), {.report = path}));
    EXPECT_EQ(read(path), k_preview_markdown) << "written whole, not appended";
}

TEST(CiResult, AFileThatCannotBeWrittenIsAnErrorNamingIt) {
    testing::TempDir dir;
    testing::write_file(dir.path("file"), "");
    auto written = write_circleci(preview_deployed(), {.report = dir.path("file/summary.md")});
    ASSERT_FALSE(written);
    EXPECT_NE(written.error().describe().find(dir.path("file")), std::string::npos) << written.error().describe();
}

}  // namespace
}  // namespace minicd::cli
