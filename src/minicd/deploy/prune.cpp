#include "minicd/deploy/prune.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <set>

#include "minicd/deploy/deployment.hpp"
#include "minicd/deploy/order.hpp"
#include "minicd/deploy/ownership.hpp"
#include "minicd/deploy/store.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/render/phase.hpp"
#include "minicd/util/log.hpp"

namespace minicd::deploy {

using model::Json;
using model::ObjectId;
using util::ErrorCode;

namespace {

constexpr std::string_view k_inventory_selector = "minicd.io/role=inventory";

bool is_namespace(const ObjectId& id) { return id.kind == "Namespace" && id.group.empty(); }
bool is_volume_claim(const ObjectId& id) { return id.kind == "PersistentVolumeClaim" && id.group.empty(); }
bool is_crd(const ObjectId& id) { return id.kind == "CustomResourceDefinition" && id.group == "apiextensions.k8s.io"; }

// Who else still lists cluster-scoped objects: read once per prune, only when one is to be deleted.
class OtherInventories {
public:
    OtherInventories(kube::Client& client, const PruneOptions& options) : m_client(client), m_options(options) {}

    // The owner of another inventory listing `id`; "" when none does. An error when they cannot be read.
    Result<std::string> listing(const ObjectId& id) {
        if (!m_loaded) {
            auto loaded = load();
            if (!loaded) return fail(loaded.error());
        }
        for (const auto& [owner, ids] : m_listed) {
            if (ids.count(id)) return owner;
        }
        return std::string{};
    }

private:
    Result<void> load() {
        auto config_maps = kube::list_all(m_client, "/api/v1/configmaps", {.label_selector = std::string(k_inventory_selector)});
        if (!config_maps) return fail(config_maps.error().context("reading the inventories of other apps"));
        for (const auto& config_map : *config_maps) {
            std::string owner = annotation_of(config_map, render::k_owner_annotation);
            const std::string namespace_ = model::string_at(config_map, {"metadata", "namespace"});
            const std::string name = model::string_at(config_map, {"metadata", "name"});
            if (namespace_ == m_options.target.namespace_ && name == m_options.inventory) continue;
            const Json* text = model::find_path(config_map, {"data", "objects"});
            if (text == nullptr || !text->is_string()) continue;
            // An unreadable inventory of someone else might list anything: nothing cluster-wide is deleted then.
            auto ids = parse_inventory(text->get<std::string>());
            if (!ids) {
                return fail(ErrorCode::api, fmt::format("unreadable: {}", ids.error().message),
                            fmt::format("configmap {}/{}", namespace_, name));
            }
            m_listed[owner.empty() ? "(unknown owner)" : owner].insert(ids->begin(), ids->end());
        }
        m_loaded = true;
        return {};
    }

    kube::Client& m_client;
    const PruneOptions& m_options;
    bool m_loaded = false;
    std::map<std::string, std::set<ObjectId>> m_listed;
};

class Pruner {
public:
    Pruner(kube::Client& client, kube::Discovery& discovery, const PruneOptions& options)
        : m_client(client), m_discovery(discovery), m_options(options), m_others(client, options) {}

    model::Change prune_one(const ObjectId& id) {
        auto kept = [&](std::string why) { return model::Change{id, model::Action::kept, std::move(why)}; };
        auto failed = [&](std::string why) { return model::Change{id, model::Action::failed, std::move(why)}; };
        if (m_options.mode == PruneMode::report) return kept("no longer declared; pass --prune to delete it");
        if (is_namespace(id) && !m_options.scope.namespaces) return kept("namespaces are never pruned without --prune-namespaces");
        if (is_volume_claim(id) && !m_options.scope.volumes) {
            return kept("persistent volume claims are never pruned without --prune-volumes");
        }
        if (is_crd(id) && !m_options.scope.crds) {
            return kept("CustomResourceDefinitions are never pruned without --prune-crds (deleting one deletes every "
                        "resource of its kind in the cluster)");
        }
        auto resource = m_discovery.resolve_object(id);
        if (!resource) return kept(resource.error().message);
        const std::string path = resource->object_path(id.namespace_, id.name);
        auto live = kube::get(m_client, path);
        if (!live) return failed(live.error().describe());
        if (live->status == 404) return kept("");  // already gone: forgotten silently
        if (!kube::ok(*live)) return failed(kube::api_error(*live).message);
        const Json object = model::parse_json(live->body);
        if (annotation_of(object, render::k_owner_annotation) != m_options.target.owner()) {
            return kept("not annotated as owned by " + m_options.target.owner());
        }
        if (annotation_of(object, render::k_prune_annotation) == "disabled") return kept("annotated minicd.io/prune: disabled");
        if (m_options.phase_objects == PhaseObjects::keep && !annotation_of(object, render::k_phase_annotation).empty() &&
            !render::is_job(id)) {
            return kept("an object of a pre or post phase, which a restored release does not hold: the next deploy decides");
        }
        if (id.namespace_.empty()) {
            // A cluster-scoped object another app/env still lists was handed over or is shared: never ours to delete.
            auto other = m_others.listing(id);
            if (!other) return failed(other.error().describe() + "; nothing cluster-scoped is pruned without them");
            if (!other->empty()) return kept(fmt::format("still listed by the inventory of {}", *other));
        }
        kube::Preconditions preconditions{.uid = model::string_at(object, {"metadata", "uid"})};
        if (preconditions.uid.empty()) return failed("the object has no uid to make a safe delete of");
        if (m_options.mode == PruneMode::dry_run) return model::Change{id, model::Action::pruned, "dry run"};
        auto deleted = kube::delete_object(m_client, path, preconditions);
        // The answer was lost: whether the delete happened is read back, never assumed.
        if (!deleted) {
            return settled(id, path, preconditions.uid) ? model::Change{id, model::Action::pruned, ""}
                                                        : failed(deleted.error().describe());
        }
        if (!kube::ok(*deleted) && deleted->status != 404) return failed(kube::api_error(*deleted).message);
        return model::Change{id, model::Action::pruned, ""};
    }

private:
    // After a delete whose outcome is unknown: true when the object `uid` is gone or being deleted.
    bool settled(const ObjectId& id, const std::string& path, const std::string& uid) {
        auto live = kube::get(m_client, path, kube::View::metadata);
        if (!live) return false;
        if (live->status == 404) return true;
        if (!kube::ok(*live)) return false;
        const Json object = model::parse_json(live->body);
        const bool gone = model::string_at(object, {"metadata", "uid"}) != uid ||
                          model::find_path(object, {"metadata", "deletionTimestamp"}) != nullptr;
        if (gone) util::log_info("{}: the delete went through although its answer was lost", id.describe());
        return gone;
    }

    kube::Client& m_client;
    kube::Discovery& m_discovery;
    const PruneOptions& m_options;
    OtherInventories m_others;
};

}  // namespace

Result<void> check_inventory(const std::vector<ObjectId>& previous, const std::vector<ObjectId>& dropped,
                             const render::Target& target, kube::Discovery& discovery, const std::string& inventory) {
    auto invalid = [&](const ObjectId& id, std::string why) {
        return fail(ErrorCode::input,
                    fmt::format("the inventory lists {}, which {}; it was edited by hand or by another tool. Nothing "
                                "was changed or deleted: repair the entry or delete the ConfigMap (minicd then "
                                "forgets what it applied and prunes nothing)",
                                id.describe(), why),
                    fmt::format("configmap {}/{}", target.namespace_, inventory));
    };
    for (const auto& id : previous) {
        if (!id.namespace_.empty() && id.namespace_ != target.namespace_ && !target.allow_other_namespaces) {
            return invalid(id, fmt::format("lies outside namespace {}", target.namespace_));
        }
    }
    for (const auto& id : dropped) {
        auto resource = discovery.resolve_object(id);
        if (!resource) {
            // A kind no longer served (its CRD is gone) has nothing left to delete; prune says so.
            if (resource.error().code == ErrorCode::input) continue;
            return fail(resource.error());
        }
        if (resource->namespaced && id.namespace_.empty()) return invalid(id, "has no namespace although its kind is namespaced");
        if (!resource->namespaced && !id.namespace_.empty()) {
            return invalid(id, "has a namespace although its kind is cluster-scoped");
        }
    }
    return {};
}

model::ChangeSet prune(kube::Client& client, kube::Discovery& discovery, std::vector<ObjectId> dropped,
                               const PruneOptions& options) {
    sort_for_delete(dropped);
    Pruner pruner(client, discovery, options);
    model::ChangeSet reports;
    reports.reserve(dropped.size());
    for (const auto& id : dropped) reports.push_back(pruner.prune_one(id));
    return reports;
}

Result<void> prune_dropped(Deployment& m) {
    if (m.stopped()) return {};
    std::vector<ObjectId> dropped = m.dropped_ids();
    if (dropped.empty()) return {};
    const bool deleting = m.options.prune && !m.options.dry_run;
    if (deleting && m.check_lock_lost()) {
        for (const auto& id : dropped) m.prune_reports.push_back({id, model::Action::failed, "not attempted: the deploy lock was lost"});
        return {};
    }
    PruneOptions options{.target = m.options.target,
                         .mode = !m.options.prune ? PruneMode::report
                                 : m.options.dry_run ? PruneMode::dry_run
                                                     : PruneMode::remove,
                         .scope = {.namespaces = m.options.allow_prune_namespaces,
                                   .volumes = m.options.allow_prune_volumes,
                                   .crds = m.options.allow_prune_crds},
                         .phase_objects = m.rollback_to != 0 ? PhaseObjects::keep : PhaseObjects::prune,
                         .inventory = m.inventory_name};
    std::vector<std::string> failed;
    for (auto& report : prune(m.client, m.discovery, std::move(dropped), options)) {
        if (report.action == model::Action::failed) failed.push_back(fmt::format("{}: {}", report.id.describe(), report.detail));
        // Already gone is forgotten silently.
        if (report.action != model::Action::kept || !report.detail.empty()) m.prune_reports.push_back(std::move(report));
    }
    if (!failed.empty()) {
        m.stop(Outcome::failed, fmt::format("{} objects could not be pruned (they stay in the inventory for the next run):\n  {}",
                                            failed.size(), fmt::join(failed, "\n  ")));
    }
    return {};
}

}  // namespace minicd::deploy
