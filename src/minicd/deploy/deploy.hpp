#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "minicd/deploy/wait.hpp"
#include "minicd/health/health.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/model/change_set.hpp"
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
};

// How a deploy ended, as a whole.
enum class Outcome {
    succeeded,
    refused,   // an object belongs to someone else: nothing was written (exit 2)
    rejected,  // the API server refused an object in the dry run: nothing (or only namespaces and CRDs) written
    failed,    // a write, the rollout, a prune, or the lock failed
};

struct DeployResult {
    model::ChangeSet objects;          // in apply order, pruned and kept last
    std::optional<WaitResult> health;  // when waited
    Outcome outcome = Outcome::succeeded;
    std::string failure;  // why it did not succeed, for people; "" when it did
    int revision = 0;     // release revision recorded (0 in dry runs)

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

}  // namespace minicd::deploy
