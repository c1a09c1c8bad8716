#include "minicd/cli/init_files.hpp"

#include <gtest/gtest.h>

#include "minicd/cli/ci_result.hpp"

#include "minicd/config/load.hpp"
#include "minicd/source/yaml.hpp"

namespace minicd::cli {
namespace {

std::vector<InitFile> files_for(CiSystem ci) {
    auto files = init_files({.ci = ci, .app = "shop", .registry = "ghcr.io/acme"});
    EXPECT_TRUE(files) << files.error().describe();
    return files.value_or(std::vector<InitFile>{});
}

TEST(Init, EveryGeneratedMinicdYamlValidates) {
    for (auto ci : {CiSystem::github, CiSystem::gitlab, CiSystem::circleci}) {
        auto files = files_for(ci);
        ASSERT_EQ(files.size(), 2U);
        EXPECT_EQ(files[0].path, "minicd.yaml");
        auto checked = config::check_config(files[0].text, "minicd.yaml");
        for (const auto& diagnostic : checked.diagnostics) {
            if (diagnostic.severity == config::Severity::error) ADD_FAILURE() << diagnostic.describe();
        }
        ASSERT_TRUE(checked.valid());
        EXPECT_EQ(checked.config->app, "shop");
        EXPECT_EQ(checked.config->registry, "ghcr.io/acme");
        EXPECT_EQ(checked.config->environments.size(), 3U);
        EXPECT_EQ(checked.config->find("production")->promote_from, "staging");
        // Adoption is offered commented out: a new setup never takes over another owner's objects.
        EXPECT_NE(files[0].text.find("    # adopt: false"), std::string::npos);
        for (const auto& environment : checked.config->environments) {
            EXPECT_FALSE(environment.adopt) << environment.name;
        }
        // History, the failure policy and what the nightly run does about drift are shown at their
        // defaults, commented out.
        EXPECT_NE(files[0].text.find("    # history: 10 "), std::string::npos);
        EXPECT_NE(files[0].text.find("    # onFailure: rollback "), std::string::npos);
        EXPECT_NE(files[0].text.find("    # drift: report "), std::string::npos);
        // A canary is offered for production, commented out: deploys go out at once until it is wanted.
        EXPECT_NE(files[0].text.find("    # strategy:"), std::string::npos);
        EXPECT_FALSE(checked.config->find("production")->canary.has_value());
        for (const auto& environment : checked.config->environments) {
            EXPECT_EQ(environment.history, 10) << environment.name;
            EXPECT_EQ(environment.drift, config::DriftAction::report) << environment.name;
        }
        EXPECT_EQ(checked.config->find("preview")->failure_policy(), config::OnFailure::keep);
        EXPECT_EQ(checked.config->find("staging")->failure_policy(), config::OnFailure::rollback);
        EXPECT_EQ(checked.config->find("production")->failure_policy(), config::OnFailure::rollback);
    }
}

TEST(Init, ProductionOffersACanaryCommentedOutThatValidatesUncommented) {
    const std::string text = files_for(CiSystem::github).at(0).text;
    const std::size_t start = text.find("    # strategy:");
    ASSERT_NE(start, std::string::npos);
    auto as_written = config::check_config(text, "minicd.yaml");
    ASSERT_TRUE(as_written.valid());
    EXPECT_FALSE(as_written.config->find("production")->canary.has_value()) << "a new setup deploys at once";

    // Uncommented, the block is a canary of production that the reader takes as it is.
    std::string uncommented = text.substr(0, start);
    std::size_t line_start = start;
    while (line_start < text.size()) {
        const std::size_t end = text.find('\n', line_start);
        const std::string line = text.substr(line_start, end - line_start);
        ASSERT_TRUE(line.starts_with("    # ")) << line;
        uncommented += line.substr(0, 4) + line.substr(6) + "\n";
        line_start = end == std::string::npos ? text.size() : end + 1;
    }
    auto checked = config::check_config(uncommented, "minicd.yaml");
    for (const auto& diagnostic : checked.diagnostics) {
        if (diagnostic.severity == config::Severity::error) ADD_FAILURE() << diagnostic.describe();
    }
    ASSERT_TRUE(checked.valid()) << uncommented;
    const auto& canary = checked.config->find("production")->canary;
    ASSERT_TRUE(canary.has_value());
    EXPECT_EQ(canary->workloads, std::vector<std::string>{"shop"});
    ASSERT_EQ(canary->steps.size(), 2U);
    EXPECT_EQ(canary->steps[1].weight, 50);
    ASSERT_TRUE(canary->analysis.has_value());
    ASSERT_EQ(canary->analysis->metrics.size(), 1U);
    EXPECT_NE(canary->analysis->metrics[0].query.find("pod=~\"{{canary_pods}}\""), std::string::npos)
        << canary->analysis->metrics[0].query;
}

// The configuration as a CI reads it: one YAML document.
model::Json ci_document(CiSystem ci, const std::string& path) {
    auto files = files_for(ci);
    EXPECT_EQ(files.size(), 2U);
    if (files.size() != 2U) return {};
    EXPECT_EQ(files[1].path, path);
    auto documents = source::parse_yaml(files[1].text, path);
    EXPECT_TRUE(documents) << documents.error().describe();
    if (!documents || documents->size() != 1U) {
        ADD_FAILURE() << path << ": not one YAML document";
        return {};
    }
    EXPECT_TRUE((*documents)[0].value.is_object());
    return (*documents)[0].value;
}

TEST(Init, GeneratedCiConfigurationParsesAndRunsMinicdCiAndANightlyJob) {
    const std::vector<std::pair<CiSystem, std::string>> expected = {
        {CiSystem::github, ".github/workflows/minicd.yml"}, {CiSystem::gitlab, ".gitlab-ci.yml"},
        {CiSystem::circleci, ".circleci/config.yml"}};
    for (const auto& [ci, path] : expected) {
        const model::Json document = ci_document(ci, path);
        EXPECT_NE(document.dump().find("minicd ci"), std::string::npos) << path;
    }
}

TEST(Init, GitLabRunsMinicdCiInScheduledPipelinesOnly) {
    const model::Json pipeline = ci_document(CiSystem::gitlab, ".gitlab-ci.yml");
    EXPECT_EQ(pipeline["nightly"]["script"], model::Json::array({"minicd ci"}));
    EXPECT_EQ(pipeline["nightly"]["rules"][0]["if"], "$CI_PIPELINE_SOURCE == \"schedule\"");
    // The delivering job stays out of scheduled pipelines: one `minicd ci` per night.
    EXPECT_EQ(pipeline["minicd"]["rules"][0]["if"], "$CI_PIPELINE_SOURCE == \"schedule\"");
    EXPECT_EQ(pipeline["minicd"]["rules"][0]["when"], "never");
    EXPECT_NE(files_for(CiSystem::gitlab)[1].text.find("Pipeline schedules"), std::string::npos);
}

TEST(Init, GitLabPreviewIsAnEnvironmentWithTheUrlMinicdReportsAndAStopJob) {
    const model::Json pipeline = ci_document(CiSystem::gitlab, ".gitlab-ci.yml");
    // Every job running minicd ci hands its dotenv report to GitLab, also when the run failed.
    const model::Json& template_job = pipeline[".minicd-ci"];
    EXPECT_EQ(template_job["script"], model::Json::array({"minicd ci"}));
    EXPECT_EQ(template_job["artifacts"]["reports"]["dotenv"], k_gitlab_report);
    EXPECT_EQ(template_job["artifacts"]["when"], "always");
    EXPECT_EQ(pipeline["minicd"]["extends"], ".minicd-ci");
    EXPECT_EQ(pipeline["minicd"]["rules"][1]["if"], "$CI_COMMIT_BRANCH == \"main\" || $CI_COMMIT_TAG");

    const model::Json& preview = pipeline["preview"];
    EXPECT_EQ(preview["extends"], ".minicd-ci");
    EXPECT_EQ(preview["environment"]["name"], "review/$CI_COMMIT_REF_SLUG");
    EXPECT_EQ(preview["environment"]["url"], "$DYNAMIC_ENVIRONMENT_URL");
    EXPECT_EQ(preview["environment"]["on_stop"], "stop-preview");
    EXPECT_EQ(preview["rules"][0]["when"], "never");
    EXPECT_EQ(preview["rules"][1]["if"], "$CI_COMMIT_BRANCH");

    const model::Json& stop = pipeline["stop-preview"];
    EXPECT_EQ(stop["script"], model::Json::array({"minicd preview down \"$CI_COMMIT_REF_NAME\""}));
    EXPECT_EQ(stop["environment"]["name"], preview["environment"]["name"]);
    EXPECT_EQ(stop["environment"]["action"], "stop");
    // Stopped by hand or by GitLab when the branch goes; for the same pipelines as the preview.
    EXPECT_EQ(stop["rules"][0], preview["rules"][0]);
    EXPECT_EQ(stop["rules"][1]["if"], "$CI_COMMIT_BRANCH");
    EXPECT_EQ(stop["rules"][1]["when"], "manual");
    EXPECT_EQ(stop["rules"][1]["allow_failure"], true);
}

TEST(Init, CircleCiNightlyCollectsPreviewsAndChecksDrift) {
    const model::Json config = ci_document(CiSystem::circleci, ".circleci/config.yml");
    const model::Json& nightly = config["workflows"]["nightly"];
    EXPECT_EQ(nightly["triggers"][0]["schedule"]["cron"], "17 3 * * *");
    EXPECT_EQ(nightly["jobs"], model::Json::array({"nightly"}));
    // CircleCI does not say a run was scheduled: `minicd ci` would deploy main, so the nightly job
    // runs the commands instead.
    const model::Json& steps = config["jobs"]["nightly"]["steps"];
    ASSERT_EQ(steps.size(), 5U) << steps.dump();
    EXPECT_EQ(steps[1], "get-minicd");
    EXPECT_EQ(steps[3]["run"]["command"], "minicd preview gc");
    EXPECT_EQ(steps[4]["run"]["command"], "minicd drift");
    EXPECT_EQ(steps[4]["run"]["when"], "always") << "drift is checked even when gc failed";
}

TEST(Init, CircleCiKeepsTheSummaryOfMinicdCiAsAnArtifact) {
    const model::Json config = ci_document(CiSystem::circleci, ".circleci/config.yml");
    const model::Json& steps = config["jobs"]["deliver"]["steps"];
    ASSERT_EQ(steps.size(), 5U) << steps.dump();
    EXPECT_EQ(steps[3]["run"]["command"], "minicd ci");
    // The directory of the summary minicd ci writes on CircleCI by default.
    EXPECT_EQ(steps[4]["store_artifacts"]["path"].get<std::string>() + "/summary.md", k_circleci_report);
}

TEST(Init, GitHubWorkflowRunsOnPushesTagsDeletionsAndANightlySchedule) {
    auto files = files_for(CiSystem::github);
    auto documents = source::parse_yaml(files[1].text, "minicd.yml");
    ASSERT_TRUE(documents);
    const auto& workflow = (*documents)[0].value;
    // YAML 1.1 reads the bare key `on` as true, as the API machinery does; GitHub reads it as "on".
    const auto& triggers = workflow.contains("on") ? workflow["on"] : workflow["true"];
    EXPECT_TRUE(triggers.contains("push"));
    EXPECT_TRUE(triggers.contains("delete"));
    EXPECT_EQ(triggers["schedule"][0]["cron"], "17 3 * * *");
    EXPECT_EQ(workflow["jobs"]["deliver"]["steps"][0]["with"]["fetch-depth"], 0);
    // Pushes deploy; a deletion tears its preview down and the scheduled run (`minicd ci` too)
    // checks the fixed environments for drift and collects previews, in a job with no environment.
    EXPECT_EQ(workflow["jobs"]["deliver"]["if"], "github.event_name == 'push'");
    const auto& maintain = workflow["jobs"]["maintain"];
    EXPECT_EQ(maintain["if"], "github.event_name != 'push'");
    EXPECT_FALSE(maintain.contains("environment"));
    EXPECT_EQ(maintain["steps"][3]["run"], "minicd ci");
}

// The one step that gets minicd: the tarball at MINICD_RELEASE_URL, refused unless its SHA-256 is
// MINICD_RELEASE_SHA256, and its bin/ put on PATH.
void expect_checked_download(const std::string& script) {
    const auto download = script.find("curl -fsSL \"$MINICD_RELEASE_URL\"");
    const auto check = script.find("echo \"$MINICD_RELEASE_SHA256  /tmp/minicd.tar.gz\" | sha256sum -c -");
    const auto unpack = script.find("tar -xzf /tmp/minicd.tar.gz");
    ASSERT_NE(download, std::string::npos) << script;
    ASSERT_NE(check, std::string::npos) << script;
    ASSERT_NE(unpack, std::string::npos) << script;
    EXPECT_LT(download, check);
    EXPECT_LT(check, unpack);
    EXPECT_NE(script.find("/tmp/minicd/bin"), std::string::npos) << script;
}

TEST(Init, EveryCiGetsMinicdInOneCheckedStep) {
    const model::Json workflow = ci_document(CiSystem::github, ".github/workflows/minicd.yml");
    for (const char* job : {"deliver", "maintain"}) {
        const model::Json& step = workflow["jobs"][job]["steps"][1];
        EXPECT_EQ(step["name"], "get minicd") << job;
        expect_checked_download(step["run"].get<std::string>());
        EXPECT_EQ(step["env"]["MINICD_RELEASE_URL"], "${{ vars.MINICD_RELEASE_URL }}");
    }
    const model::Json pipeline = ci_document(CiSystem::gitlab, ".gitlab-ci.yml");
    std::string before;
    for (const auto& line : pipeline["default"]["before_script"]) before += line.get<std::string>() + "\n";
    expect_checked_download(before);
    EXPECT_EQ(pipeline["default"]["image"], "$BUILDER_IMAGE");
    const model::Json config = ci_document(CiSystem::circleci, ".circleci/config.yml");
    expect_checked_download(config["commands"]["get-minicd"]["steps"][0]["run"]["command"].get<std::string>());
}

TEST(Init, GitHubDeployJobShowsTheUrlMinicdCiOutputs) {
    const model::Json workflow = ci_document(CiSystem::github, ".github/workflows/minicd.yml");
    const model::Json& deliver = workflow["jobs"]["deliver"];
    const model::Json& step = deliver["steps"][3];
    EXPECT_EQ(step["run"], "minicd ci");
    ASSERT_EQ(step["id"], "minicd");
    EXPECT_EQ(deliver["environment"]["url"], "${{ steps.minicd.outputs.url }}");
    // The environment is named as minicd.yaml names it; a preview per branch.
    EXPECT_EQ(deliver["environment"]["name"],
              "${{ github.ref_type == 'tag' && 'production' || github.ref_name == 'main' && 'staging' || "
              "format('preview/{0}', github.ref_name) }}");
}

TEST(Init, RefusesAnAppThatCannotNameNamespacesAndAnEmptyRegistry) {
    EXPECT_FALSE(init_files({.app = "Shop_1", .registry = "r"}));
    EXPECT_FALSE(init_files({.app = "shop", .registry = ""}));
    EXPECT_FALSE(parse_ci_system("jenkins"));
    EXPECT_EQ(parse_ci_system("circleci").value(), CiSystem::circleci);
}

}  // namespace
}  // namespace minicd::cli
