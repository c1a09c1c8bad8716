#include "minicd/cli/drift_report.hpp"

#include <gtest/gtest.h>

#include <string>

namespace minicd::cli {
namespace {

using deploy::DriftClass;
using deploy::FieldDrift;
using deploy::GitChange;
using model::Json;

model::ObjectId object(std::string group, std::string kind, std::string name) {
    return {.group = std::move(group), .version = "v1", .kind = std::move(kind), .namespace_ = "shop-staging",
            .name = std::move(name)};
}

const model::ObjectId k_web = object("apps", "Deployment", "web");
const model::ObjectId k_service = object("", "Service", "web");
const model::ObjectId k_settings = object("", "ConfigMap", "settings");

// Release 3 of shop/staging, as the stories below find it.
EnvironmentDrift staging() {
    EnvironmentDrift environment{.name = "staging", .target = {.app = "shop", .env = "staging", .namespace_ = "shop-staging"}};
    deploy::DriftReport report;
    report.release.revision = 3;
    report.release.git_sha = "0123456789abcdef0123";
    report.release.time = "2026-12-03T22:14:00Z";
    environment.report = std::move(report);
    return environment;
}

// The image set by hand with kubectl edit, the Service deleted, replicas scaled by an autoscaler.
EnvironmentDrift edited() {
    EnvironmentDrift environment = staging();
    environment.report->live = {
        {.id = k_web,
         .drift = DriftClass::modified,
         .fields = {{.path = "spec.template.spec.containers[main].image",
                     .before = "registry/app@sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b",
                     .after = "nginx:latest",
                     .manager = "kubectl-edit",
                     .operation = "Update",
                     .time = "2026-12-03T22:14:00Z"}}},
        {.id = k_service, .drift = DriftClass::deleted, .fields = {}},
        {.id = k_web,
         .drift = DriftClass::scaled,
         .fields = {{.path = "spec.replicas", .before = 2, .after = 5, .manager = "kube-controller-manager",
                     .operation = "Update/scale", .time = ""}}},
    };
    return environment;
}

TEST(DriftReport, ValuesAreCompactJsonAndLongStringsAreCut) {
    EXPECT_EQ(drift_value(Json("on")), "\"on\"");
    EXPECT_EQ(drift_value(Json(5)), "5");
    EXPECT_EQ(drift_value(Json::parse(R"({"cpu":"500m"})")), R"({"cpu":"500m"})");
    EXPECT_EQ(drift_value(Json()), "(gone)");
    const std::string cut = drift_value(Json(std::string(200, 'a')));
    EXPECT_EQ(cut, "\"" + std::string(77, 'a') + "...\"");
}

TEST(DriftReport, FieldLinesSayWhoChangedThem) {
    EXPECT_EQ(describe_field({.path = "data.mode", .before = "on", .after = "off", .manager = "kubectl-patch",
                              .operation = "Update", .time = "2026-12-03T22:14:00Z"}),
              "data.mode: \"on\" → \"off\" (kubectl-patch, Update, 2026-12-03T22:14:00Z)");
    EXPECT_EQ(describe_field({.path = "data.mode", .before = "on", .after = nullptr}), "data.mode: \"on\" → (gone)");
    EXPECT_EQ(describe_field({.path = "data.mode", .before = "on", .after = "on", .manager = "helm", .operation = "Apply"}),
              "data.mode: \"on\" unchanged (helm, Apply)");
    EXPECT_EQ(object_name(k_web), "deploy/web");
    EXPECT_EQ(object_name(k_settings), "cm/settings");
}

TEST(DriftReport, TextListsDriftThenInformationThenUndeployedChanges) {
    EnvironmentDrift environment = edited();
    environment.report->undeployed = std::vector<deploy::UndeployedChange>{
        {.id = k_settings,
         .change = GitChange::changed,
         .fields = {{.kind = model::FieldChange::Kind::changed, .path = "data.mode", .before = "\"on\"", .after = "\"off\""}}},
        {.id = k_service, .change = GitChange::removed, .fields = {}},
    };
    EXPECT_EQ(drift_text(environment),
              "staging: shop/staging in namespace shop-staging, compared with release 3 (commit 0123456789ab, deployed "
              "2026-12-03T22:14:00Z)\n"
              "live drift: 2 objects\n"
              "  deploy/web modified\n"
              "      spec.template.spec.containers[main].image: \"registry/app@sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3"
              "e4f5a6b7c8d9...\" → \"nginx:latest\" (kubectl-edit, Update, 2026-12-03T22:14:00Z)\n"
              "  svc/web deleted\n"
              "  information (not drift):\n"
              "    deploy/web spec.replicas: 2 → 5 (kube-controller-manager, Update/scale)\n"
              "undeployed changes in Git: 2 objects\n"
              "  cm/settings changed\n"
              "      data.mode: \"on\" -> \"off\"\n"
              "  svc/web removed\n");
}

TEST(DriftReport, CleanTextSaysSoAndOnlyComparesGitWhenAsked) {
    EnvironmentDrift environment = staging();
    environment.report->release.git_sha.clear();
    EXPECT_EQ(drift_text(environment),
              "staging: shop/staging in namespace shop-staging, compared with release 3 (deployed 2026-12-03T22:14:00Z)\n"
              "live drift: none\n");
    environment.report->undeployed = std::vector<deploy::UndeployedChange>{};
    EXPECT_EQ(drift_text(environment),
              "staging: shop/staging in namespace shop-staging, compared with release 3 (deployed 2026-12-03T22:14:00Z)\n"
              "live drift: none\n"
              "undeployed changes in Git: none\n");

    EnvironmentDrift preview{.name = "preview",
                             .branch = "feature/login",
                             .target = {.app = "shop", .env = "preview", .namespace_ = "shop-feature-login"},
                             .comparison = Comparison::nothing_deployed};
    EXPECT_EQ(drift_text(preview),
              "preview (branch feature/login): shop/preview in namespace shop-feature-login: nothing deployed yet\n");
    EnvironmentDrift failed{.name = "production", .comparison = Comparison::failed, .error = "connection refused"};
    EXPECT_EQ(drift_text(failed), "") << "errors go to stderr";
}

TEST(DriftReport, ScaledReplicasAloneAreNoDrift) {
    EnvironmentDrift environment = edited();
    environment.report->live.erase(environment.report->live.begin(), environment.report->live.begin() + 2);
    EXPECT_FALSE(drift_left(environment));
    EXPECT_EQ(drift_text(environment).substr(drift_text(environment).find('\n') + 1),
              "live drift: none\n"
              "  information (not drift):\n"
              "    deploy/web spec.replicas: 2 → 5 (kube-controller-manager, Update/scale)\n");
    EXPECT_EQ(drift_json({environment}, 7)["drifted"], false);
}

TEST(DriftReport, JsonHasEveryFieldWithWholeValues) {
    const model::Json json = drift_json({edited()}, 12);
    EXPECT_EQ(json["drifted"], true);
    EXPECT_EQ(json["requests"], 12);
    ASSERT_EQ(json["environments"].size(), 1u);
    const model::Json& environment = json["environments"][0];
    EXPECT_EQ(environment["environment"], "staging");
    EXPECT_FALSE(environment.contains("branch"));
    EXPECT_EQ(environment["app"], "shop");
    EXPECT_EQ(environment["env"], "staging");
    EXPECT_EQ(environment["namespace"], "shop-staging");
    EXPECT_EQ(environment["status"], "compared");
    EXPECT_EQ(environment["revision"], 3);
    EXPECT_EQ(environment["gitSha"], "0123456789abcdef0123");
    EXPECT_EQ(environment["drifted"], true);
    EXPECT_FALSE(environment.contains("undeployed")) << "Git was not compared";
    EXPECT_FALSE(environment.contains("fixed"));
    EXPECT_FALSE(environment.contains("error"));

    const model::Json& live = environment["live"];
    ASSERT_EQ(live.size(), 3u);
    EXPECT_EQ(live[0]["apiVersion"], "apps/v1");
    EXPECT_EQ(live[0]["kind"], "Deployment");
    EXPECT_EQ(live[0]["namespace"], "shop-staging");
    EXPECT_EQ(live[0]["name"], "web");
    EXPECT_EQ(live[0]["class"], "modified");
    const model::Json& image = live[0]["fields"][0];
    EXPECT_EQ(image["path"], "spec.template.spec.containers[main].image");
    EXPECT_EQ(image["before"], "registry/app@sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b");
    EXPECT_EQ(image["after"], "nginx:latest");
    EXPECT_EQ(image["manager"], "kubectl-edit");
    EXPECT_EQ(image["operation"], "Update");
    EXPECT_EQ(image["time"], "2026-12-03T22:14:00Z");
    EXPECT_EQ(live[1]["class"], "deleted");
    EXPECT_EQ(live[1]["fields"], Json::array());
    EXPECT_EQ(live[2]["class"], "scaled");
    EXPECT_EQ(live[2]["fields"][0]["after"], 5);
}

TEST(DriftReport, JsonCarriesUndeployedChangesTheFixAndErrors) {
    EnvironmentDrift environment = edited();
    environment.report->undeployed = std::vector<deploy::UndeployedChange>{
        {.id = k_settings,
         .change = GitChange::changed,
         .fields = {{.kind = model::FieldChange::Kind::added, .path = "data.extra", .before = "", .after = "\"1\""}}},
    };
    deploy::DeployResult fixed;
    fixed.revision = 4;
    fixed.objects = {{.id = k_service, .action = model::Action::created, .detail = "", .changes = {}}};
    environment.fixed = fixed;
    EXPECT_FALSE(drift_left(environment)) << "fixed";

    const model::Json json = environment_json(environment);
    ASSERT_EQ(json["undeployed"].size(), 1u);
    EXPECT_EQ(json["undeployed"][0]["kind"], "ConfigMap");
    EXPECT_EQ(json["undeployed"][0]["change"], "changed");
    EXPECT_EQ(json["undeployed"][0]["fields"][0]["path"], "data.extra");
    EXPECT_EQ(json["undeployed"][0]["fields"][0]["after"], "\"1\"");
    EXPECT_FALSE(json["undeployed"][0]["fields"][0].contains("before")) << "added: there is no before";
    EXPECT_EQ(json["fixed"]["succeeded"], true);
    EXPECT_EQ(json["fixed"]["revision"], 4);
    EXPECT_EQ(json["fixed"]["objects"][0]["action"], "created");
    EXPECT_FALSE(json["fixed"].contains("requests"));
    EXPECT_FALSE(json["fixed"].contains("failure"));

    environment.fixed->outcome = deploy::Outcome::failed;
    environment.fixed->failure = "deploy/web is not ready";
    EXPECT_TRUE(drift_left(environment));
    EXPECT_EQ(environment_json(environment)["fixed"]["failure"], "deploy/web is not ready");

    EnvironmentDrift failed{.name = "production",
                            .target = {.app = "shop", .env = "production", .namespace_ = "shop"},
                            .comparison = Comparison::failed,
                            .error = "no release is recorded: nothing was deployed here"};
    const model::Json error = environment_json(failed);
    EXPECT_EQ(error["status"], "failed");
    EXPECT_EQ(error["error"], "no release is recorded: nothing was deployed here");
    EXPECT_EQ(error["drifted"], false);
    EXPECT_EQ(error["revision"], 0);
    EXPECT_EQ(error["live"], Json::array());
}

TEST(DriftReport, MarkdownHasATablePerEnvironmentWithPipesEscaped) {
    EnvironmentDrift environment = edited();
    environment.report->live[0].fields[0].after = "a|b";
    environment.report->undeployed =
        std::vector<deploy::UndeployedChange>{{.id = k_settings, .change = GitChange::added, .fields = {}}};
    EnvironmentDrift clean = staging();
    clean.name = "production";
    clean.target.env = "production";
    EXPECT_EQ(drift_markdown({environment, clean}),
              "### minicd drift\n\n"
              "#### staging\n\n"
              "shop/staging in namespace shop-staging, compared with release 3 (commit 0123456789ab, deployed "
              "2026-12-03T22:14:00Z).\n\n"
              "| Object | Class | Field | Before → After | Changed by |\n"
              "| --- | --- | --- | --- | --- |\n"
              "| `deploy/web` | modified | `spec.template.spec.containers[main].image` | "
              "`\"registry/app@sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9...\"` → `\"a\\|b\"` | "
              "kubectl-edit (Update, 2026-12-03T22:14:00Z) |\n"
              "| `svc/web` | deleted | | | |\n"
              "| `deploy/web` | scaled (not drift) | `spec.replicas` | `2` → `5` | kube-controller-manager (Update/scale) |\n"
              "\n"
              "Undeployed changes in Git (the next deploy applies them):\n\n"
              "- `cm/settings` added\n"
              "\n"
              "#### production\n\n"
              "shop/production in namespace shop-staging, compared with release 3 (commit 0123456789ab, deployed "
              "2026-12-03T22:14:00Z).\n\n"
              "No drift.\n\n");
}

}  // namespace
}  // namespace minicd::cli
