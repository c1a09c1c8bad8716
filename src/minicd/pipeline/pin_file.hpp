#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

// Writing a cluster pin (`server:` and `uid:`) into an environment's `cluster:` mapping of
// minicd.yaml, leaving every other byte of the file as it was: comments, order, quoting, line endings.
namespace minicd::pipeline {

struct PinValues {
    std::string server;  // "" leaves server as it is
    std::string uid;     // "" leaves uid as it is
};

struct PinEdit {
    // The whole file with the pin written; nullopt when the layout is not one this edits (see `why`).
    std::optional<std::string> text;
    std::string why;       // why the file was not edited; "" when it was
    bool changed = false;  // text differs from the input (false: the pin was already there)
};

// Edits `environments.<environment>.cluster` when it is a block mapping of plain or quoted one-line
// scalars, or a flow mapping on one line ({context: prd}): existing server/uid values are replaced,
// missing ones added (block: as lines after the mapping's last key, at its indentation; flow: before
// the closing brace). Anything else (anchors, aliases, multi-line values, a flow mapping over
// several lines) leaves the text alone with the reason. The result is parsed again and must read
// as the input with only those values changed. Input errors: the YAML does not parse, or there is
// no such environment or its cluster is not a mapping.
Result<PinEdit> write_pin(std::string_view text, std::string_view file, std::string_view environment, const PinValues& values);

// The lines to add under the environment's `cluster:` by hand ("server: \"https://...\"", "uid: \"...\"").
std::vector<std::string> pin_lines(const PinValues& values);

}  // namespace minicd::pipeline
