#include "minicd/health/health.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "minicd/health/fields.hpp"
#include "minicd/health/rules.hpp"

namespace minicd::health {

namespace {

using model::Json;

enum class Kind {
    deployment,
    stateful_set,
    daemon_set,
    replica_set,
    job,
    cron_job,
    pod,
    persistent_volume_claim,
    service,
    ingress,
    namespace_,
    custom_resource_definition,
    other,  // no kind rule: generic pass, then a Ready condition if there is one
};

// Kinds are matched with their API group, so a custom resource that happens to be called "Service"
// (Knative's serving.knative.dev Service) gets the generic Ready rule, not the core Service rule.
// "extensions" covers objects still served from the pre-apps groups by very old clusters.
Kind classify(const Json& live) {
    std::string api_version = string_at(live, {"apiVersion"});
    std::string kind = string_at(live, {"kind"});
    auto slash = api_version.find('/');
    std::string_view group =
        slash == std::string::npos ? std::string_view() : std::string_view(api_version).substr(0, slash);

    if (group == "apps" || group == "extensions") {
        if (kind == "Deployment") return Kind::deployment;
        if (kind == "DaemonSet") return Kind::daemon_set;
        if (kind == "ReplicaSet") return Kind::replica_set;
        if (kind == "StatefulSet" && group == "apps") return Kind::stateful_set;
    }
    if (group == "batch") {
        if (kind == "Job") return Kind::job;
        if (kind == "CronJob") return Kind::cron_job;
    }
    if (group.empty()) {
        if (kind == "Pod") return Kind::pod;
        if (kind == "PersistentVolumeClaim") return Kind::persistent_volume_claim;
        if (kind == "Service") return Kind::service;
        if (kind == "Namespace") return Kind::namespace_;
    }
    if ((group == "networking.k8s.io" || group == "extensions") && kind == "Ingress") return Kind::ingress;
    if (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition") return Kind::custom_resource_definition;
    return Kind::other;
}

bool is_workload(Kind kind) {
    return kind == Kind::deployment || kind == Kind::stateful_set || kind == Kind::daemon_set ||
           kind == Kind::replica_set || kind == Kind::job;
}

// When status.observedGeneration counts as "not observed yet" if it is missing.
enum class GenerationTracking {
    when_reported,  // many kinds (Pods, most custom resources) never report it: skip the check then
    always,         // the apps controllers always report it, so absence means they have not looked yet
};

// The checks that hold for every kind and come before any kind rule (kstatus order, Stalled before
// Reconciling so a controller that reports both is believed about the failure).
std::optional<Health> generic_pass(const Json& live, GenerationTracking tracking) {
    if (find_path(live, {"metadata", "deletionTimestamp"}) != nullptr) {
        std::string message = "being deleted";
        // Finalizers are why deletions hang; naming them saves a kubectl round trip.
        const Json* finalizers = find_path(live, {"metadata", "finalizers"});
        if (finalizers != nullptr && finalizers->is_array() && !finalizers->empty()) {
            std::string names;
            for (const Json& finalizer : *finalizers) {
                if (finalizer.is_string()) {
                    names += (names.empty() ? "" : ", ") + finalizer.get<std::string>();
                }
            }
            message += "; waiting for finalizers: " + names;
        }
        return Health{.state = State::in_progress, .reason = "Terminating", .message = one_line(message)};
    }

    std::optional<std::int64_t> generation = int_at(live, {"metadata", "generation"});
    std::optional<std::int64_t> observed = int_at(live, {"status", "observedGeneration"});
    if (generation && (observed ? *observed < *generation : tracking == GenerationTracking::always)) {
        return Health{.state = State::in_progress, .reason = "LatestGenerationNotObserved",
                      .message = fmt::format("waiting for the controller to observe generation {}", *generation)};
    }

    std::optional<Condition> stalled = find_condition(live, "Stalled");
    if (stalled && stalled->is_true()) {
        return Health{.state = State::failed, .reason = stalled->reason.empty() ? "Stalled" : stalled->reason,
                      .message = one_line(stalled->message.empty() ? std::string("stalled")
                                                                   : "stalled: " + stalled->message)};
    }
    std::optional<Condition> reconciling = find_condition(live, "Reconciling");
    if (reconciling && reconciling->is_true()) {
        return Health{.state = State::in_progress,
                      .reason = reconciling->reason.empty() ? "Reconciling" : reconciling->reason,
                      .message = one_line(reconciling->message.empty() ? std::string("reconciling")
                                                                       : reconciling->message)};
    }
    return std::nullopt;
}

Health assess_workload(Kind kind, const Json& live) {
    switch (kind) {
    case Kind::deployment: return assess_deployment(live);
    case Kind::stateful_set: return assess_stateful_set(live);
    case Kind::daemon_set: return assess_daemon_set(live);
    case Kind::replica_set: return assess_replica_set(live);
    case Kind::job: return assess_job(live);
    default: break;
    }
    return assess_by_ready_condition(live);
}

// A workload that is not there yet fails as soon as one of its pods cannot recover by waiting; a
// workload already failed (progress deadline, paused) gets the pod's cause appended, which is what a
// person reading "timed out progressing" wants to know next.
Health with_pod_failures(Health health, std::span<const Json> pods) {
    if (health.state == State::current) {
        return health;
    }
    std::optional<Health> failure = find_pod_failure(pods);
    if (!failure) {
        return health;
    }
    if (health.state == State::failed) {
        if (health.message.ends_with('.')) {
            health.message.pop_back();
        }
        health.message += "; " + failure->message;
        return health;
    }
    return *failure;
}

}  // namespace

std::string_view to_string(State state) {
    switch (state) {
    case State::current: return "Current";
    case State::in_progress: return "InProgress";
    case State::failed: return "Failed";
    }
    return "Unknown";
}

Health assess(const Json& live, std::span<const Json> pods, const AssessOptions& options) {
    const Kind kind = classify(live);
    const bool workload = is_workload(kind);
    // Jobs have no observedGeneration at all; the other workloads always publish it.
    const GenerationTracking tracking =
        workload && kind != Kind::job ? GenerationTracking::always : GenerationTracking::when_reported;
    // Pods are not consulted before the generic pass clears: until the controller has observed the new
    // generation, the pods we were given may be the old release's, whose crash loop the new one may fix.
    if (std::optional<Health> blocked = generic_pass(live, tracking)) {
        return *blocked;
    }
    if (workload) {
        return with_pod_failures(assess_workload(kind, live), pods);
    }
    switch (kind) {
    case Kind::pod: return assess_pod(live);
    case Kind::persistent_volume_claim: return assess_persistent_volume_claim(live);
    case Kind::service: return assess_service(live, options);
    case Kind::ingress: return assess_ingress(live, options);
    case Kind::namespace_: return assess_namespace(live);
    case Kind::custom_resource_definition: return assess_custom_resource_definition(live);
    case Kind::cron_job:
        // Its Jobs start on the schedule, not because of this deploy: there is nothing to wait for.
        return Health{.state = State::current, .reason = "CronJobScheduled", .message = "runs on its schedule"};
    default: break;
    }
    return assess_by_ready_condition(live);
}

}  // namespace minicd::health
