#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::source {

// One document of a YAML stream, converted to JSON.
struct YamlDocument {
    model::Json value;  // null for an empty document
    int line = 0;       // 1-based line of the document's first node in its file (where its text starts when empty)
};

// Parses a multi-document YAML (or JSON) stream into JSON values with the scalar rules the
// Kubernetes API machinery applies (YAML 1.1 resolution as go-yaml v2 does, then JSON): plain
// yes/no/on/off/y/n are booleans, quoted scalars are strings, 0755 is octal, keys become strings.
// Documents are cut at `---` lines as apimachinery's YAMLReader does; text starting with `{` or
// `[` is a stream of JSON values instead. Stricter than kubectl on purpose: duplicate keys,
// !!binary and content after a `...` marker are errors rather than silently dropped.
// Errors are ErrorCode::input with subject "file:line" (duplicate keys, bad syntax, null keys,
// values JSON cannot hold such as .inf).
Result<std::vector<YamlDocument>> parse_yaml(std::string_view text, std::string_view file);

}  // namespace minicd::source
