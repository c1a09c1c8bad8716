// Drift: the last release against the live cluster, field by field, and against Git. Reads only.
#include "minicd/deploy/drift.hpp"

#include "minicd/deploy/canary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "minicd/deploy/changes.hpp"
#include "minicd/deploy/order.hpp"
#include "minicd/deploy/ownership.hpp"
#include "minicd/deploy/store.hpp"
#include "minicd/diff/diff.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/parallel.hpp"

namespace minicd::deploy {

using model::Json;
using model::ObjectId;
using util::ErrorCode;

namespace {

// Shown instead of a Secret's value: neither the value nor anything derived from it.
const Json k_hidden = "(hidden)";
const Json k_hidden_other = "(hidden, another value)";

// One managedFields entry, as drift needs it.
struct FieldOwner {
    std::string manager;
    std::string operation;  // "Update", "Apply", with "/scale" when through that subresource
    std::string time;
    bool ours = false;   // minicd's own apply of the object itself
    bool scale = false;  // written through the scale subresource
};

// A field-set node (FieldsV1) of one owner, at the point of the walk.
struct Claim {
    const FieldOwner* owner;
    const Json* fields;
};

std::vector<FieldOwner> owners_of(const Json& live, std::vector<const Json*>& field_sets) {
    std::vector<FieldOwner> owners;
    const Json* entries = model::array_at(live, {"metadata", "managedFields"});
    if (entries == nullptr) return owners;
    for (const auto& entry : *entries) {
        if (!entry.is_object()) continue;
        auto text = [&](std::string_view key) { return model::string_at(entry, {key}); };
        auto fields = entry.find("fieldsV1");
        if (fields == entry.end() || !fields->is_object()) continue;
        FieldOwner owner{.manager = text("manager"), .operation = text("operation"), .time = text("time")};
        const std::string subresource = text("subresource");
        owner.scale = subresource == "scale";
        if (!subresource.empty()) owner.operation += "/" + subresource;
        owner.ours = owner.manager == render::k_field_manager && owner.operation == "Apply";
        owners.push_back(std::move(owner));
        field_sets.push_back(&*fields);
    }
    return owners;
}

// "[main]" for an item named main, "[containerPort=8080,protocol=TCP]" for other keys, "[3]" else.
std::string item_label(const Json& item, std::size_t index) {
    if (item.is_object()) {
        if (auto name = item.find("name"); name != item.end() && name->is_string()) return "[" + name->get<std::string>() + "]";
    }
    return fmt::format("[{}]", index);
}

// The live list item that is `item`: same name, or same values of the keys its field set uses.
const Json* matching_item(const Json& item, const Json* live_list, const std::vector<Claim>& claims) {
    if (live_list == nullptr || !live_list->is_array()) return nullptr;
    std::vector<std::string> keys;
    if (item.is_object() && item.contains("name")) {
        keys.push_back("name");
    } else {
        for (const auto& claim : claims) {
            for (const auto& [key, child] : claim.fields->items()) {
                if (!key.starts_with("k:") || find_keyed_item(item, *claim.fields) != &child) continue;
                Json parsed = model::parse_json(std::string_view(key).substr(2));
                if (parsed.is_object()) {
                    for (const auto& [name, value] : parsed.items()) keys.push_back(name);
                }
            }
            if (!keys.empty()) break;
        }
    }
    if (keys.empty() || !item.is_object()) {
        // Scalars (sets) match by value.
        for (const auto& candidate : *live_list) {
            if (candidate == item) return &candidate;
        }
        return nullptr;
    }
    for (const auto& candidate : *live_list) {
        if (!candidate.is_object()) continue;
        bool same = std::all_of(keys.begin(), keys.end(), [&](const std::string& key) {
            auto want = item.find(key);
            auto have = candidate.find(key);
            return want == item.end() || (have != candidate.end() && *have == *want);
        });
        if (same) return &candidate;
    }
    return nullptr;
}

// The claims on one list item: each owner's entry for it.
std::vector<Claim> item_claims(const Json& item, std::size_t index, const std::vector<Claim>& claims) {
    std::vector<Claim> found;
    for (const auto& claim : claims) {
        const Json* child = item.is_object() ? find_keyed_item(item, *claim.fields) : nullptr;
        if (child == nullptr) {
            if (auto it = claim.fields->find("v:" + item.dump()); it != claim.fields->end()) child = &*it;
        }
        if (child == nullptr) {
            if (auto it = claim.fields->find("i:" + std::to_string(index)); it != claim.fields->end()) child = &*it;
        }
        if (child != nullptr) found.push_back({claim.owner, child});
    }
    return found;
}

bool has_item_entries(const Json& fields) {
    for (const auto& [key, child] : fields.items()) {
        if (key.starts_with("k:") || key.starts_with("v:") || key.starts_with("i:")) return true;
    }
    return false;
}

// One field that differs, and how.
struct Finding {
    FieldDrift field;
    DriftClass drift = DriftClass::modified;
};

// Walks what the release applied beside the live object and the field owners, reporting every
// field minicd applied that it no longer owns.
class FieldWalk {
public:
    explicit FieldWalk(std::vector<Finding>& out) : m_out(out) {}

    void walk(const Json& desired, const Json* live, const std::string& path, const std::vector<Claim>& claims) {
        // Owned by us here (and below, for an atomic node): nothing of it drifted.
        for (const auto& claim : claims) {
            if (claim.owner->ours && (claim.fields->empty() || !(desired.is_object() || desired.is_array()))) return;
        }
        if (desired.is_object() && !desired.empty()) {
            for (const auto& [key, value] : desired.items()) {
                std::vector<Claim> below;
                for (const auto& claim : claims) {
                    if (auto child = claim.fields->find("f:" + key); child != claim.fields->end()) below.push_back({claim.owner, &*child});
                }
                const Json* live_child = live && live->is_object() && live->contains(key) ? &(*live)[key] : nullptr;
                walk(value, live_child, path.empty() ? key : path + "." + key, below);
            }
            return;
        }
        const bool per_item = std::any_of(claims.begin(), claims.end(),
                                          [](const Claim& claim) { return has_item_entries(*claim.fields); });
        if (desired.is_array() && per_item) {
            for (std::size_t index = 0; index < desired.size(); ++index) {
                const Json& item = desired[index];
                const std::vector<Claim> below = item_claims(item, index, claims);
                walk(item, matching_item(item, live, below.empty() ? claims : below), path + item_label(item, index), below);
            }
            return;
        }
        leaf(desired, live, path, claims);
    }

private:
    void leaf(const Json& desired, const Json* live, const std::string& path, const std::vector<Claim>& claims) {
        // The newest other writer of the field is who changed it.
        const FieldOwner* writer = nullptr;
        for (const auto& claim : claims) {
            if (claim.owner->ours) return;
            if (writer == nullptr || claim.owner->time > writer->time) writer = claim.owner;
        }
        Finding finding{.field = {.path = path, .before = desired, .after = live ? *live : Json()}};
        if (writer != nullptr) {
            finding.field.manager = writer->manager;
            finding.field.operation = writer->operation;
            finding.field.time = writer->time;
        }
        if (finding.field.after == desired) {
            // Same value, someone else's now: their next change wins. Nobody's at all: nothing to say.
            if (writer == nullptr) return;
            finding.drift = DriftClass::taken_over;
        } else if (writer != nullptr && writer->scale && path == "spec.replicas") {
            finding.drift = DriftClass::scaled;
        }
        m_out.push_back(std::move(finding));
    }

    std::vector<Finding>& m_out;
};

// What the release applied to the object, as the walk compares it: identity and server fields out.
Json applied_fields(Json desired) {
    desired.erase("apiVersion");
    desired.erase("kind");
    desired.erase("status");
    if (auto metadata = desired.find("metadata"); metadata != desired.end() && metadata->is_object()) {
        metadata->erase("name");
        metadata->erase("namespace");
        if (metadata->empty()) desired.erase("metadata");
    }
    return desired;
}

// Secrets: stringData is write-only, so ownership says nothing about what their data holds now;
// their values are compared directly, and the one who wrote data.<key> last is named.
void secret_drift(const Json& desired, const Json& live, const std::vector<FieldOwner>& owners,
                  const std::vector<const Json*>& field_sets, std::vector<Finding>& out) {
    const Json want = secret_data(desired);
    const Json have = live.contains("data") && live["data"].is_object() ? live["data"] : Json::object();
    for (const auto& [key, value] : want.items()) {
        auto found = have.find(key);
        if (found != have.end() && *found == value) continue;
        FieldDrift field{.path = "data." + key, .before = k_hidden, .after = found == have.end() ? Json() : k_hidden_other};
        for (std::size_t i = 0; i < owners.size(); ++i) {
            if (owners[i].ours) continue;
            auto data = field_sets[i]->find("f:data");
            if (data == field_sets[i]->end() || !data->contains("f:" + key)) continue;
            if (field.time.empty() || owners[i].time > field.time) {
                field.manager = owners[i].manager;
                field.operation = owners[i].operation;
                field.time = owners[i].time;
            }
        }
        out.push_back({.field = std::move(field)});
    }
}

// Hides what a Secret holds in fields the walk reported.
void hide_secret_values(std::vector<Finding>& findings) {
    for (auto& finding : findings) {
        FieldDrift& field = finding.field;
        if (field.path.starts_with("data.") || field.path.starts_with("stringData.")) {
            const bool same = field.before == field.after;
            if (!field.before.is_null()) field.before = k_hidden;
            if (!field.after.is_null()) field.after = same ? k_hidden : k_hidden_other;
        }
    }
}

// A Secret without its data: what ownership still tells about it.
Json without_secret_data(Json secret) {
    secret.erase("data");
    secret.erase("stringData");
    return secret;
}

}  // namespace

std::vector<ObjectDrift> compare_live(const ObjectId& id, const Json& desired, const Json& live) {
    std::vector<const Json*> field_sets;
    const std::vector<FieldOwner> owners = owners_of(live, field_sets);
    std::vector<Claim> claims;
    for (std::size_t i = 0; i < owners.size(); ++i) claims.push_back({&owners[i], field_sets[i]});

    std::vector<Finding> findings;
    Json applied = applied_fields(desired);
    if (is_secret(id)) {
        applied = without_secret_data(std::move(applied));
        secret_drift(desired, live, owners, field_sets, findings);
    }
    FieldWalk(findings).walk(applied, &live, "", claims);
    if (is_secret(id)) hide_secret_values(findings);

    // The object is as drifted as its most drifted field (modified, else taken over); replicas a
    // scaler set are an entry of their own, information that never counts.
    ObjectDrift drift{.id = id, .drift = DriftClass::taken_over};
    ObjectDrift scaled{.id = id, .drift = DriftClass::scaled};
    for (auto& finding : findings) {
        if (finding.drift == DriftClass::scaled) {
            scaled.fields.push_back(std::move(finding.field));
            continue;
        }
        if (finding.drift == DriftClass::modified) drift.drift = DriftClass::modified;
        drift.fields.push_back(std::move(finding.field));
    }
    std::vector<ObjectDrift> entries;
    if (!drift.fields.empty()) entries.push_back(std::move(drift));
    if (!scaled.fields.empty()) entries.push_back(std::move(scaled));
    return entries;
}

namespace {

// Git against the release: which objects the render adds, changes or drops.
Result<std::vector<UndeployedChange>> compare_with_git(kube::Discovery& discovery, const render::Target& target,
                                                       const std::vector<source::Manifest>& manifests,
                                                       const std::vector<Json>& released) {
    auto scope = [&](const ObjectId& id) -> Result<bool> {
        auto resource = discovery.resolve(id.group, id.version, id.kind);
        if (!resource) return fail(resource.error());
        return resource->namespaced;
    };
    auto desired = render::prepare(manifests, target, scope);
    if (!desired) return fail(desired.error());
    sort_for_apply(*desired);
    std::map<ObjectId, const Json*> before;
    for (const auto& object : released) before[model::Object(object).id()] = &object;
    std::vector<UndeployedChange> changes;
    std::set<ObjectId> seen;
    for (const auto& object : *desired) {
        // Releases do not store what their pre and post phases ran: it is no state to compare.
        if (object.phase != model::Phase::main) continue;
        seen.insert(object.id);
        auto found = before.find(object.id);
        if (found == before.end()) {
            changes.push_back({.id = object.id, .change = GitChange::added});
            continue;
        }
        const std::string old_hash = annotation_of(*found->second, render::k_hash_annotation);
        if (!old_hash.empty() && old_hash == annotation_of(object.object.body(), render::k_hash_annotation)) continue;
        auto fields = visible_changes(*found->second, object.object.body());
        if (!fields.empty()) changes.push_back({.id = object.id, .change = GitChange::changed, .fields = std::move(fields)});
    }
    for (const auto& [id, object] : before) {
        if (!seen.contains(id)) changes.push_back({.id = id, .change = GitChange::removed});
    }
    return changes;
}

}  // namespace

std::string_view to_string(DriftClass drift) {
    switch (drift) {
    case DriftClass::modified: return "modified";
    case DriftClass::deleted: return "deleted";
    case DriftClass::taken_over: return "taken-over";
    case DriftClass::scaled: return "scaled";
    }
    return "modified";
}

bool counts(DriftClass drift) { return drift != DriftClass::scaled; }

std::string_view to_string(GitChange change) {
    switch (change) {
    case GitChange::added: return "added";
    case GitChange::changed: return "changed";
    case GitChange::removed: return "removed";
    }
    return "changed";
}

bool DriftReport::drifted() const {
    return std::any_of(live.begin(), live.end(), [](const ObjectDrift& object) { return counts(object.drift); });
}

Result<DriftReport> detect_drift(kube::Client& client, kube::Discovery& discovery, const DriftOptions& options,
                                 const std::vector<source::Manifest>* manifests) {
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    auto releases = store.load_releases();
    if (!releases) return fail(releases.error());
    auto current = current_release(*releases);
    if (!current) return fail(current.error().context(options.target.owner() + " in namespace " + options.target.namespace_));
    auto objects = store.load_payload(*current);
    if (!objects) return fail(objects.error());

    DriftReport report{.release = *current, .live = {}, .undeployed = std::nullopt, .canary = open_canary(*releases)};
    // One LIST per kind and namespace, metadata only: managedFields say whether anyone else wrote.
    struct Entry {
        ObjectId id;
        const Json* desired;
        kube::ResourceInfo resource;
        std::optional<Json> live;
        bool suspect = false;
    };
    std::vector<Entry> entries;
    entries.reserve(objects->size());
    std::map<std::string, std::vector<std::size_t>> by_collection;
    for (const auto& object : *objects) {
        const ObjectId id = model::Object(object).id();
        auto resource = discovery.resolve_object(id);
        if (!resource) return fail(resource.error().context(id.describe()));
        by_collection[resource->collection_path(id.namespace_)].push_back(entries.size());
        entries.push_back({.id = id, .desired = &object, .resource = *resource});
    }
    for (const auto& [collection, indexes] : by_collection) {
        // Secrets come whole: their data is compared by value (see secret_drift).
        const bool secrets = is_secret(entries[indexes.front()].id);
        auto listed = kube::list_all(client, collection, {.view = secrets ? kube::View::full : kube::View::metadata});
        if (!listed) return fail(listed.error());
        std::map<std::string, Json*> by_name;
        for (auto& item : *listed) {
            by_name[model::string_at(item, {"metadata", "name"})] = &item;
        }
        for (std::size_t index : indexes) {
            Entry& entry = entries[index];
            auto found = by_name.find(entry.id.name);
            if (found == by_name.end()) continue;
            entry.live = std::move(*found->second);
            entry.suspect = !holds_what_it_applied(entry.id, *entry.live, *entry.desired, render::k_field_manager);
        }
    }
    // Only objects whose managedFields show another writer are read whole, in parallel.
    std::vector<std::size_t> to_read;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (entries[i].live && entries[i].suspect && !is_secret(entries[i].id)) to_read.push_back(i);
    }
    std::vector<std::optional<util::Error>> errors(to_read.size());
    util::parallel_for(to_read.size(), options.concurrency, [&](std::size_t i) {
        Entry& entry = entries[to_read[i]];
        auto response = kube::get(client, entry.resource.object_path(entry.id.namespace_, entry.id.name));
        if (!response) {
            errors[i] = response.error();
        } else if (response->status == 404) {
            entry.live.reset();
        } else if (!kube::ok(*response)) {
            errors[i] = kube::api_error(*response, entry.id.describe());
        } else {
            entry.live = model::parse_json(response->body);
        }
    });
    for (auto& error : errors) {
        if (error) return fail(std::move(*error));
    }
    for (const auto& entry : entries) {
        if (!entry.live) {
            report.live.push_back({.id = entry.id, .drift = DriftClass::deleted});
            continue;
        }
        if (!entry.suspect) continue;
        for (auto& drifted : compare_live(entry.id, *entry.desired, *entry.live)) report.live.push_back(std::move(drifted));
    }
    if (manifests != nullptr) {
        auto undeployed = compare_with_git(discovery, options.target, *manifests, *objects);
        if (!undeployed) return fail(undeployed.error());
        report.undeployed = std::move(*undeployed);
    }
    return report;
}

}  // namespace minicd::deploy
