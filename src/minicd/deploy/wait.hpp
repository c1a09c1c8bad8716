#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "minicd/health/health.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::deploy {

// One object to wait for, with how it is served.
struct WaitTarget {
    model::ObjectId id;
    kube::ResourceInfo resource;
};

struct ObjectHealth {
    model::ObjectId id;
    health::Health health;
    std::vector<std::string> pods;  // names of the pods it was judged by (a workload's), sorted
};

struct WaitProgress {
    std::chrono::milliseconds elapsed{0};
    int ready = 0;
    int total = 0;
    std::vector<ObjectHealth> not_ready;  // what is still pending, and why
};

struct WaitOptions {
    std::chrono::seconds timeout{300};
    health::AssessOptions assess;
    // Called about every `progress_interval` while waiting. What people see of a wait's progress is
    // wait_progress.hpp's, on stderr, whatever this does.
    std::function<void(const WaitProgress&)> on_progress;
    std::chrono::seconds progress_interval{5};
};

struct WaitResult {
    bool healthy = false;    // every target is Current
    bool timed_out = false;  // the timeout passed first
    std::chrono::milliseconds elapsed{0};
    std::vector<ObjectHealth> objects;  // final health of every target
};

// The health of some objects, followed as it changes for as long as this lives: one list + watch
// per resource type involved (plus Pods and ReplicaSets for workloads), re-listing on 410 Gone,
// no per-object polling. For a caller that keeps watching while it does other work (a canary's
// analysis); wait_for_health is built on it. Every thread is stopped and joined by the destructor.
class HealthWatch {
public:
    HealthWatch(kube::Client& client, std::vector<WaitTarget> targets, health::AssessOptions assess);
    ~HealthWatch();
    HealthWatch(const HealthWatch&) = delete;
    HealthWatch& operator=(const HealthWatch&) = delete;

    // Waits for a change, an error or `until` (at most a quarter of a second), then assesses every
    // target, in the order given, from one consistent view. An error when listing or watching
    // failed for good.
    Result<std::vector<ObjectHealth>> next(std::chrono::steady_clock::time_point until);

private:
    struct State;
    std::unique_ptr<State> m_state;
};

// Waits until every target is healthy, one fails (fail fast), or the timeout passes. Watch-based:
// one list + watch per resource type involved (plus Pods and ReplicaSets when workloads are among
// the targets, to see crash loops and which ReplicaSet is current), re-listing on 410 Gone; no
// per-object polling. Health comes from health::assess with the pods that belong to each workload
// (by ownerReferences; for a Deployment, the pods of its newest ReplicaSet). A target not seen yet
// is in_progress with reason "NotObserved" (first list pending) or "NotFound" (absent or deleted).
// An error when listing or watching is refused (403, 404) or keeps failing; it names the resource.
// Every watch thread is stopped and joined before this returns (cancellation is polled about once
// a second, so returning can take up to a second more than `elapsed`).
Result<WaitResult> wait_for_health(kube::Client& client, const std::vector<WaitTarget>& targets,
                                   const WaitOptions& options);

}  // namespace minicd::deploy
