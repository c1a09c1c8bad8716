#include "minicd/model/json_read.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace minicd::model {

const Json* member(const Json& json, std::string_view key) {
    if (!json.is_object()) return nullptr;
    auto found = json.find(key);
    return found == json.end() ? nullptr : &*found;
}

const Json* find_path(const Json& json, JsonPath path) {
    const Json* node = &json;
    for (std::string_view key : path) {
        node = member(*node, key);
        if (node == nullptr) return nullptr;
    }
    return node->is_null() ? nullptr : node;
}

std::string string_at(const Json& json, JsonPath path) {
    const Json* node = find_path(json, path);
    return node != nullptr && node->is_string() ? node->get<std::string>() : std::string();
}

std::optional<std::int64_t> int_at(const Json& json, JsonPath path) {
    const Json* node = find_path(json, path);
    if (node == nullptr) return std::nullopt;
    if (node->is_number_unsigned()) {
        const auto value = node->get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
        return static_cast<std::int64_t>(value);
    }
    if (node->is_number_integer()) return node->get<std::int64_t>();
    if (node->is_number_float()) {
        const double value = node->get<double>();
        // The bounds keep the conversion defined; no count or size read this way comes near them.
        if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
            return static_cast<std::int64_t>(value);
        }
    }
    return std::nullopt;
}

bool bool_at(const Json& json, JsonPath path) {
    const Json* node = find_path(json, path);
    return node != nullptr && node->is_boolean() && node->get<bool>();
}

const Json* object_at(const Json& json, JsonPath path) {
    const Json* node = find_path(json, path);
    return node != nullptr && node->is_object() ? node : nullptr;
}

const Json* array_at(const Json& json, JsonPath path) {
    const Json* node = find_path(json, path);
    return node != nullptr && node->is_array() ? node : nullptr;
}

bool has_elements_at(const Json& json, JsonPath path) {
    const Json* node = find_path(json, path);
    return node != nullptr && (node->is_array() || node->is_object()) && !node->empty();
}

std::size_t json_depth(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;  // the escaped character, a quote included, does not end the string
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > limit) return deepest;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

Result<Json> read_json(std::string_view text) {
    // nlohmann parses without recursion but has no depth limit; what it builds is walked recursively.
    if (json_depth(text) > k_max_json_depth) {
        return fail(util::ErrorCode::api, fmt::format("nested deeper than {} levels", k_max_json_depth));
    }
    Json value = Json::parse(text, nullptr, false);
    if (value.is_discarded()) return fail(util::ErrorCode::api, "not valid JSON");
    return value;
}

Json parse_json(std::string_view text) {
    auto value = read_json(text);
    return value ? std::move(*value) : Json(Json::value_t::discarded);
}

}  // namespace minicd::model
