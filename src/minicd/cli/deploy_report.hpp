#pragma once

#include <string>
#include <vector>

#include "minicd/deploy/deploy.hpp"
#include "minicd/diff/diff.hpp"
#include "minicd/model/object.hpp"

// How apply and rollback report a deploy: one text and one JSON form, so both commands read alike.
namespace minicd::cli {

// Whether the run only showed what it would change.
enum class DryRun { no, yes };

enum class OutputFormat { text, json };

// What a text report prints: `out` goes to stdout, `errors` to stderr (each line ends in "\n").
struct TextReport {
    std::string out;
    std::string errors;
};

// One line per object (dry runs: the fields that would change below it), a summary line, and the
// automatic rollback's block when the deploy ran one.
TextReport text_report(const deploy::DeployResult& result, DryRun dry_run, long requests);
// {"path", "before", "after"} per field; the side that does not exist is left out.
model::Json changes_json(const std::vector<diff::FieldChange>& changes);
// {"succeeded", "dryRun", "objects", "revision", "requests"}, "failure" when it failed, "rollbackTo"
// for a rollback, "rollback" when the deploy ran an automatic rollback.
model::Json report_json(const deploy::DeployResult& result, DryRun dry_run, long requests);

void print_text(const deploy::DeployResult& result, DryRun dry_run, long requests);
void print_json(const deploy::DeployResult& result, DryRun dry_run, long requests);
void print_report(const deploy::DeployResult& result, OutputFormat format, DryRun dry_run, long requests);

// Exit codes: a refusal to touch someone else's objects is bad input (2), like any refusal before
// writing. A failed rollout stays 1 even when the automatic rollback restored the release before:
// what was asked for is not running.
int exit_code(deploy::Outcome outcome);

}  // namespace minicd::cli
