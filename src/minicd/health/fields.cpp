#include "minicd/health/fields.hpp"

#include <cctype>

#include <fmt/format.h>

#include "minicd/util/text.hpp"

namespace minicd::health {

namespace {

// Long enough for a scheduler message such as "0/12 nodes are available: ..." with its first causes,
// short enough that one object's line in a timeout report stays readable.
constexpr std::size_t k_max_message_length = 300;

}  // namespace

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
        // Cut on a UTF-8 character boundary so the log line (and JSON output) stays valid text.
        out = std::string(util::utf8_prefix(out, k_max_message_length)) + "...";
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
