// The plan phase: what the cluster has, whose it is, and what the server says each write would do.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <thread>

#include "minicd/deploy/changes.hpp"
#include "minicd/deploy/deployment.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/parallel.hpp"

namespace minicd::deploy {

using model::Json;
using model::ObjectId;
using util::ErrorCode;

namespace {

// The API server's words for an immutable field, across kinds and versions.
bool is_immutable_refusal(const kube::ApiResponse& response) {
    if (response.status != 422) return false;
    // "field is immutable", "spec is immutable after creation" (PVCs), "Forbidden: updates to ..." (StatefulSets).
    return response.body.find(" is immutable") != std::string::npos ||
           response.body.find("Forbidden: updates to") != std::string::npos;
}

class Planner {
public:
    Planner(Deployment& deployment) : m(deployment) {}

    Result<void> run(Stage stage_kind, CheckScope scope) {
        if (m.stopped()) return {};
        const bool foundations = stage_kind == Stage::foundations;
        if (scope == CheckScope::stage) {
            if (auto resolved = resolve_resources(stage_kind); !resolved) return resolved;
        } else {
            resolve_judgeable();
        }
        if (m.namespace_exists || foundations) {
            if (auto read = read_live(stage_kind); !read) return read;
        }
        std::vector<Item*> stage;
        std::size_t unchanged = 0;
        for (auto& item : m.items) {
            if (stage_of(item) != stage_kind || item.checked) continue;
            // The target namespace, created up front, and in a dry run the custom resources of a new CRD.
            if (item.report.action == Action::created) continue;
            if (item.resource.resource.empty()) continue;  // left for the plan after the foundations
            item.checked = true;
            classify(item);
            if (item.needs_write) {
                stage.push_back(&item);
            } else {
                ++unchanged;
            }
        }
        if (stage.empty() && unchanged == 0) return {};
        m.say(fmt::format("{}: {} to check with the server, {} unchanged", foundations ? "namespaces and CRDs" : "objects",
                          stage.size(), unchanged));
        if (refuse_foreign(stage)) return {};
        if (auto read = read_whole(stage); !read) return read;

        if (!m.namespace_exists && !foundations && m.options.dry_run) {
            // Namespaced objects cannot be dry-run in a namespace that does not exist yet.
            std::erase_if(stage, [](Item* item) {
                if (item->desired.id.namespace_.empty()) return false;
                item->report = {item->desired.id, Action::created, "dry run; namespace not created yet"};
                return true;
            });
        }
        return dry_run_all(stage);
    }

private:
    Result<void> resolve_resources(Stage stage) {
        for (auto& item : m.items) {
            if (stage_of(item) != stage || !item.resource.resource.empty()) continue;
            if (kind_created_by_dry_run(item.desired.id)) {
                // Reported as created; the stage below skips it (no resource to list or dry-run against).
                item.report = {item.desired.id, Action::created, "dry run; not checked: its CustomResourceDefinition is not created yet"};
                continue;
            }
            auto resource = resolve_with_lag(item.desired.id);
            if (!resource) return fail(util::make_error(resource.error().code, resource.error().message, item.desired.origin));
            item.resource = *resource;
        }
        return {};
    }

    // In a dry run, a custom resource whose CRD this deploy would create: the server cannot check it yet.
    bool kind_created_by_dry_run(const ObjectId& id) const {
        const Item* crd = m.crd_for(id);
        return m.options.dry_run && crd != nullptr && crd->report.action == Action::created;
    }

    // Discovery may lag a CRD that just became Established: kinds this deploy declared get a grace period.
    Result<kube::ResourceInfo> resolve_with_lag(const ObjectId& id) {
        auto resource = m.discovery.resolve(id.group, id.version, id.kind);
        bool declared_here = std::any_of(m.items.begin(), m.items.end(), [&](const Item& item) {
            return is_crd(item) && crd_names(item.desired.object.body()).group == id.group;
        });
        for (int attempt = 0; !resource && declared_here && attempt < 50; ++attempt) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            m.discovery.invalidate();
            resource = m.discovery.resolve(id.group, id.version, id.kind);
        }
        return resource;
    }

    // Resolves the objects a before-writes plan can cover; the others keep an empty resource.
    void resolve_judgeable() {
        for (auto& item : m.items) {
            const ObjectId& id = item.desired.id;
            if (is_foundation(id.kind) || !item.resource.resource.empty() || m.crd_for(id) != nullptr) continue;
            if (!id.namespace_.empty() && !(m.namespace_exists && id.namespace_ == m.options.target.namespace_)) continue;
            if (auto resource = m.discovery.resolve(id.group, id.version, id.kind)) item.resource = *resource;
        }
    }

    // One LIST per resource and namespace, of every object there whoever owns it: the ownership
    // check reads what this LIST returned, at no extra request per object. CRDs come as metadata only.
    Result<void> read_live(Stage stage) {
        std::map<std::string, std::vector<Item*>> by_collection;
        for (auto& item : m.items) {
            if (stage_of(item) != stage || item.live || item.checked || item.resource.resource.empty()) continue;
            by_collection[item.resource.collection_path(item.desired.id.namespace_)].push_back(&item);
        }
        for (auto& [collection, items] : by_collection) {
            const LiveView view = is_crd(*items.front()) ? LiveView::metadata : LiveView::full;
            auto listed = kube::list_all(m.client, collection,
                                         {.view = view == LiveView::metadata ? kube::View::metadata : kube::View::full});
            if (!listed) return fail(listed.error());
            std::map<std::string, Json*> by_name;
            for (auto& object : *listed) by_name[model::string_at(object, {"metadata", "name"})] = &object;
            for (Item* item : items) {
                auto found = by_name.find(item->desired.id.name);
                if (found == by_name.end()) continue;
                item->live = std::move(*found->second);
                item->live_view = view;
                // Items of a LIST carry no kind of their own; health rules need it.
                (*item->live)["apiVersion"] = item->desired.id.api_version();
                (*item->live)["kind"] = item->desired.id.kind;
            }
        }
        return {};
    }

    // Whose the live object is decides whether we may write it at all; unchanged means the hash of
    // what we asked for last time matches and nobody took a field from us.
    void classify(Item& item) const {
        if (!item.live) {
            item.needs_write = true;
            return;
        }
        item.ownership = owner_of(*item.live, m.options.target);
        if (item.ownership.owner != Owner::us) {
            item.adopt = true;
            item.needs_write = true;
            return;
        }
        leave_scaled_replicas(item);
        const Json& desired = item.desired.object.body();
        bool same_request = annotation_of(*item.live, render::k_hash_annotation) == annotation_of(desired, render::k_hash_annotation);
        item.needs_write =
            !same_request || !holds_what_it_applied(item.desired.id, *item.live, desired, render::k_field_manager);
    }

    // Replicas an autoscaler (or `kubectl scale`) set are left to it: what we apply leaves them out.
    void leave_scaled_replicas(Item& item) const {
        Json& desired = item.desired.object.body();
        auto spec = desired.find("spec");
        if (spec == desired.end() || !spec->is_object() || !spec->contains("replicas")) return;
        const std::string scaler = replicas_scaled_by(*item.live, render::k_field_manager);
        if (scaler.empty()) return;
        spec->erase("replicas");
        m.say(fmt::format("{}: spec.replicas left to {}, which scales it", item.desired.id.describe(), scaler));
    }

    // The objects owned by another app/env or tool, refused unless adoption was asked for. Nothing
    // is written when any is refused: a partial deploy next to someone else's objects helps nobody.
    bool refuse_foreign(const std::vector<Item*>& stage) {
        if (m.options.adopt == Adopt::take) return false;
        std::vector<std::string> owners;
        for (Item* item : stage) {
            const Owner owner = item->ownership.owner;
            if (owner != Owner::other_app && owner != Owner::other_tool) continue;
            item->report = {item->desired.id, Action::refused,
                            fmt::format("owned by {}; to take it over, pass --adopt (then {} prunes it when dropped)",
                                        item->ownership.who, m.options.target.owner())};
            owners.push_back(fmt::format("{} is owned by {}", item->desired.id.describe(), item->ownership.who));
        }
        if (owners.empty()) return false;
        m.stop(Outcome::refused,
               fmt::format("refusing to take over objects that belong to someone else; nothing was changed:\n  {}\n"
                           "rename them in the manifests, remove them from their owner first, or pass --adopt to take "
                           "them over",
                           fmt::join(owners, "\n  ")));
        return true;
    }

    // CRDs listed as metadata only are read whole when they are to be written: the dry run's
    // answer is compared with the whole live object.
    Result<void> read_whole(const std::vector<Item*>& stage) {
        std::vector<Item*> partial;
        for (Item* item : stage) {
            if (item->live && item->live_view == LiveView::metadata) partial.push_back(item);
        }
        std::vector<std::optional<util::Error>> errors(partial.size());
        util::parallel_for(partial.size(), m.options.concurrency, [&](std::size_t i) {
            Item& item = *partial[i];
            auto response = kube::get(m.client, item.resource.object_path(item.desired.id.namespace_, item.desired.id.name));
            if (!response) {
                errors[i] = response.error();
            } else if (!kube::ok(*response)) {
                errors[i] = kube::api_error(*response, item.desired.id.describe());
            } else {
                item.live = model::parse_json(response->body);
                item.live_view = LiveView::full;
            }
        });
        for (auto& error : errors) {
            if (error) return fail(std::move(*error));
        }
        return {};
    }

    // Dry-runs every write first: if the server refuses any, nothing of this stage is written; of
    // the rest, only what the dry run says would differ is marked to write.
    Result<void> dry_run_all(const std::vector<Item*>& stage) {
        std::vector<std::optional<util::Error>> refusals(stage.size());
        util::parallel_for(stage.size(), m.options.concurrency, [&](std::size_t i) { refusals[i] = dry_run(*stage[i]); });
        bool refused = false;
        for (std::size_t i = 0; i < stage.size(); ++i) {
            if (!refusals[i]) continue;
            refused = true;
            stage[i]->report = {stage[i]->desired.id, Action::failed, refusals[i]->message};
        }
        if (refused) {
            m.stop(Outcome::rejected, m.wrote_foundations
                                          ? "the API server refused some objects; only the namespaces and CRDs were applied"
                                          : "the API server refused some objects; nothing was changed");
            return {};
        }
        for (Item* item : stage) {
            if (item->live && item->planned && same_state(*item->planned, *item->live) && !item->recreate) {
                item->report.action = Action::unchanged;
            } else {
                item->to_write = true;
            }
        }
        return {};
    }

    // Returns the refusal, or nothing when the server accepted the dry run (or the refusal is an
    // immutable field of our own object that we may recreate).
    std::optional<util::Error> dry_run(Item& item) {
        if (m.unreachable.load()) return util::make_error(ErrorCode::network, "not checked: the API server became unreachable");
        auto response = kube::apply(m.client, item.resource.object_path(item.desired.id.namespace_, item.desired.id.name),
                                    item.desired.object.body(), render::k_field_manager, kube::DryRun::yes);
        if (!response) {
            m.note_unreachable(response.error());
            return response.error();
        }
        if (kube::ok(*response)) {
            item.planned = model::parse_json(response->body);
            return std::nullopt;
        }
        util::Error error = kube::api_error(*response, item.desired.id.describe());
        if (is_immutable_refusal(*response)) {
            bool asked = m.options.force_recreate ||
                         annotation_of(item.desired.object.body(), render::k_recreate_annotation) == "true";
            // Deleting is only ever done to our own objects, and a claim re-created would come back empty.
            if (item.desired.id.kind == "PersistentVolumeClaim" && item.desired.id.group.empty()) {
                error.message += "; persistent volume claims are never re-created (their data would be lost): "
                                 "migrate the data to a new claim by hand";
            } else if (item.ownership.owner != Owner::us) {
                error.message += fmt::format("; it is not owned by {}, so minicd will not delete and re-create it",
                                             m.options.target.owner());
            } else if (asked) {
                item.recreate = true;
                return std::nullopt;
            } else {
                error.message += fmt::format("; to delete and re-create it, pass --force-recreate or annotate it {}: \"true\"",
                                             render::k_recreate_annotation);
            }
        }
        return error;
    }

    Deployment& m;
};

}  // namespace

Result<void> plan(Deployment& deployment, Stage stage, CheckScope scope) { return Planner(deployment).run(stage, scope); }

}  // namespace minicd::deploy
