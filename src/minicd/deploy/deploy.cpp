// The driver: one deploy as a script of named phases, under one lock from the first write to the
// release record. A phase that ends the deploy (a refusal, a failed write, an unhealthy rollout)
// sends it straight to recording what happened.
#include "minicd/deploy/deploy.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <map>
#include <random>
#include <set>

#include "minicd/deploy/deployment.hpp"
#include "minicd/deploy/prune.hpp"
#include "minicd/deploy/store.hpp"

namespace minicd::deploy {

using model::ObjectId;
using util::ErrorCode;

namespace {

// Who holds the lock: readable in `kubectl get lease`, unique per process.
std::string holder_identity() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::mt19937 random(std::random_device{}());
    return fmt::format("{}/pid {}/{:06x}", host, ::getpid(), random() & 0xffffff);
}

// Labels, namespace and hash for every object, in apply order; unknown kinds fail naming their manifest.
Result<void> prepare(Deployment& m, const std::vector<source::Manifest>& manifests) {
    // Custom resources of CRDs declared in this same deploy are not served yet; their scope comes from the CRD.
    std::map<std::pair<std::string, std::string>, bool> declared_scopes;
    for (const auto& manifest : manifests) {
        if (manifest.object.kind() != "CustomResourceDefinition") continue;
        const CrdNames names = crd_names(manifest.object.body());
        declared_scopes[{names.group, names.kind}] = names.namespaced;
    }
    auto scope = [&](const ObjectId& id) -> Result<bool> {
        if (auto declared = declared_scopes.find({id.group, id.kind}); declared != declared_scopes.end()) return declared->second;
        auto resource = m.discovery.resolve(id.group, id.version, id.kind);
        if (!resource) return fail(resource.error());
        return resource->namespaced;
    };
    auto desired = render::prepare(manifests, m.options.target, scope);
    if (!desired) return fail(desired.error());
    sort_for_apply(*desired);
    for (auto& object : *desired) {
        Item item;
        item.report.id = object.id;
        item.desired = std::move(object);
        m.items.push_back(std::move(item));
    }
    if (m.items.empty() && m.options.prune && !m.options.allow_empty) {
        return fail(ErrorCode::input, "no objects to apply and --prune is set: refusing to prune everything "
                                      "(pass --allow-empty if that is really what you want)");
    }
    return {};
}

Result<std::unique_ptr<DeployLock>> take_lock(Deployment& m) {
    if (m.options.dry_run || !m.namespace_exists) return std::unique_ptr<DeployLock>{};
    const auto& target = m.options.target;
    auto taken = DeployLock::acquire(m.client, {.namespace_ = target.namespace_,
                                                .name = "minicd-lock-" + target.app + "-" + target.env,
                                                .holder = holder_identity(),
                                                .wait = m.options.lock_wait});
    if (!taken) return fail(taken.error());
    m.lock = taken->get();
    return taken;
}

// Reads what we owned before and checks it: entries outside our scope mean it was tampered with.
Result<void> load_previous(Deployment& m, Store& store) {
    if (!m.namespace_exists) return {};
    auto previous = store.load_inventory();
    if (!previous) return fail(previous.error());
    m.previous = std::move(*previous);
    auto inventory = store.inventory_name();
    if (!inventory) return fail(inventory.error());
    m.inventory_name = *inventory;
    return check_inventory(m.previous, m.dropped_ids(), m.options.target, m.discovery, m.inventory_name);
}

// Stores `ids` unless the stored inventory says exactly that already, versions included: an object
// now applied through another version is the same object, and the inventory learns the version.
Result<void> save_inventory(Deployment& m, Store& store, std::vector<ObjectId> ids) {
    if (m.options.dry_run || !m.namespace_exists || m.lock_lost) return {};
    if (inventory_text(ids) == inventory_text(m.previous)) return {};
    if (auto saved = store.save_inventory(ids); !saved) return fail(saved.error());
    m.previous = std::move(ids);
    return {};
}

// Before writing: what we declare now and everything we owned before, so an interrupted deploy
// still prunes what it created.
Result<void> save_intent(Deployment& m, Store& store) {
    std::set<ObjectId> all;
    for (const auto& id : m.declared_ids()) all.insert(id);
    all.insert(m.previous.begin(), m.previous.end());
    return save_inventory(m, store, {all.begin(), all.end()});
}

// After pruning: what we declare plus what prune kept or failed to delete (tried again next time).
Result<void> save_remaining(Deployment& m, Store& store) {
    std::set<ObjectId> remaining;
    for (const auto& id : m.declared_ids()) remaining.insert(id);
    for (const auto& report : m.prune_reports) {
        if (report.action == Action::kept || report.action == Action::failed) remaining.insert(report.id);
    }
    return save_inventory(m, store, {remaining.begin(), remaining.end()});
}

// The release record says how the deploy ended; one that lost its lock writes nothing more.
Result<DeployResult> record(Deployment& m, Store& store) {
    if (!m.options.dry_run && !m.lock_lost) {
        auto recorded = store.record_release(release_of(m));
        if (!recorded) return fail(recorded.error());
        m.result.revision = recorded->revision;
    }
    for (auto& item : m.items) m.result.objects.push_back(std::move(item.report));
    for (auto& report : m.prune_reports) m.result.objects.push_back(std::move(report));
    return std::move(m.result);
}

}  // namespace

Result<DeployResult> deploy(kube::Client& client, kube::Discovery& discovery, const std::vector<source::Manifest>& manifests,
                            const DeployOptions& options) {
    Deployment m(client, discovery, options);
    // Names must be valid before anything reaches the cluster.
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    // Labels, namespace and hash for every object; an empty render never prunes everything.
    if (auto prepared = prepare(m, manifests); !prepared) return fail(prepared.error());
    // The lock and the inventory live in the target namespace.
    auto namespace_exists = ensure_namespace(m);
    if (!namespace_exists) return fail(namespace_exists.error());
    m.namespace_exists = *namespace_exists;
    // One deploy of this app/env at a time, until this function returns.
    auto lock = take_lock(m);
    if (!lock) return fail(lock.error());
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    // What we owned before decides what prune may remove; an edited inventory stops the deploy here.
    if (auto loaded = load_previous(m, store); !loaded) return fail(loaded.error());

    // Plan before any write: ownership and the server's dry run judge the foundations and every
    // object the server can judge already; a refusal leaves the cluster as it was.
    if (auto planned = plan(m, Stage::foundations, CheckScope::stage); !planned) return fail(planned.error());
    if (auto planned = plan(m, Stage::objects, CheckScope::before_writes); !planned) return fail(planned.error());
    if (m.stopped()) return record(m, store);
    if (auto saved = save_intent(m, store); !saved) return fail(saved.error());

    // Foundations (Namespaces, CRDs) first: what follows may need them to be accepted at all.
    if (auto applied = apply_stage(m, Stage::foundations); !applied) return fail(applied.error());
    if (auto planned = plan(m, Stage::objects, CheckScope::stage); !planned) return fail(planned.error());
    if (auto applied = apply_stage(m, Stage::objects); !applied) return fail(applied.error());
    // Healthy or not is what the deploy is judged by.
    if (auto waited = await_health(m); !waited) return fail(waited.error());
    if (m.stopped()) return record(m, store);

    // Only a healthy deploy removes what the manifests dropped; the inventory keeps what is left.
    if (auto pruned = prune_dropped(m); !pruned) return fail(pruned.error());
    if (auto saved = save_remaining(m, store); !saved) return fail(saved.error());
    return record(m, store);
}

}  // namespace minicd::deploy
