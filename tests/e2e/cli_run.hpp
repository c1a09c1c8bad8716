#pragma once

// Running the minicd binary in end-to-end suites and reading what it printed.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "../support/git_repo.hpp"
#include "minicd/util/result.hpp"
#include "minicd/util/subprocess.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {

// One run of the minicd binary.
struct Invocation {
    int exit_code = -1;
    std::string out;
    std::string err;
    bool is_json = false;        // stdout was one JSON object
    Json json = Json::object();  // that object; empty otherwise

    std::string all() const { return "stdout:\n" + out + "\nstderr:\n" + err; }
};

// What a run of a program gave; a failure to run it at all fails the test.
inline Invocation invocation_of(const Result<util::SubprocessResult>& result) {
    Invocation run;
    if (!result) {
        ADD_FAILURE() << result.error().describe();
        return run;
    }
    run.exit_code = result->exit_code;
    run.out = result->out;
    run.err = result->err;
    Json parsed = Json::parse(run.out, nullptr, false);
    run.is_json = parsed.is_object();
    if (run.is_json) run.json = std::move(parsed);
    return run;
}

// The value at `pointer` (e.g. "/spec/replicas"); null when any step of the way is missing.
inline Json pick(const Json& json, const std::string& pointer) {
    const Json::json_pointer at(pointer);
    return json.contains(at) ? json.at(at) : Json();
}
inline int pick_int(const Json& json, const std::string& pointer, int otherwise = -1) {
    const Json found = pick(json, pointer);
    return found.is_number_integer() ? found.get<int>() : otherwise;
}
// The string at `pointer`; anything else comes back as "(<its JSON>)", so a failed check shows it.
inline std::string pick_text(const Json& json, const std::string& pointer) {
    const Json found = pick(json, pointer);
    return found.is_string() ? found.get<std::string>() : "(" + found.dump() + ")";
}

// How the suites run the minicd binary with `args` against the test cluster, `cache` as its XDG cache.
inline util::SubprocessSpec minicd_spec(TestCluster& cluster, const std::string& cache, std::vector<std::string> args,
                                        std::chrono::seconds limit = std::chrono::seconds(300)) {
    args.insert(args.begin(), MINICD_BINARY);
    return {.inherit = util::Inherit::everything, .argv = std::move(args), .env = {{"XDG_CACHE_HOME", cache}, {"KUBECONFIG", cluster.var("KUBECONFIG")}}, .timeout = limit};
}
inline Invocation run_minicd(TestCluster& cluster, const std::string& cache, std::vector<std::string> args,
                             std::chrono::seconds limit = std::chrono::seconds(300)) {
    return invocation_of(util::run_subprocess(minicd_spec(cluster, cache, std::move(args), limit)));
}

// The lines a test adds to the minicd.yaml staging_config() writes.
struct ConfigLines {
    std::string top;      // top-level keys, e.g. "manifests: deploy\n"
    std::string staging;  // keys of the staging environment, indented by four spaces, e.g. "    history: 8\n"
};

// minicd.yaml sending main to `staging` in namespace `ns` of the test cluster (60 s to be healthy),
// with the registry of the test environment. It declares no images: nothing is built.
inline std::string staging_config(TestCluster& cluster, const std::string& app, const std::string& ns,
                                  const ConfigLines& lines = {}) {
    return fmt::format(R"(app: {0}
registry: {1}/minicd-e2e
{2}environments:
  staging:
    cluster: {{context: admin}}
    on: {{branch: main}}
    namespace: "{3}"
    timeout: 60s
{4})",
                       app, cluster.var("MINICD_TEST_REGISTRY"), lines.top, ns, lines.staging);
}

// The variables a CI sets for one job, as minicd reads them (CI=true is added).
using CiVariables = std::map<std::string, std::string>;

// Variables by which minicd tells CIs and events apart or finds where to write its results: a run
// of `minicd ci` sees those the test gives, never the test process's own.
inline const std::vector<std::string> k_ci_variables = {"CIRCLECI",          "GITLAB_CI",           "GITHUB_ACTIONS",
                                                        "GITHUB_EVENT_PATH", "GITHUB_HEAD_REF",     "GITHUB_STEP_SUMMARY",
                                                        "GITHUB_OUTPUT",     "CI_ENVIRONMENT_ACTION", "MINICD_CI_REPORT"};

// `minicd ci` in `clone` as a CI job with `variables` runs it, building with the test
// environment's buildah and pushing to its registry, `cache` as its XDG cache.
inline Invocation run_ci(TestCluster& cluster, testing::GitRepo& clone, const std::string& cache, CiVariables variables,
                         const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {MINICD_BINARY, "ci", "--builder", "buildah", "--insecure-registry",
                                     cluster.var("MINICD_TEST_REGISTRY"),
                                     "--builder-arg=--root=" + cluster.var("MINICD_TEST_BUILDAH_ROOT"),
                                     "--builder-arg=--runroot=" + cluster.var("MINICD_TEST_BUILDAH_RUNROOT"),
                                     "--builder-arg=--storage-driver=vfs"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    // The job's own variables win over these.
    variables.merge(CiVariables{{"CI", "true"},
                                {"KUBECONFIG", cluster.var("KUBECONFIG")},
                                {"CONTAINERS_REGISTRIES_CONF", cluster.var("MINICD_TEST_REGISTRIES_CONF")},
                                {"BUILDAH_ISOLATION", "chroot"},
                                {"XDG_CACHE_HOME", cache}});
    std::vector<std::string> remove;
    for (const auto& name : k_ci_variables) {
        if (variables.count(name) == 0) remove.push_back(name);
    }
    return invocation_of(util::run_subprocess({.inherit = util::Inherit::everything, .argv = argv,
                                               .env = std::move(variables),
                                               .env_remove = remove,
                                               .working_dir = clone.path(),
                                               .timeout = std::chrono::seconds(300)}));
}

// What GitHub Actions sets for `event` ("push", "schedule", "delete") of `ref` at the clone's HEAD.
inline CiVariables github_variables(const testing::GitRepo& clone, const std::string& event, const std::string& ref) {
    return {{"GITHUB_ACTIONS", "true"},
            {"GITHUB_EVENT_NAME", event},
            {"GITHUB_REF", ref},
            {"GITHUB_SHA", clone.run({"rev-parse", "HEAD"})}};
}

// `minicd ci` in `clone` as GitHub Actions runs it on main for `event` ("push", "schedule").
inline Invocation run_ci_on_main(TestCluster& cluster, testing::GitRepo& clone, const std::string& cache,
                                 const std::string& event = "push", const std::vector<std::string>& extra = {}) {
    return run_ci(cluster, clone, cache, github_variables(clone, event, "refs/heads/main"), extra);
}

}  // namespace minicd::e2e
