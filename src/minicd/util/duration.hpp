#pragma once

#include <chrono>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::util {

// The longest duration parse_duration accepts: 100 years. Far beyond any timeout or retention, yet
// small enough that now() plus it still fits the nanosecond clocks (they end in 2262).
inline constexpr std::chrono::milliseconds k_max_duration = std::chrono::hours(24) * 36'500;

// Parses Go-style durations as kubectl accepts them: "90s", "5m", "1h30m", "250ms"; a bare number is seconds.
// Days ("7d") are accepted too, for retention periods such as a preview's ttl.
// Anything longer than k_max_duration, in total or in one part, is a usage error saying so.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace minicd::util
