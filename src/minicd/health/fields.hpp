#pragma once

// Tolerant reads of live-object JSON for the health rules. A missing field, a null or a field of the
// wrong type reads as absent and never throws: objects written by odd controllers must not crash a
// deploy, they should only look "not ready yet".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "minicd/model/json_read.hpp"

namespace minicd::health {

using Path = model::JsonPath;

// The tolerant readers are model's (json_read.hpp): find_path, int_at, string_at, bool_at and
// has_elements_at, used here unqualified.
using model::bool_at;
using model::find_path;
using model::has_elements_at;
using model::int_at;
using model::string_at;

// One entry of status.conditions.
struct Condition {
    std::string status;  // "True", "False" or "Unknown" ("" when the controller left it out)
    std::string reason;
    std::string message;
    std::optional<std::int64_t> observed_generation;  // set by controllers that track it per condition

    bool is_true() const { return status == "True"; }
    bool is_false() const { return status == "False"; }
};

// The status.conditions entry of the given type, if any.
std::optional<Condition> find_condition(const model::Json& object, std::string_view type);

// Whitespace runs (multi-line controller and kubelet messages) collapsed to one space and the text cut
// at a readable length, so each message stays one line of a CI log.
std::string one_line(std::string_view text);

// "reason: message", or whichever of the two is non-empty.
std::string reason_and_message(std::string_view reason, std::string_view message);

// "1 pod", "2 pods": counts in messages read naturally.
std::string plural(std::int64_t count, std::string_view singular, std::string_view plural_form);

}  // namespace minicd::health
