#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "minicd/deploy/wait.hpp"
#include "minicd/health/health.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/model/change_set.hpp"
#include "minicd/model/release.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

namespace minicd::deploy {

using model::Action;

// Whether objects owned by another app/env or tool are taken over.
enum class Adopt {
    refuse,  // nothing is written; the run stops naming the owner
    take,    // --adopt: ours from now on, reported as adopted
};

// What a deploy does when its rollout fails after writing (unhealthy, or a write failed).
enum class OnFailure {
    keep,      // leave the cluster as the failed rollout left it (previews: to debug it)
    rollback,  // re-apply the newest release verified healthy, once, and wait for it
};

// Whether a rollback changes CustomResourceDefinitions (and so every resource of their kinds).
enum class IncludeCrds { no, yes };

struct DeployOptions {
    render::Target target;
    bool prune = false;
    bool allow_empty = false;             // let an empty set of manifests prune everything
    bool allow_prune_namespaces = false;  // Namespaces are never pruned otherwise
    bool allow_prune_volumes = false;     // PersistentVolumeClaims are never pruned otherwise
    bool allow_prune_crds = false;        // CustomResourceDefinitions (and so all their resources) neither
    Adopt adopt = Adopt::refuse;
    bool wait = true;
    std::chrono::seconds timeout{300};
    bool dry_run = false;         // report what would change; write nothing
    bool force_recreate = false;  // delete and re-create our objects whose immutable fields changed
    int concurrency = 8;
    std::chrono::seconds lock_wait{0};
    std::string git_sha;
    std::map<std::string, std::string> images;  // image name -> pinned reference (name:tag@sha256:...), recorded in the release
    // Recorded as the release's message when the deploy succeeds (a failure records why it failed),
    // e.g. why a promotion check was overridden; "" records none.
    std::string release_message;
    health::AssessOptions assess;
    std::function<void(const std::string&)> progress;  // human progress lines; may be empty
    OnFailure on_failure = OnFailure::keep;
    int history = 10;               // releases kept, each with the objects it applied (at least 1)
    model::Provenance deployed_by;  // recorded in the release; detect_provenance() when empty
};

// How a deploy ended, as a whole.
enum class Outcome {
    succeeded,
    refused,   // an object belongs to someone else: nothing was written (exit 2)
    rejected,  // the API server refused an object in the dry run: nothing (or only namespaces and CRDs) written
    failed,    // a write, the rollout, a prune, or the lock failed
};

// How a canary run ended (deploy/canary.hpp).
enum class CanaryEnd {
    promoted,  // every step passed (or promoted by hand): the whole release is applied
    aborted,   // a step failed (or aborted by hand): the canary is gone, the stable version untouched
    skipped,   // nothing to canary (a first deploy, or no canaried pod template changed): applied at once
    planned,   // a dry run: the canary the release would get
};

// One measurement of one metric during a canary, as progress lines and reports show it.
struct CanaryMeasurement {
    int step = 0;      // 1-based
    std::string line;  // "success-rate = 0.995 ok"
};

struct CanaryReport {
    CanaryEnd end = CanaryEnd::skipped;
    int release = 0;                     // the revision the canary ran
    std::vector<std::string> workloads;  // the Deployments canaried
    int steps = 0;                       // steps of the plan
    int reached = 0;                     // the step it ended at (1-based); steps when promoted after them all
    std::string reason;                  // why it was aborted or skipped; "" when promoted
    std::vector<CanaryMeasurement> measurements;
};

struct DeployResult;

// The automatic rollback a failed deploy ran (OnFailure::rollback).
struct AutomaticRollback {
    int target = 0;  // revision returned to; 0 when no release was verified healthy (nothing was done)
    std::shared_ptr<DeployResult> result;  // the rollback's own deploy; null when none ran
};

struct DeployResult {
    model::ChangeSet objects;          // in apply order, pruned and kept last
    std::optional<WaitResult> health;  // when waited
    Outcome outcome = Outcome::succeeded;
    std::string failure;  // why it did not succeed, for people; "" when it did
    int revision = 0;     // release revision recorded (0 in dry runs)
    int rollback_to = 0;  // for a rollback: the revision it restored
    std::optional<AutomaticRollback> rollback;  // set when the deploy failed and OnFailure::rollback applied
    std::optional<CanaryReport> canary;         // set for deploys with a canary strategy

    bool succeeded() const { return outcome == Outcome::succeeded; }
};

// Makes the target namespace match the manifests, as named phases under one lock: render (labels,
// namespace) → plan (read live state, ownership, dry-run: nothing is written if any object is
// refused) → apply what changed, in order and in parallel → wait for health → prune what the
// previous inventory owned and the manifests dropped → record inventory and release. Errors are for
// input problems and for not being able to start (connection, lock held); refusals and unhealthy
// rollouts are reported in the result.
Result<DeployResult> deploy(kube::Client& client, kube::Discovery& discovery, const std::vector<source::Manifest>& manifests,
                            const DeployOptions& options);

// Returns the target to a release recorded before: its stored objects go through the same phases
// as a deploy (ownership, dry run, apply, wait, then prune what was added since), without Git or a
// rebuild. `to` is a revision, or 0 for the newest release before the current one that was verified
// healthy. CRDs are left as they are unless `include_crds`. Records a release "rollback to N" and
// marks the release it replaced held. `options.prune` is ignored (a rollback always prunes);
// git_sha and images come from the target release.
Result<DeployResult> rollback(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options, int to,
                              IncludeCrds include_crds);

// Which release a rollback returns to (`to` = 0: the newest verified healthy before the current
// one); an input error saying why there is none.
Result<model::Release> rollback_target(const std::vector<model::Release>& releases, int to);

// What runs now: the newest release that wrote anything and stored its objects; an input error
// when there is none.
Result<model::Release> current_release(const std::vector<model::Release>& releases);

// Who runs minicd: the CI provider and job URL from its environment variables, else "cli (user@host)".
model::Provenance detect_provenance();

}  // namespace minicd::deploy
