#include "minicd/health/rules.hpp"

#include <string>

#include <fmt/format.h>

#include "minicd/health/fields.hpp"

namespace minicd::health {

namespace {

using model::Json;

// The first address in status.loadBalancer.ingress (IP or hostname), "" when none is assigned yet.
std::string load_balancer_address(const Json& object) {
    const Json* ingress = find_path(object, {"status", "loadBalancer", "ingress"});
    if (ingress == nullptr || !ingress->is_array()) {
        return {};
    }
    for (const Json& entry : *ingress) {
        for (std::string_view field : {"ip", "hostname"}) {
            std::string address = string_at(entry, {field});
            if (!address.empty()) {
                return address;
            }
        }
    }
    return {};
}

// Shared by LoadBalancer Services and Ingresses. Many controllers never publish an address (the #1
// "stuck Progressing" complaint against Argo CD), so the address is awaited only when asked for.
Health assess_load_balancer(const Json& object, const AssessOptions& options) {
    std::string address = load_balancer_address(object);
    if (!address.empty()) {
        return Health{.state = State::current, .reason = "LoadBalancerReady",
                      .message = fmt::format("load balancer at {}", address)};
    }
    if (options.wait_for_load_balancer) {
        return Health{.state = State::in_progress, .reason = "WaitingForLoadBalancer",
                      .message = "waiting for a load-balancer address (status.loadBalancer.ingress)"};
    }
    return Health{.state = State::current, .reason = "LoadBalancerNotAwaited",
                  .message = "no load-balancer address yet (not waited for)"};
}

}  // namespace

Health assess_persistent_volume_claim(const Json& claim) {
    std::string phase = string_at(claim, {"status", "phase"});
    if (phase == "Bound") {
        std::string volume = string_at(claim, {"spec", "volumeName"});
        return Health{.state = State::current, .reason = "Bound",
                      .message = volume.empty() ? std::string("bound") : "bound to " + volume};
    }
    // Lost: the bound PersistentVolume is gone; nothing brings the data back by waiting.
    if (phase == "Lost") {
        std::string volume = string_at(claim, {"spec", "volumeName"});
        return Health{.state = State::failed, .reason = "ClaimLost",
                      .message = volume.empty() ? std::string("the bound volume no longer exists")
                                                : fmt::format("the bound volume {} no longer exists", volume)};
    }
    // Pending is normal until provisioning ends, and with a WaitForFirstConsumer storage class until a pod
    // uses the claim, which the message points out because a claim nobody mounts waits forever.
    return Health{.state = State::in_progress, .reason = "ClaimPending",
                  .message = "waiting to be bound (WaitForFirstConsumer storage classes bind only once a pod uses "
                             "the claim)"};
}

Health assess_service(const Json& service, const AssessOptions& options) {
    std::string type = string_at(service, {"spec", "type"});
    if (type == "LoadBalancer") {
        return assess_load_balancer(service, options);
    }
    return Health{.state = State::current, .reason = "ServiceReady",
                  .message = fmt::format("{} service", type.empty() ? "ClusterIP" : type)};
}

Health assess_ingress(const Json& ingress, const AssessOptions& options) {
    return assess_load_balancer(ingress, options);
}

Health assess_namespace(const Json& ns) {
    // A Namespace with finalizers pending keeps phase Terminating (and a deletionTimestamp, which the generic
    // pass reports first); the phase is checked too in case a copy of the object lost its metadata.
    if (string_at(ns, {"status", "phase"}) == "Terminating") {
        return Health{.state = State::in_progress, .reason = "Terminating", .message = "namespace is being deleted"};
    }
    return Health{.state = State::current, .reason = "NamespaceActive", .message = "active"};
}

Health assess_custom_resource_definition(const Json& crd) {
    std::optional<Condition> names = find_condition(crd, "NamesAccepted");
    if (names && names->is_false()) {
        return Health{.state = State::failed, .reason = names->reason.empty() ? "NamesNotAccepted" : names->reason,
                      .message = one_line("names not accepted: " + names->message)};
    }
    std::optional<Condition> established = find_condition(crd, "Established");
    if (established && established->is_true()) {
        return Health{.state = State::current, .reason = "Established", .message = "established"};
    }
    return Health{.state = State::in_progress, .reason = "NotEstablished",
                  .message = "waiting for the API server to serve the new resource"};
}

Health assess_by_ready_condition(const Json& live) {
    std::optional<Condition> ready = find_condition(live, "Ready");
    if (!ready) {
        return Health{.state = State::current, .reason = "NoReadinessConditions", .message = "nothing to wait for"};
    }
    // A Ready condition written for an older spec (cert-manager tracks this per condition) says nothing
    // about the spec just applied.
    std::optional<std::int64_t> generation = int_at(live, {"metadata", "generation"});
    if (ready->observed_generation && generation && *ready->observed_generation < *generation) {
        return Health{.state = State::in_progress, .reason = "LatestGenerationNotObserved",
                      .message = fmt::format("waiting for the controller to observe generation {}", *generation)};
    }
    if (ready->is_true()) {
        return Health{.state = State::current, .reason = "Ready",
                      .message = ready->message.empty() ? std::string("ready") : one_line(ready->message)};
    }
    std::string message = one_line(ready->message);
    if (message.empty()) {
        message = fmt::format("Ready is {}", ready->status.empty() ? "unset" : ready->status);
    }
    return Health{.state = State::in_progress, .reason = ready->reason.empty() ? "NotReady" : ready->reason,
                  .message = std::move(message)};
}

}  // namespace minicd::health
