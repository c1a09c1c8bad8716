// docs/minicd.schema.json and the reader in load.cpp describe the same file: these tests keep
// them from drifting apart.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "minicd/config/load.hpp"
#include "minicd/source/yaml.hpp"
#include "minicd/util/text.hpp"

namespace minicd::config {
namespace {

using model::Json;

const std::filesystem::path k_repository =
    std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();

Json load_schema() {
    auto text = util::read_file((k_repository / "docs" / "minicd.schema.json").string());
    EXPECT_TRUE(text) << text.error().describe();
    return Json::parse(text.value_or("{}"));
}

const Json& resolve(const Json& root, const Json& schema) {
    if (schema.contains("$ref")) {
        const std::string ref = schema.at("$ref").get<std::string>();
        return root.at(Json::json_pointer(ref.substr(1)));
    }
    return schema;
}

// The alternative of a oneOf that lists properties (manifests: a path, or {helm: ...}); else `schema` resolved.
const Json& with_keys(const Json& root, const Json& schema) {
    const Json& resolved = resolve(root, schema);
    if (resolved.contains("oneOf")) {
        for (const Json& alternative : resolved.at("oneOf")) {
            if (resolve(root, alternative).contains("properties")) return resolve(root, alternative);
        }
    }
    return resolved;
}

// The schema of a place named as known_keys() names it: "environments.*.tls", "images[]".
const Json* schema_at(const Json& root, const std::string& place) {
    const Json* schema = &root;
    std::size_t start = 0;
    while (start < place.size()) {
        std::size_t end = place.find('.', start);
        std::string step = place.substr(start, end == std::string::npos ? std::string::npos : end - start);
        start = end == std::string::npos ? place.size() : end + 1;
        const bool items = step.ends_with("[]");
        if (items) {
            step.resize(step.size() - 2);
        }
        if (step == "*") {
            schema = &with_keys(root, schema->at("additionalProperties"));
        } else {
            if (!schema->contains("properties") || !schema->at("properties").contains(step)) {
                return nullptr;
            }
            schema = &with_keys(root, schema->at("properties").at(step));
        }
        if (items) {
            schema = &resolve(root, schema->at("items"));
        }
    }
    return schema;
}

// Every schema object that lists properties, by place, found by walking the schema.
void collect_places(const Json& root, const Json& schema, const std::string& place, std::set<std::string>& places) {
    const Json& resolved = with_keys(root, schema);
    if (resolved.contains("properties")) {
        places.insert(place);
        for (const auto& [key, child] : resolved.at("properties").items()) {
            collect_places(root, child, place.empty() ? key : place + "." + key, places);
        }
    }
    if (resolved.contains("items")) {
        collect_places(root, resolved.at("items"), place + "[]", places);
    }
    if (resolved.contains("additionalProperties") && resolved.at("additionalProperties").is_object()) {
        collect_places(root, resolved.at("additionalProperties"), place + ".*", places);
    }
}

TEST(ConfigSchema, ListsExactlyTheKeysTheReaderKnows) {
    const Json root = load_schema();
    for (const auto& [place, keys] : known_keys()) {
        const Json* schema = schema_at(root, place);
        ASSERT_NE(schema, nullptr) << "the schema has no place " << place;
        std::set<std::string> in_schema;
        const Json properties = schema->value("properties", Json::object());
        for (const auto& [key, value] : properties.items()) {
            in_schema.insert(key);
        }
        const std::set<std::string> in_reader(keys.begin(), keys.end());
        EXPECT_EQ(in_schema, in_reader) << "at " << (place.empty() ? "(top level)" : place);
        // Editors should flag unknown keys as the reader does.
        EXPECT_EQ(schema->value("additionalProperties", Json(true)), Json(false)) << place;
    }
    std::set<std::string> schema_places;
    collect_places(root, root, "", schema_places);
    std::set<std::string> reader_places;
    for (const auto& [place, keys] : known_keys()) {
        reader_places.insert(place);
    }
    EXPECT_EQ(schema_places, reader_places);
}

// Enough of JSON Schema for this schema: $ref, oneOf, anyOf, type, enum, required, properties,
// additionalProperties, propertyNames, min/maxProperties, items, minItems, uniqueItems, pattern, minLength,
// minimum, maximum. Appends "path: problem" lines.
void validate(const Json& root, const Json& schema_in, const Json& value, const std::string& path,
              std::vector<std::string>& problems) {
    const Json& schema = resolve(root, schema_in);
    const auto problem = [&](const std::string& text) { problems.push_back((path.empty() ? "(top)" : path) + ": " + text); };
    if (schema.contains("oneOf")) {
        int passing = 0;
        for (const Json& alternative : schema.at("oneOf")) {
            std::vector<std::string> scratch;
            validate(root, alternative, value, path, scratch);
            passing += scratch.empty() ? 1 : 0;
        }
        if (passing != 1) {
            problem("matches " + std::to_string(passing) + " of the oneOf alternatives");
        }
    }
    if (schema.contains("anyOf")) {
        const bool any = std::any_of(schema.at("anyOf").begin(), schema.at("anyOf").end(), [&](const Json& alternative) {
            std::vector<std::string> scratch;
            validate(root, alternative, value, path, scratch);
            return scratch.empty();
        });
        if (!any) {
            problem("matches none of the anyOf alternatives");
        }
    }
    if (schema.contains("type")) {
        const std::string type = schema.at("type").get<std::string>();
        const bool ok = (type == "object" && value.is_object()) || (type == "array" && value.is_array()) ||
                        (type == "string" && value.is_string()) || (type == "boolean" && value.is_boolean()) ||
                        (type == "integer" && value.is_number_integer()) || (type == "number" && value.is_number());
        if (!ok) {
            problem("is not of type " + type);
            return;
        }
    }
    if (schema.contains("enum") &&
        std::find(schema.at("enum").begin(), schema.at("enum").end(), value) == schema.at("enum").end()) {
        problem("is not one of " + schema.at("enum").dump());
    }
    if (value.is_object()) {
        for (const Json& key : schema.value("required", Json::array())) {
            if (!value.contains(key.get<std::string>())) {
                problem("lacks " + key.get<std::string>());
            }
        }
        if (value.size() < schema.value("minProperties", 0u)) {
            problem("has too few properties");
        }
        const Json properties = schema.value("properties", Json::object());
        for (const auto& [key, item] : value.items()) {
            const std::string child = path.empty() ? key : path + "." + key;
            if (schema.contains("propertyNames")) {
                validate(root, schema.at("propertyNames"), Json(key), child + " (name)", problems);
            }
            if (properties.contains(key)) {
                validate(root, properties.at(key), item, child, problems);
            } else if (schema.contains("additionalProperties")) {
                const Json& additional = schema.at("additionalProperties");
                if (additional == Json(false)) {
                    problems.push_back(child + ": is not allowed");
                } else if (additional.is_object()) {
                    validate(root, additional, item, child, problems);
                }
            }
        }
    }
    if (value.is_array()) {
        if (value.size() < schema.value("minItems", 0u)) {
            problem("has too few items");
        }
        if (schema.value("uniqueItems", false) && std::set<Json>(value.begin(), value.end()).size() != value.size()) {
            problem("has an item twice");
        }
        if (schema.contains("items")) {
            for (std::size_t i = 0; i < value.size(); ++i) {
                validate(root, schema.at("items"), value[i], path + "[" + std::to_string(i) + "]", problems);
            }
        }
    }
    if (value.is_string()) {
        const std::string text = value.get<std::string>();
        if (schema.contains("pattern") && !std::regex_search(text, std::regex(schema.at("pattern").get<std::string>()))) {
            problem("does not match " + schema.at("pattern").get<std::string>());
        }
        if (text.size() < schema.value("minLength", 0u)) {
            problem("is too short");
        }
    }
    if (value.is_number_integer()) {
        if (schema.contains("minimum") && value.get<long long>() < schema.at("minimum").get<long long>()) {
            problem("is below the minimum");
        }
        if (schema.contains("maximum") && value.get<long long>() > schema.at("maximum").get<long long>()) {
            problem("is above the maximum");
        }
    }
}

// minicd.yaml as JSON, with YAML 1.1's `on` -> "true" key undone (editors read YAML 1.2).
Json read_config_json(std::string_view text) {
    auto documents = source::parse_yaml(text, "minicd.yaml");
    EXPECT_TRUE(documents) << documents.error().describe();
    Json value = documents ? documents->front().value : Json();
    if (value.contains("environments") && value.at("environments").is_object()) {
        for (auto& [name, environment] : value.at("environments").items()) {
            if (environment.is_object() && environment.contains("true")) {
                environment["on"] = environment.at("true");
                environment.erase("true");
            }
        }
    }
    return value;
}

std::vector<std::string> schema_problems(std::string_view text) {
    const Json root = load_schema();
    std::vector<std::string> problems;
    validate(root, root, read_config_json(text), "", problems);
    return problems;
}

TEST(ConfigSchema, AcceptsTheExample) {
    auto text = util::read_file((k_repository / "examples" / "minicd.yaml").string());
    ASSERT_TRUE(text);
    const auto problems = schema_problems(*text);
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
}

TEST(ConfigSchema, AcceptsAFileUsingEveryField) {
    constexpr std::string_view k_text =
        "app: shop\n"
        "registry: localhost:5000/apps\n"
        "images:\n"
        "  - {name: shop/web, context: web, dockerfile: Dockerfile, target: run, buildArgs: {V: \"1\"}}\n"
        "manifests: deploy\n"
        "build: {builder: buildah, tagLength: 12, allowDirty: true}\n"
        "allowTagOverwrite: false\n"
        "mainBranch: master\n"
        "imagePaths:\n"
        "  - {kind: CronTab, group: stable.example.com, path: spec.image}\n"
        "environments:\n"
        "  preview:\n"
        "    cluster: {context: dev, server: \"https://dev:6443\", uid: 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b, "
        "kubeconfig: /k}\n"
        "    on: {branch: [\"feature/*\", \"!feature/wip\"], tag: \"pre-*\"}\n"
        "    namespace: \"{app}-{branch}\"\n"
        "    host: \"{branch}.example.com\"\n"
        "    tls: {issuer: ca, secretName: preview-tls}\n"
        "    ttl: 7d\n"
        "    prune: true\n"
        "    timeout: 300\n"
        "    waitForAddresses: false\n"
        "    adopt: false\n"
        "    history: 20\n"
        "    onFailure: keep\n"
        "    manifests: deploy/preview\n"
        "    gc: {enabled: true, maxDeletions: 3, branches: remote, remote: origin, tokenEnv: GITHUB_TOKEN}\n"
        "  production:\n"
        "    cluster: {context: prd, server: \"https://prd:6443\"}\n"
        "    namespace: shop\n"
        "    strategy:\n"
        "      canary:\n"
        "        workloads: [web, api]\n"
        "        steps: [{weight: 10, pause: 2m}, {weight: 50, pause: 0}, {weight: 90}]\n"
        "        analysis:\n"
        "          prometheus: {address: \"http://prometheus:9090/p\", tokenEnv: PROM_TOKEN, headers: {X-Scope-OrgID: "
        "acme}}\n"
        "          interval: 30s\n"
        "          noData: inconclusive\n"
        "          metrics:\n"
        "            - name: success-rate\n"
        "              query: sum(rate(x{namespace=\"{{namespace}}\",pod=~\"{{ canary_pods }}\"}[1m]))\n"
        "              successCondition: \">= 0.99\"\n"
        "              failureCondition: \"<.5\"\n"
        "              failureLimit: 1\n"
        "              consecutiveErrorLimit: 0\n";
    ASSERT_TRUE(check_config(k_text, "minicd.yaml").valid());
    const auto problems = schema_problems(k_text);
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);
}

TEST(ConfigSchema, RejectsWhatTheReaderRejects) {
    // Unknown key, both issuers, a pasted token, a bad duration, adopt as text, history out of range
    // or not a whole number, an onFailure or drift that is neither of its choices: both must refuse each.
    const std::string head =
        "app: shop\nregistry: ghcr.io/acme\nenvironments:\n  p:\n    cluster: {context: d}\n"
        "    on: {branch: \"*\"}\n    namespace: shop-{branch}\n    host: \"{branch}.example.com\"\n";
    for (const std::string extra :
         {"    colour: blue\n", "    tls: {issuer: a, clusterIssuer: b}\n", "    gc: {tokenEnv: ghp_abc123}\n",
          "    ttl: 7days\n", "    adopt: helm\n", "    history: 0\n", "    history: 101\n", "    history: 2.5\n",
          "    history: \"10\"\n", "    onFailure: revert\n", "    onFailure: Keep\n", "    onFailure: true\n",
          "    on_failure: keep\n", "    drift: repair\n", "    drift: Fix\n", "    drift: true\n"}) {
        EXPECT_FALSE(check_config(head + extra, "minicd.yaml").valid()) << extra;
        EXPECT_FALSE(schema_problems(head + extra).empty()) << extra;
    }
    for (const std::string extra : {"    history: 1\n", "    history: 100\n", "    onFailure: rollback\n",
                                    "    onFailure: keep\n", "    history: 3\n    onFailure: rollback\n",
                                    "    drift: report\n", "    drift: fix\n"}) {
        EXPECT_TRUE(check_config(head + extra, "minicd.yaml").valid()) << extra;
        EXPECT_TRUE(schema_problems(head + extra).empty()) << extra;
    }
    // The canary block: each line breaks one rule the reader has.
    const std::string fixed = "app: shop\nregistry: ghcr.io/acme\nenvironments:\n  p:\n    cluster: {context: d}\n"
                              "    namespace: shop\n    strategy:\n      canary:\n";
    const std::string steps = "        steps: [{weight: 10, pause: 1m}]\n";
    const std::string analysis = "        analysis:\n          prometheus: {address: \"http://prom:9090\"}\n";
    const std::string metric = "          metrics:\n            - name: m\n              query: up\n";
    for (const std::string& bad :
         {fixed + "        steps: []\n", fixed + "        steps: [{weight: 0}]\n",
          fixed + "        steps: [{weight: 100}]\n",
          fixed + "        steps: [{pause: 1m}]\n", fixed + "        steps: [{weight: 10, pause: 1 minute}]\n",
          fixed + "        steps: [{weight: 10, wait: 1m}]\n", fixed + steps + "        workloads: []\n",
          fixed + steps + "        workloads: [Web]\n", fixed + steps + "        workloads: [web, web]\n",
          fixed + "        weight: 10\n", fixed + steps + analysis,
          fixed + steps + analysis + "          metrics: []\n", fixed + steps + analysis + metric,
          fixed + steps + analysis + metric + "              successCondition: \"about 1\"\n",
          fixed + steps + analysis + metric + "              successCondition: \"=> 1\"\n",
          fixed + steps + analysis + metric + "              successCondition: 1\n",
          fixed + steps + analysis + metric +
              "              failureCondition: \"< 1\"\n              failureLimit: -1\n",
          fixed + steps + analysis + metric + "              failureCondition: \"< 1\"\n              query2: up\n",
          fixed + steps + analysis + metric + "              failureCondition: \"< 1\"\n          noData: skip\n",
          fixed + steps + analysis + metric + "              failureCondition: \"< 1\"\n          interval: 1 minute\n",
          fixed + steps + "        analysis:\n          prometheus: {address: prom:9090}\n" + metric +
              "              successCondition: \">= 1\"\n",
          fixed + steps + "        analysis:\n          prometheus: {address: \"http://u:p@prom\"}\n" + metric +
              "              successCondition: \">= 1\"\n",
          fixed + steps + "        analysis:\n          prometheus: {address: \"http://p\", tokenEnv: abc}\n" + metric +
              "              successCondition: \">= 1\"\n",
          fixed + steps + "        analysis:\n          prometheus: {address: \"http://p\", headers: {\"X Y\": a}}\n" +
              metric + "              successCondition: \">= 1\"\n",
          fixed + steps + analysis +
              "          metrics:\n            - {name: m, query: \"up{pod=~'{{pods}}'}\", successCondition: \">= 1\"}\n"}) {
        EXPECT_FALSE(check_config(bad, "minicd.yaml").valid()) << bad;
        EXPECT_FALSE(schema_problems(bad).empty()) << bad;
    }
    for (const std::string& good :
         {fixed + steps, fixed + "        steps: [{weight: 1, pause: 0}, {weight: 99, pause: 10}]\n",
          fixed + steps + "        workloads: [web, api-2]\n",
          fixed + steps + analysis + metric + "              successCondition: \"  ==-1.5e3 \"\n",
          fixed + steps + analysis + metric + "              failureCondition: \"!= 0\"\n          noData: pass\n",
          fixed + steps + analysis + metric +
              "              successCondition: \"<= 10\"\n              failureCondition: \"> 20\"\n"}) {
        EXPECT_TRUE(check_config(good, "minicd.yaml").valid()) << good;
        EXPECT_TRUE(schema_problems(good).empty()) << good << ::testing::PrintToString(schema_problems(good));
    }
    for (const std::string branch : {"refs/heads/main", "-main", "a..b", "main/", "release lead", "x.lock"}) {
        const std::string text = "mainBranch: \"" + branch + "\"\n" + head;
        EXPECT_FALSE(check_config(text, "minicd.yaml").valid()) << branch;
        EXPECT_FALSE(schema_problems(text).empty()) << branch;
    }
    for (const std::string branch : {"master", "release/2024", "trunk"}) {
        const std::string text = "mainBranch: \"" + branch + "\"\n" + head;
        EXPECT_TRUE(check_config(text, "minicd.yaml").valid()) << branch;
        EXPECT_TRUE(schema_problems(text).empty()) << branch;
    }
}

TEST(ConfigSchema, DescribesAnAnalysisFileAsTheReaderReadsIt) {
    // A file for `minicd apply --canary-analysis` holds what analysis: holds: $defs/analysis.
    const Json root = load_schema();
    const auto problems = [&](std::string_view text) {
        auto documents = source::parse_yaml(text, "analysis.yaml");
        EXPECT_TRUE(documents) << documents.error().describe();
        std::vector<std::string> found;
        validate(root, root.at("$defs").at("analysis"), documents ? documents->front().value : Json(), "", found);
        return found;
    };
    const std::string good = "prometheus: {address: \"https://prom.example.com/api\"}\n"
                             "interval: 1m\n"
                             "metrics:\n"
                             "  - {name: errors, query: \"sum(rate(e{pod=~'{{canary_pods}}'}[1m]))\", "
                             "failureCondition: \"> 0\"}\n";
    EXPECT_TRUE(check_analysis(good, "analysis.yaml").valid());
    EXPECT_TRUE(problems(good).empty()) << ::testing::PrintToString(problems(good));
    for (const std::string& bad : {good + "noData: maybe\n", good + "steps: []\n",
                                  std::string("prometheus: {address: \"http://p\"}\nmetrics: []\n"),
                                  std::string("metrics: [{name: m, query: up, successCondition: \">= 1\"}]\n")}) {
        EXPECT_FALSE(check_analysis(bad, "analysis.yaml").valid()) << bad;
        EXPECT_FALSE(problems(bad).empty()) << bad;
    }
}

}  // namespace
}  // namespace minicd::config
