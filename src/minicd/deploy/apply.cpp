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
#include "minicd/deploy/store.hpp"
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
    case Action::recreated: return "recreated";
    case Action::pruned: return "pruned";
    case Action::kept: return "kept";
    case Action::failed: return "failed";
    }
    return "unknown";
}

namespace {

constexpr std::string_view k_apply_query = "?fieldManager=minicd&force=true&fieldValidation=Strict";

// One declared object on its way through the run.
struct Item {
    render::Desired desired;
    kube::ResourceInfo resource;
    std::optional<Json> live;     // as the label-selected LIST saw it; nullopt if not found there
    bool needs_write = false;     // not provably unchanged: dry-run decides
    bool recreate = false;        // refused for an immutable field, and recreation is allowed
    std::optional<Json> planned;  // what the dry run said the object would become
    bool checked = false;         // classified, and dry-run when needed
    bool to_write = false;        // checked, and the dry run says the object would change
    ObjectReport report;
};

bool is_success(long status) { return status >= 200 && status < 300; }

// What a dry run would change on a live object, without the hash annotation minicd rewrites on
// every change (it says nothing a reader can act on).
std::vector<diff::FieldChange> visible_changes(const Json& live, const Json& planned) {
    auto changes = diff::compare(live, planned);
    const std::string hash_path = fmt::format("metadata.annotations[{}]", Json(std::string(render::k_hash_annotation)).dump());
    std::erase_if(changes, [&](const diff::FieldChange& change) { return change.path == hash_path; });
    return changes;
}

std::string annotation(const Json& object, std::string_view key) {
    auto pointer = Json::json_pointer("/metadata/annotations");
    if (!object.contains(pointer)) return {};
    const Json& annotations = object.at(pointer);
    auto it = annotations.find(std::string(key));
    return it != annotations.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// The API server's words for an immutable field, across kinds and versions.
bool is_immutable_refusal(const kube::ApiResponse& response) {
    if (response.status != 422) return false;
    return response.body.find("field is immutable") != std::string::npos ||
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
        std::unique_ptr<DeployLock> lock;
        if (!m_options.dry_run && *namespace_ready) {
            auto taken = DeployLock::acquire(m_client, {.namespace_ = m_options.target.namespace_,
                                                        .name = "minicd-lock-" + m_options.target.app + "-" + m_options.target.env,
                                                        .holder = holder_identity(),
                                                        .wait = m_options.lock_wait});
            if (!taken) return fail(taken.error());
            lock = std::move(*taken);
            m_lock = lock.get();
        }
        Store store(m_client, m_options.target.namespace_, m_options.target.app, m_options.target.env);
        // What we owned before decides what prune may remove.
        if (*namespace_ready) {
            auto previous = store.load_inventory();
            if (!previous) return fail(previous.error());
            m_previous = std::move(*previous);
        }
        // Before anything is written, the server checks the foundations and every other object it can
        // judge already: a refusal there leaves the cluster as it was.
        if (auto checked = check(true, *namespace_ready, CheckScope::stage); !checked) return fail(checked.error());
        if (auto checked = check(false, *namespace_ready, CheckScope::before_writes); !checked) return fail(checked.error());
        if (!m_result.failure.empty()) return record(store);
        // Record intent before writing, so an interrupted run can still prune what it created.
        if (!m_options.dry_run && *namespace_ready) {
            if (auto saved = save_inventory_if_changed(store, with_previous(declared_ids())); !saved) return fail(saved.error());
        }

        // Foundations (Namespaces, CRDs) first: what follows may need them to be accepted at all.
        if (auto done = write_stage(true); !done) return fail(done.error());
        if (!m_result.failure.empty()) return record(store);
        if (auto done = check(false, *namespace_ready, CheckScope::stage); !done) return fail(done.error());
        if (!m_result.failure.empty()) return record(store);
        if (auto done = write_stage(false); !done) return fail(done.error());
        if (!m_result.failure.empty()) return record(store);

        // Healthy or not is what the deploy is judged by.
        if (m_options.wait && !m_options.dry_run) {
            if (auto waited = wait(); !waited) return fail(waited.error());
            if (!m_result.failure.empty()) return record(store);
        }
        // Only a healthy deploy removes what the manifests dropped.
        if (auto pruned = prune(); !pruned) return fail(pruned.error());
        if (!m_options.dry_run && !m_lock_lost) {
            if (auto saved = save_inventory_if_changed(store, remaining_ids()); !saved) return fail(saved.error());
        }
        m_result.succeeded = m_result.failure.empty();
        return record(store);
    }

private:
    void say(const std::string& line) const {
        if (m_options.progress) m_options.progress(line);
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
            auto applied = server_side_apply(item, false);
            if (!applied) return fail(applied.error());
            if (!is_success(applied->status)) return fail(kube::api_error(*applied, item.desired.id.describe()));
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
        std::set<ObjectId> wanted(ids.begin(), ids.end());
        std::set<ObjectId> stored(m_previous.begin(), m_previous.end());
        if (wanted == stored) return {};
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

    Result<void> resolve_resources(bool foundations) {
        for (auto& item : m_items) {
            if (is_foundation(item.desired.id.kind) != foundations || !item.resource.resource.empty()) continue;
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

    // One LIST per resource and namespace, selecting what this target applied.
    Result<void> read_live(bool foundations) {
        std::map<std::string, std::vector<Item*>> by_collection;
        for (auto& item : m_items) {
            if (is_foundation(item.desired.id.kind) != foundations || item.live || item.checked ||
                item.resource.resource.empty()) {
                continue;
            }
            by_collection[item.resource.collection_path(item.desired.id.namespace_)].push_back(&item);
        }
        for (auto& [collection, items] : by_collection) {
            auto listed = list_all(collection);
            if (!listed) return fail(listed.error());
            std::map<std::string, Json*> by_name;
            for (auto& object : *listed) by_name[object["metadata"].value("name", "")] = &object;
            for (Item* item : items) {
                auto found = by_name.find(item->desired.id.name);
                if (found == by_name.end()) continue;
                item->live = *found->second;
                // Items of a LIST carry no kind of their own; health rules need it.
                (*item->live)["apiVersion"] = item->desired.id.api_version();
                (*item->live)["kind"] = item->desired.id.kind;
            }
        }
        return {};
    }

    Result<std::vector<Json>> list_all(const std::string& collection) {
        std::vector<Json> objects;
        std::string continue_token;
        do {
            std::string path = fmt::format("{}?labelSelector={}&limit=500", collection,
                                           util::percent_encode(m_options.target.label_selector()));
            if (!continue_token.empty()) path += "&continue=" + util::percent_encode(continue_token);
            auto page = m_client.get_json(path);
            if (!page) return fail(page.error());
            for (auto& object : (*page)["items"]) objects.push_back(std::move(object));
            continue_token = (*page)["metadata"].value("continue", "");
        } while (!continue_token.empty());
        return objects;
    }

    Result<kube::ApiResponse> server_side_apply(const Item& item, bool dry_run) {
        std::string path = item.resource.object_path(item.desired.id.namespace_, item.desired.id.name);
        path += k_apply_query;
        if (dry_run) path += "&dryRun=All";
        return m_client.send({.method = http::Method::patch,
                              .path = path,
                              .body = item.desired.object.body().dump(),
                              .content_type = "application/apply-patch+yaml",
                              .replay = kube::Replay::safe});
    }

    // Unchanged means: the hash of what we asked for last time matches, and nobody took a field from us.
    void classify(Item& item) const {
        if (!item.live) {
            item.needs_write = true;
            return;
        }
        const Json& desired = item.desired.object.body();
        bool same_request = annotation(*item.live, render::k_hash_annotation) == annotation(desired, render::k_hash_annotation);
        item.needs_write = !same_request || !owns_all_fields(*item.live, desired, render::k_field_manager);
    }

    // What a check covers: the whole stage, or (before anything is written) only the objects the
    // server can judge as things stand: their namespace exists, their kind is served, and no CRD of
    // this apply defines or redefines it.
    enum class CheckScope { stage, before_writes };

    // Resolves the objects a before-writes check can cover; the others keep an empty resource.
    void resolve_judgeable(bool namespace_exists) {
        for (auto& item : m_items) {
            const ObjectId& id = item.desired.id;
            if (is_foundation(id.kind) || !item.resource.resource.empty() || crd_for(id) != nullptr) continue;
            if (!id.namespace_.empty() && !(namespace_exists && id.namespace_ == m_options.target.namespace_)) continue;
            if (auto resource = m_discovery.resolve(id.group, id.version, id.kind)) item.resource = *resource;
        }
    }

    // Classifies and dry-runs the stage's objects not checked yet, marking what must be written. A
    // refusal fails the run, and nothing of the stage is written.
    Result<void> check(bool foundations, bool namespace_exists, CheckScope scope) {
        if (scope == CheckScope::stage) {
            if (auto resolved = resolve_resources(foundations); !resolved) return resolved;
        } else {
            resolve_judgeable(namespace_exists);
        }
        if (namespace_exists || foundations) {
            if (auto read = read_live(foundations); !read) return read;
        }
        std::vector<Item*> stage;
        std::size_t unchanged = 0;
        for (auto& item : m_items) {
            if (is_foundation(item.desired.id.kind) != foundations || item.checked) continue;
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

        if (!namespace_exists && !foundations && m_options.dry_run) {
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
            m_result.failure = m_wrote_foundations
                                   ? "the API server refused some objects; only the namespaces and CRDs were applied"
                                   : "the API server refused some objects; nothing was changed";
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

    // Writes what the checks marked, kinds in order; a dry run only reports it.
    Result<void> write_stage(bool foundations) {
        std::vector<Item*> writes;
        for (auto& item : m_items) {
            if (is_foundation(item.desired.id.kind) == foundations && item.to_write) writes.push_back(&item);
        }
        if (m_options.dry_run) {
            for (Item* item : writes) {
                item->report.action = item->recreate ? Action::recreated : item->live ? Action::configured : Action::created;
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
            if (item->report.action == Action::failed) m_result.failure = "some objects could not be applied";
        }
        if (foundations && m_result.failure.empty()) return settle_foundations();
        return {};
    }

    // Returns the refusal, or nothing when the server accepted the dry run (or the refusal is an
    // immutable field we may recreate).
    std::optional<util::Error> dry_run(Item& item) {
        if (m_unreachable.load()) return util::make_error(ErrorCode::network, "not checked: the API server became unreachable");
        auto response = server_side_apply(item, true);
        if (!response) {
            note_unreachable(response.error());
            return response.error();
        }
        if (is_success(response->status)) {
            item.planned = Json::parse(response->body, nullptr, false);
            return std::nullopt;
        }
        util::Error error = kube::api_error(*response, item.desired.id.describe());
        if (is_immutable_refusal(*response)) {
            bool allowed = m_options.force_recreate ||
                           annotation(item.desired.object.body(), render::k_recreate_annotation) == "true";
            if (allowed) {
                item.recreate = true;
                return std::nullopt;
            }
            error.message += fmt::format("; to delete and re-create it, pass --force-recreate or annotate it {}: \"true\"",
                                         render::k_recreate_annotation);
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
        if (item.recreate) {
            if (auto removed = delete_and_wait(item); !removed) {
                item.report = {item.desired.id, Action::failed, removed.error().message};
                return;
            }
        }
        auto response = server_side_apply(item, false);
        if (!response) {
            note_unreachable(response.error());
            item.report = {item.desired.id, Action::failed, response.error().describe()};
            return;
        }
        if (!is_success(response->status)) {
            item.report = {item.desired.id, Action::failed, kube::api_error(*response).message};
            return;
        }
        item.report.action = item.recreate ? Action::recreated : response->status == 201 ? Action::created : Action::configured;
        item.live = Json::parse(response->body, nullptr, false);
    }

    Result<void> delete_and_wait(const Item& item) {
        std::string path = item.resource.object_path(item.desired.id.namespace_, item.desired.id.name);
        Json options = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"propagationPolicy", "Background"}};
        if (item.live) options["preconditions"] = {{"uid", (*item.live)["metadata"].value("uid", "")}};
        say(fmt::format("re-creating {}", item.desired.id.describe()));
        auto deleted = m_client.send({.method = http::Method::delete_, .path = path, .body = options.dump(),
                                      .content_type = "application/json", .replay = kube::Replay::unsafe});
        if (!deleted) return fail(deleted.error());
        if (!is_success(deleted->status) && deleted->status != 404) return fail(kube::api_error(*deleted));
        // Finalizers may keep it a while; a single object, so a short poll is fine here.
        for (int i = 0; i < 600; ++i) {
            auto current = m_client.send({.path = path});
            if (current && current->status == 404) return {};
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return fail(ErrorCode::timeout, "still being deleted after 60s", item.desired.id.describe());
    }

    // CRDs must be Established before their resources can be used; discovery must then see them.
    Result<void> settle_foundations() {
        std::vector<WaitTarget> crds;
        for (const auto& item : m_items) {
            if (item.desired.id.kind == "CustomResourceDefinition") crds.push_back({item.desired.id, item.resource});
        }
        if (crds.empty()) return {};
        say(fmt::format("waiting for {} CRD{} to be established", crds.size(), crds.size() == 1 ? "" : "s"));
        auto established = wait_for_health(m_client, crds, {.timeout = std::chrono::seconds(60), .assess = m_options.assess});
        if (!established) return fail(established.error());
        if (!established->healthy) {
            m_result.failure = "CustomResourceDefinitions did not become established";
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

    // A deploy whose Lease was taken over (renewals failed past its expiry) must not write further.
    bool lock_lost() {
        if (m_lock == nullptr || m_lock->still_held()) return false;
        m_lock_lost = true;
        m_result.failure = "the deploy lock was taken over by another run while this one could not renew it; "
                           "stopped before writing more";
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

    Result<void> wait() {
        std::vector<WaitTarget> targets;
        bool wrote = false;
        for (const auto& item : m_items) {
            targets.push_back({item.desired.id, item.resource});
            wrote = wrote || item.report.action != Action::unchanged;
        }
        // Nothing written and everything already healthy as listed: no watch needed.
        if (!wrote && std::all_of(m_items.begin(), m_items.end(), [&](const Item& item) {
                return item.live && health::assess(*item.live, {}, m_options.assess).state == health::State::current;
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
            m_result.failure = fmt::format("{} after {}s:\n  {}",
                                           waited->timed_out ? "not ready before the timeout" : "rollout failed",
                                           std::chrono::duration_cast<std::chrono::seconds>(waited->elapsed).count(),
                                           fmt::join(problems, "\n  "));
        }
        return {};
    }

    // Deletes what the previous inventory owned and the manifests no longer declare — only objects
    // that still carry our owner annotation and do not opt out.
    Result<void> prune() {
        std::set<ObjectId> declared;
        for (const auto& item : m_items) declared.insert(item.desired.id);
        std::vector<ObjectId> dropped;
        for (const auto& id : m_previous) {
            if (!declared.count(id)) dropped.push_back(id);
        }
        sort_for_delete(dropped);
        if (!dropped.empty() && m_options.prune && !m_options.dry_run && lock_lost()) {
            for (const auto& id : dropped) m_prune_reports.push_back({id, Action::failed, "not attempted: the deploy lock was lost"});
            return {};
        }
        std::vector<std::string> failed;
        for (const auto& id : dropped) {
            ObjectReport report = prune_one(id);
            if (report.action == Action::failed) failed.push_back(fmt::format("{}: {}", report.id.describe(), report.detail));
            if (report.action != Action::kept || !report.detail.empty()) m_prune_reports.push_back(std::move(report));
        }
        if (!failed.empty()) {
            m_result.failure = fmt::format("{} objects could not be pruned (they stay in the inventory for the next run):\n  {}",
                                           failed.size(), fmt::join(failed, "\n  "));
        }
        return {};
    }

    ObjectReport prune_one(const ObjectId& id) {
        auto kept = [&](std::string why) { return ObjectReport{id, Action::kept, std::move(why)}; };
        if (!m_options.prune) return kept("no longer declared; pass --prune to delete it");
        if (id.kind == "Namespace" && id.group.empty() && !m_options.allow_prune_namespaces) {
            return kept("namespaces are never pruned without --prune-namespaces");
        }
        if (id.kind == "PersistentVolumeClaim" && !m_options.allow_prune_volumes) {
            return kept("persistent volume claims are never pruned without --prune-volumes");
        }
        auto resource = m_discovery.resolve(id.group, id.version, id.kind);
        if (!resource) return kept(resource.error().message);
        std::string path = resource->object_path(id.namespace_, id.name);
        auto live = m_client.send({.path = path});
        if (!live) return ObjectReport{id, Action::failed, live.error().describe()};
        if (live->status == 404) return ObjectReport{id, Action::kept, ""};  // already gone: forgotten silently
        if (!is_success(live->status)) return ObjectReport{id, Action::failed, kube::api_error(*live).message};
        Json object = Json::parse(live->body, nullptr, false);
        if (annotation(object, render::k_owner_annotation) != m_options.target.owner()) {
            return kept("not annotated as owned by " + m_options.target.owner());
        }
        if (annotation(object, render::k_prune_annotation) == "disabled") return kept("annotated minicd.io/prune: disabled");
        if (m_options.dry_run) return ObjectReport{id, Action::pruned, "dry run"};
        const std::string uid = object["metadata"].value("uid", "");
        Json options = {{"apiVersion", "v1"},
                        {"kind", "DeleteOptions"},
                        {"propagationPolicy", "Background"},
                        {"preconditions", {{"uid", uid}}}};
        auto deleted = m_client.send({.method = http::Method::delete_, .path = path, .body = options.dump(),
                                      .content_type = "application/json", .replay = kube::Replay::unsafe});
        // The answer was lost: whether the delete happened is read back, never assumed.
        if (!deleted) return deletion_settled(id, path, uid) ? ObjectReport{id, Action::pruned, ""}
                                                             : ObjectReport{id, Action::failed, deleted.error().describe()};
        if (!is_success(deleted->status) && deleted->status != 404) {
            return ObjectReport{id, Action::failed, kube::api_error(*deleted).message};
        }
        return ObjectReport{id, Action::pruned, ""};
    }

    // After a delete whose outcome is unknown: true when the object `uid` is gone or being deleted.
    bool deletion_settled(const ObjectId& id, const std::string& path, const std::string& uid) {
        auto live = m_client.send({.path = path});
        if (!live) return false;
        if (live->status == 404) return true;
        if (!is_success(live->status)) return false;
        const Json object = Json::parse(live->body, nullptr, false);
        const Json& metadata = object.value("metadata", Json::object());
        const bool settled = metadata.value("uid", "") != uid || metadata.contains("deletionTimestamp");
        if (settled) say(fmt::format("{}: the delete went through although its answer was lost", id.describe()));
        return settled;
    }

    std::string manifest_digest() const {
        Json all = Json::array();
        for (const auto& item : m_items) all.push_back(item.desired.object.body());
        return "sha256:" + util::sha256_hex(all.dump());
    }

    Result<ApplyResult> finish() {
        for (auto& item : m_items) m_result.objects.push_back(item.report);
        for (auto& report : m_prune_reports) m_result.objects.push_back(report);
        m_result.succeeded = m_result.failure.empty();
        return std::move(m_result);
    }

    Result<ApplyResult> record(Store& store) {
        if (!m_options.dry_run) {
            Release release{.time = now_rfc3339(),
                            .git_sha = m_options.git_sha,
                            .images = m_options.images,
                            .manifest_digest = manifest_digest(),
                            .outcome = m_result.failure.empty() ? "succeeded" : "failed",
                            .message = m_result.failure.empty() ? m_options.release_message : m_result.failure};
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
    const DeployLock* m_lock = nullptr;      // held for the whole run; null in dry runs
    bool m_lock_lost = false;                // found taken over: nothing more is written, the inventory included
};

}  // namespace

Result<ApplyResult> apply(kube::Client& client, kube::Discovery& discovery, const std::vector<source::Manifest>& manifests,
                          const ApplyOptions& options) {
    return Run(client, discovery, options).execute(manifests);
}

}  // namespace minicd::deploy
