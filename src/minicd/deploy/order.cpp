#include "minicd/deploy/order.hpp"

#include <algorithm>
#include <array>
#include <tuple>

namespace minicd::deploy {

namespace {

constexpr std::array<std::string_view, 38> k_kind_order = {
    "Namespace", "CustomResourceDefinition",
    "ResourceQuota", "LimitRange", "PriorityClass", "StorageClass", "IngressClass", "RuntimeClass",
    "ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding",
    "Secret", "ConfigMap", "PersistentVolume", "PersistentVolumeClaim",
    "Service", "Endpoints", "EndpointSlice",
    "DaemonSet", "Pod", "ReplicaSet", "ReplicationController", "Deployment", "StatefulSet", "Job", "CronJob",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Ingress", "Lease",
    // Custom resources come here (rank of "*").
    "*",
    "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ValidatingAdmissionPolicy",
};

int rank_of(std::string_view kind) {
    auto it = std::find(k_kind_order.begin(), k_kind_order.end(), kind);
    if (it == k_kind_order.end()) it = std::find(k_kind_order.begin(), k_kind_order.end(), "*");
    return static_cast<int>(it - k_kind_order.begin());
}

auto key(const model::ObjectId& id) { return std::make_tuple(rank_of(id.kind), id.kind, id.namespace_, id.name, id.group); }

}  // namespace

bool is_foundation(std::string_view kind) { return kind == "Namespace" || kind == "CustomResourceDefinition"; }

int kind_rank(std::string_view kind) { return rank_of(kind); }

void sort_for_apply(std::vector<render::Desired>& objects) {
    std::stable_sort(objects.begin(), objects.end(),
                     [](const render::Desired& a, const render::Desired& b) { return key(a.id) < key(b.id); });
}

void sort_for_apply(std::vector<model::ObjectId>& ids) {
    std::stable_sort(ids.begin(), ids.end(), [](const auto& a, const auto& b) { return key(a) < key(b); });
}

void sort_for_delete(std::vector<model::ObjectId>& ids) {
    sort_for_apply(ids);
    std::reverse(ids.begin(), ids.end());
}

}  // namespace minicd::deploy
