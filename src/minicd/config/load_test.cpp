#include "minicd/config/load.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace minicd::config {
namespace {

using namespace std::chrono_literals;

const std::filesystem::path k_repository = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();

std::vector<std::string> reports(std::string_view text) {
    std::vector<std::string> lines;
    for (const Diagnostic& diagnostic : check_config(text, "minicd.yaml").diagnostics) {
        lines.push_back(diagnostic.describe());
    }
    return lines;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text += line + "\n";
    }
    return text;
}

// A minimal valid file that tests extend with their own environments.
constexpr std::string_view k_head =
    "app: shop\n"
    "registry: ghcr.io/acme\n"
    "environments:\n";

TEST(ConfigLoad, ExampleIsValidAndReadAsWritten) {
    const CheckedConfig checked = check_config_file((k_repository / "examples" / "minicd.yaml").string());
    std::vector<std::string> lines;
    for (const auto& diagnostic : checked.diagnostics) {
        lines.push_back(diagnostic.describe());
    }
    ASSERT_TRUE(checked.valid()) << joined(lines);
    EXPECT_TRUE(checked.diagnostics.empty()) << joined(lines);
    const Config& config = *checked.config;
    EXPECT_EQ(config.app, "shop");
    EXPECT_EQ(config.registry, "asia-docker.pkg.dev/acme-cr/apps");
    ASSERT_EQ(config.images.size(), 1u);
    EXPECT_EQ(config.images[0].name, "shop");
    EXPECT_EQ(config.images[0].dockerfile, "Dockerfile");
    EXPECT_EQ(config.manifests, "k8s/");
    EXPECT_EQ(config.main_branch, "main");
    ASSERT_EQ(config.environments.size(), 3u);
    EXPECT_EQ(config.environments[0].name, "preview");
    EXPECT_EQ(config.environments[1].name, "staging");
    EXPECT_EQ(config.environments[2].name, "production");

    const Environment& preview = config.environments[0];
    EXPECT_TRUE(preview.per_branch());
    ASSERT_TRUE(preview.on.has_value());
    EXPECT_EQ(preview.on->branch.patterns, std::vector<std::string>{"!main"});
    EXPECT_EQ(preview.ttl, 7 * 24h);
    ASSERT_TRUE(preview.tls.has_value());
    EXPECT_EQ(preview.tls->cluster_issuer, "letsencrypt");
    EXPECT_EQ(preview.gc.max_deletions, 5);
    EXPECT_EQ(preview.cluster.server, "https://dev.k8s.example.com:6443");

    const Environment& production = config.environments[2];
    EXPECT_EQ(production.promote_from, "staging");
    EXPECT_EQ(production.timeout, 10min);
    EXPECT_TRUE(production.on->branch.empty());
    EXPECT_EQ(production.on->tag.patterns, std::vector<std::string>{"v*"});
    EXPECT_TRUE(config.environments[1].prune);
    EXPECT_EQ(config.environments[1].timeout, 5min);
    // history, onFailure and drift are there commented out: the defaults apply.
    for (const Environment& environment : config.environments) {
        EXPECT_EQ(environment.history, 10) << environment.name;
        EXPECT_FALSE(environment.on_failure.has_value()) << environment.name;
        EXPECT_EQ(environment.drift, DriftAction::report) << environment.name;
    }
    EXPECT_EQ(preview.failure_policy(), OnFailure::keep);
    EXPECT_EQ(config.environments[1].failure_policy(), OnFailure::rollback);
    EXPECT_EQ(production.failure_policy(), OnFailure::rollback);
    EXPECT_FALSE(config.allow_tag_overwrite);
    EXPECT_EQ(config.build.tag_length, 7);
}

TEST(ConfigLoad, EveryErrorIsReportedAtOnceWithLineColumnAndField) {
    const auto lines = reports(
        "app: Shop_App\n"
        "registry: https://ghcr.io/acme\n"
        "imagse:\n"
        "  - name: shop\n"
        "environments:\n"
        "  preview:\n"
        "    cluster: {context: dev}\n"
        "    on: {branch: [\"feature/*\", \"bad..name\"]}\n"
        "    namespace: \"{branch}-shop\"\n"
        "    ttl: 7days\n"
        "  production:\n"
        "    cluster: {context: prd, uid: not-a-uid}\n"
        "    on: {tag: \"v*\"}\n"
        "    namespace: \"shop-{branch}\"\n"
        "    promoteFrom: stagin\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:1:6: app: must be a DNS label: at most 63 of a-z, 0-9 and '-', starting with a letter",
        "minicd.yaml:2:11: registry: write the registry without a scheme, e.g. ghcr.io/acme",
        "minicd.yaml:3:1: imagse: unknown key \"imagse\"; did you mean \"images\"?",
        "minicd.yaml:7:5: warning: environments.preview.cluster: the cluster's identity is not pinned: run `minicd env "
        "pin preview` to record its server and uid",
        "minicd.yaml:8:32: environments.preview.on.branch[1]: bad pattern \"bad..name\": Git names cannot hold '..', "
        "'//' or '@{'",
        "minicd.yaml:9:16: environments.preview.namespace: must not start with {branch}: a branch may start with a "
        "digit; put a prefix first, e.g. \"shop-{branch}\"",
        "minicd.yaml:10:10: environments.preview.ttl: expected a duration such as 90s, 10m, 1h30m or 7d, found text",
        "minicd.yaml:12:34: environments.production.cluster.uid: expected the kube-system namespace's UID (8-4-4-4-12 "
        "hex digits, as `minicd env pin` records it)",
        "minicd.yaml:14:16: environments.production.namespace: uses {branch} but the environment is deployed on tags "
        "only; there is no branch",
        "minicd.yaml:15:18: environments.production.promoteFrom: no environment \"stagin\" (environments: preview, "
        "production)",
        "minicd.yaml:15:18: environments.production.promoteFrom: a per-branch environment builds its own images; it "
        "cannot promote",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

TEST(ConfigLoad, MissingFieldsPointAtTheirParent) {
    const auto lines = reports(
        "app: shop\n"
        "environments:\n"
        "  staging:\n"
        "    on: {branch: main}\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:1:1: registry: missing: where images are pushed, e.g. registry: ghcr.io/acme",
        "minicd.yaml:3:3: environments.staging.cluster: missing: the kube context to deploy with, e.g. cluster: "
        "{context: prd}",
        "minicd.yaml:3:3: environments.staging.namespace: missing: the namespace to deploy to, e.g. namespace: "
        "shop-{branch}",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

TEST(ConfigLoad, NoEnvironmentsIsAnError) {
    EXPECT_EQ(reports("app: shop\nregistry: ghcr.io/acme\n"),
              std::vector<std::string>{"minicd.yaml:1:1: environments: missing: at least one environment (e.g. "
                                       "preview, staging, production)"});
    EXPECT_EQ(reports("app: shop\nregistry: ghcr.io/acme\nenvironments: {}\n"),
              std::vector<std::string>{"minicd.yaml:3:15: environments: at least one environment is needed"});
}

TEST(ConfigLoad, EmptyFileAndSyntaxErrorAreOneReport) {
    EXPECT_EQ(reports(""), std::vector<std::string>{"minicd.yaml:1:1: the file is empty; app, registry and "
                                                    "environments are needed"});
    const auto lines = reports("app: shop\nregistry: [unclosed\n");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].starts_with("minicd.yaml:")) << lines[0];
    EXPECT_NE(lines[0].find("invalid YAML"), std::string::npos) << lines[0];
}

TEST(ConfigLoad, SecondDocumentIsAnError) {
    const auto lines = reports(std::string(k_head) + "  s: {cluster: {context: a, uid: 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}, "
                                                     "namespace: shop}\n---\napp: other\n");
    EXPECT_EQ(lines, std::vector<std::string>{"minicd.yaml:6:1: minicd.yaml holds one document; remove the second "
                                              "(after ---)"});
}

TEST(ConfigLoad, NearMissKeysGetASuggestion) {
    const auto lines = reports(std::string(k_head) +
                               "  staging:\n"
                               "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                               "    namepsace: shop\n"
                               "    promote_from: production\n"
                               "    Timeout: 5m\n"
                               "    colour: blue\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:4:3: environments.staging.namespace: missing: the namespace to deploy to, e.g. namespace: "
        "shop-{branch}",
        "minicd.yaml:6:5: environments.staging.namepsace: unknown key \"namepsace\"; did you mean \"namespace\"?",
        "minicd.yaml:7:5: environments.staging.promote_from: unknown key \"promote_from\"; did you mean "
        "\"promoteFrom\"?",
        "minicd.yaml:8:5: environments.staging.Timeout: unknown key \"Timeout\"; did you mean \"timeout\"?",
        "minicd.yaml:9:5: environments.staging.colour: unknown key \"colour\" (known here: cluster, on, namespace, "
        "host, tls, ttl, promoteFrom, prune, timeout, waitForAddresses, adopt, history, onFailure, drift, manifests, "
        "gc)",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

TEST(ConfigLoad, OnKeyIsReadAlthoughYamlCallsItTrue) {
    for (const char* spelling : {"on", "On", "\"on\"", "'on'"}) {
        const std::string text = std::string(k_head) + "  staging:\n    cluster: {context: stg, server: "
                                                       "\"https://stg:6443\"}\n    " +
                                 spelling + ": {branch: main}\n    namespace: shop\n";
        const CheckedConfig checked = check_config(text, "minicd.yaml");
        ASSERT_TRUE(checked.valid()) << spelling << "\n" << joined(reports(text));
        ASSERT_TRUE(checked.config->environments[0].on.has_value()) << spelling;
        EXPECT_EQ(checked.config->environments[0].on->branch.patterns, std::vector<std::string>{"main"});
    }
    // Other spellings of true are not `on`.
    const auto lines = reports(std::string(k_head) +
                               "  staging:\n    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                               "    yes: {branch: main}\n    namespace: shop\n");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0].starts_with("minicd.yaml:6:5: environments.staging.true: unknown key \"yes\"")) << lines[0];
}

TEST(ConfigLoad, Yaml11BooleansGetAHint) {
    const auto lines = reports(std::string(k_head) +
                               "  staging:\n"
                               "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                               "    on: {branch: [main, yes]}\n"
                               "    namespace: shop\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:6:25: environments.staging.on.branch[1]: expected text, found true (YAML reads unquoted "
        "yes/no/on/off/y/n/true/false as booleans: quote the text)",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

TEST(ConfigLoad, PromoteFromCyclesAndSelf) {
    const auto lines = reports(std::string(k_head) +
                               "  a: {cluster: {context: x, uid: 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}, namespace: a, "
                               "promoteFrom: b}\n"
                               "  b: {cluster: {context: x, uid: 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}, namespace: b, "
                               "promoteFrom: c}\n"
                               "  c: {cluster: {context: x, uid: 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}, namespace: c, "
                               "promoteFrom: a}\n"
                               "  d: {cluster: {context: x, uid: 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}, namespace: d, "
                               "promoteFrom: d}\n"
                               "  e: {cluster: {context: x, uid: 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}, namespace: e, "
                               "promoteFrom: a}\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:4:100: environments.a.promoteFrom: promoteFrom goes round in a circle: a -> b -> c -> a",
        "minicd.yaml:7:100: environments.d.promoteFrom: an environment cannot promote from itself",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

TEST(ConfigLoad, PerBranchRulesAreEnforced) {
    const auto lines = reports(std::string(k_head) +
                               "  preview:\n"
                               "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
                               "    namespace: shop-{branch}\n"
                               "    promoteFrom: staging\n"
                               "  staging:\n"
                               "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                               "    on: {branch: main}\n"
                               "    namespace: shop\n"
                               "    ttl: 1d\n"
                               "    tls: {clusterIssuer: a, issuer: b}\n"
                               "  production:\n"
                               "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
                               "    on: {tag: \"v*\"}\n"
                               "    namespace: shop\n"
                               "    promoteFrom: preview\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:6:16: environments.preview.namespace: uses {branch}: add on: {branch: ...} to say which "
        "branches get one",
        "minicd.yaml:7:18: environments.preview.promoteFrom: a per-branch environment builds its own images; it "
        "cannot promote",
        "minicd.yaml:12:5: environments.staging.ttl: applies only to per-branch environments ({branch} in namespace)",
        "minicd.yaml:13:5: environments.staging.tls: give exactly one of clusterIssuer and issuer",
        "minicd.yaml:13:5: environments.staging.tls: tls needs a host to make a certificate for",
        "minicd.yaml:18:18: environments.production.promoteFrom: \"preview\" has one namespace per branch: which "
        "one's images would be promoted is not defined",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

TEST(ConfigLoad, NamespaceAndHostTemplatesMustGiveDnsNames) {
    const auto lines = reports(std::string(k_head) +
                               "  a:\n"
                               "    cluster: {context: x, server: \"https://x:6443\"}\n"
                               "    on: {branch: \"a/*\"}\n"
                               "    namespace: Shop-{branch}\n"
                               "    host: \"{branch}.{sha}.example.com\"\n"
                               "  b:\n"
                               "    cluster: {context: x, server: \"https://x:6443\"}\n"
                               "    on: {branch: \"b/*\"}\n"
                               "    namespace: \"" +
                               std::string(56, 'p') +
                               "-{branch}\"\n"
                               "    host: \"{branch}..example.com\"\n"
                               "  c:\n"
                               "    cluster: {context: x, server: \"https://x:6443\"}\n"
                               "    namespace: kube-{env}\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:7:16: environments.a.namespace: only lowercase letters, digits and '-' may stand around the "
        "placeholders",
        "minicd.yaml:8:11: environments.a.host: unknown placeholder {sha} (known: {branch}, {app}, {env})",
        "minicd.yaml:12:16: environments.b.namespace: leaves 6 characters for {branch}; at least 8 are needed (63 in "
        "all)",
        "minicd.yaml:13:11: environments.b.host: \"(empty)\" is not a DNS label (1 to 63 of a-z, 0-9 and '-', not "
        "starting or ending with '-')",
        "minicd.yaml:16:16: environments.c.namespace: names starting with kube- are reserved by Kubernetes",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

TEST(ConfigLoad, OverlappingTriggersAreAWarning) {
    // Git Flow written carelessly: develop is a "branch that is not main" too.
    const std::string text = std::string(k_head) +
                             "  preview:\n"
                             "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
                             "    on: {branch: \"!main\"}\n"
                             "    namespace: shop-{branch}\n"
                             "  staging:\n"
                             "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                             "    on: {branch: [develop, \"release/*\"]}\n"
                             "    namespace: shop\n";
    const std::vector<std::string> expected = {
        "minicd.yaml:10:5: warning: environments.staging.on: branch \"develop\" deploys both preview and staging",
    };
    EXPECT_EQ(reports(text), expected) << joined(reports(text));
    EXPECT_TRUE(check_config(text, "minicd.yaml").valid());
}

TEST(ConfigLoad, SharedNamespaceOnOneContextIsAWarning) {
    const auto lines = reports(std::string(k_head) +
                               "  staging: {cluster: {context: one, server: \"https://one:6443\"}, namespace: shop}\n"
                               "  qa: {cluster: {context: one, server: \"https://one:6443\"}, namespace: shop}\n"
                               "  production: {cluster: {context: two, server: \"https://two:6443\"}, namespace: shop}\n");
    EXPECT_EQ(lines, std::vector<std::string>{"minicd.yaml:5:72: warning: environments.qa.namespace: namespace "
                                              "\"shop\" on context \"one\" is also staging's"});
}

TEST(ConfigLoad, TokenEnvMustBeAVariableNameAndIsNeverEchoed) {
    const std::string token = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
    const auto lines = reports(std::string(k_head) +
                               "  preview:\n"
                               "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
                               "    on: {branch: \"*\"}\n"
                               "    namespace: shop-{branch}\n"
                               "    gc: {tokenEnv: " +
                               token + "}\n");
    ASSERT_EQ(lines.size(), 1u) << joined(lines);
    EXPECT_EQ(lines[0], "minicd.yaml:8:20: environments.preview.gc.tokenEnv: expected the NAME of an environment "
                        "variable holding the token (A-Z, 0-9 and _), e.g. GITHUB_TOKEN");
    EXPECT_EQ(lines[0].find(token), std::string::npos);
}

TEST(ConfigLoad, AdoptIsABooleanReportedWhereItIsWritten) {
    const std::string head = std::string(k_head) +
                             "  staging:\n"
                             "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                             "    namespace: shop\n";
    const CheckedConfig checked = check_config(head + "    adopt: true\n", "minicd.yaml");
    ASSERT_TRUE(checked.valid()) << joined(reports(head + "    adopt: true\n"));
    EXPECT_TRUE(checked.config->environments[0].adopt);

    EXPECT_EQ(reports(head + "    adopt: helm\n"),
              std::vector<std::string>{"minicd.yaml:7:12: environments.staging.adopt: expected true or false, found "
                                       "text"});
    EXPECT_EQ(reports(head + "    adopt: 1\n"),
              std::vector<std::string>{"minicd.yaml:7:12: environments.staging.adopt: expected true or false, found "
                                       "1"});
}

TEST(ConfigLoad, FailurePolicyDefaultsToRollbackExceptForPreviews) {
    const std::string fixed = std::string(k_head) +
                              "  staging:\n"
                              "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                              "    namespace: shop\n";
    const std::string preview = std::string(k_head) +
                                "  preview:\n"
                                "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
                                "    on: {branch: \"*\"}\n"
                                "    namespace: shop-{branch}\n";
    const auto policy = [](const std::string& text) {
        const CheckedConfig checked = check_config(text, "minicd.yaml");
        EXPECT_TRUE(checked.valid()) << joined(reports(text));
        return checked.valid() ? std::optional(checked.config->environments[0].failure_policy()) : std::nullopt;
    };
    EXPECT_EQ(policy(fixed), OnFailure::rollback);
    EXPECT_EQ(policy(preview), OnFailure::keep);
    // Written, the value holds whatever the kind of environment.
    EXPECT_EQ(policy(fixed + "    onFailure: keep\n"), OnFailure::keep);
    EXPECT_EQ(policy(preview + "    onFailure: rollback\n"), OnFailure::rollback);
    EXPECT_EQ(policy(fixed + "    onFailure: rollback\n"), OnFailure::rollback);
    EXPECT_EQ(policy(preview + "    onFailure: keep\n"), OnFailure::keep);
}

TEST(ConfigLoad, HistoryAndOnFailureAreCheckedWhereTheyAreWritten) {
    const std::string head = std::string(k_head) +
                             "  staging:\n"
                             "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                             "    namespace: shop\n";
    for (const int kept : {1, 100}) {
        const std::string text = head + "    history: " + std::to_string(kept) + "\n";
        const CheckedConfig checked = check_config(text, "minicd.yaml");
        ASSERT_TRUE(checked.valid()) << joined(reports(text));
        EXPECT_EQ(checked.config->environments[0].history, kept);
    }
    EXPECT_EQ(reports(head + "    history: 0\n"),
              std::vector<std::string>{"minicd.yaml:7:14: environments.staging.history: must be between 1 and 100, "
                                       "found 0"});
    EXPECT_EQ(reports(head + "    history: 101\n"),
              std::vector<std::string>{"minicd.yaml:7:14: environments.staging.history: must be between 1 and 100, "
                                       "found 101"});
    EXPECT_EQ(reports(head + "    history: -3\n"),
              std::vector<std::string>{"minicd.yaml:7:14: environments.staging.history: must be between 1 and 100, "
                                       "found -3"});
    EXPECT_EQ(reports(head + "    history: ten\n"),
              std::vector<std::string>{"minicd.yaml:7:14: environments.staging.history: expected a whole number from "
                                       "1 to 100, found text"});
    EXPECT_EQ(reports(head + "    history: 2.5\n"),
              std::vector<std::string>{"minicd.yaml:7:14: environments.staging.history: expected a whole number from "
                                       "1 to 100, found 2.5"});
    EXPECT_EQ(reports(head + "    onFailure: revert\n"),
              std::vector<std::string>{"minicd.yaml:7:16: environments.staging.onFailure: expected rollback (re-apply "
                                       "the last healthy release) or keep (leave the failed rollout as it is)"});
    EXPECT_EQ(reports(head + "    onFailure: Rollback\n"),
              std::vector<std::string>{"minicd.yaml:7:16: environments.staging.onFailure: expected rollback (re-apply "
                                       "the last healthy release) or keep (leave the failed rollout as it is)"});
    EXPECT_EQ(reports(head + "    onFailure: true\n"),
              std::vector<std::string>{"minicd.yaml:7:16: environments.staging.onFailure: expected text, found true "
                                       "(YAML reads unquoted yes/no/on/off/y/n/true/false as booleans: quote the "
                                       "text)"});
    EXPECT_EQ(reports(head + "    on_failure: keep\n"),
              std::vector<std::string>{"minicd.yaml:7:5: environments.staging.on_failure: unknown key \"on_failure\"; "
                                       "did you mean \"onFailure\"?"});
}

TEST(ConfigLoad, DriftIsReadAndCheckedWhereItIsWritten) {
    const std::string head = std::string(k_head) +
                             "  staging:\n"
                             "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                             "    namespace: shop\n";
    const auto action = [](const std::string& text) {
        const CheckedConfig checked = check_config(text, "minicd.yaml");
        EXPECT_TRUE(checked.valid()) << joined(reports(text));
        EXPECT_TRUE(checked.diagnostics.empty()) << joined(reports(text));
        return checked.valid() ? std::optional(checked.config->environments[0].drift) : std::nullopt;
    };
    EXPECT_EQ(action(head), DriftAction::report);
    EXPECT_EQ(action(head + "    drift: report\n"), DriftAction::report);
    EXPECT_EQ(action(head + "    drift: fix\n"), DriftAction::fix);

    const std::string expected = "minicd.yaml:7:12: environments.staging.drift: expected report (name what drifted, exit "
                                 "3) or fix (re-apply the last release's version of what drifted)";
    EXPECT_EQ(reports(head + "    drift: repair\n"), std::vector<std::string>{expected});
    EXPECT_EQ(reports(head + "    drift: Fix\n"), std::vector<std::string>{expected});
    EXPECT_EQ(reports(head + "    drift: true\n"),
              std::vector<std::string>{"minicd.yaml:7:12: environments.staging.drift: expected text, found true (YAML "
                                       "reads unquoted yes/no/on/off/y/n/true/false as booleans: quote the text)"});

    // Previews are never checked for drift: the setting is read, and the reader is told.
    const std::string preview = std::string(k_head) +
                                "  preview:\n"
                                "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
                                "    on: {branch: \"*\"}\n"
                                "    namespace: shop-{branch}\n"
                                "    drift: fix\n";
    const CheckedConfig checked = check_config(preview, "minicd.yaml");
    ASSERT_TRUE(checked.valid()) << joined(reports(preview));
    EXPECT_EQ(checked.config->environments[0].drift, DriftAction::fix);
    EXPECT_EQ(reports(preview), std::vector<std::string>{"minicd.yaml:8:5: warning: environments.preview.drift: is not used "
                                                         "by previews: a scheduled minicd ci checks fixed environments "
                                                         "for drift"});
}

TEST(ConfigLoad, EverythingOptionalHasItsDefault) {
    const CheckedConfig checked = check_config(std::string(k_head) +
                                                   "  preview:\n"
                                                   "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
                                                   "    on: {branch: \"*\"}\n"
                                                   "    namespace: shop-{branch}\n",
                                               "minicd.yaml");
    ASSERT_TRUE(checked.valid());
    const Config& config = *checked.config;
    EXPECT_TRUE(config.images.empty());
    EXPECT_EQ(config.manifests, "k8s");
    EXPECT_EQ(config.build.builder, "");
    EXPECT_EQ(config.build.tag_length, 7);
    EXPECT_FALSE(config.build.allow_dirty);
    EXPECT_FALSE(config.allow_tag_overwrite);
    const Environment& preview = config.environments[0];
    EXPECT_EQ(preview.ttl, 0s);
    EXPECT_TRUE(preview.prune);
    EXPECT_EQ(preview.timeout, 5min);
    EXPECT_FALSE(preview.adopt);
    EXPECT_EQ(preview.history, 10);
    EXPECT_FALSE(preview.on_failure.has_value());
    EXPECT_EQ(preview.failure_policy(), OnFailure::keep);
    EXPECT_EQ(preview.drift, DriftAction::report);
    EXPECT_EQ(preview.manifests, "");
    EXPECT_TRUE(preview.gc.enabled);
    EXPECT_EQ(preview.gc.max_deletions, 5);
    EXPECT_EQ(preview.gc.branches, BranchSource::remote);
    EXPECT_EQ(preview.gc.remote, "origin");
    EXPECT_EQ(preview.gc.token_env, "");
    EXPECT_FALSE(preview.tls.has_value());
}

TEST(ConfigLoad, FullFileReadsEveryField) {
    const CheckedConfig checked = check_config(
        "app: shop\n"
        "registry: localhost:5000/apps\n"
        "images:\n"
        "  - name: shop/web\n"
        "    context: web\n"
        "    dockerfile: build/Dockerfile\n"
        "    target: runtime\n"
        "    buildArgs: {VERSION: \"1.2\", _DEBUG: \"no\"}\n"
        "manifests: deploy/base\n"
        "build: {builder: buildah, tagLength: 12, allowDirty: true}\n"
        "allowTagOverwrite: true\n"
        "mainBranch: master\n"
        "imagePaths:\n"
        "  - {kind: CronTab, group: stable.example.com, path: spec.image}\n"
        "environments:\n"
        "  preview:\n"
        "    cluster: {context: dev, kubeconfig: /etc/kube/dev, server: \"https://dev:6443\"}\n"
        "    on: {branch: [\"feature/*\", \"!feature/wip-*\"]}\n"
        "    namespace: \"{app}-{branch}\"\n"
        "    host: \"{branch}-{app}.preview.example.com\"\n"
        "    tls: {issuer: local-ca, secretName: preview-tls}\n"
        "    ttl: 36h\n"
        "    prune: false\n"
        "    timeout: 90\n"
        "    adopt: true\n"
        "    history: 25\n"
        "    onFailure: rollback\n"
        "    manifests: deploy/preview\n"
        "    gc: {enabled: true, maxDeletions: 2, branches: refs, remote: upstream}\n",
        "minicd.yaml");
    std::vector<std::string> lines;
    for (const auto& diagnostic : checked.diagnostics) {
        lines.push_back(diagnostic.describe());
    }
    ASSERT_TRUE(checked.valid()) << joined(lines);
    const Config& config = *checked.config;
    EXPECT_EQ(config.images[0].name, "shop/web");
    EXPECT_EQ(config.images[0].context, "web");
    EXPECT_EQ(config.images[0].dockerfile, "build/Dockerfile");
    EXPECT_EQ(config.images[0].target, "runtime");
    EXPECT_EQ(config.images[0].build_args.at("VERSION"), "1.2");
    EXPECT_EQ(config.manifests, "deploy/base");
    EXPECT_EQ(config.build.builder, "buildah");
    EXPECT_EQ(config.build.tag_length, 12);
    EXPECT_TRUE(config.build.allow_dirty);
    EXPECT_TRUE(config.allow_tag_overwrite);
    EXPECT_EQ(config.main_branch, "master");
    ASSERT_EQ(config.image_paths.size(), 1u);
    EXPECT_EQ(config.image_paths[0].group, "stable.example.com");
    const Environment& preview = config.environments[0];
    EXPECT_EQ(preview.cluster.kubeconfig, "/etc/kube/dev");
    EXPECT_EQ(preview.tls->issuer, "local-ca");
    EXPECT_EQ(preview.tls->secret_name, "preview-tls");
    EXPECT_EQ(preview.ttl, 36h);
    EXPECT_FALSE(preview.prune);
    EXPECT_EQ(preview.timeout, 90s);
    EXPECT_TRUE(preview.adopt);
    EXPECT_EQ(preview.history, 25);
    EXPECT_EQ(preview.on_failure, OnFailure::rollback);
    EXPECT_EQ(preview.failure_policy(), OnFailure::rollback);
    EXPECT_EQ(preview.manifests, "deploy/preview");
    EXPECT_EQ(preview.gc.max_deletions, 2);
    EXPECT_EQ(preview.gc.branches, BranchSource::refs);
    EXPECT_EQ(preview.gc.remote, "upstream");
}

TEST(ConfigLoad, EnvironmentsKeepTheFileOrder) {
    const CheckedConfig checked = check_config(std::string(k_head) +
                                                   "  zeta: {cluster: {context: z, server: \"https://z:1\"}, namespace: z}\n"
                                                   "  alpha: {cluster: {context: a, server: \"https://a:1\"}, namespace: a}\n"
                                                   "  mid: {cluster: {context: m, server: \"https://m:1\"}, namespace: m}\n",
                                               "minicd.yaml");
    ASSERT_TRUE(checked.valid());
    ASSERT_EQ(checked.config->environments.size(), 3u);
    EXPECT_EQ(checked.config->environments[0].name, "zeta");
    EXPECT_EQ(checked.config->environments[1].name, "alpha");
    EXPECT_EQ(checked.config->environments[2].name, "mid");
}

TEST(ConfigLoad, ImagesAndRegistryAreChecked) {
    const auto lines = reports(
        "app: shop\n"
        "registry: ghcr.io/Acme\n"
        "images:\n"
        "  - name: shop\n"
        "  - name: shop\n"
        "  - name: Shop\n"
        "    buildArgs: {1X: \"a\", OK: 3}\n"
        "  - context: .\n"
        "environments:\n"
        "  s: {cluster: {context: x, server: \"https://x:1\"}, namespace: s}\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:2:11: registry: the path after the host must be lowercase a-z, 0-9 and . _ - / between them",
        "minicd.yaml:5:11: images[1].name: image \"shop\" is listed twice",
        "minicd.yaml:6:11: images[2].name: must be a repository name: lowercase a-z, 0-9 and . _ - / between them",
        "minicd.yaml:7:17: images[2].buildArgs.1X: build argument names are letters, digits and _, not starting with a "
        "digit",
        "minicd.yaml:7:30: images[2].buildArgs.OK: expected text, found 3 (quote it to keep it as written)",
        "minicd.yaml:8:5: images[3].name: missing: the image name the manifests use",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

TEST(ConfigLoad, LoadConfigListsEveryErrorInOneInputError) {
    const auto path = std::filesystem::temp_directory_path() / "minicd-load-config-test.yaml";
    {
        std::FILE* file = std::fopen(path.c_str(), "w");
        ASSERT_NE(file, nullptr);
        std::fputs("app: Bad\nregistry: ghcr.io/acme\nenvironments: {}\n", file);
        std::fclose(file);
    }
    auto config = load_config(path.string());
    std::filesystem::remove(path);
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().code, util::ErrorCode::input);
    EXPECT_NE(config.error().message.find("2 errors"), std::string::npos) << config.error().message;
    EXPECT_NE(config.error().message.find(":1:6: app:"), std::string::npos) << config.error().message;
    EXPECT_NE(config.error().message.find(":3:15: environments:"), std::string::npos) << config.error().message;

    auto missing = load_config("/nonexistent/minicd.yaml");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("/nonexistent/minicd.yaml"), std::string::npos);
}

}  // namespace
}  // namespace minicd::config
