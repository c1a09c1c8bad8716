#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "minicd/cli/drift_report.hpp"
#include "minicd/pipeline/ci.hpp"
#include "minicd/pipeline/plan.hpp"
#include "minicd/util/result.hpp"

// What a `minicd ci` run did, as the CI shows it beside the log: one model, rendered by a small
// writer per CI (ci_github.cpp, ci_gitlab.cpp, ci_circleci.cpp). Nothing here holds a credential
// or Secret data: steps, image references with digests, namespaces, releases and URLs only.
namespace minicd::cli {

struct CiResult {
    pipeline::Plan plan;
    pipeline::GitFacts git;
    std::optional<pipeline::CiReport> report;  // none when the plan had nothing to do
    std::vector<EnvironmentDrift> drift;       // what the drift steps found, as `minicd drift` reports it
};

// The facts a later job step uses, of the environment the run deployed (the last one when it
// deployed several); every field "" when none was deployed.
struct CiOutputs {
    std::string url;          // "" when the environment has no host
    std::string environment;  // as minicd.yaml names it
    std::string release;      // the revision recorded, e.g. "4"
    std::string digest;       // the first image's digest (by image name), "sha256:..."
};

CiOutputs ci_outputs(const CiResult& result);

// "3.2s": how long a step took, as the summaries show it.
std::string seconds_text(std::chrono::milliseconds elapsed);

// "### minicd ci: succeeded", the event and commit, a table of the planned steps and what came of
// each, then per deployed environment its namespace, release, URL and images with digests, then
// what the drift steps found (drift_markdown).
std::string ci_markdown(const CiResult& result);

// Where the writers put their files.
struct CiResultFiles {
    std::string github_summary;  // $GITHUB_STEP_SUMMARY (appended)
    std::string github_output;   // $GITHUB_OUTPUT (appended)
    std::string report;          // --ci-report / $MINICD_CI_REPORT; "" = the CI's default below
};

// GitLab CI: a dotenv report (artifacts:reports:dotenv) with DYNAMIC_ENVIRONMENT_URL,
// MINICD_ENVIRONMENT, MINICD_RELEASE and MINICD_DIGEST. Values are single lines: one that is
// not (never expected) is left out rather than break the file.
inline constexpr const char* k_gitlab_report = "minicd.env";
std::string gitlab_dotenv(const CiOutputs& outputs);
Result<void> write_gitlab(const CiResult& result, const CiResultFiles& files);

// GitHub Actions: the Markdown appended to the step summary, and url, environment, release and
// digest appended to the step's outputs (`name=value`, the `name<<delimiter` form for a value
// with a line break).
std::string github_outputs(const CiOutputs& outputs);
Result<void> write_github(const CiResult& result, const CiResultFiles& files);

// CircleCI: the Markdown in a file the job keeps with store_artifacts.
inline constexpr const char* k_circleci_report = "/tmp/minicd/summary.md";
Result<void> write_circleci(const CiResult& result, const CiResultFiles& files);

// File I/O the writers share: `text` appended (or the file replaced), parent directories made.
enum class WriteMode { append, replace };
Result<void> write_text(const std::string& path, const std::string& text, WriteMode mode);

}  // namespace minicd::cli
