#include "minicd/deploy/apply.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "minicd/deploy/changes.hpp"
#include "minicd/deploy/lock.hpp"
#include "minicd/deploy/order.hpp"
#include "minicd/deploy/ownership.hpp"
#include "minicd/deploy/prune.hpp"
#include "minicd/deploy/store.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/parallel.hpp"

namespace minicd::deploy {

using model::Json;
using model::ObjectId;
using util::ErrorCode;

std::string_view to_string(Action action) {
    switch (action) {
    case Action::created: return "created";
    case Action::configured: return "configured";
    case Action::unchanged: return "unchanged";
    case Action::adopted: return "adopted";
    case Action::recreated: return "recreated";
    case Action::pruned: return "pruned";
    case Action::kept: return "kept";
    case Action::refused: return "refused";
    case Action::failed: return "failed";
    }
    return "unknown";
}

namespace {

// How much of a live object the LIST returned.
enum class LiveView {
    full,
    metadata,  // CRDs are listed as metadata only: full ones run to hundreds of KB each
};

// One declared object on its way through the run.
struct Item {
    render::Desired desired;
    kube::ResourceInfo resource;
    std::optional<Json> live;     // as the LIST saw it (whoever owns it); nullopt if not found there
    LiveView live_view = LiveView::full;
    Ownership ownership;          // from the live object's marks; nobody when it does not exist
    bool adopt = false;           // exists without being ours, and will be taken over
    bool needs_write = false;     // not provably unchanged: dry-run decides
    bool recreate = false;        // refused for an immutable field, and recreation is allowed
    std::optional<Json> planned;  // what the dry run said the object would become
    bool checked = false;         // classified, and dry-run when needed
    bool to_write = false;        // checked, and the dry run says the object would change
    ObjectReport report;
};

// What a dry run would change on a live object, without the hash annotation minicd rewrites on
// every change (it says nothing a reader can act on).
std::vector<diff::FieldChange> visible_changes(const Json& live, const Json& planned) {
    auto changes = diff::compare(live, planned);
    const std::string hash_path = fmt::format("metadata.annotations[{}]", Json(std::string(render::k_hash_annotation)).dump());
    std::erase_if(changes, [&](const diff::FieldChange& change) { return change.path == hash_path; });
    return changes;
}

// The API server's words for an immutable field, across kinds and versions.
bool is_immutable_refusal(const kube::ApiResponse& response) {
    if (response.status != 422) return false;
    // "field is immutable", "spec is immutable after creation" (PVCs), "Forbidden: updates to ..." (StatefulSets).
    return response.body.find(" is immutable") != std::string::npos ||
           response.body.find("Forbidden: updates to") != std::string::npos;
}

std::string now_rfc3339() {
    auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

// Who holds the lock: readable in `kubectl get lease`, unique per process.
std::string holder_identity() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::mt19937 random(std::random_device{}());
    return fmt::format("{}/pid {}/{:06x}", host, ::getpid(), random() & 0xffffff);
}

class Run {
public:
    Run(kube::Client& client, kube::Discovery& discovery, const ApplyOptions& options)
        : m_client(client), m_discovery(discovery), m_options(options) {}

    // The deploy as a script of named steps; every step below returns early on an error, and a
    // step that stops the run (a refusal, a failed write) goes straight to recording the release.
    Result<ApplyResult> execute(const std::vector<source::Manifest>& manifests) {
        // Names must be valid before anything reaches the cluster.
        if (auto valid = render::validate_target(m_options.target); !valid) return fail(valid.error());
        // Labels, namespace and hash for every object; unknown kinds fail here, naming their manifest.
        if (auto prepared = prepare(manifests); !prepared) return fail(prepared.error());
        // An empty render must never silently prune everything.
        if (m_items.empty() && m_options.prune && !m_options.allow_empty) {
            return fail(ErrorCode::input, "no objects to apply and --prune is set: refusing to prune everything "
                                          "(pass --allow-empty if that is really what you want)");
        }
        // The lock and the inventory live in the target namespace.
        auto namespace_ready = ensure_namespace();
        if (!namespace_ready) return fail(namespace_ready.error());
        m_namespace_exists = *namespace_ready;
        // One deploy of this app/env at a time, from here to the release record.
        if (auto locked = take_lock(); !locked) return fail(locked.error());
        Store store(m_client, m_options.target.namespace_, m_options.target.app, m_options.target.env);
        // What we owned before decides what prune may remove; an edited inventory stops the run here.
        if (auto loaded = load_previous(store); !loaded) return fail(loaded.error());

        // Plan before any write: ownership and the server's dry run judge the foundations and every
        // object the server can judge already; a refusal leaves the cluster as it was.
        if (auto planned = plan(Stage::foundations, CheckScope::stage); !planned) return fail(planned.error());
        if (auto planned = plan(Stage::objects, CheckScope::before_writes); !planned) return fail(planned.error());
        if (stopped()) return record(store);
        // Record intent before writing, so an interrupted run can still prune what it created.
        if (auto saved = save_intent(store); !saved) return fail(saved.error());

        // Foundations (Namespaces, CRDs) first: what follows may need them to be accepted at all.
        if (auto done = write_stage(Stage::foundations); !done) return fail(done.error());
        if (stopped()) return record(store);
        if (auto planned = plan(Stage::objects, CheckScope::stage); !planned) return fail(planned.error());
        if (stopped()) return record(store);
        if (auto done = write_stage(Stage::objects); !done) return fail(done.error());
        if (stopped()) return record(store);

        // Healthy or not is what the deploy is judged by.
        if (auto waited = wait(); !waited) return fail(waited.error());
        if (stopped()) return record(store);
        // Only a healthy deploy removes what the manifests dropped.
        if (auto pruned = prune_dropped(store); !pruned) return fail(pruned.error());
        if (!m_options.dry_run && !m_lock_lost) {
            if (auto saved = save_inventory_if_changed(store, remaining_ids()); !saved) return fail(saved.error());
        }
        return record(store);
    }

private:
    // Which objects a plan or write step covers: foundations are what the rest needs to be accepted.
    enum class Stage { foundations, objects };
    static Stage stage_of(const Item& item) {
        return is_foundation(item.desired.id.kind) ? Stage::foundations : Stage::objects;
    }

    void say(const std::string& line) const {
        if (m_options.progress) m_options.progress(line);
    }

    // True once a step ended the run: what is left is recording what happened.
    bool stopped() const { return m_result.outcome != Outcome::succeeded; }

    // Ends the run with `outcome`; the first reason given is the one reported.
    void stop(Outcome outcome, std::string why) {
        if (stopped()) return;
        m_result.outcome = outcome;
        m_result.failure = std::move(why);
    }

    Result<void> take_lock() {
        if (m_options.dry_run || !m_namespace_exists) return {};
        auto taken = DeployLock::acquire(m_client, {.namespace_ = m_options.target.namespace_,
                                                    .name = "minicd-lock-" + m_options.target.app + "-" + m_options.target.env,
                                                    .holder = holder_identity(),
                                                    .wait = m_options.lock_wait});
        if (!taken) return fail(taken.error());
        m_lock_holder = std::move(*taken);
        m_lock = m_lock_holder.get();
        return {};
    }

    // Reads what we owned before and checks it: entries outside our scope mean it was tampered with.
    Result<void> load_previous(Store& store) {
        if (!m_namespace_exists) return {};
        auto previous = store.load_inventory();
        if (!previous) return fail(previous.error());
        m_previous = std::move(*previous);
        auto inventory = store.inventory_name();
        if (!inventory) return fail(inventory.error());
        m_inventory_name = *inventory;
        return check_inventory(m_previous, dropped_ids(), m_options.target, m_discovery, m_inventory_name);
    }

    // What the previous inventory lists and the manifests no longer declare.
    std::vector<ObjectId> dropped_ids() const {
        std::set<ObjectId> declared;
        for (const auto& item : m_items) declared.insert(item.desired.id);
        std::vector<ObjectId> dropped;
        for (const auto& id : m_previous) {
            if (!declared.count(id)) dropped.push_back(id);
        }
        return dropped;
    }

    Result<void> save_intent(Store& store) {
        if (m_options.dry_run || !m_namespace_exists) return {};
        return save_inventory_if_changed(store, with_previous(declared_ids()));
    }

    Result<void> prepare(const std::vector<source::Manifest>& manifests) {
        // Custom resources of CRDs declared in this same apply are not served yet; their scope comes from the CRD.
        std::map<std::pair<std::string, std::string>, bool> declared_scopes;
        for (const auto& manifest : manifests) {
            const Json& body = manifest.object.body();
            if (manifest.object.kind() != "CustomResourceDefinition") continue;
            auto spec = body.value("spec", Json::object());
            declared_scopes[{spec.value("group", ""), spec.value("names", Json::object()).value("kind", "")}] =
                spec.value("scope", "Namespaced") == "Namespaced";
        }
        auto scope = [&](const ObjectId& id) -> Result<bool> {
            if (auto declared = declared_scopes.find({id.group, id.kind}); declared != declared_scopes.end()) {
                return declared->second;
            }
            auto resource = m_discovery.resolve(id.group, id.version, id.kind);
            if (!resource) return fail(resource.error());
            return resource->namespaced;
        };
        auto desired = render::prepare(manifests, m_options.target, scope);
        if (!desired) return fail(desired.error());
        sort_for_apply(*desired);
        for (auto& object : *desired) {
            Item item;
            item.report.id = object.id;
            item.desired = std::move(object);
            m_items.push_back(std::move(item));
        }
        return {};
    }

    // True when the namespace exists; creates it first when the manifests declare it.
    Result<bool> ensure_namespace() {
        const std::string& name = m_options.target.namespace_;
        auto response = m_client.send({.path = "/api/v1/namespaces/" + name});
        if (!response) return fail(response.error());
        if (response->status == 200) return true;
        if (response->status != 404) return fail(kube::api_error(*response, "namespace " + name));
        bool declared = std::any_of(m_items.begin(), m_items.end(), [&](const Item& item) {
            return item.desired.id.kind == "Namespace" && item.desired.id.group.empty() && item.desired.id.name == name;
        });
        if (!declared) {
            return fail(ErrorCode::input, fmt::format("namespace \"{}\" does not exist; create it or add a Namespace "
                                                      "manifest for it",
                                                      name));
        }
        if (m_options.dry_run) return false;
        say(fmt::format("creating namespace {}", name));
        for (auto& item : m_items) {
            if (item.desired.id.kind != "Namespace" || item.desired.id.name != name) continue;
            auto resolved = m_discovery.resolve("", "v1", "Namespace");
            if (!resolved) return fail(resolved.error());
            item.resource = *resolved;
            // Not forced: a namespace someone else created meanwhile is not taken over by this write.
            auto applied = kube::apply(m_client, item.resource.object_path("", name), item.desired.object.body(),
                                       render::k_field_manager, kube::DryRun::no, kube::Force::no);
            if (!applied) return fail(applied.error());
            if (!kube::ok(applied->status)) return fail(kube::api_error(*applied, item.desired.id.describe()));
            item.report.action = applied->status == 201 ? Action::created : Action::configured;
            item.live = Json::parse(applied->body, nullptr, false);
        }
        return true;
    }

    std::vector<ObjectId> declared_ids() const {
        std::vector<ObjectId> ids;
        for (const auto& item : m_items) ids.push_back(item.desired.id);
        return ids;
    }

    std::vector<ObjectId> with_previous(std::vector<ObjectId> ids) const {
        std::set<ObjectId> all(ids.begin(), ids.end());
        all.insert(m_previous.begin(), m_previous.end());
        return {all.begin(), all.end()};
    }

    // Declared objects plus previously owned ones that are still there: kept, or not pruned because
    // the delete failed (so the next run tries again instead of forgetting them).
    std::vector<ObjectId> remaining_ids() const {
        std::vector<ObjectId> ids = declared_ids();
        for (const auto& report : m_prune_reports) {
            if (report.action == Action::kept || report.action == Action::failed) ids.push_back(report.id);
        }
        std::set<ObjectId> unique(ids.begin(), ids.end());
        return {unique.begin(), unique.end()};
    }

    Result<void> save_inventory_if_changed(Store& store, std::vector<ObjectId> ids) {
        // Compared as stored, versions included: an object now applied through another version is
        // the same object, and the inventory still learns the version to read it back with.
        if (inventory_text(ids) == inventory_text(m_previous)) return {};
        if (auto saved = store.save_inventory(ids); !saved) return fail(saved.error());
        m_previous = std::move(ids);
        return {};
    }

    // The CRD of this apply that defines the kind of `id`; null when there is none.
    const Item* crd_for(const ObjectId& id) const {
        auto found = std::find_if(m_items.begin(), m_items.end(), [&](const Item& item) {
            if (item.desired.id.kind != "CustomResourceDefinition") return false;
            const Json spec = item.desired.object.body().value("spec", Json::object());
            return spec.value("group", "") == id.group && spec.value("names", Json::object()).value("kind", "") == id.kind;
        });
        return found == m_items.end() ? nullptr : &*found;
    }

    // In a dry run, a custom resource whose CRD this apply would create: the server cannot check it yet.
    bool kind_created_by_dry_run(const ObjectId& id) const {
        const Item* crd = crd_for(id);
        return m_options.dry_run && crd != nullptr && crd->report.action == Action::created;
    }

    Result<void> resolve_resources(Stage stage) {
        for (auto& item : m_items) {
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

    // Discovery may lag a CRD that just became Established: kinds this apply declared get a grace period.
    Result<kube::ResourceInfo> resolve_with_lag(const ObjectId& id) {
        auto resource = m_discovery.resolve(id.group, id.version, id.kind);
        bool declared_here = std::any_of(m_items.begin(), m_items.end(), [&](const Item& item) {
            return item.desired.id.kind == "CustomResourceDefinition" &&
                   item.desired.object.body().value("spec", Json::object()).value("group", "") == id.group;
        });
        for (int attempt = 0; !resource && declared_here && attempt < 50; ++attempt) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            m_discovery.invalidate();
            resource = m_discovery.resolve(id.group, id.version, id.kind);
        }
        return resource;
    }

    // One LIST per resource and namespace, of every object there whoever owns it: the ownership
    // check reads what this LIST returned, at no extra request per object. CRDs come as metadata only.
    Result<void> read_live(Stage stage) {
        std::map<std::string, std::vector<Item*>> by_collection;
        for (auto& item : m_items) {
            if (stage_of(item) != stage || item.live || item.checked || item.resource.resource.empty()) continue;
            by_collection[item.resource.collection_path(item.desired.id.namespace_)].push_back(&item);
        }
        for (auto& [collection, items] : by_collection) {
            const LiveView view = is_crd_item(*items.front()) ? LiveView::metadata : LiveView::full;
            auto listed = kube::list_all(m_client, collection,
                                         {.view = view == LiveView::metadata ? kube::View::metadata : kube::View::full});
            if (!listed) return fail(listed.error());
            std::map<std::string, Json*> by_name;
            for (auto& object : *listed) by_name[object["metadata"].value("name", "")] = &object;
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

    static bool is_crd_item(const Item& item) { return item.desired.id.kind == "CustomResourceDefinition"; }

    Result<kube::ApiResponse> server_side_apply(const Item& item, kube::DryRun dry_run) {
        return kube::apply(m_client, item.resource.object_path(item.desired.id.namespace_, item.desired.id.name),
                           item.desired.object.body(), render::k_field_manager, dry_run);
    }

    // Whose the live object is decides whether we may write it at all; unchanged means the hash of
    // what we asked for last time matches and nobody took a field from us.
    void classify(Item& item) const {
        if (!item.live) {
            item.needs_write = true;
            return;
        }
        item.ownership = owner_of(*item.live, m_options.target);
        if (item.ownership.owner != Owner::us) {
            item.adopt = true;
            item.needs_write = true;
            return;
        }
        const Json& desired = item.desired.object.body();
        bool same_request = annotation_of(*item.live, render::k_hash_annotation) == annotation_of(desired, render::k_hash_annotation);
        item.needs_write = !same_request || !owns_all_fields(*item.live, desired, render::k_field_manager);
    }

    // The objects owned by another app/env or tool, refused unless adoption was asked for. Nothing
    // is written when any is refused: a partial deploy next to someone else's objects helps nobody.
    bool refuse_foreign(const std::vector<Item*>& stage) {
        if (m_options.adopt == Adopt::take) return false;
        std::vector<std::string> owners;
        for (Item* item : stage) {
            const Owner owner = item->ownership.owner;
            if (owner != Owner::other_app && owner != Owner::other_tool) continue;
            item->report = {item->desired.id, Action::refused,
                            fmt::format("owned by {}; to take it over, pass --adopt (then {} prunes it when dropped)",
                                        item->ownership.who, m_options.target.owner())};
            owners.push_back(fmt::format("{} is owned by {}", item->desired.id.describe(), item->ownership.who));
        }
        if (owners.empty()) return false;
        stop(Outcome::refused,
             fmt::format("refusing to take over objects that belong to someone else; nothing was changed:\n  {}\n"
                         "rename them in the manifests, remove them from their owner first, or pass --adopt to take "
                         "them over",
                         fmt::join(owners, "\n  ")));
        return true;
    }

    // What a check covers: the whole stage, or (before anything is written) only the objects the
    // server can judge as things stand: their namespace exists, their kind is served, and no CRD of
    // this apply defines or redefines it.
    enum class CheckScope { stage, before_writes };

    // Resolves the objects a before-writes check can cover; the others keep an empty resource.
    void resolve_judgeable() {
        for (auto& item : m_items) {
            const ObjectId& id = item.desired.id;
            if (is_foundation(id.kind) || !item.resource.resource.empty() || crd_for(id) != nullptr) continue;
            if (!id.namespace_.empty() && !(m_namespace_exists && id.namespace_ == m_options.target.namespace_)) continue;
            if (auto resource = m_discovery.resolve(id.group, id.version, id.kind)) item.resource = *resource;
        }
    }

    // CRDs listed as metadata only are read whole when they are to be written: the dry run's
    // answer is compared with the whole live object.
    Result<void> read_whole(const std::vector<Item*>& stage) {
        std::vector<Item*> partial;
        for (Item* item : stage) {
            if (item->live && item->live_view == LiveView::metadata) partial.push_back(item);
        }
        std::vector<std::optional<util::Error>> errors(partial.size());
        util::parallel_for(partial.size(), m_options.concurrency, [&](std::size_t i) {
            Item& item = *partial[i];
            auto response = kube::get(m_client, item.resource.object_path(item.desired.id.namespace_, item.desired.id.name));
            if (!response) {
                errors[i] = response.error();
            } else if (!kube::ok(*response)) {
                errors[i] = kube::api_error(*response, item.desired.id.describe());
            } else {
                item.live = Json::parse(response->body, nullptr, false);
                item.live_view = LiveView::full;
            }
        });
        for (auto& error : errors) {
            if (error) return fail(std::move(*error));
        }
        return {};
    }

    // Plans the stage's objects not planned yet: reads them live, checks whose they are, and has
    // the server dry-run every write, marking what must be written. A refusal stops the run, and
    // nothing of the stage is written.
    Result<void> plan(Stage stage_kind, CheckScope scope) {
        if (stopped()) return {};
        const bool foundations = stage_kind == Stage::foundations;
        if (scope == CheckScope::stage) {
            if (auto resolved = resolve_resources(stage_kind); !resolved) return resolved;
        } else {
            resolve_judgeable();
        }
        if (m_namespace_exists || foundations) {
            if (auto read = read_live(stage_kind); !read) return read;
        }
        std::vector<Item*> stage;
        std::size_t unchanged = 0;
        for (auto& item : m_items) {
            if (stage_of(item) != stage_kind || item.checked) continue;
            // The target namespace, created up front, and in a dry run the custom resources of a new CRD.
            if (item.report.action == Action::created) continue;
            if (item.resource.resource.empty()) continue;  // left for the check after the foundations
            item.checked = true;
            classify(item);
            if (item.needs_write) {
                stage.push_back(&item);
            } else {
                ++unchanged;
            }
        }
        if (stage.empty() && unchanged == 0) return {};
        say(fmt::format("{}: {} to check with the server, {} unchanged", foundations ? "namespaces and CRDs" : "objects",
                        stage.size(), unchanged));
        if (refuse_foreign(stage)) return {};
        if (auto read = read_whole(stage); !read) return read;

        if (!m_namespace_exists && !foundations && m_options.dry_run) {
            // Namespaced objects cannot be dry-run in a namespace that does not exist yet.
            std::erase_if(stage, [](Item* item) {
                if (item->desired.id.namespace_.empty()) return false;
                item->report = {item->desired.id, Action::created, "dry run; namespace not created yet"};
                return true;
            });
        }
        // Dry-run every write first: if the server refuses any, nothing of this stage is written.
        std::vector<std::optional<util::Error>> refusals(stage.size());
        util::parallel_for(stage.size(), m_options.concurrency, [&](std::size_t i) { refusals[i] = dry_run(*stage[i]); });
        bool refused = false;
        for (std::size_t i = 0; i < stage.size(); ++i) {
            if (!refusals[i]) continue;
            refused = true;
            stage[i]->report = {stage[i]->desired.id, Action::failed, refusals[i]->message};
        }
        if (refused) {
            stop(Outcome::rejected, m_wrote_foundations
                                        ? "the API server refused some objects; only the namespaces and CRDs were applied"
                                        : "the API server refused some objects; nothing was changed");
            return {};
        }
        // Only what the dry run says would differ is written.
        for (Item* item : stage) {
            if (item->live && item->planned && same_state(*item->planned, *item->live) && !item->recreate) {
                item->report.action = Action::unchanged;
            } else {
                item->to_write = true;
            }
        }
        return {};
    }

    // Writes what the plan marked, kinds in order; a dry run only reports it.
    Result<void> write_stage(Stage stage) {
        const bool foundations = stage == Stage::foundations;
        std::vector<Item*> writes;
        for (auto& item : m_items) {
            if (stage_of(item) == stage && item.to_write) writes.push_back(&item);
        }
        if (m_options.dry_run) {
            for (Item* item : writes) {
                item->report.action = item->recreate ? Action::recreated
                                      : item->adopt  ? Action::adopted
                                      : item->live   ? Action::configured
                                                     : Action::created;
                item->report.detail = "dry run";
                if (item->live && item->planned) item->report.changes = visible_changes(*item->live, *item->planned);
            }
            return {};
        }
        if (writes.empty() || lock_lost()) return {};
        say(fmt::format("applying {} object{}", writes.size(), writes.size() == 1 ? "" : "s"));
        write_in_rank_groups(writes);
        m_wrote_foundations = m_wrote_foundations || foundations;
        for (Item* item : writes) {
            if (item->report.action == Action::failed) stop(Outcome::failed, "some objects could not be applied");
        }
        if (foundations && !stopped()) return settle_foundations();
        return {};
    }

    // Returns the refusal, or nothing when the server accepted the dry run (or the refusal is an
    // immutable field we may recreate).
    std::optional<util::Error> dry_run(Item& item) {
        if (m_unreachable.load()) return util::make_error(ErrorCode::network, "not checked: the API server became unreachable");
        auto response = server_side_apply(item, kube::DryRun::yes);
        if (!response) {
            note_unreachable(response.error());
            return response.error();
        }
        if (kube::ok(response->status)) {
            item.planned = Json::parse(response->body, nullptr, false);
            return std::nullopt;
        }
        util::Error error = kube::api_error(*response, item.desired.id.describe());
        if (is_immutable_refusal(*response)) {
            bool asked = m_options.force_recreate ||
                         annotation_of(item.desired.object.body(), render::k_recreate_annotation) == "true";
            // Deleting is only ever done to our own objects, and a claim re-created would come back empty.
            if (item.desired.id.kind == "PersistentVolumeClaim" && item.desired.id.group.empty()) {
                error.message += "; persistent volume claims are never re-created (their data would be lost): "
                                 "migrate the data to a new claim by hand";
            } else if (item.ownership.owner != Owner::us) {
                error.message += fmt::format("; it is not owned by {}, so minicd will not delete and re-create it",
                                             m_options.target.owner());
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

    // Kinds are written in order (a Deployment after its ConfigMap), objects of one rank in parallel.
    void write_in_rank_groups(const std::vector<Item*>& writes) {
        std::size_t begin = 0;
        while (begin < writes.size()) {
            int rank = kind_rank(writes[begin]->desired.id.kind);
            std::size_t end = begin;
            while (end < writes.size() && kind_rank(writes[end]->desired.id.kind) == rank) ++end;
            util::parallel_for(end - begin, m_options.concurrency, [&](std::size_t i) { write(*writes[begin + i]); });
            begin = end;
        }
    }

    void write(Item& item) {
        // Once the server is unreachable, every further write would only wait out its own retries.
        if (m_unreachable.load()) {
            item.report = {item.desired.id, Action::failed, "not attempted: the API server became unreachable"};
            return;
        }
        // A lock lost mid-stage stops the writes at once, not at the next stage.
        if (m_lock != nullptr && !m_lock->still_held()) {
            item.report = {item.desired.id, Action::failed, "not attempted: the deploy lock was lost"};
            return;
        }
        if (item.recreate) {
            if (auto removed = delete_and_wait(item); !removed) {
                item.report = {item.desired.id, Action::failed, removed.error().message};
                return;
            }
        }
        auto response = server_side_apply(item, kube::DryRun::no);
        if (!response) {
            note_unreachable(response.error());
            item.report = {item.desired.id, Action::failed, response.error().describe()};
            return;
        }
        if (!kube::ok(response->status)) {
            item.report = {item.desired.id, Action::failed, kube::api_error(*response).message};
            return;
        }
        item.report.action = item.recreate            ? Action::recreated
                             : response->status == 201 ? Action::created
                             : item.adopt              ? Action::adopted
                                                       : Action::configured;
        item.live = Json::parse(response->body, nullptr, false);
    }

    // Deletes exactly the object the plan judged ours (uid precondition), then waits until it is gone.
    Result<void> delete_and_wait(const Item& item) {
        std::string path = item.resource.object_path(item.desired.id.namespace_, item.desired.id.name);
        const std::string uid = item.live ? item.live->value("metadata", Json::object()).value("uid", "") : "";
        if (uid.empty()) return fail(ErrorCode::internal, "no uid to re-create it safely", item.desired.id.describe());
        say(fmt::format("re-creating {}", item.desired.id.describe()));
        auto deleted = kube::delete_object(m_client, path, {.uid = uid});
        if (!deleted) return fail(deleted.error());
        if (!kube::ok(deleted->status) && deleted->status != 404) return fail(kube::api_error(*deleted));
        // Finalizers may keep it a while; a single object, so a short poll is fine here.
        for (int i = 0; i < 600; ++i) {
            auto current = kube::get(m_client, path, kube::View::metadata);
            if (current && current->status == 404) return {};
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return fail(ErrorCode::timeout, "still being deleted after 60s", item.desired.id.describe());
    }

    // CRDs must be Established before their resources can be used; discovery must then see them.
    // Only CRDs written now whose kinds this set uses are waited for: nothing else needs them yet.
    Result<void> settle_foundations() {
        std::vector<WaitTarget> crds;
        bool wrote_crd = false;
        for (const auto& item : m_items) {
            if (!is_crd_item(item) || !item.to_write) continue;
            wrote_crd = true;
            if (defines_a_declared_kind(item)) crds.push_back({item.desired.id, item.resource});
        }
        if (wrote_crd) m_discovery.invalidate();
        if (crds.empty()) return {};
        say(fmt::format("waiting for {} CRD{} to be established", crds.size(), crds.size() == 1 ? "" : "s"));
        auto established = wait_for_health(m_client, crds, {.timeout = std::chrono::seconds(60), .assess = m_options.assess});
        if (!established) return fail(established.error());
        if (!established->healthy) {
            stop(Outcome::failed, "CustomResourceDefinitions did not become established");
            for (const auto& object : established->objects) {
                if (object.health.state != health::State::current) {
                    mark_failed(object.id, object.health.message);
                }
            }
            return {};
        }
        m_discovery.invalidate();
        return {};
    }

    // True when an object of this set is of the kind the CRD item defines.
    bool defines_a_declared_kind(const Item& crd) const {
        const Json spec = crd.desired.object.body().value("spec", Json::object());
        const std::string group = spec.value("group", "");
        const std::string kind = spec.value("names", Json::object()).value("kind", "");
        return std::any_of(m_items.begin(), m_items.end(),
                           [&](const Item& item) { return item.desired.id.group == group && item.desired.id.kind == kind; });
    }

    // A deploy whose Lease was taken over (renewals failed past its expiry) must not write further.
    bool lock_lost() {
        if (m_lock == nullptr || m_lock->still_held()) return false;
        m_lock_lost = true;
        stop(Outcome::failed, "the deploy lock was taken over by another run while this one could not renew it; "
                              "stopped before writing more");
        return true;
    }

    void note_unreachable(const util::Error& error) {
        if (error.code == ErrorCode::network || error.code == ErrorCode::timeout) m_unreachable.store(true);
    }

    void mark_failed(const ObjectId& id, const std::string& why) {
        for (auto& item : m_items) {
            if (item.desired.id == id) item.report = {id, Action::failed, why};
        }
    }

    // CRDs are not among the targets: those this set uses were waited for when written, and the
    // rest are needed by nothing here (watching CRDs would list every CRD of the cluster, whole).
    Result<void> wait() {
        if (!m_options.wait || m_options.dry_run) return {};
        std::vector<WaitTarget> targets;
        bool wrote = false;
        for (const auto& item : m_items) {
            if (is_crd_item(item)) continue;
            targets.push_back({item.desired.id, item.resource});
            wrote = wrote || item.report.action != Action::unchanged;
        }
        // Nothing written and everything already healthy as listed: no watch needed.
        if (!wrote && std::all_of(m_items.begin(), m_items.end(), [&](const Item& item) {
                return is_crd_item(item) ||
                       (item.live && health::assess(*item.live, {}, m_options.assess).state == health::State::current);
            })) {
            return {};
        }
        say(fmt::format("waiting up to {}s for {} object{} to become ready", m_options.timeout.count(), targets.size(),
                        targets.size() == 1 ? "" : "s"));
        WaitOptions options{.timeout = m_options.timeout, .assess = m_options.assess};
        options.on_progress = [this](const WaitProgress& progress) {
            std::string pending;
            for (std::size_t i = 0; i < progress.not_ready.size() && i < 5; ++i) {
                const auto& object = progress.not_ready[i];
                pending += fmt::format("\n  {}: {}", object.id.describe(), object.health.message);
            }
            if (progress.not_ready.size() > 5) pending += fmt::format("\n  … and {} more", progress.not_ready.size() - 5);
            say(fmt::format("{}/{} ready after {}s{}", progress.ready, progress.total,
                            std::chrono::duration_cast<std::chrono::seconds>(progress.elapsed).count(), pending));
        };
        auto waited = wait_for_health(m_client, targets, options);
        if (!waited) return fail(waited.error());
        m_result.health = *waited;
        if (!waited->healthy) {
            std::vector<std::string> problems;
            for (const auto& object : waited->objects) {
                if (object.health.state == health::State::current) continue;
                problems.push_back(fmt::format("{}: {}", object.id.describe(), object.health.message));
            }
            stop(Outcome::failed, fmt::format("{} after {}s:\n  {}",
                                              waited->timed_out ? "not ready before the timeout" : "rollout failed",
                                              std::chrono::duration_cast<std::chrono::seconds>(waited->elapsed).count(),
                                              fmt::join(problems, "\n  ")));
        }
        return {};
    }

    // Deletes what the previous inventory owned and the manifests no longer declare, by prune's rules.
    Result<void> prune_dropped(Store& store) {
        std::vector<ObjectId> dropped = dropped_ids();
        if (dropped.empty()) return {};
        const bool deleting = m_options.prune && !m_options.dry_run;
        if (deleting && lock_lost()) {
            for (const auto& id : dropped) m_prune_reports.push_back({id, Action::failed, "not attempted: the deploy lock was lost"});
            return {};
        }
        auto inventory = store.inventory_name();
        if (!inventory) return fail(inventory.error());
        PruneOptions options{.target = m_options.target,
                             .mode = !m_options.prune ? PruneMode::report
                                     : m_options.dry_run ? PruneMode::dry_run
                                                         : PruneMode::remove,
                             .scope = {.namespaces = m_options.allow_prune_namespaces,
                                       .volumes = m_options.allow_prune_volumes,
                                       .crds = m_options.allow_prune_crds},
                             .inventory = *inventory};
        std::vector<std::string> failed;
        for (auto& report : prune(m_client, m_discovery, std::move(dropped), options)) {
            const Action action = report.action == PruneAction::pruned ? Action::pruned
                                  : report.action == PruneAction::failed ? Action::failed
                                                                         : Action::kept;
            if (action == Action::failed) failed.push_back(fmt::format("{}: {}", report.id.describe(), report.reason));
            // Already gone is forgotten silently.
            if (action != Action::kept || !report.reason.empty()) {
                m_prune_reports.push_back({report.id, action, std::move(report.reason)});
            }
        }
        if (!failed.empty()) {
            stop(Outcome::failed,
                 fmt::format("{} objects could not be pruned (they stay in the inventory for the next run):\n  {}",
                             failed.size(), fmt::join(failed, "\n  ")));
        }
        return {};
    }

    std::string manifest_digest() const {
        Json all = Json::array();
        for (const auto& item : m_items) all.push_back(item.desired.object.body());
        return "sha256:" + util::sha256_hex(all.dump());
    }

    Result<ApplyResult> finish() {
        for (auto& item : m_items) m_result.objects.push_back(item.report);
        for (auto& report : m_prune_reports) m_result.objects.push_back(report);
        return std::move(m_result);
    }

    // The release record says how the run ended; a run that lost its lock writes nothing more.
    Result<ApplyResult> record(Store& store) {
        if (!m_options.dry_run && !m_lock_lost) {
            Release release{.time = now_rfc3339(),
                            .git_sha = m_options.git_sha,
                            .images = m_options.images,
                            .manifest_digest = manifest_digest(),
                            .outcome = stopped() ? ReleaseOutcome::failed : ReleaseOutcome::deployed,
                            .message = stopped() ? m_result.failure : m_options.release_message};
            auto recorded = store.record_release(release);
            if (!recorded) return fail(recorded.error());
            m_result.revision = recorded->revision;
        }
        return finish();
    }

    kube::Client& m_client;
    kube::Discovery& m_discovery;
    const ApplyOptions& m_options;
    std::vector<Item> m_items;
    std::vector<ObjectId> m_previous;
    std::vector<ObjectReport> m_prune_reports;
    ApplyResult m_result;
    std::atomic<bool> m_unreachable{false};  // set by the first write that could not reach the server
    bool m_wrote_foundations = false;        // namespaces or CRDs were written before the last check
    std::unique_ptr<DeployLock> m_lock_holder;  // held from take_lock to the end of the run; released last
    const DeployLock* m_lock = nullptr;      // m_lock_holder's lock; null in dry runs
    bool m_lock_lost = false;                // found taken over: nothing more is written, the inventory included
    bool m_namespace_exists = false;         // the target namespace exists (or was created by this run)
    std::string m_inventory_name;            // our inventory ConfigMap
};

}  // namespace

Result<ApplyResult> apply(kube::Client& client, kube::Discovery& discovery, const std::vector<source::Manifest>& manifests,
                          const ApplyOptions& options) {
    return Run(client, discovery, options).execute(manifests);
}

}  // namespace minicd::deploy
