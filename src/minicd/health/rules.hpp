#pragma once

// Per-kind health rules, run by assess() after the generic pass (deletion, observedGeneration,
// Stalled/Reconciling) has found nothing blocking. Each rule looks at the one object it is given.

#include <optional>
#include <span>

#include "minicd/health/health.hpp"
#include "minicd/model/object.hpp"

namespace minicd::health {

// workloads.cpp: replica counts, revisions and completions.
Health assess_deployment(const model::Json& deployment);
Health assess_stateful_set(const model::Json& stateful_set);
Health assess_daemon_set(const model::Json& daemon_set);
Health assess_replica_set(const model::Json& replica_set);
Health assess_job(const model::Json& job);

// pods.cpp: a Pod on its own.
Health assess_pod(const model::Json& pod);

// pods.cpp: the first Pod among `pods` that will not recover by waiting (a fail-fast container waiting
// reason, or Unschedulable), as a failed Health naming the pod and container; nullopt when none.
// Pods being deleted or already finished are skipped: they say nothing about the rollout under way.
std::optional<Health> find_pod_failure(std::span<const model::Json> pods);

// other_kinds.cpp: kinds whose readiness is one status field or condition.
Health assess_persistent_volume_claim(const model::Json& claim);
Health assess_service(const model::Json& service, const AssessOptions& options);
Health assess_ingress(const model::Json& ingress, const AssessOptions& options);
Health assess_namespace(const model::Json& ns);
Health assess_custom_resource_definition(const model::Json& crd);
// Kinds without a rule: a Ready condition if the object has one (cert-manager Certificate, Knative,
// Crossplane...), else current because there is nothing to wait for.
Health assess_by_ready_condition(const model::Json& live);

}  // namespace minicd::health
