#include "minicd/cli/deploy_report.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "minicd/cli/app.hpp"

namespace minicd::cli {
namespace {

model::Change change(std::string name, model::Action action) {
    return {.id = {.group = "apps", .version = "v1", .kind = "Deployment", .namespace_ = "shop", .name = std::move(name)},
            .action = action};
}

deploy::DeployResult failed_rollout() {
    deploy::DeployResult result;
    result.objects = {change("web", model::Action::configured), change("api", model::Action::unchanged)};
    result.outcome = deploy::Outcome::failed;
    result.failure = "deploy/web is not ready: CrashLoopBackOff";
    result.revision = 7;
    return result;
}

std::shared_ptr<deploy::DeployResult> rollback_run(deploy::Outcome outcome) {
    auto run = std::make_shared<deploy::DeployResult>();
    run->objects = {change("web", model::Action::configured), change("api", model::Action::unchanged)};
    run->outcome = outcome;
    run->revision = 8;
    run->rollback_to = 5;
    if (outcome == deploy::Outcome::succeeded) {
        run->health = deploy::WaitResult{.healthy = true};
    } else {
        run->failure = "deploy/web is not ready: ImagePullBackOff";
    }
    return run;
}

TEST(DeployReport, SummarisesObjectsReleaseAndRequests) {
    deploy::DeployResult result;
    result.objects = {change("web", model::Action::created), change("api", model::Action::configured),
                      change("db", model::Action::configured)};
    result.revision = 3;
    const TextReport report = text_report(result, DryRun::no, 12);
    EXPECT_EQ(report.out,
              "deploy/web (apps/v1 Deployment) in ns shop created\n"
              "deploy/api (apps/v1 Deployment) in ns shop configured\n"
              "deploy/db (apps/v1 Deployment) in ns shop configured\n"
              "1 created, 2 configured; release 3; 12 API requests\n");
    EXPECT_EQ(report.errors, "");
}

TEST(DeployReport, NamesThePhaseOfObjectsOutsideTheRelease) {
    deploy::DeployResult result;
    model::Change migrate{.id = {.group = "batch", .version = "v1", .kind = "Job", .namespace_ = "shop", .name = "migrate-3"},
                          .action = model::Action::created,
                          .phase = model::Phase::pre};
    result.objects = {migrate, change("web", model::Action::configured)};
    result.revision = 3;
    const TextReport report = text_report(result, DryRun::no, 9);
    EXPECT_EQ(report.out,
              "job/migrate-3 (batch/v1 Job) in ns shop created (pre phase)\n"
              "deploy/web (apps/v1 Deployment) in ns shop configured\n"
              "1 created, 1 configured; release 3; 9 API requests\n");
    const model::Json json = report_json(result, DryRun::no, 9);
    EXPECT_EQ(json["objects"][0]["phase"], "pre");
    EXPECT_EQ(json["objects"][1]["phase"], "main");
}

TEST(DeployReport, DryRunSaysNothingChanged) {
    const TextReport report = text_report(deploy::DeployResult{}, DryRun::yes, 2);
    EXPECT_EQ(report.out, "nothing to apply (dry run: nothing was changed); 2 API requests\n");
}

TEST(DeployReport, RollbackSummaryNamesTheReleaseRestored) {
    deploy::DeployResult result = *rollback_run(deploy::Outcome::succeeded);
    const TextReport report = text_report(result, DryRun::no, 9);
    EXPECT_NE(report.out.find("rollback to release 5: 1 configured, 1 unchanged; release 8; 9 API requests\n"),
              std::string::npos)
        << report.out;
    EXPECT_EQ(report_json(result, DryRun::no, 9)["rollbackTo"], 5);
}

TEST(DeployReport, HealthyAutomaticRollbackIsReportedAfterTheFailure) {
    deploy::DeployResult result = failed_rollout();
    result.rollback = deploy::AutomaticRollback{.target = 5, .result = rollback_run(deploy::Outcome::succeeded)};
    const TextReport report = text_report(result, DryRun::no, 30);
    EXPECT_NE(report.out.find("1 configured, 1 unchanged; release 7; 30 API requests\n"
                              "rolled back to release 5: 1 configured, 1 unchanged; release 8; healthy again\n"),
              std::string::npos)
        << report.out;
    EXPECT_EQ(report.errors, "error: deploy/web is not ready: CrashLoopBackOff\n");
    // What was asked for is not running: the run failed however well the rollback went.
    EXPECT_EQ(exit_code(result.outcome), k_exit_failed);
}

TEST(DeployReport, NoHealthyReleaseMeansNothingWasRolledBack) {
    deploy::DeployResult result = failed_rollout();
    result.rollback = deploy::AutomaticRollback{.target = 0, .result = nullptr};
    const TextReport report = text_report(result, DryRun::no, 30);
    EXPECT_NE(report.out.find("no release was verified healthy before this one: nothing rolled back\n"), std::string::npos)
        << report.out;

    const model::Json json = report_json(result, DryRun::no, 30);
    EXPECT_EQ(json["rollback"]["target"], 0);
    EXPECT_EQ(json["rollback"]["succeeded"], false);
    EXPECT_EQ(json["rollback"]["revision"], 0);
    EXPECT_EQ(json["rollback"]["objects"], model::Json::array());
    EXPECT_EQ(json["rollback"]["failure"], "no release was verified healthy before this one: nothing rolled back");
}

TEST(DeployReport, FailedRollbackLeavesTheClusterAsItIs) {
    deploy::DeployResult result = failed_rollout();
    result.rollback = deploy::AutomaticRollback{.target = 5, .result = rollback_run(deploy::Outcome::failed)};
    const TextReport report = text_report(result, DryRun::no, 30);
    EXPECT_NE(report.out.find("rolling back to release 5: 1 configured, 1 unchanged; release 8\n"), std::string::npos)
        << report.out;
    EXPECT_NE(report.errors.find("error: the rollback failed too: deploy/web is not ready: ImagePullBackOff; the cluster is "
                                 "left as it is\n"),
              std::string::npos)
        << report.errors;
    EXPECT_EQ(exit_code(result.outcome), k_exit_failed);
}

TEST(DeployReport, JsonCarriesTheAutomaticRollback) {
    deploy::DeployResult result = failed_rollout();
    result.rollback = deploy::AutomaticRollback{.target = 5, .result = rollback_run(deploy::Outcome::succeeded)};
    const model::Json json = report_json(result, DryRun::no, 30);
    EXPECT_EQ(json["succeeded"], false);
    EXPECT_EQ(json["failure"], "deploy/web is not ready: CrashLoopBackOff");
    EXPECT_FALSE(json.contains("rollbackTo"));
    const model::Json& rollback = json["rollback"];
    EXPECT_EQ(rollback["target"], 5);
    EXPECT_EQ(rollback["succeeded"], true);
    EXPECT_EQ(rollback["revision"], 8);
    EXPECT_FALSE(rollback.contains("failure"));
    ASSERT_EQ(rollback["objects"].size(), 2u);
    EXPECT_EQ(rollback["objects"][0]["name"], "web");
    EXPECT_EQ(rollback["objects"][0]["action"], "configured");
}

TEST(DeployReport, JsonWithoutRollbackHasNoRollbackKeys) {
    const model::Json json = report_json(failed_rollout(), DryRun::no, 3);
    EXPECT_FALSE(json.contains("rollback"));
    EXPECT_FALSE(json.contains("rollbackTo"));
    EXPECT_EQ(json["revision"], 7);
    EXPECT_EQ(json["requests"], 3);
    EXPECT_EQ(json["dryRun"], false);
}

TEST(DeployReport, ChangesLeaveOutTheSideThatDoesNotExist) {
    const model::Json json = changes_json({{.kind = diff::FieldChange::Kind::added, .path = "spec.replicas", .after = "3"},
                                           {.kind = diff::FieldChange::Kind::removed, .path = "metadata.labels.a", .before = "\"x\""}});
    EXPECT_EQ(json, model::Json::parse(R"([{"path": "spec.replicas", "after": "3"},
                                           {"path": "metadata.labels.a", "before": "\"x\""}])"));
}

TEST(DeployReport, RefusalExitsTwoAndRejectionOne) {
    EXPECT_EQ(exit_code(deploy::Outcome::succeeded), k_exit_ok);
    EXPECT_EQ(exit_code(deploy::Outcome::refused), k_exit_usage);
    EXPECT_EQ(exit_code(deploy::Outcome::rejected), k_exit_failed);
    EXPECT_EQ(exit_code(deploy::Outcome::failed), k_exit_failed);
}

}  // namespace
}  // namespace minicd::cli
