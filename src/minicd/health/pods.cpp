#include "minicd/health/rules.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "minicd/health/fields.hpp"

namespace minicd::health {

namespace {

using model::Json;

// Container waiting reasons that waiting will not fix: the kubelet retries with back-off, but only a
// change (image, tag, pull secret, config, code) gets the container running. Transient reasons such
// as ContainerCreating or PodInitializing are deliberately absent.
constexpr std::array<std::string_view, 5> k_fail_fast_waiting_reasons = {
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError",
};

bool is_fail_fast(std::string_view waiting_reason) {
    return std::find(k_fail_fast_waiting_reasons.begin(), k_fail_fast_waiting_reasons.end(), waiting_reason) !=
           k_fail_fast_waiting_reasons.end();
}

std::string pod_name(const Json& pod) {
    std::string name = string_at(pod, {"metadata", "name"});
    return name.empty() ? "(unnamed)" : name;
}

// The kubelet's back-off message ends in "container=main pod=web-7d9-x_shop(<uid>)", which repeats what
// our message already says; cut it so the line stays short.
std::string tidy_kubelet_message(std::string message) {
    constexpr std::string_view k_marker = "failed container=";
    if (auto at = message.find(k_marker); at != std::string::npos) {
        message.resize(at + k_marker.size() - 1);
    }
    return message;
}

// "(last exit: OOMKilled, code 137)": why a crash-looping container died last time, which is usually
// the first thing a person wants to know.
std::string last_exit(const Json& container_status) {
    const Json* terminated = find_path(container_status, {"lastState", "terminated"});
    if (terminated == nullptr) {
        return {};
    }
    std::string reason = string_at(*terminated, {"reason"});
    std::optional<std::int64_t> code = int_at(*terminated, {"exitCode"});
    if (reason.empty() && !code) {
        return {};
    }
    if (!code) {
        return fmt::format(" (last exit: {})", reason);
    }
    if (reason.empty()) {
        return fmt::format(" (last exit code {})", *code);
    }
    return fmt::format(" (last exit: {}, code {})", reason, *code);
}

// The first container (init containers first: they run first) waiting for a fail-fast reason, as
// "pod P container C: Reason: detail".
std::optional<Health> find_container_failure(const Json& pod) {
    for (std::string_view list : {"initContainerStatuses", "containerStatuses"}) {
        const Json* statuses = find_path(pod, {"status", list});
        if (statuses == nullptr || !statuses->is_array()) {
            continue;
        }
        for (const Json& status : *statuses) {
            std::string reason = string_at(status, {"state", "waiting", "reason"});
            if (!is_fail_fast(reason)) {
                continue;
            }
            std::string detail = tidy_kubelet_message(string_at(status, {"state", "waiting", "message"}));
            if (reason == "CrashLoopBackOff") {
                detail += last_exit(status);
            }
            std::string container = string_at(status, {"name"});
            return Health{
                .state = State::failed,
                .reason = reason,
                .message = one_line(fmt::format("pod {} container {}: {}", pod_name(pod), container,
                                                reason_and_message(reason, detail))),
            };
        }
    }
    return std::nullopt;
}

// PodScheduled=False/Unschedulable means no node fits the pod as it is. A pod the scheduler has nominated
// a node for is waiting on preemption of lower-priority pods and will be placed, so it does not count.
std::optional<Health> find_unschedulable(const Json& pod) {
    std::optional<Condition> scheduled = find_condition(pod, "PodScheduled");
    if (!scheduled || !scheduled->is_false() || scheduled->reason != "Unschedulable") {
        return std::nullopt;
    }
    if (!string_at(pod, {"status", "nominatedNodeName"}).empty()) {
        return std::nullopt;
    }
    return Health{
        .state = State::failed,
        .reason = "Unschedulable",
        .message = one_line(
            fmt::format("pod {}: {}", pod_name(pod), reason_and_message("Unschedulable", scheduled->message))),
    };
}

// Why a Failed pod failed: the pod's own reason (Evicted, DeadlineExceeded...) when the kubelet gave one,
// else the first container that terminated unsuccessfully, by its reason and exit code. Its
// termination message is left out: the container wrote it (with FallbackToLogsOnError it is the end
// of its log), so it may hold secrets, and this text goes into CI logs and release records.
Health failed_pod(const Json& pod) {
    std::string reason = string_at(pod, {"status", "reason"});
    std::string message = string_at(pod, {"status", "message"});
    if (!reason.empty() || !message.empty()) {
        return Health{
            .state = State::failed,
            .reason = reason.empty() ? "PodFailed" : reason,
            .message = one_line(fmt::format("pod {} failed: {}", pod_name(pod), reason_and_message(reason, message))),
        };
    }
    for (std::string_view list : {"initContainerStatuses", "containerStatuses"}) {
        const Json* statuses = find_path(pod, {"status", list});
        if (statuses == nullptr || !statuses->is_array()) {
            continue;
        }
        for (const Json& status : *statuses) {
            const Json* terminated = find_path(status, {"state", "terminated"});
            if (terminated == nullptr || int_at(*terminated, {"exitCode"}).value_or(0) == 0) {
                continue;
            }
            std::string why = string_at(*terminated, {"reason"});
            std::string text = fmt::format("pod {} failed: container {} exited with code {}", pod_name(pod),
                                           string_at(status, {"name"}), int_at(*terminated, {"exitCode"}).value_or(0));
            if (!why.empty()) {
                text += fmt::format(" ({})", why);
            }
            return Health{.state = State::failed, .reason = "PodFailed", .message = one_line(text)};
        }
    }
    return Health{.state = State::failed, .reason = "PodFailed",
                  .message = fmt::format("pod {} failed", pod_name(pod))};
}

// What a pod that is neither done nor broken is waiting for, for the timeout report.
Health pod_in_progress(const Json& pod, std::string_view phase) {
    if (phase == "Running") {
        std::optional<Condition> ready = find_condition(pod, "Ready");
        std::string why = ready ? ready->message : std::string();
        return Health{
            .state = State::in_progress,
            .reason = "PodNotReady",
            .message = one_line(why.empty() ? std::string("running, not ready") : "running, not ready: " + why),
        };
    }
    if (phase == "Pending") {
        std::optional<Condition> scheduled = find_condition(pod, "PodScheduled");
        if (scheduled && !scheduled->is_true()) {
            return Health{
                .state = State::in_progress,
                .reason = "PodPending",
                .message = one_line("waiting to be scheduled: " +
                                    reason_and_message(scheduled->reason, scheduled->message)),
            };
        }
        for (std::string_view list : {"initContainerStatuses", "containerStatuses"}) {
            const Json* statuses = find_path(pod, {"status", list});
            if (statuses == nullptr || !statuses->is_array()) {
                continue;
            }
            for (const Json& status : *statuses) {
                std::string waiting = string_at(status, {"state", "waiting", "reason"});
                if (!waiting.empty()) {
                    return Health{
                        .state = State::in_progress,
                        .reason = "PodPending",
                        .message = one_line(
                            fmt::format("pending: container {} {}", string_at(status, {"name"}), waiting)),
                    };
                }
            }
        }
        return Health{.state = State::in_progress, .reason = "PodPending", .message = "pending"};
    }
    if (phase.empty()) {
        return Health{.state = State::in_progress, .reason = "PodPending",
                      .message = "waiting for a status from the kubelet"};
    }
    // Phase Unknown: the node stopped reporting; it may come back, so keep waiting.
    return Health{.state = State::in_progress, .reason = "PodPhaseUnknown",
                  .message = fmt::format("phase {}: the node may be unreachable", phase)};
}

}  // namespace

Health assess_pod(const Json& pod) {
    std::string phase = string_at(pod, {"status", "phase"});
    if (phase == "Succeeded") {
        return Health{.state = State::current, .reason = "PodSucceeded", .message = "completed"};
    }
    // Unlike kstatus (which calls a Failed pod Current because it "completed"), a deploy that created a
    // pod which failed has failed.
    if (phase == "Failed") {
        return failed_pod(pod);
    }
    if (auto failure = find_container_failure(pod)) {
        return *failure;
    }
    if (auto failure = find_unschedulable(pod)) {
        return *failure;
    }
    std::optional<Condition> ready = find_condition(pod, "Ready");
    if (phase == "Running" && ready && ready->is_true()) {
        return Health{.state = State::current, .reason = "PodReady", .message = "running and ready"};
    }
    return pod_in_progress(pod, phase);
}

std::optional<Health> find_pod_failure(std::span<const Json> pods) {
    std::optional<Health> first;
    std::int64_t others = 0;
    for (const Json& pod : pods) {
        if (find_path(pod, {"metadata", "deletionTimestamp"}) != nullptr) {
            continue;
        }
        std::string phase = string_at(pod, {"status", "phase"});
        if (phase == "Succeeded" || phase == "Failed") {
            continue;
        }
        std::optional<Health> failure = find_container_failure(pod);
        if (!failure) {
            failure = find_unschedulable(pod);
        }
        if (!failure) {
            continue;
        }
        if (first) {
            ++others;
        } else {
            first = std::move(failure);
        }
    }
    if (first && others > 0) {
        // One pod is enough to act on; the count tells whether it is one bad node or the whole rollout.
        first->message += fmt::format(" (+{} failing)", plural(others, "more pod", "more pods"));
    }
    return first;
}

}  // namespace minicd::health
