#include "minicd/diff/diff.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "minicd/model/json_read.hpp"
#include "minicd/util/text.hpp"

namespace minicd::diff {

namespace {

using model::Json;

constexpr std::size_t k_max_value_chars = 120;
constexpr std::string_view k_hidden = "(hidden)";
// kubectl's client-side apply keeps a full copy of the object here, Secret data included.
constexpr std::string_view k_last_applied = "kubectl.kubernetes.io/last-applied-configuration";

bool plain_key(std::string_view key) {
    return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

std::string child_path(const std::string& parent, std::string_view key) {
    if (plain_key(key)) return parent.empty() ? std::string(key) : parent + "." + std::string(key);
    return parent + "[" + Json(std::string(key)).dump() + "]";
}

std::string shown(const Json& value) {
    // Cut at a character boundary, so the shown value is still valid UTF-8 (JSON output dumps it).
    return util::shorten_utf8(value.dump(-1, ' ', false, Json::error_handler_t::replace), k_max_value_chars);
}

// Lists whose items all carry a distinct string `name` are compared item by item by that name, so
// inserting a container does not read as every later container changing.
bool keyed_by_name(const Json& list) {
    std::set<std::string> names;
    for (const auto& item : list) {
        auto name = item.is_object() ? item.find("name") : item.end();
        if (!item.is_object() || name == item.end() || !name->is_string()) return false;
        if (!names.insert(name->get<std::string>()).second) return false;
    }
    return true;
}

bool all_scalars(const Json& list) {
    return std::none_of(list.begin(), list.end(), [](const Json& item) { return item.is_structured(); });
}

class Comparer {
public:
    explicit Comparer(bool secret) : m_secret(secret) {}

    void object_members(const std::string& path, const Json& before, const Json& after) {
        for (const auto& [key, value] : before.items()) {
            auto other = after.find(key);
            if (other == after.end()) {
                removed(child_path(path, key), value);
            } else {
                compare(child_path(path, key), value, *other);
            }
        }
        for (const auto& [key, value] : after.items()) {
            if (!before.contains(key)) added(child_path(path, key), value);
        }
    }

    void compare(const std::string& path, const Json& before, const Json& after) {
        if (before == after) return;
        if (hidden(path) || (holds_secret_values(path) && !(before.is_object() && after.is_object()))) {
            changed(path, before, after);
        } else if (before.is_object() && after.is_object()) {
            object_members(path, before, after);
        } else if (before.is_array() && after.is_array() && !(all_scalars(before) && all_scalars(after))) {
            list_items(path, before, after);
        } else {
            changed(path, before, after);
        }
    }

    std::vector<FieldChange> take() { return std::move(m_changes); }

private:
    void list_items(const std::string& path, const Json& before, const Json& after) {
        if (keyed_by_name(before) && keyed_by_name(after)) {
            auto find = [](const Json& list, const Json& name) {
                return std::find_if(list.begin(), list.end(), [&](const Json& item) { return item["name"] == name; });
            };
            for (const auto& item : before) {
                std::string item_path = path + "[name=" + item["name"].get<std::string>() + "]";
                auto other = find(after, item["name"]);
                if (other == after.end()) {
                    removed(item_path, item);
                } else {
                    compare(item_path, item, *other);
                }
            }
            for (const auto& item : after) {
                if (find(before, item["name"]) == before.end()) {
                    added(path + "[name=" + item["name"].get<std::string>() + "]", item);
                }
            }
            return;
        }
        const std::size_t common = std::min(before.size(), after.size());
        for (std::size_t i = 0; i < common; ++i) compare(fmt::format("{}[{}]", path, i), before[i], after[i]);
        for (std::size_t i = common; i < before.size(); ++i) removed(fmt::format("{}[{}]", path, i), before[i]);
        for (std::size_t i = common; i < after.size(); ++i) added(fmt::format("{}[{}]", path, i), after[i]);
    }

    // Inside a Secret: the values under data and stringData (their keys are not secret and say
    // what changed), and kubectl's copy of the whole object.
    bool hidden(const std::string& path) const {
        if (!m_secret) return false;
        auto inside = [&](std::string_view root) {
            return path.starts_with(std::string(root) + ".") || path.starts_with(std::string(root) + "[");
        };
        return inside("data") || inside("stringData") || path == child_path("metadata.annotations", k_last_applied);
    }

    bool holds_secret_values(const std::string& path) const {
        return m_secret && (path == "data" || path == "stringData");
    }

    std::string value_text(const std::string& path, const Json& value) const {
        if (hidden(path)) return std::string(k_hidden);
        if (holds_secret_values(path)) {
            if (!value.is_object()) return std::string(k_hidden);
            Json masked = Json::object();
            for (const auto& [key, ignored] : value.items()) masked[key] = k_hidden;
            return shown(masked);
        }
        return shown(value);
    }

    void added(const std::string& path, const Json& value) {
        m_changes.push_back({FieldChange::Kind::added, path, "", value_text(path, value)});
    }
    void removed(const std::string& path, const Json& value) {
        m_changes.push_back({FieldChange::Kind::removed, path, value_text(path, value), ""});
    }
    void changed(const std::string& path, const Json& before, const Json& after) {
        m_changes.push_back({FieldChange::Kind::changed, path, value_text(path, before), value_text(path, after)});
    }

    bool m_secret;
    std::vector<FieldChange> m_changes;
};

bool is_secret(const Json& object) {
    return model::string_at(object, {"kind"}) == "Secret" && model::string_at(object, {"apiVersion"}) == "v1";
}

}  // namespace

Json without_server_fields(const Json& object) {
    Json copy = object;
    if (!copy.is_object()) return copy;
    copy.erase("status");
    if (auto metadata = copy.find("metadata"); metadata != copy.end() && metadata->is_object()) {
        for (const char* field : {"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"}) {
            metadata->erase(field);
        }
    }
    return copy;
}

std::vector<FieldChange> compare(const Json& before, const Json& after) {
    Comparer comparer(is_secret(before) || is_secret(after));
    const Json empty = Json::object();
    const Json old_state = before.is_null() ? empty : without_server_fields(before);
    const Json new_state = after.is_null() ? empty : without_server_fields(after);
    if (old_state.is_object() && new_state.is_object()) {
        comparer.object_members("", old_state, new_state);
    } else {
        comparer.compare("", old_state, new_state);
    }
    return comparer.take();
}

std::string describe(const FieldChange& change) {
    const std::string& path = change.path.empty() ? std::string("(object)") : change.path;
    switch (change.kind) {
        case FieldChange::Kind::added: return fmt::format("{}: added {}", path, change.after);
        case FieldChange::Kind::removed: return fmt::format("{}: removed (was {})", path, change.before);
        case FieldChange::Kind::changed: break;
    }
    return fmt::format("{}: {} -> {}", path, change.before, change.after);
}

}  // namespace minicd::diff
