#include "minicd/deploy/ownership.hpp"

#include <fmt/format.h>

#include "minicd/model/json_read.hpp"

namespace minicd::deploy {

using model::Json;

namespace {

std::string metadata_string(const Json& object, std::string_view section, std::string_view key) {
    return model::string_at(object, {"metadata", section, key});
}

// "Helm release web (ns shop)" and the like, or "" when no other tool marked the object.
std::string other_tool(const Json& live) {
    if (auto release = annotation_of(live, "meta.helm.sh/release-name"); !release.empty()) {
        return fmt::format("Helm release {} (ns {})", release, annotation_of(live, "meta.helm.sh/release-namespace"));
    }
    if (label_of(live, render::k_managed_by_label) == "Helm") return "Helm (app.kubernetes.io/managed-by: Helm)";
    if (auto tracking = annotation_of(live, "argocd.argoproj.io/tracking-id"); !tracking.empty()) {
        return fmt::format("Argo CD application {}", tracking.substr(0, tracking.find(':')));
    }
    if (auto instance = label_of(live, "argocd.argoproj.io/instance"); !instance.empty()) {
        return fmt::format("Argo CD application {}", instance);
    }
    for (std::string_view controller : {"kustomize", "helm"}) {
        std::string prefix = fmt::format("{}.toolkit.fluxcd.io/", controller);
        if (auto name = label_of(live, prefix + "name"); !name.empty()) {
            return fmt::format("Flux {} {} (ns {})", controller == "helm" ? "HelmRelease" : "Kustomization", name,
                               label_of(live, prefix + "namespace"));
        }
    }
    return {};
}

}  // namespace

std::string annotation_of(const Json& object, std::string_view key) { return metadata_string(object, "annotations", key); }
std::string label_of(const Json& object, std::string_view key) { return metadata_string(object, "labels", key); }

Ownership owner_of(const Json& live, const render::Target& target) {
    // Only the annotation makes an object ours: labels are easy to copy, and "ours" allows deleting.
    const std::string owner = annotation_of(live, render::k_owner_annotation);
    if (owner == target.owner()) return {Owner::us, ""};
    if (!owner.empty()) return {Owner::other_app, fmt::format("minicd app {}", owner)};
    // The labels alone still say minicd applied it for another app/env, when the annotation was stripped.
    const std::string labelled = label_of(live, render::k_app_label) + "/" + label_of(live, render::k_env_label);
    const bool minicd_labels = label_of(live, render::k_managed_by_label) == render::k_managed_by_value &&
                               labelled.front() != '/' && labelled.back() != '/';
    if (minicd_labels && labelled != target.owner()) return {Owner::other_app, fmt::format("minicd app {}", labelled)};
    if (auto tool = other_tool(live); !tool.empty()) return {Owner::other_tool, std::move(tool)};
    return {Owner::nobody, ""};
}

}  // namespace minicd::deploy
