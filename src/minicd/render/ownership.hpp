#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/model/change_set.hpp"
#include "minicd/model/object.hpp"
#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

namespace minicd::render {

// Labels and annotations minicd puts on everything it applies, and the ones users set to steer it.
inline constexpr std::string_view k_managed_by_label = "app.kubernetes.io/managed-by";
inline constexpr std::string_view k_managed_by_value = "minicd";
inline constexpr std::string_view k_app_label = "minicd.io/app";
inline constexpr std::string_view k_env_label = "minicd.io/env";
inline constexpr std::string_view k_owner_annotation = "minicd.io/owner";         // "<app>/<env>"
inline constexpr std::string_view k_hash_annotation = "minicd.io/desired-hash";   // sha256 of what we asked for
inline constexpr std::string_view k_prune_annotation = "minicd.io/prune";         // "disabled": never pruned
inline constexpr std::string_view k_recreate_annotation = "minicd.io/recreate";   // "true": delete + create on immutable changes
inline constexpr std::string_view k_phase_annotation = "minicd.io/phase";        // "pre" or "post"; see model::Phase
inline constexpr std::string_view k_field_manager = "minicd";
// "canary" on the canary objects minicd makes (canary/workloads.hpp), which it removes by this label
// when the canary ends: manifests may not set it.
inline constexpr std::string_view k_track_label = "minicd.io/track";

// Preview namespaces (one per branch) carry the managed-by, app and env labels above and these; preview
// garbage collection touches no namespace without all of them.
inline constexpr std::string_view k_preview_label = "minicd.io/preview";                 // "true"
inline constexpr std::string_view k_branch_annotation = "minicd.io/branch";              // the branch, exactly as in git
inline constexpr std::string_view k_last_deployed_annotation = "minicd.io/last-deployed";  // RFC 3339 UTC, for the TTL

// Where objects go and who owns them.
struct Target {
    std::string app;         // DNS label
    std::string env;         // DNS label
    std::string namespace_;  // the namespace namespaced objects land in
    // Manifests may name a namespace other than the target only when this is set.
    bool allow_other_namespaces = false;

    std::string owner() const { return app + "/" + env; }
    // "minicd.io/app=<app>,minicd.io/env=<env>": selects what this target applied.
    std::string label_selector() const;
};

// A desired object, ready to apply, and where it came from.
struct Desired {
    model::Object object;
    model::ObjectId id;
    std::string origin;  // "file:line"
    bool namespaced = false;
    model::Phase phase = model::Phase::main;  // from the phase annotation
};

// Answers whether a kind is namespaced (from discovery); an error for unknown kinds.
using ScopeLookup = std::function<Result<bool>(const model::ObjectId&)>;

// Checks that app/env make valid label values and resource name parts (DNS-1123 labels).
Result<void> validate_target(const Target& target);

// Sets the namespace of namespaced objects (rejecting manifests that name another one unless
// allowed), drops it from cluster-scoped ones, adds the ownership labels and annotation and the
// desired-hash annotation, and rejects the same object declared twice. Errors name file:line.
Result<std::vector<Desired>> prepare(const std::vector<source::Manifest>& manifests, const Target& target,
                                     const ScopeLookup& namespaced);

// sha256 of the object's canonical JSON without the hash annotation itself.
std::string desired_hash(const model::Json& object);

}  // namespace minicd::render
