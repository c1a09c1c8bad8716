#pragma once

// Reads of JSON that came from outside (API server, registries, stored records, helpers): nothing
// here throws. nlohmann's own accessors do: value("k", default) throws type_error when "k" holds
// another type, operator[] on a const value of unknown shape is undefined, at() throws on absence.
// A missing member, a null, or a member of the wrong type reads as absent instead.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::model {

// Object keys from the outside in: {"metadata", "annotations"}.
using JsonPath = std::initializer_list<std::string_view>;

// How deeply arrays and objects may nest in JSON (and YAML) that minicd reads. Real objects stay
// far below it (the deepest CRD schemas reach a few dozen levels); recursive code over JSON (dump,
// copies, comparison, diff) overflowed an 8 MiB thread stack at about 4000 levels under ASan.
inline constexpr std::size_t k_max_json_depth = 512;

// The member `key` of `json`; nullptr when `json` is not an object or has no such member (a null
// member is returned: some callers tell "set to null" from "absent").
const Json* member(const Json& json, std::string_view key);

// The node at `path`; nullptr when a step is missing or not an object, or the node is null.
const Json* find_path(const Json& json, JsonPath path);

// The string at `path`; "" when missing or not a string.
std::string string_at(const Json& json, JsonPath path);

// An integer at `path`; floats with an integral value count (YAML tools sometimes write `3.0`);
// nullopt when missing, not a number, or beyond int64.
std::optional<std::int64_t> int_at(const Json& json, JsonPath path);

// True only for a JSON `true` at `path`.
bool bool_at(const Json& json, JsonPath path);

// The object at `path`, or nullptr when it is missing or not an object.
const Json* object_at(const Json& json, JsonPath path);

// The array at `path`, or nullptr when it is missing or not an array.
const Json* array_at(const Json& json, JsonPath path);

// True when `path` holds an array or object with at least one element.
bool has_elements_at(const Json& json, JsonPath path);

// The nesting depth of the JSON text: 0 for a scalar, 1 for [] or {}, counting brackets outside
// strings. Stops counting past `limit` (returns limit + 1), so it costs one pass at most.
std::size_t json_depth(std::string_view text, std::size_t limit = k_max_json_depth);

// The JSON value of `text`; else an api error whose message completes "it is ...": "not valid JSON",
// or "nested deeper than 512 levels" (k_max_json_depth; no real object is). Callers add the subject.
Result<Json> read_json(std::string_view text);

// read_json for callers that only tell JSON from not: a discarded value (is_discarded()) on failure.
Json parse_json(std::string_view text);

}  // namespace minicd::model
