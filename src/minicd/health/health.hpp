#pragma once

#include <span>
#include <string>
#include <string_view>

#include "minicd/model/object.hpp"

namespace minicd::health {

enum class State {
    current,      // reconciled and ready
    in_progress,  // not there yet, may still get there
    failed,       // will not get there without a change (fail fast)
};

std::string_view to_string(State state);

struct Health {
    State state = State::in_progress;
    std::string reason;   // short machine-friendly cause: "ProgressDeadlineExceeded", "CrashLoopBackOff"
    std::string message;  // for people: "1 of 2 replicas available", "pod web-7d9 container main: back-off ..."

    // Lets a waiter print a line only when an object's health changes, and tests compare whole results.
    friend bool operator==(const Health&, const Health&) = default;
};

struct AssessOptions {
    // Ingress and LoadBalancer Services are current without an address unless this is set.
    bool wait_for_load_balancer = false;
};

// The health of one live object from its JSON (kstatus-style rules per kind, with the blind spots
// fixed: Jobs wait for Complete, failed Pods are failed, anything with a Ready condition waits for
// it). `pods` are the live Pods that belong to the object (for workloads; may be empty); pod
// failures such as CrashLoopBackOff, ImagePullBackOff/ErrImagePull and Unschedulable make a
// workload failed at once. Pure: no I/O.
// `live` must carry apiVersion and kind (items of a list response do not): without them only the
// generic rules apply. Choices where kstatus and Argo CD differ are explained beside each rule:
// a paused Deployment with a rollout pending is failed, a suspended Job is current, and a workload
// is judged without its pods until its controller has observed the new generation.
Health assess(const model::Json& live, std::span<const model::Json> pods = {}, const AssessOptions& options = {});

// True when `labels` (metadata.labels) satisfies a LabelSelector (matchLabels + matchExpressions).
// An empty selector matches everything; a null one matches nothing, and so does a malformed one (a
// field other than matchLabels/matchExpressions, an unknown operator), since over-matching is the risk.
bool selector_matches(const model::Json& selector, const model::Json& labels);

}  // namespace minicd::health
