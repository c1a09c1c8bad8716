#pragma once

#include <optional>
#include <string>
#include <vector>

#include "minicd/deploy/deploy.hpp"
#include "minicd/deploy/drift.hpp"
#include "minicd/model/object.hpp"
#include "minicd/render/ownership.hpp"

// How `minicd drift` (and the drift steps of a scheduled `minicd ci`) report drift: text, JSON and
// Markdown for a CI's step summary, apart from the cluster they were read from.
namespace minicd::cli {

// How far the comparison of one environment got.
enum class Comparison {
    compared,          // `report` holds what was found
    nothing_deployed,  // no release to compare with; only when every environment was asked for, not one by name
    failed,            // `error` says why
};

// One environment (or one preview) compared with its last release, and what --fix did about it.
struct EnvironmentDrift {
    std::string name;    // the environment of minicd.yaml; the --env value in the -n/--app/--env form
    std::string branch;  // a preview's branch; "" otherwise
    render::Target target;
    Comparison comparison = Comparison::compared;
    std::optional<deploy::DriftReport> report;  // set when compared
    std::string error;                          // why it was not compared; "" when it was
    std::optional<deploy::DeployResult> fixed;  // set when --fix (or `drift: fix`) put drift back, or tried to
};

// True when live drift was found and is still there: not fixed, or the fix failed.
bool drift_left(const EnvironmentDrift& environment);

// "deploy/web", "cm/settings": how drift names an object (the namespace is the environment's).
std::string object_name(const model::ObjectId& id);

// A value as compact JSON, a long string cut to about 80 bytes; "(gone)" for null.
std::string drift_value(const model::Json& value);

// "spec.replicas: 2 → 5 (kube-controller-manager, Update/scale)"; a field another manager took
// over with the same value reads "data.mode: \"on\" unchanged (helm, Apply, ...)".
std::string describe_field(const deploy::FieldDrift& field);

// "staging", or "preview (branch feature/login)" for a preview.
std::string drift_label(const EnvironmentDrift& environment);

// "staging: shop/staging in namespace shop-staging, compared with release 3 (commit 0123456789ab,
// deployed 2026-12-03T22:14:00Z)"; "preview (branch feature/login): ..." for a preview.
std::string drift_header(const EnvironmentDrift& environment);

// The header, then the live drift (an object per line, its fields below it), replicas others
// scaled as information, and, when Git was compared too, the changes no release deployed yet.
// The header alone when nothing was deployed; "" when the comparison failed (the error is the
// caller's to print, on stderr).
std::string drift_text(const EnvironmentDrift& environment);

// {"environment", "branch" (previews), "app", "env", "namespace", "status", "revision", "gitSha",
// "drifted", "live": [...], "undeployed": [...] when Git was compared, "fixed": {...} when a fix
// ran, "error" when it was not compared}. "drifted" says drift was found, fixed since or not.
model::Json environment_json(const EnvironmentDrift& environment);

// {"drifted": drift found anywhere, "environments": [environment_json...], "requests"}.
model::Json drift_json(const std::vector<EnvironmentDrift>& environments, long requests);

// "### minicd drift", then per environment its header, a table of the live drift (Object, Class,
// Field, Before → After, Changed by) or "No drift.", what a fix did, and the undeployed changes.
std::string drift_markdown(const std::vector<EnvironmentDrift>& environments);

// Appends the Markdown to the file $GITHUB_STEP_SUMMARY names, as GitHub Actions expects of every
// step; nothing when the variable is not set. The only function here that does I/O: a summary that
// cannot be written is a warning, never a reason to fail the run.
void append_step_summary(const std::vector<EnvironmentDrift>& environments);

}  // namespace minicd::cli
