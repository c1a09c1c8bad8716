#pragma once

#include <chrono>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::util {

// Parses Go-style durations as kubectl accepts them: "90s", "5m", "1h30m", "250ms"; a bare number is seconds.
// Days ("7d") are accepted too, for retention periods such as a preview's ttl.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace minicd::util
