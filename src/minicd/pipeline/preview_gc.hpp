#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/config/config.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/pipeline/preview.hpp"
#include "minicd/util/result.hpp"

// Preview garbage collection: delete the previews of THIS app whose branch is gone or that sat idle
// past their TTL. Safety: no branch list, no deletion; at most `max_deletions` per run (the rest
// reported); a namespace without every preview label of the app and environment is never touched.
namespace minicd::pipeline {

enum class GcAction {
    keep,         // branch exists and the preview is fresh (or has no TTL)
    remove,       // branch gone or TTL expired: deleted (or would be, in a dry run)
    skip,         // not ours to judge: labels incomplete, no branch annotation, already terminating, no branch list
    over_budget,  // would be removed, but this run's deletions are used up; reported for the next run
};

std::string_view to_string(GcAction action);

struct GcDecision {
    std::string namespace_;
    std::string branch;  // from the annotation; "" when missing
    GcAction action = GcAction::keep;
    std::string reason;  // for people: "branch feature/x no longer exists", "idle 9d (ttl 7d)"
};

struct GcPolicy {
    PreviewOwner owner;
    std::chrono::seconds ttl{0};  // idle time (since last deploy, else creation) after which a preview goes; 0: never
    int max_deletions = 5;        // 0 deletes nothing (everything to remove is reported over budget)
    Clock::time_point now;
};

// Decides for each namespace, in the order given. Branch-gone previews take the budget before
// expired ones, each group oldest activity first, then by name. An empty branch set deletes
// nothing (every namespace is skipped): an empty listing means the listing is wrong.
std::vector<GcDecision> plan_gc(const std::vector<PreviewNamespace>& namespaces, const std::set<std::string>& branches,
                                const GcPolicy& policy);

struct GcOptions {
    GcPolicy policy;
    bool dry_run = false;  // plan and report; delete nothing
    bool wait = false;     // wait until deleted namespaces are gone
    std::chrono::seconds wait_timeout{120};
};

struct GcOutcome {
    std::vector<GcDecision> decisions;   // one per preview namespace listed, sorted by namespace
    std::vector<std::string> deleted;    // namespaces whose deletion the server accepted (none in a dry run)
    std::vector<std::string> failures;   // "namespace: why" for deletions that failed; the rest went on
    std::vector<std::string> remaining;  // waited for and still there: "namespace (why)"

    int count(GcAction action) const;
    bool succeeded() const { return failures.empty() && remaining.empty(); }
};

// Lists the owner's previews (labels re-checked), plans, and deletes what the plan removes, each
// with its uid and resourceVersion as preconditions. A failed deletion is reported and the others
// go on; only failing to list is an error. The branch set must come from list_branches.
Result<GcOutcome> collect_previews(kube::Client& client, const std::set<std::string>& branches, const GcOptions& options);

// The branch set for an environment's gc settings: `git ls-remote --heads` of gc.remote (gc.tokenEnv
// for https), or the remote-tracking branches of the clone at `repository` ("" for the current
// directory). Failing or empty: an error.
Result<std::set<std::string>> list_branches(const config::PreviewGc& gc, const std::string& repository);

struct PreviewGcRun {
    std::string repository;             // the clone; "" for the current directory
    bool dry_run = false;
    std::optional<int> max_deletions;   // overrides gc.maxDeletions
    bool wait = false;
    std::chrono::seconds wait_timeout{120};
};

// The whole collection for one per-branch environment, as `minicd ci` and `minicd preview gc` run it:
// branches (an error leaves everything in place), then collect_previews with the environment's TTL
// and budget. The client must have passed guard_cluster for this environment. Does not look at
// gc.enabled: callers that run it implicitly check that.
Result<GcOutcome> run_preview_gc(kube::Client& client, const config::Config& config, const config::Environment& environment,
                                 const PreviewGcRun& run);

}  // namespace minicd::pipeline
