#pragma once

#include <string>
#include <vector>

#include "minicd/kube/client.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/model/change_set.hpp"
#include "minicd/model/object.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/result.hpp"

namespace minicd::deploy {

// Kinds whose deletion takes more than the object with it; each is pruned only when named.
struct PruneScope {
    bool namespaces = false;  // a Namespace takes everything in it
    bool volumes = false;     // a PersistentVolumeClaim may take its data
    bool crds = false;        // a CustomResourceDefinition takes every custom resource of its kind, everywhere
};

enum class PruneMode {
    report,  // --prune not given: say what is no longer declared, delete nothing
    remove,
    dry_run,  // decide as remove would, delete nothing
};

// What becomes of dropped objects of a pre or post phase that are not Jobs (a chart's hook Secret,
// a migration's ConfigMap).
enum class PhaseObjects {
    prune,  // a deploy whose manifests no longer declare them
    keep,   // a rollback: stored releases hold no phase objects, so a restored one says nothing of them
};

struct PruneOptions {
    render::Target target;
    PruneMode mode = PruneMode::report;
    PruneScope scope;
    PhaseObjects phase_objects = PhaseObjects::prune;
    std::string inventory;  // the inventory ConfigMap's name, to tell which inventory is our own
};

// Checks the previous inventory before anything is written: every entry must lie in the target's
// scope (the target namespace, or any namespace when other namespaces are allowed; none for
// cluster-scoped kinds) and, for entries minicd may have to delete, name a kind the server serves
// with that scope. An error names the ConfigMap and the entry; nothing is deleted then.
Result<void> check_inventory(const std::vector<model::ObjectId>& previous, const std::vector<model::ObjectId>& dropped,
                             const render::Target& target, kube::Discovery& discovery, const std::string& inventory);

// Deletes, in reverse apply order, the dropped objects that are ours by every rule, and reports
// each as pruned, kept (with why; "" when it was already gone) or failed (tried again next run).
// Ours by every rule: listed in our
// inventory (the caller's `dropped`), annotated as owned by this app/env, not opted out with
// minicd.io/prune: disabled, of a kind the scope allows, not a phase object `phase_objects` keeps,
// and, for cluster-scoped objects, listed by
// no other app/env's inventory. Each delete carries the uid precondition of the object judged; an
// answer that was lost is read back. A failed read or listing deletes nothing it concerns.
model::ChangeSet prune(kube::Client& client, kube::Discovery& discovery, std::vector<model::ObjectId> dropped,
                               const PruneOptions& options);

}  // namespace minicd::deploy
