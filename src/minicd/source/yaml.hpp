#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::source {

// Where a node was written: 1-based line and column in its file.
struct SourceMark {
    int line = 0;
    int column = 0;
};

// Where one node was written. `key` is where a mapping member's key starts; for a sequence item
// or the root it equals `value`.
struct NodePosition {
    SourceMark key;
    SourceMark value;
};

// JSON pointer (RFC 6901, "" for the root) -> where that node was written. Nodes inside a value
// copied by an alias or merged in by `<<` are not listed (look up the nearest listed ancestor);
// a JSON stream lists only its roots.
using PositionTable = std::unordered_map<std::string, NodePosition>;

// One document of a YAML stream, converted to JSON.
struct YamlDocument {
    model::Json value;        // null for an empty document
    int line = 0;             // 1-based line of the document's first node in its file (where its text starts when empty)
    PositionTable positions;  // empty unless YamlOptions::record_positions
};

// A key as one reference token of the JSON pointers in a PositionTable (`~` and `/` escaped).
std::string pointer_token(std::string_view key);

struct YamlOptions {
    // A string per node: worth it for files people edit by hand and want errors pointed into.
    bool record_positions = false;
};

// Parses a multi-document YAML (or JSON) stream into JSON values with the scalar rules the
// Kubernetes API machinery applies (YAML 1.1 resolution as go-yaml v2 does, then JSON): plain
// yes/no/on/off/y/n are booleans, quoted scalars are strings, 0755 is octal, keys become strings.
// Documents are cut at `---` lines as apimachinery's YAMLReader does; text starting with `{` or
// `[` is a stream of JSON values instead. Stricter than kubectl on purpose: duplicate keys,
// !!binary and content after a `...` marker are errors rather than silently dropped.
// Errors are ErrorCode::input with subject "file:line" (duplicate keys, bad syntax, null keys,
// values JSON cannot hold such as .inf).
Result<std::vector<YamlDocument>> parse_yaml(std::string_view text, std::string_view file, YamlOptions options = {});

}  // namespace minicd::source
