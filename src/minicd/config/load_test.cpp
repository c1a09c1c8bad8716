#include "minicd/config/load.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
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
    EXPECT_EQ(config.manifests.path, "k8s/");
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

TEST(ConfigLoad, AnUnpinnedClusterIsAWarningTheGuardRestatesWhenConnecting) {
    auto checked = check_config("app: shop\nregistry: ghcr.io/acme\nenvironments:\n  staging:\n"
                                "    cluster: {context: dev}\n    namespace: shop\n",
                                "minicd.yaml");
    ASSERT_TRUE(checked.valid());
    ASSERT_EQ(checked.diagnostics.size(), 1U);
    const Diagnostic& unpinned = checked.diagnostics[0];
    // `config validate` shows it; a command that runs leaves it to the guard, which names the server it found.
    EXPECT_EQ(unpinned.restated, Restated::on_connect);
    EXPECT_EQ(unpinned.describe(), "minicd.yaml:5:5: warning: environments.staging.cluster: "
              "the cluster's identity is not pinned: run `minicd env pin staging` to record its server and uid");
    // A log line's level says "warning" already.
    EXPECT_EQ(unpinned.describe_unlabelled(), "minicd.yaml:5:5: environments.staging.cluster: "
              "the cluster's identity is not pinned: run `minicd env pin staging` to record its server and uid");
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
        "gc, strategy)",
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

TEST(ConfigLoad, ABareNumberOfSecondsBeyondAHundredYearsIsRefused) {
    // As seconds, int64's largest value would overflow every clock the timeout is added to.
    const auto lines = reports(std::string(k_head) +
                               "  staging:\n"
                               "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                               "    on: {branch: main}\n"
                               "    namespace: shop\n"
                               "    timeout: 9223372036854775807\n"
                               "  production:\n"
                               "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
                               "    on: {tag: \"v*\"}\n"
                               "    namespace: shop\n"
                               "    timeout: 3153600000\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:8:14: environments.staging.timeout: expected a duration such as 90s, 10m, 1h30m or 7d, found "
        "9223372036854775807",
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
    EXPECT_EQ(config.manifests.path, "k8s");
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
    EXPECT_FALSE(preview.manifests);
    EXPECT_TRUE(preview.gc.enabled);
    EXPECT_EQ(preview.gc.max_deletions, 5);
    EXPECT_EQ(preview.gc.branches, BranchSource::remote);
    EXPECT_EQ(preview.gc.remote, "origin");
    EXPECT_EQ(preview.gc.token_env, "");
    EXPECT_FALSE(preview.tls.has_value());
    EXPECT_FALSE(preview.canary.has_value());
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
    EXPECT_EQ(config.manifests.path, "deploy/base");
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
    ASSERT_TRUE(preview.manifests);
    EXPECT_EQ(preview.manifests->path, "deploy/preview");
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

// production with every canary setting, as the README shows it.
constexpr std::string_view k_canary =
    "app: shop\n"
    "registry: ghcr.io/acme\n"
    "environments:\n"
    "  production:\n"
    "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
    "    on: {tag: \"v*\"}\n"
    "    namespace: shop\n"
    "    strategy:\n"
    "      canary:\n"
    "        workloads: [web]\n"
    "        steps:\n"
    "          - weight: 10\n"
    "            pause: 2m\n"
    "          - weight: 50\n"
    "            pause: 5m\n"
    "        analysis:\n"
    "          prometheus:\n"
    "            address: \"http://prometheus.monitoring:9090\"\n"
    "            tokenEnv: PROMETHEUS_TOKEN\n"
    "            headers: {X-Scope-OrgID: acme}\n"
    "          interval: 30s\n"
    "          metrics:\n"
    "            - name: success-rate\n"
    "              query: sum(rate(http_requests_total{namespace=\"{{namespace}}\",pod=~\"{{canary_pods}}\",code!~\"5..\"}"
    "[1m])) / sum(rate(http_requests_total{namespace=\"{{ namespace }}\",pod=~\"{{canary_pods}}\"}[1m]))\n"
    "              successCondition: \">= 0.99\"\n"
    "              failureCondition: \"< 0.5\"\n"
    "              failureLimit: 1\n"
    "              consecutiveErrorLimit: 4\n"
    "          noData: fail\n";

// k_canary with one piece of text replaced (it must be there once).
std::string canary_with(std::string_view from, std::string_view to) {
    std::string text(k_canary);
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    EXPECT_EQ(text.find(from, at + 1), std::string::npos) << from << " is there twice";
    if (at != std::string::npos) {
        text.replace(at, from.size(), to);
    }
    return text;
}

TEST(ConfigCanary, FullBlockIsReadIntoTheModel) {
    const CheckedConfig checked = check_config(k_canary, "minicd.yaml");
    ASSERT_TRUE(checked.valid()) << joined(reports(k_canary));
    EXPECT_TRUE(checked.diagnostics.empty()) << joined(reports(k_canary));
    const Environment& production = checked.config->environments[0];
    ASSERT_TRUE(production.canary.has_value());
    const model::CanaryStrategy& canary = *production.canary;
    EXPECT_EQ(canary.workloads, std::vector<std::string>{"web"});
    const std::vector<model::CanaryStep> steps = {{.weight = 10, .pause = 2min}, {.weight = 50, .pause = 5min}};
    EXPECT_EQ(canary.steps, steps);
    ASSERT_TRUE(canary.analysis.has_value());
    const model::Analysis& analysis = *canary.analysis;
    EXPECT_EQ(analysis.prometheus.address, "http://prometheus.monitoring:9090");
    EXPECT_EQ(analysis.prometheus.token_env, "PROMETHEUS_TOKEN");
    EXPECT_EQ(analysis.prometheus.headers, (std::map<std::string, std::string>{{"X-Scope-OrgID", "acme"}}));
    EXPECT_EQ(analysis.interval, 30s);
    EXPECT_EQ(analysis.no_data, model::NoData::fail);
    ASSERT_EQ(analysis.metrics.size(), 1u);
    const model::Metric& metric = analysis.metrics[0];
    EXPECT_EQ(metric.name, "success-rate");
    EXPECT_TRUE(metric.query.starts_with("sum(rate(http_requests_total{namespace=\"{{namespace}}\"")) << metric.query;
    EXPECT_NE(metric.query.find("{{ namespace }}"), std::string::npos) << "placeholders are kept as written";
    EXPECT_EQ(metric.success, (model::Condition{.op = model::Condition::Op::greater_equal, .threshold = 0.99}));
    EXPECT_EQ(metric.failure, (model::Condition{.op = model::Condition::Op::less, .threshold = 0.5}));
    EXPECT_EQ(metric.failure_limit, 1);
    EXPECT_EQ(metric.consecutive_error_limit, 4);
}

TEST(ConfigCanary, LeftOutSettingsHaveTheirDefaults) {
    const std::string text = std::string(k_head) +
                             "  production:\n"
                             "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
                             "    namespace: shop\n"
                             "    promoteFrom: staging\n"
                             "    strategy: {canary: {steps: [{weight: 5}, {weight: 20, pause: 0}, {weight: 60, "
                             "pause: 90}]}}\n"
                             "  staging:\n"
                             "    cluster: {context: stg, server: \"https://stg:6443\"}\n"
                             "    namespace: shop-staging\n"
                             "    strategy:\n"
                             "      canary:\n"
                             "        steps: [{weight: 25, pause: 1h30m}]\n"
                             "        analysis:\n"
                             "          prometheus: {address: \"https://prom.example.com/tenant-a\"}\n"
                             "          metrics: [{name: errors, query: \"sum(errors{pod=~'{{canary_pods}}'})\", "
                             "failureCondition: \"> 0\"}]\n";
    const CheckedConfig checked = check_config(text, "minicd.yaml");
    ASSERT_TRUE(checked.valid()) << joined(reports(text));
    EXPECT_TRUE(checked.diagnostics.empty()) << joined(reports(text));
    const model::CanaryStrategy& production = checked.config->find("production")->canary.value();
    EXPECT_TRUE(production.workloads.empty()) << "every Deployment";
    const std::vector<model::CanaryStep> steps = {
        {.weight = 5, .pause = 0s}, {.weight = 20, .pause = 0s}, {.weight = 60, .pause = 90s}};
    EXPECT_EQ(production.steps, steps);
    EXPECT_FALSE(production.analysis.has_value()) << "gated on pod health only";

    const model::Analysis& analysis = checked.config->find("staging")->canary.value().analysis.value();
    EXPECT_EQ(analysis.prometheus.token_env, "");
    EXPECT_TRUE(analysis.prometheus.headers.empty());
    EXPECT_EQ(analysis.interval, 30s);
    EXPECT_EQ(analysis.no_data, model::NoData::fail);
    ASSERT_EQ(analysis.metrics.size(), 1u);
    EXPECT_FALSE(analysis.metrics[0].success.has_value());
    EXPECT_EQ(analysis.metrics[0].failure, (model::Condition{.op = model::Condition::Op::greater, .threshold = 0}));
    EXPECT_EQ(analysis.metrics[0].failure_limit, 0);
    EXPECT_EQ(analysis.metrics[0].consecutive_error_limit, 4);

    // Both choices of noData that are not the default, and limits of 0.
    const std::string pass = canary_with("noData: fail", "noData: pass");
    EXPECT_EQ(check_config(pass, "minicd.yaml").config->environments[0].canary->analysis->no_data, model::NoData::pass);
    const std::string inconclusive =
        canary_with("noData: fail", "noData: inconclusive").replace(std::string(k_canary).find("failureLimit: 1"), 15,
                                                                   "failureLimit: 0");
    const CheckedConfig other = check_config(inconclusive, "minicd.yaml");
    ASSERT_TRUE(other.valid()) << joined(reports(inconclusive));
    EXPECT_EQ(other.config->environments[0].canary->analysis->no_data, model::NoData::inconclusive);
    EXPECT_EQ(other.config->environments[0].canary->analysis->metrics[0].failure_limit, 0);
}

TEST(ConfigCanary, EachProblemIsReportedWhereItIsWritten) {
    struct Case {
        std::string_view from;  // in k_canary
        std::string_view to;
        std::vector<std::string> expected;
    };
    const std::string at = "environments.production.strategy.canary.";
    const std::string analysis = at + "analysis.";
    const std::string metric = analysis + "metrics[0].";
    const std::vector<Case> cases = {
        // steps
        {"          - weight: 10\n", "          - weight: 0\n",
         {"minicd.yaml:12:21: " + at + "steps[0].weight: must be between 1 and 99, found 0"}},
        {"          - weight: 50\n", "          - weight: 100\n",
         {"minicd.yaml:14:21: " + at + "steps[1].weight: must be between 1 and 99, found 100"}},
        {"          - weight: 50\n", "          - weight: 10\n",
         {"minicd.yaml:14:21: " + at +
          "steps[1].weight: must be more than the weight of the step before (10): weights grow from step to step"}},
        {"          - weight: 10\n", "          - weight: ten\n",
         {"minicd.yaml:12:21: " + at + "steps[0].weight: expected a whole number from 1 to 99, found text"}},
        {"          - weight: 10\n            pause: 2m\n", "          - pause: 2m\n",
         {"minicd.yaml:12:13: " + at + "steps[0].weight: missing: the percent of pods on the new version, e.g. "
                                       "weight: 10"}},
        {"            pause: 2m\n", "            pause: 2 minutes\n",
         {"minicd.yaml:13:20: " + at + "steps[0].pause: expected a duration such as 30s, 2m or 1h30m, found text"}},
        {"            pause: 2m\n", "            pause: -5\n",
         {"minicd.yaml:13:20: " + at + "steps[0].pause: expected a duration such as 30s, 2m or 1h30m, found -5"}},
        {"            pause: 2m\n", "            wait: 2m\n",
         {"minicd.yaml:13:13: " + at + "steps[0].wait: unknown key \"wait\" (known here: weight, pause)"}},
        {"          - weight: 50\n            pause: 5m\n", "          - 50\n",
         {"minicd.yaml:14:13: " + at + "steps[1]: expected a mapping (key: value lines), found 50"}},
        {"        steps:\n          - weight: 10\n            pause: 2m\n          - weight: 50\n            pause: 5m\n",
         "        steps: []\n", {"minicd.yaml:11:16: " + at + "steps: a canary needs at least one step"}},
        {"        steps:\n          - weight: 10\n            pause: 2m\n          - weight: 50\n            pause: 5m\n",
         "",
         {"minicd.yaml:9:7: " + at + "steps: missing: the canary's steps, e.g. steps: [{weight: 10, pause: 2m}]"}},
        // workloads, and the keys of canary and strategy
        {"[web]", "[Web]",
         {"minicd.yaml:10:21: " + at + "workloads[0]: expected a Deployment's name: at most 63 of a-z, 0-9 and '-', "
                                       "not starting or ending with '-'"}},
        {"[web]", "[web, api, web]", {"minicd.yaml:10:31: " + at + "workloads[2]: \"web\" is listed twice"}},
        {"[web]", "[]",
         {"minicd.yaml:10:20: " + at + "workloads: an empty list canaries nothing; leave workloads out to canary "
                                       "every Deployment"}},
        {"[web]", "web",
         {"minicd.yaml:10:20: " + at + "workloads: expected a list of Deployment names, e.g. [web], found text"}},
        {"        workloads:", "        workload:",
         {"minicd.yaml:10:9: " + at + "workload: unknown key \"workload\"; did you mean \"workloads\"?"}},
        {"      canary:\n", "      kanary:\n",
         {"minicd.yaml:9:7: environments.production.strategy.kanary: unknown key \"kanary\"; did you mean "
          "\"canary\"?"}},
        {"    strategy:\n      canary:\n        workloads: [web]\n", "    strategy:\n      canary: true\n      x:\n",
         {"minicd.yaml:9:15: environments.production.strategy.canary: expected a mapping (key: value lines), found true",
          "minicd.yaml:10:7: environments.production.strategy.x: unknown key \"x\" (known here: canary)"}},
        // analysis
        {"interval: 30s", "interval: 500ms", {"minicd.yaml:21:21: " + analysis + "interval: must be at least 1s"}},
        {"interval: 30s", "interval: 0", {"minicd.yaml:21:21: " + analysis + "interval: must be at least 1s"}},
        {"interval: 30s", "interval: soon",
         {"minicd.yaml:21:21: " + analysis + "interval: expected a duration such as 30s, 2m or 1h30m, found text"}},
        {"noData: fail", "noData: skip",
         {"minicd.yaml:29:19: " + analysis + "noData: expected fail (a query without data fails the measurement), "
                                             "pass (it succeeds) or inconclusive (neither; a step whose last "
                                             "measurement had no data fails)"}},
        {"noData: fail", "nodata: fail",
         {"minicd.yaml:29:11: " + analysis + "nodata: unknown key \"nodata\"; did you mean \"noData\"?"}},
        {"          prometheus:\n            address: \"http://prometheus.monitoring:9090\"\n"
         "            tokenEnv: PROMETHEUS_TOKEN\n            headers: {X-Scope-OrgID: acme}\n",
         "",
         {"minicd.yaml:16:9: " + analysis + "prometheus: missing: where the queries go, e.g. prometheus: {address: "
                                            "\"http://prometheus:9090\"}"}},
        // prometheus
        {"            address: \"http://prometheus.monitoring:9090\"\n", "",
         {"minicd.yaml:17:11: " + analysis + "prometheus.address: missing: the Prometheus URL, e.g. address: "
                                             "\"http://prometheus:9090\""}},
        {"\"http://prometheus.monitoring:9090\"", "prometheus.monitoring:9090",
         {"minicd.yaml:18:22: " + analysis + "prometheus.address: expected an http:// or https:// URL, e.g. "
                                             "http://prometheus.monitoring:9090"}},
        {"\"http://prometheus.monitoring:9090\"", "\"http://\"",
         {"minicd.yaml:18:22: " + analysis + "prometheus.address: the URL has no host, e.g. "
                                             "http://prometheus.monitoring:9090"}},
        {"\"http://prometheus.monitoring:9090\"", "\"https://admin:secret@prometheus:9090\"",
         {"minicd.yaml:18:22: " + analysis + "prometheus.address: must not hold credentials (user:password@): name an "
                                             "environment variable holding a bearer token with tokenEnv"}},
        {"\"http://prometheus.monitoring:9090\"", "\"http://prometheus:99999\"",
         {"minicd.yaml:18:22: " + analysis + "prometheus.address: the port after the host must be a number from 1 to "
                                             "65535, e.g. http://prometheus.monitoring:9090"}},
        {"\"http://prometheus.monitoring:9090\"", "\"http://prom etheus\"",
         {"minicd.yaml:18:22: " + analysis + "prometheus.address: a URL has no spaces or control characters, e.g. "
                                             "http://prometheus.monitoring:9090"}},
        {"\"http://prometheus.monitoring:9090\"", "\"http://[::1]:9090/prom\"", {}},
        {"tokenEnv: PROMETHEUS_TOKEN", "tokenEnv: glpat-abc",
         {"minicd.yaml:19:23: " + analysis + "prometheus.tokenEnv: expected the NAME of an environment variable "
                                             "holding the token (A-Z, 0-9 and _), e.g. PROMETHEUS_TOKEN"}},
        {"{X-Scope-OrgID: acme}", "{\"X Scope\": acme, X-Ok: \"a\\nb\", Authorization: \"Basic eA==\", X-N: 1}",
         {"minicd.yaml:20:23: " + analysis + "prometheus.headers.X Scope: a header name is letters, digits and '-'",
          "minicd.yaml:20:46: " + analysis + "prometheus.headers.X-Ok: a header value cannot hold line breaks or "
                                             "control characters",
          "minicd.yaml:20:54: warning: " + analysis + "prometheus.headers.Authorization: puts a credential in this "
                                                      "file; tokenEnv names an environment variable holding a bearer "
                                                      "token instead",
          "minicd.yaml:20:88: " + analysis + "prometheus.headers.X-N: expected text, found 1 (quote it to keep it as "
                                             "written)"}},
        // metrics
        {"          metrics:\n            - name: success-rate\n",
         "          metrics: []\n          x:\n            - name: success-rate\n",
         {"minicd.yaml:22:20: " + analysis + "metrics: at least one metric is needed; without analysis the steps wait "
                                             "for healthy canary pods only",
          "minicd.yaml:23:11: " + analysis + "x: unknown key \"x\" (known here: prometheus, interval, metrics, "
                                             "noData)"}},
        {"            - name: success-rate\n", "            - name: \"\"\n",
         {"minicd.yaml:23:21: " + metric + "name: must not be empty"}},
        {"            - name: success-rate\n",
         "            - query: up\n              successCondition: \"> 0\"\n              name: success-rate\n"
         "            - name: success-rate\n",
         {"minicd.yaml:26:21: " + analysis + "metrics[1].name: metric \"success-rate\" is listed twice"}},
        {"pod=~\"{{canary_pods}}\",code", "pod=~\"{{pods}}\",code{{ Namespace }}{{pods}}",
         {"minicd.yaml:24:22: " + metric + "query: unknown placeholder {{pods}} (known: {{namespace}} {{workload}} "
                                           "{{canary_pods}} {{stable_pods}})",
          "minicd.yaml:24:22: " + metric + "query: unknown placeholder {{Namespace}} (known: {{namespace}} "
                                           "{{workload}} {{canary_pods}} {{stable_pods}})"}},
        {"[1m])) / sum", "[1m])) {{namespace / sum",
         {"minicd.yaml:24:22: " + metric + "query: a {{ is not closed by }}; placeholders are {{namespace}} "
                                           "{{workload}} {{canary_pods}} {{stable_pods}}"}},
        {"\">= 0.99\"", "\"about 0.99\"",
         {"minicd.yaml:25:33: " + metric + "successCondition: expected a comparison such as \">= 0.99\" (one of < <= > "
                                           ">= == != and a number), found \"about 0.99\""}},
        {"\">= 0.99\"", "0.99",
         {"minicd.yaml:25:33: " + metric + "successCondition: expected a comparison in quotes such as \">= 0.99\", "
                                           "found 0.99"}},
        {"\"< 0.5\"", "\"< nan\"",
         {"minicd.yaml:26:33: " + metric + "failureCondition: expected a number after \"<\", found \"nan\""}},
        {"              successCondition: \">= 0.99\"\n              failureCondition: \"< 0.5\"\n", "",
         {"minicd.yaml:23:15: " + analysis + "metrics[0]: give successCondition and/or failureCondition, e.g. "
                                             "successCondition: \">= 0.99\""}},
        {"failureLimit: 1", "failureLimit: -1",
         {"minicd.yaml:27:29: " + metric + "failureLimit: must be between 0 and 10000, found -1"}},
        {"consecutiveErrorLimit: 4", "consecutiveErrorLimit: many",
         {"minicd.yaml:28:38: " + metric + "consecutiveErrorLimit: expected a whole number from 0 to 10000, found "
                                           "text"}},
    };
    for (const Case& each : cases) {
        const std::string text = canary_with(each.from, each.to);
        EXPECT_EQ(reports(text), each.expected) << each.to << "\n" << joined(reports(text));
        const bool errors = std::any_of(each.expected.begin(), each.expected.end(), [](const std::string& line) {
            return line.find(": warning: ") == std::string::npos;
        });
        EXPECT_EQ(check_config(text, "minicd.yaml").valid(), !errors) << each.to;
    }
}

TEST(ConfigCanary, PreviewsWarnAndDeployWithoutACanary) {
    const std::string text = std::string(k_head) +
                             "  preview:\n"
                             "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
                             "    on: {branch: \"*\"}\n"
                             "    namespace: shop-{branch}\n"
                             "    strategy: {canary: {steps: [{weight: 50, pause: 1m}]}}\n";
    const CheckedConfig checked = check_config(text, "minicd.yaml");
    ASSERT_TRUE(checked.valid()) << joined(reports(text));
    EXPECT_FALSE(checked.config->environments[0].canary.has_value());
    EXPECT_EQ(reports(text), std::vector<std::string>{"minicd.yaml:8:5: warning: environments.preview.strategy: is not "
                                                      "used by previews: they deploy the release at once, without a "
                                                      "canary"});
    // Still checked: a mistake there is an error all the same.
    const std::string bad = std::string(k_head) +
                            "  preview:\n"
                            "    cluster: {context: dev, server: \"https://dev:6443\"}\n"
                            "    on: {branch: \"*\"}\n"
                            "    namespace: shop-{branch}\n"
                            "    strategy: {canary: {steps: [{weight: 50, pause: soon}]}}\n";
    EXPECT_FALSE(check_config(bad, "minicd.yaml").valid());
}

std::vector<std::string> analysis_reports(std::string_view text) {
    std::vector<std::string> lines;
    for (const Diagnostic& diagnostic : check_analysis(text, "analysis.yaml").diagnostics) {
        lines.push_back(diagnostic.describe());
    }
    return lines;
}

constexpr std::string_view k_analysis_file =
    "# minicd apply --canary-analysis analysis.yaml\n"
    "prometheus:\n"
    "  address: https://prometheus.example.com\n"
    "  headers: {X-Scope-OrgID: acme}\n"
    "interval: 1m\n"
    "metrics:\n"
    "  - name: latency-p99\n"
    "    query: histogram_quantile(0.99, sum by (le) (rate(latency_bucket{pod=~\"{{canary_pods}}\"}[2m])))\n"
    "    successCondition: \"< 0.3\"\n"
    "    failureLimit: 2\n"
    "noData: inconclusive\n";

TEST(AnalysisFile, IsReadAsTheAnalysisBlockIs) {
    const CheckedAnalysis checked = check_analysis(k_analysis_file, "analysis.yaml");
    ASSERT_TRUE(checked.valid()) << joined(analysis_reports(k_analysis_file));
    EXPECT_TRUE(checked.diagnostics.empty());
    const model::Analysis& analysis = *checked.analysis;
    EXPECT_EQ(analysis.prometheus.address, "https://prometheus.example.com");
    EXPECT_EQ(analysis.prometheus.headers.at("X-Scope-OrgID"), "acme");
    EXPECT_EQ(analysis.interval, 1min);
    EXPECT_EQ(analysis.no_data, model::NoData::inconclusive);
    ASSERT_EQ(analysis.metrics.size(), 1u);
    EXPECT_EQ(analysis.metrics[0].name, "latency-p99");
    EXPECT_EQ(analysis.metrics[0].success, (model::Condition{.op = model::Condition::Op::less, .threshold = 0.3}));
    EXPECT_FALSE(analysis.metrics[0].failure.has_value());
    EXPECT_EQ(analysis.metrics[0].failure_limit, 2);
    EXPECT_EQ(analysis.metrics[0].consecutive_error_limit, 4);
}

TEST(AnalysisFile, ProblemsHaveFieldPathsFromTheFilesTop) {
    const auto lines = analysis_reports(
        "prometheus: {address: \"ftp://prom\", tokenEn: X}\n"
        "interval: 100ms\n"
        "metrics:\n"
        "  - name: errors\n"
        "    query: \"sum(errors{pod=~'{{canary}}'})\"\n"
        "    successCondition: \"=< 1\"\n"
        "  - name: errors\n"
        "    query: up\n"
        "noData: maybe\n"
        "steps: []\n");
    const std::vector<std::string> expected = {
        "analysis.yaml:1:23: prometheus.address: expected an http:// or https:// URL, e.g. "
        "http://prometheus.monitoring:9090",
        "analysis.yaml:1:37: prometheus.tokenEn: unknown key \"tokenEn\"; did you mean \"tokenEnv\"?",
        "analysis.yaml:2:11: interval: must be at least 1s",
        "analysis.yaml:5:12: metrics[0].query: unknown placeholder {{canary}} (known: {{namespace}} {{workload}} "
        "{{canary_pods}} {{stable_pods}})",
        "analysis.yaml:6:23: metrics[0].successCondition: expected a comparison such as \">= 0.99\" (one of < <= > >= "
        "== != and a number), found \"=< 1\"",
        "analysis.yaml:7:5: metrics[1]: give successCondition and/or failureCondition, e.g. successCondition: \">= "
        "0.99\"",
        "analysis.yaml:7:11: metrics[1].name: metric \"errors\" is listed twice",
        "analysis.yaml:9:9: noData: expected fail (a query without data fails the measurement), pass (it succeeds) or "
        "inconclusive (neither; a step whose last measurement had no data fails)",
        "analysis.yaml:10:1: steps: unknown key \"steps\" (known here: prometheus, interval, metrics, noData)",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
    EXPECT_FALSE(check_analysis("prometheus: {address: \"ftp://prom\"}\n", "analysis.yaml").valid());
}

TEST(AnalysisFile, PlaceholdersMayHaveSpacesAndTabsInsideTheBraces) {
    const std::string head = "prometheus: {address: \"http://p:9090\"}\nmetrics:\n  - name: m\n    successCondition: "
                             "\"> 0\"\n    query: ";
    // In double quotes YAML turns \t and \n into a tab and a line break.
    const std::string good = head + "\"up{a=\\\"{{\\tcanary_pods }}\\\", b=\\\"{{  stable_pods\\t}}\\\"}\"\n";
    const CheckedAnalysis checked = check_analysis(good, "analysis.yaml");
    ASSERT_TRUE(checked.valid()) << good << joined(analysis_reports(good));
    EXPECT_EQ(checked.analysis->metrics[0].query, "up{a=\"{{\tcanary_pods }}\", b=\"{{  stable_pods\t}}\"}");
    // Line breaks are not trimmed where the query is filled in, so they are not here either.
    const std::string broken = head + "\"up{a=\\\"{{\\nnamespace}}\\\"}\"\n";
    EXPECT_EQ(analysis_reports(broken),
              std::vector<std::string>{"analysis.yaml:5:12: metrics[0].query: unknown placeholder {{\nnamespace}} "
                                       "(known: {{namespace}} {{workload}} {{canary_pods}} {{stable_pods}})"});
}

TEST(AnalysisFile, WholeFileMistakesAreOneReport) {
    EXPECT_EQ(analysis_reports(""), std::vector<std::string>{"analysis.yaml:1:1: the file is empty; prometheus and "
                                                             "metrics are needed"});
    EXPECT_EQ(analysis_reports("metrics: []\n"),
              (std::vector<std::string>{"analysis.yaml:1:1: prometheus: missing: where the queries go, e.g. prometheus: "
                                        "{address: \"http://prometheus:9090\"}",
                                        "analysis.yaml:1:10: metrics: at least one metric is needed; without analysis "
                                        "the steps wait for healthy canary pods only"}));
    EXPECT_EQ(analysis_reports("- prometheus\n"),
              std::vector<std::string>{"analysis.yaml:1:1: expected a mapping (key: value lines), found a list"});
    // Copied from minicd.yaml with its key: say to drop it.
    const std::string wrapped = "analysis:\n" + std::string("  prometheus: {address: \"http://p:9090\"}\n") +
                                "  metrics: [{name: m, query: up, successCondition: \"> 0\"}]\n";
    EXPECT_EQ(analysis_reports(wrapped),
              std::vector<std::string>{"analysis.yaml:1:1: analysis: the file holds what analysis: holds in "
                                       "minicd.yaml: put prometheus, interval, metrics and noData at the top, without "
                                       "analysis:"});
    EXPECT_EQ(analysis_reports(std::string(k_analysis_file) + "---\nnoData: pass\n"),
              std::vector<std::string>{"analysis.yaml:13:1: an analysis file holds one document; remove the second "
                                       "(after ---)"});
}

TEST(AnalysisFile, LoadAnalysisListsEveryErrorInOneInputError) {
    const auto path = std::filesystem::temp_directory_path() / "minicd-load-analysis-test.yaml";
    const auto write = [&](std::string_view text) {
        std::FILE* file = std::fopen(path.c_str(), "w");
        ASSERT_NE(file, nullptr);
        std::fputs(std::string(text).c_str(), file);
        std::fclose(file);
    };
    write(k_analysis_file);
    auto good = load_analysis(path.string());
    ASSERT_TRUE(good) << good.error().describe();
    EXPECT_EQ(good->metrics.at(0).name, "latency-p99");

    write("prometheus: {address: \"http://p:9090\"}\ninterval: 0\nmetrics: [{name: m, query: up}]\n");
    auto bad = load_analysis(path.string());
    std::filesystem::remove(path);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, util::ErrorCode::input);
    EXPECT_NE(bad.error().message.find("2 errors in the analysis file"), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find(":2:11: interval: must be at least 1s"), std::string::npos)
        << bad.error().message;
    EXPECT_NE(bad.error().message.find(":3:11: metrics[0]: give successCondition"), std::string::npos)
        << bad.error().message;

    auto missing = load_analysis("/nonexistent/analysis.yaml");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("/nonexistent/analysis.yaml"), std::string::npos);
}

TEST(ConfigLoad, HelmChartsAtTheTopAndPerEnvironment) {
    const CheckedConfig checked = check_config(
        "app: shop\n"
        "registry: ghcr.io/acme\n"
        "manifests:\n"
        "  helm:\n"
        "    chart: deploy/chart\n"
        "    values: [deploy/values.yaml, deploy/staging.yaml]\n"
        "    set: {image.tag: v2, replicaCount: 3, debug: false}\n"
        "environments:\n"
        "  staging: {cluster: {context: s, server: \"https://s:1\"}, namespace: s}\n"
        "  production:\n"
        "    cluster: {context: p, server: \"https://p:1\"}\n"
        "    namespace: p\n"
        "    manifests: {helm: {chart: \"oci://ghcr.io/acme/charts/shop\", version: 1.4.2, values: deploy/prod.yaml}}\n",
        "minicd.yaml");
    std::vector<std::string> lines;
    for (const auto& diagnostic : checked.diagnostics) lines.push_back(diagnostic.describe());
    ASSERT_TRUE(checked.valid()) << joined(lines);
    const Config& config = *checked.config;
    ASSERT_TRUE(config.manifests.helm);
    EXPECT_EQ(config.manifests.path, "");
    EXPECT_EQ(config.manifests.helm->chart, "deploy/chart");
    EXPECT_EQ(config.manifests.helm->values, (std::vector<std::string>{"deploy/values.yaml", "deploy/staging.yaml"}));
    EXPECT_EQ(config.manifests.helm->set, (std::map<std::string, std::string>{{"debug", "false"}, {"image.tag", "v2"}, {"replicaCount", "3"}}));
    EXPECT_EQ(config.manifests.helm->version, "");
    EXPECT_FALSE(config.environments[0].manifests);
    ASSERT_TRUE(config.environments[1].manifests && config.environments[1].manifests->helm);
    EXPECT_EQ(config.environments[1].manifests->helm->chart, "oci://ghcr.io/acme/charts/shop");
    EXPECT_EQ(config.environments[1].manifests->helm->version, "1.4.2");
    EXPECT_EQ(config.environments[1].manifests->helm->values, std::vector<std::string>{"deploy/prod.yaml"});
}

TEST(ConfigLoad, HelmMistakesNameLineColumnAndField) {
    const auto lines = reports(
        "app: shop\n"
        "registry: ghcr.io/acme\n"
        "manifests: {helm: {chart: deploy/chart, version: 1.0.0, set: {tags: [a, b], \"a=b\": x}, value: v.yaml}}\n"
        "environments:\n"
        "  s:\n"
        "    cluster: {context: x, server: \"https://x:1\"}\n"
        "    namespace: s\n"
        "    manifests: {helm: {values: [\"\"]}}\n"
        "  t:\n"
        "    cluster: {context: x, server: \"https://x:1\"}\n"
        "    namespace: t\n"
        "    manifests: {chart: deploy/chart}\n"
        "  u:\n"
        "    cluster: {context: x, server: \"https://x:1\"}\n"
        "    namespace: u\n"
        "    manifests: {helm: {chart: \"https://charts.example.com/shop-1.0.0.tgz\"}}\n");
    const std::vector<std::string> expected = {
        "minicd.yaml:3:50: manifests.helm.version: applies to oci:// charts; a chart in the repository is the version "
        "its Chart.yaml says (leave version out)",
        "minicd.yaml:3:69: manifests.helm.set.tags: expected text, a number or true/false, found a list (a list or "
        "mapping belongs in a values file)",
        "minicd.yaml:3:77: manifests.helm.set.a=b: a value's path may not be empty or hold '=' or ','",
        "minicd.yaml:3:88: manifests.helm.value: unknown key \"value\"; did you mean \"values\"?",
        "minicd.yaml:8:17: environments.s.manifests.helm.chart: missing: the chart: a directory relative to "
        "minicd.yaml or an oci:// reference, e.g. chart: deploy/chart",
        "minicd.yaml:12:5: environments.t.manifests.helm: missing: a path (manifests: k8s) or a chart (manifests: "
        "{helm: {chart: deploy/chart}})",
        "minicd.yaml:12:17: environments.t.manifests.chart: unknown key \"chart\" (known here: helm)",
        "minicd.yaml:16:31: environments.u.manifests.helm.chart: expected a path relative to minicd.yaml or an oci:// "
        "reference (charts from http repositories: pull them into the repository, or push them to an OCI registry)",
    };
    EXPECT_EQ(lines, expected) << joined(lines);
}

}  // namespace
}  // namespace minicd::config
