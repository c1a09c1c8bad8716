#include "minicd/health/fields.hpp"

#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace minicd::health {

namespace {

// Long enough for a scheduler message such as "0/12 nodes are available: ..." with its first causes,
// short enough that one object's line in a timeout report stays readable.
constexpr std::size_t k_max_message_length = 300;

}  // namespace

const model::Json* find_path(const model::Json& json, Path path) {
    const model::Json* node = &json;
    for (std::string_view key : path) {
        if (!node->is_object()) {
            return nullptr;
        }
        auto it = node->find(key);
        if (it == node->end()) {
            return nullptr;
        }
        node = &*it;
    }
    return node->is_null() ? nullptr : node;
}

std::optional<std::int64_t> int_at(const model::Json& json, Path path) {
    const model::Json* node = find_path(json, path);
    if (node == nullptr) {
        return std::nullopt;
    }
    if (node->is_number_unsigned()) {
        auto value = node->get<std::uint64_t>();
        if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return std::nullopt;
        }
        return static_cast<std::int64_t>(value);
    }
    if (node->is_number_integer()) {
        return node->get<std::int64_t>();
    }
    if (node->is_number_float()) {
        double value = node->get<double>();
        // The bounds keep the conversion defined; no replica count comes anywhere near them.
        if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
            return static_cast<std::int64_t>(value);
        }
    }
    return std::nullopt;
}

std::string string_at(const model::Json& json, Path path) {
    const model::Json* node = find_path(json, path);
    return node != nullptr && node->is_string() ? node->get<std::string>() : std::string();
}

bool bool_at(const model::Json& json, Path path) {
    const model::Json* node = find_path(json, path);
    return node != nullptr && node->is_boolean() && node->get<bool>();
}

bool has_elements_at(const model::Json& json, Path path) {
    const model::Json* node = find_path(json, path);
    return node != nullptr && (node->is_array() || node->is_object()) && !node->empty();
}

std::optional<Condition> find_condition(const model::Json& object, std::string_view type) {
    const model::Json* conditions = find_path(object, {"status", "conditions"});
    if (conditions == nullptr || !conditions->is_array()) {
        return std::nullopt;
    }
    for (const model::Json& entry : *conditions) {
        if (string_at(entry, {"type"}) != type) {
            continue;
        }
        return Condition{
            .status = string_at(entry, {"status"}),
            .reason = string_at(entry, {"reason"}),
            .message = string_at(entry, {"message"}),
            .observed_generation = int_at(entry, {"observedGeneration"}),
        };
    }
    return std::nullopt;
}

std::string one_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool pending_space = false;
    for (char c : text) {
        if (std::isspace(static_cast<unsigned char>(c)) != 0) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out.push_back(' ');
            pending_space = false;
        }
        out.push_back(c);
    }
    if (out.size() > k_max_message_length) {
        // Cut on a UTF-8 character boundary so the log line stays valid text.
        std::size_t cut = k_max_message_length;
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0U) == 0x80U) {
            --cut;
        }
        out.resize(cut);
        out += "...";
    }
    return out;
}

std::string reason_and_message(std::string_view reason, std::string_view message) {
    if (reason.empty()) {
        return std::string(message);
    }
    if (message.empty()) {
        return std::string(reason);
    }
    return fmt::format("{}: {}", reason, message);
}

std::string plural(std::int64_t count, std::string_view singular, std::string_view plural_form) {
    return fmt::format("{} {}", count, count == 1 ? singular : plural_form);
}

}  // namespace minicd::health
