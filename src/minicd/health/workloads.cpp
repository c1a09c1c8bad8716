#include "minicd/health/rules.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "minicd/health/fields.hpp"

namespace minicd::health {

namespace {

using model::Json;

Health in_progress(std::string reason, std::string message) {
    return Health{.state = State::in_progress, .reason = std::move(reason), .message = std::move(message)};
}

Health current(std::string reason, std::string message) {
    return Health{.state = State::current, .reason = std::move(reason), .message = std::move(message)};
}

// spec.replicas is defaulted to 1 by the API server; a manifest read before defaulting may omit it.
std::int64_t wanted_replicas(const Json& workload) { return int_at(workload, {"spec", "replicas"}).value_or(1); }

std::int64_t status_count(const Json& workload, std::string_view field) {
    return int_at(workload, {"status", field}).value_or(0);
}

// Scaling down, or pods of a surge still terminating.
Health extra_replicas(std::int64_t count) {
    return in_progress("TerminatingExtraReplicas",
                       fmt::format("{} pending termination", plural(count, "extra replica", "extra replicas")));
}

// Pods that cannot be created (quota, admission webhooks, PodSecurity) show up only as ReplicaFailure;
// the rollout will hit its progress deadline, but the person reading the log needs the cause now.
Health with_replica_failure(Health health, const Json& workload) {
    std::optional<Condition> failure = find_condition(workload, "ReplicaFailure");
    if (!failure || !failure->is_true()) {
        return health;
    }
    health.reason = "ReplicaFailure";
    health.message = one_line(fmt::format("{}; pods cannot be created: {}", health.message,
                                          reason_and_message(failure->reason, failure->message)));
    return health;
}

}  // namespace

// Follows `kubectl rollout status`: once the controller has observed the generation (checked by the
// generic pass), the rollout is done when every wanted replica runs the new template, no old replica is
// left, and every updated replica is available.
Health assess_deployment(const Json& deployment) {
    std::optional<Condition> progressing = find_condition(deployment, "Progressing");
    if (progressing && progressing->is_false() && progressing->reason == "ProgressDeadlineExceeded") {
        std::int64_t deadline = int_at(deployment, {"spec", "progressDeadlineSeconds"}).value_or(600);
        std::string text = fmt::format("rollout exceeded its progress deadline of {}s", deadline);
        if (!progressing->message.empty()) {
            text += ": " + progressing->message;
        }
        return Health{.state = State::failed, .reason = "ProgressDeadlineExceeded", .message = one_line(text)};
    }

    const std::int64_t wanted = wanted_replicas(deployment);
    const std::int64_t replicas = status_count(deployment, "replicas");
    const std::int64_t updated = status_count(deployment, "updatedReplicas");
    const std::int64_t available = status_count(deployment, "availableReplicas");

    std::optional<Health> pending_rollout;
    if (updated < wanted) {
        pending_rollout = in_progress("UpdatingReplicas", fmt::format("{} of {} replicas updated", updated, wanted));
    } else if (replicas > updated) {
        pending_rollout = in_progress(
            "TerminatingOldReplicas",
            fmt::format("{} of {} replicas updated, {} pending termination", updated, wanted,
                        plural(replicas - updated, "old replica", "old replicas")));
    } else if (replicas > wanted) {
        pending_rollout = in_progress(
            "TerminatingExtraReplicas",
            fmt::format("{} of {} replicas updated, {} pending termination", updated, wanted,
                        plural(replicas - wanted, "extra replica", "extra replicas")));
    }
    if (pending_rollout) {
        // A paused Deployment never creates or scales ReplicaSets for a new template, so this rollout cannot
        // finish until someone resumes it: fail now rather than wait for the timeout. Replicas that only
        // need to become available still do so while paused, hence the check sits here.
        if (bool_at(deployment, {"spec", "paused"})) {
            return Health{
                .state = State::failed,
                .reason = "DeploymentPaused",
                .message = fmt::format("rollout is paused (spec.paused): {}; resume it with kubectl rollout resume",
                                       pending_rollout->message),
            };
        }
        return with_replica_failure(std::move(*pending_rollout), deployment);
    }
    if (available < updated) {
        return with_replica_failure(
            in_progress("WaitingForAvailability",
                        fmt::format("{} of {} updated replicas available", available, updated)),
            deployment);
    }
    if (wanted == 0) {
        return current("RolloutComplete", "scaled to zero");
    }
    return current("RolloutComplete", fmt::format("{} of {} replicas updated and available", available, wanted));
}

// Like kubectl and Argo CD: every replica ready, then the update is judged by strategy. RollingUpdate
// with a partition is done once the ordinals at or above the partition run the update revision (the
// rest stay on the old one by design); without a partition the update revision must become current.
// OnDelete only replaces pods someone deletes, so waiting for revisions would never end: ready suffices.
Health assess_stateful_set(const Json& stateful_set) {
    const std::int64_t wanted = wanted_replicas(stateful_set);
    const std::int64_t replicas = status_count(stateful_set, "replicas");
    const std::int64_t ready = status_count(stateful_set, "readyReplicas");
    const std::int64_t updated = status_count(stateful_set, "updatedReplicas");

    if (ready < wanted) {
        return in_progress("WaitingForReadyReplicas", fmt::format("{} of {} replicas ready", ready, wanted));
    }
    if (replicas > wanted) {
        return extra_replicas(replicas - wanted);
    }
    // availableReplicas lags readyReplicas only by minReadySeconds; older API servers do not report it, so
    // it is read only when the spec asks for that delay.
    if (int_at(stateful_set, {"spec", "minReadySeconds"}).value_or(0) > 0) {
        const std::int64_t available = status_count(stateful_set, "availableReplicas");
        if (available < wanted) {
            return in_progress("WaitingForAvailability", fmt::format("{} of {} replicas available", available, wanted));
        }
    }

    std::string strategy = string_at(stateful_set, {"spec", "updateStrategy", "type"});
    if (strategy == "OnDelete") {
        return current("OnDeleteStrategy",
                       fmt::format("{} of {} replicas ready (OnDelete: pods update only when deleted)", ready, wanted));
    }
    const std::int64_t partition =
        int_at(stateful_set, {"spec", "updateStrategy", "rollingUpdate", "partition"}).value_or(0);
    if (partition > 0) {
        const std::int64_t target = std::max<std::int64_t>(0, wanted - partition);
        if (updated < target) {
            return in_progress("UpdatingReplicas", fmt::format("{} of {} replicas at or above partition {} updated",
                                                               updated, target, partition));
        }
        return current("PartitionRolledOut",
                       fmt::format("{} of {} replicas updated; ordinals below partition {} stay on the old revision",
                                   updated, wanted, partition));
    }
    if (updated < wanted) {
        return in_progress("UpdatingReplicas", fmt::format("{} of {} replicas updated", updated, wanted));
    }
    std::string current_revision = string_at(stateful_set, {"status", "currentRevision"});
    std::string update_revision = string_at(stateful_set, {"status", "updateRevision"});
    if (current_revision != update_revision) {
        return in_progress("WaitingForRevision",
                           fmt::format("waiting for revision {} to replace {}", update_revision, current_revision));
    }
    if (wanted == 0) {
        return current("RolloutComplete", "scaled to zero");
    }
    return current("RolloutComplete", fmt::format("{} of {} replicas updated and ready", ready, wanted));
}

// A DaemonSet wants one pod per eligible node: all of them must run the new template (RollingUpdate only:
// OnDelete waits for deletions, like StatefulSets) and be available.
Health assess_daemon_set(const Json& daemon_set) {
    std::optional<std::int64_t> desired = int_at(daemon_set, {"status", "desiredNumberScheduled"});
    if (!desired) {
        return in_progress("WaitingForScheduling", "waiting for the controller to count eligible nodes");
    }
    const std::int64_t updated = status_count(daemon_set, "updatedNumberScheduled");
    const std::int64_t available = status_count(daemon_set, "numberAvailable");
    const bool on_delete = string_at(daemon_set, {"spec", "updateStrategy", "type"}) == "OnDelete";

    if (!on_delete && updated < *desired) {
        return in_progress("UpdatingPods", fmt::format("{} of {} pods updated", updated, *desired));
    }
    if (available < *desired) {
        return in_progress("WaitingForAvailability", fmt::format("{} of {} pods available", available, *desired));
    }
    if (*desired == 0) {
        return current("NoEligibleNodes", "no node matches the pod's node selector, affinity and tolerations");
    }
    return current("RolloutComplete", fmt::format("{} of {} pods updated and available", available, *desired));
}

// ReplicaSets are usually judged through their Deployment; standalone ones need all replicas available.
Health assess_replica_set(const Json& replica_set) {
    const std::int64_t wanted = wanted_replicas(replica_set);
    const std::int64_t replicas = status_count(replica_set, "replicas");
    const std::int64_t available = status_count(replica_set, "availableReplicas");

    if (replicas < wanted) {
        return with_replica_failure(
            in_progress("CreatingReplicas", fmt::format("{} of {} replicas created", replicas, wanted)), replica_set);
    }
    if (available < wanted) {
        return with_replica_failure(
            in_progress("WaitingForAvailability", fmt::format("{} of {} replicas available", available, wanted)),
            replica_set);
    }
    if (replicas > wanted) {
        return extra_replicas(replicas - wanted);
    }
    return current("ReplicasAvailable", fmt::format("{} of {} replicas available", available, wanted));
}

// Unlike kstatus (a started Job counts as Current), a deploy that runs a Job waits for it to complete:
// migrations and seed jobs are run precisely so that what follows can rely on them.
Health assess_job(const Json& job) {
    const std::int64_t succeeded = status_count(job, "succeeded");
    const std::int64_t failed_pods = status_count(job, "failed");
    const std::int64_t active = status_count(job, "active");
    // spec.completions unset means a work queue: the Job completes when any pod succeeds.
    std::optional<std::int64_t> completions = int_at(job, {"spec", "completions"});
    std::string progress = completions ? fmt::format("{} of {} completions", succeeded, *completions)
                                       : plural(succeeded, "completion", "completions");

    std::optional<Condition> complete = find_condition(job, "Complete");
    if (complete && complete->is_true()) {
        return current("JobComplete", "complete: " + progress);
    }
    // FailureTarget is set (Kubernetes 1.26+) as soon as the Job is doomed, before its pods are cleaned up
    // and Failed appears; either one ends the wait.
    for (std::string_view type : {"Failed", "FailureTarget"}) {
        std::optional<Condition> failure = find_condition(job, type);
        if (failure && failure->is_true()) {
            std::string text = failure->message.empty() ? std::string("job failed") : failure->message;
            return Health{
                .state = State::failed,
                .reason = failure->reason.empty() ? "JobFailed" : failure->reason,
                .message = one_line(fmt::format("{} ({}, {})", text, progress,
                                                plural(failed_pods, "failed pod", "failed pods"))),
            };
        }
    }
    // A suspended Job runs only when something resumes it (a person, or a queue such as Kueue), which may
    // never happen during this deploy; like kstatus we do not wait for it, and say so.
    if (bool_at(job, {"spec", "suspend"})) {
        return current("JobSuspended", "suspended (spec.suspend); not waiting for it to run");
    }
    if (find_path(job, {"status", "startTime"}) == nullptr) {
        return in_progress("JobNotStarted", "waiting for the job controller to start it");
    }
    std::string text = fmt::format("{}, {} active", progress, active);
    if (failed_pods > 0) {
        text += fmt::format(", {} failed", failed_pods);
    }
    return in_progress("JobRunning", text);
}

}  // namespace minicd::health
