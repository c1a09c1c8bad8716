#include "minicd/deploy/changes.hpp"

#include <fmt/format.h>

#include "minicd/diff/diff.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::deploy {

namespace {

using model::Json;

bool owns(const Json& desired, const Json& fields);

}  // namespace

const Json* find_keyed_item(const Json& item, const Json& fields) {
    for (const auto& [key, child] : fields.items()) {
        if (!key.starts_with("k:")) continue;
        Json keys = model::parse_json(std::string_view(key).substr(2));
        if (!keys.is_object()) continue;
        bool any_present = false;
        bool all_agree = true;
        for (const auto& [name, value] : keys.items()) {
            auto it = item.find(name);
            if (it == item.end()) continue;
            any_present = true;
            all_agree = all_agree && *it == value;
        }
        if (any_present && all_agree) return &child;
    }
    return nullptr;
}

namespace {

bool owns_list(const Json& desired, const Json& fields) {
    bool has_items = false;
    for (const auto& [key, child] : fields.items()) {
        if (key.starts_with("k:") || key.starts_with("v:") || key.starts_with("i:")) {
            has_items = true;
            break;
        }
    }
    // No per-item entries: an atomic list, owned as a whole.
    if (!has_items) return true;
    for (std::size_t index = 0; index < desired.size(); ++index) {
        const Json& item = desired[index];
        const Json* child = nullptr;
        if (item.is_object()) child = find_keyed_item(item, fields);
        if (child == nullptr) {
            if (auto it = fields.find("v:" + item.dump()); it != fields.end()) child = &*it;
        }
        if (child == nullptr) {
            if (auto it = fields.find("i:" + std::to_string(index)); it != fields.end()) child = &*it;
        }
        if (child == nullptr || !owns(item, *child)) return false;
    }
    return true;
}

bool owns(const Json& desired, const Json& fields) {
    if (desired.is_object()) {
        // An entry without children is an atomic map (e.g. a Deployment's selector), owned whole.
        if (fields.empty()) return true;
        for (const auto& [key, value] : desired.items()) {
            auto child = fields.find("f:" + key);
            if (child == fields.end()) return false;
            if (!owns(value, *child)) return false;
        }
        return true;
    }
    if (desired.is_array()) return owns_list(desired, fields);
    return true;  // a scalar: its entry exists, which is all ownership says
}

}  // namespace

bool owns_all_fields(const Json& live, const Json& desired, std::string_view manager) {
    const Json* managed = model::array_at(live, {"metadata", "managedFields"});
    if (managed == nullptr || !desired.is_object()) return false;
    Json checked = desired;
    // Identity fields are not tracked in managedFields.
    checked.erase("apiVersion");
    checked.erase("kind");
    checked.erase("status");
    if (auto metadata = checked.find("metadata"); metadata != checked.end() && metadata->is_object()) {
        metadata->erase("name");
        metadata->erase("namespace");
    }
    for (const auto& entry : *managed) {
        if (!entry.is_object()) continue;
        if (model::string_at(entry, {"manager"}) != manager || model::string_at(entry, {"operation"}) != "Apply") continue;
        if (entry.contains("subresource")) continue;
        auto fields = entry.find("fieldsV1");
        if (fields == entry.end() || !fields->is_object()) return false;
        return owns(checked, *fields);
    }
    return false;
}

std::string replicas_scaled_by(const Json& live, std::string_view manager) {
    const Json* managed = model::array_at(live, {"metadata", "managedFields"});
    if (managed == nullptr) return "";
    for (const auto& entry : *managed) {
        if (!entry.is_object()) continue;
        const auto subresource = entry.find("subresource");
        const auto name = entry.find("manager");
        const auto fields = entry.find("fieldsV1");
        if (subresource == entry.end() || *subresource != "scale" || name == entry.end() || !name->is_string()) continue;
        if (*name == manager || fields == entry.end() || !fields->is_object()) continue;
        const auto spec = fields->find("f:spec");
        if (spec != fields->end() && spec->is_object() && spec->contains("f:replicas")) return name->get<std::string>();
    }
    return "";
}

bool is_secret(const model::ObjectId& id) { return id.group.empty() && id.kind == "Secret"; }

bool holds_what_it_applied(const model::ObjectId& id, const Json& live, const Json& desired, std::string_view manager) {
    if (!owns_all_fields(live, desired, manager)) return false;
    const Json* data = model::member(live, "data");
    return !is_secret(id) || secret_data(desired) == (data != nullptr ? *data : Json::object());
}

Json secret_data(const Json& secret) {
    Json data = secret.contains("data") && secret["data"].is_object() ? secret["data"] : Json::object();
    if (secret.contains("stringData") && secret["stringData"].is_object()) {
        for (const auto& [key, value] : secret["stringData"].items()) {
            if (value.is_string()) data[key] = util::base64_encode(value.get_ref<const std::string&>());
        }
    }
    return data;
}

std::vector<model::FieldChange> visible_changes(const Json& before, const Json& after) {
    auto changes = diff::compare(before, after);
    const std::string hash_path = fmt::format("metadata.annotations[{}]", Json(std::string(render::k_hash_annotation)).dump());
    std::erase_if(changes, [&](const model::FieldChange& change) { return change.path == hash_path; });
    return changes;
}

bool same_state(const Json& a, const Json& b) { return diff::without_server_fields(a) == diff::without_server_fields(b); }

}  // namespace minicd::deploy
