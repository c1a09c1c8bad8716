#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace minicd::source {

// The tag a scalar carries, reduced to what decides its value. `implicit` is an untagged plain
// scalar: only those go through YAML 1.1 resolution; untagged quoted and block scalars are `str`.
enum class ScalarTag {
    implicit,
    str,
    boolean,    // !!bool
    integer,    // !!int
    floating,   // !!float
    null,       // !!null
    timestamp,  // !!timestamp
    binary,     // !!binary
    merge,      // !!merge
    other,      // "!" or any local or unknown tag: the text stays a string, as go-yaml v2 does
};

// Maps a full tag ("tag:yaml.org,2002:int", "!foo") to the ScalarTag that governs the value.
ScalarTag classify_tag(std::string_view tag);

// A scalar's value after YAML 1.1 resolution. For `string` the value is the scalar's own text.
struct ScalarValue {
    enum class Kind { null, boolean, integer, unsigned_integer, floating, string };
    Kind kind = Kind::string;
    bool boolean = false;
    std::int64_t integer = 0;
    std::uint64_t unsigned_integer = 0;  // only above INT64_MAX; smaller values are `integer`
    double floating = 0.0;               // may be infinite or NaN (`.inf`, `.nan`)
};

// Resolves a scalar the way go-yaml v2 `resolve` does: the bool/null/inf/nan table, Go base-0
// integers with `_` removed, int64 then uint64 then float64, timestamps kept as strings.
// An explicit tag that does not match the text is an error ("cannot decode !!str `x` as a !!int").
tl::expected<ScalarValue, std::string> resolve_scalar(std::string_view text, ScalarTag tag);

// The JSON object key sigs.k8s.io/yaml makes of a resolved key: bools "true"/"false", integers
// in decimal, floats as Go's FormatFloat(f, 'g', -1, 32). Null and uint64 keys are errors there.
tl::expected<std::string, std::string> scalar_key(const ScalarValue& value, std::string_view text);

// Go's strconv.FormatFloat(value, 'g', -1, 32), with go-yaml's ".inf", "-.inf" and ".nan".
std::string format_float32_key(double value);

}  // namespace minicd::source
