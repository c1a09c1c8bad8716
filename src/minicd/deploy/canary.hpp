#pragma once

#include <optional>
#include <string>
#include <vector>

#include "minicd/deploy/deploy.hpp"
#include "minicd/model/canary.hpp"

// Canary releases run by minicd itself, no controller in the cluster: the release's new pod
// templates run first in `<name>-canary` Deployments next to the stable ones (canary/workloads.hpp),
// step by step, each step watched (pod health, and Prometheus when an analysis is given), then the
// whole release is applied (promotion), or the canary is deleted and the release held (abort).
// Progress lives in the cluster (the release record and the canary Deployments' annotations), so a
// run that was killed is continued by the next one.
namespace minicd::deploy {

// Deploys the release through a canary: plan as any deploy (ownership, dry run of every object:
// nothing is written when anything is refused), record the release as `canary` with its objects,
// write the canary objects, run the steps, then promote or abort. A canary of the same release
// still open (a run killed meanwhile) is continued at its current step; an open canary of another
// release is removed first. `result.canary` says how it went.
// Analysis queries go to strategy.analysis' Prometheus (http, or https verified against the system's CAs).
Result<DeployResult> deploy_canary(kube::Client& client, kube::Discovery& discovery,
                                   const std::vector<source::Manifest>& manifests, const DeployOptions& options,
                                   const model::CanaryStrategy& strategy);

// deploy_canary with a strategy, deploy without one.
Result<DeployResult> deploy_with(kube::Client& client, kube::Discovery& discovery,
                                 const std::vector<source::Manifest>& manifests, const DeployOptions& options,
                                 const std::optional<model::CanaryStrategy>& strategy);

// Where an open canary stands; nullopt when the target has none.
struct CanaryStatus {
    model::Release release;  // outcome canary
    int step = 0;            // 0-based, from the canary Deployments; -1 when none is there (not created yet, or gone)
    int steps = 0;
    int weight = 0;
    struct Workload {
        std::string name;  // the canary Deployment
        int replicas = 0;
        int ready = 0;
    };
    std::vector<Workload> workloads;
};
Result<std::optional<CanaryStatus>> canary_status(kube::Client& client, const render::Target& target);

// Continues the open canary from its step with the release's stored objects.
Result<DeployResult> resume_canary(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options,
                                   const model::CanaryStrategy& strategy);
// Applies the open canary's release to the stable workloads now, skipping the steps left.
Result<DeployResult> promote_canary(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options);
// Deletes the open canary and records its release failed (held), saying `why`.
Result<DeployResult> abort_canary(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options,
                                  const std::string& why);

// The open canary of a history (a release whose outcome is `canary`); nullopt when none is open.
std::optional<model::Release> open_canary(const std::vector<model::Release>& releases);

}  // namespace minicd::deploy
