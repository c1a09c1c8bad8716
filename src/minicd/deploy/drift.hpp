#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/deploy/deploy.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/model/change_set.hpp"
#include "minicd/model/release.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

// Drift: what changed in the cluster behind the last release's back, who changed it, and what Git
// has that no release deployed yet. Only fields minicd applied are compared, read from managedFields:
// defaults, webhook mutations and other managers' fields are never drift.
namespace minicd::deploy {

// How one object of the last release differs from it live.
enum class DriftClass {
    modified,    // a field minicd applied has another value now (or is gone)
    deleted,     // the object is gone
    taken_over,  // same values, but another manager owns fields minicd applied (its next change wins)
    scaled,      // information, never counted: replicas an autoscaler (or kubectl scale) set
};
std::string_view to_string(DriftClass drift);  // "modified", "deleted", "taken-over", "scaled"
// True for every class but scaled.
bool counts(DriftClass drift);

// One field minicd applied, as it is live, and who set it there.
struct FieldDrift {
    std::string path;      // "spec.template.spec.containers[main].image", "data.mode"
    model::Json before;    // what the release applied; Secret values hidden
    model::Json after;     // live; null when the field is gone; Secret values hidden
    std::string manager;   // the field manager that owns it now ("kubectl-edit"); "" when nobody does
    std::string operation;  // "Apply" or "Update" (with "/scale" etc. when through a subresource); "" when unknown
    std::string time;      // when that manager last wrote, RFC 3339; "" when unknown
};

struct ObjectDrift {
    model::ObjectId id;
    DriftClass drift = DriftClass::modified;
    std::vector<FieldDrift> fields;  // empty for deleted
};

// How Git (the render of the current checkout) differs from the last release, per object.
enum class GitChange { added, changed, removed };
std::string_view to_string(GitChange change);  // "added", "changed", "removed"

struct UndeployedChange {
    model::ObjectId id;
    GitChange change = GitChange::changed;
    std::vector<model::FieldChange> fields;  // for changed; Secret values masked
};

struct DriftReport {
    model::Release release;         // the release compared against: the newest that wrote anything
    std::vector<ObjectDrift> live;  // objects that differ, in the release's order; scaled replicas as entries of their own
    // How Git differs from the release; nullopt when no manifests were given.
    std::optional<std::vector<UndeployedChange>> undeployed;
    // A canary running next to the release (its objects are the canary's, not drift); nullopt when none runs.
    std::optional<model::Release> canary;

    // True when some object differs in a way that counts (not only scaled replicas).
    bool drifted() const;
};

// Every field `desired` (what a release applied) sets that minicd no longer owns in `live` (the
// whole object, managedFields included), classified: no entry when there is none, one for what
// counts (modified or taken over) and one (scaled) for replicas a scaler set. Pure: exposed for tests.
std::vector<ObjectDrift> compare_live(const model::ObjectId& id, const model::Json& desired, const model::Json& live);

struct DriftOptions {
    render::Target target;
    int concurrency = 8;
};

// Compares the live objects with the newest release that wrote anything (and, when `manifests` is
// not null, that release with the manifests, rendered for the target). Reads only: the release
// history, its stored objects, and one LIST per kind and namespace; an error when nothing was ever
// deployed there or a read fails.
Result<DriftReport> detect_drift(kube::Client& client, kube::Discovery& discovery, const DriftOptions& options,
                                 const std::vector<source::Manifest>* manifests);

// Puts the drifted objects back: re-applies the newest release's stored objects through the phases
// of a deploy (objects nobody changed are left alone by the plan; nothing is pruned), waits, and
// records a release "drift correction". Refused (input error) when that release did not end healthy.
Result<DeployResult> fix_drift(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options);

}  // namespace minicd::deploy
