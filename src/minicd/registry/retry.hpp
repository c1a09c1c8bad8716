#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

namespace minicd::registry {

// How often and how patiently a registry request is repeated after 429, 5xx or a failed connection.
struct RetryPolicy {
    int max_attempts = 5;  // in total, the first one included; 1 turns retries off
    std::chrono::milliseconds initial_backoff{250};
    std::chrono::milliseconds max_backoff{8'000};
    // A registry's Retry-After is honoured up to this; a longer one would stall a CI job for too long.
    std::chrono::milliseconds max_retry_after{60'000};
    // Waits between attempts; empty: really sleep. Tests record the delays and return at once.
    std::function<void(std::chrono::milliseconds)> sleep;
};

// 429 and the 5xx answers a proxy or an overloaded registry gives; other statuses will not change.
bool is_retryable_status(long status);

// Retry-After as delta-seconds or an HTTP-date (RFC 9110); nullopt when it is neither.
// A date in the past is zero.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

// The wait before the attempt after `attempt` (counted from 1) failed: the server's Retry-After when
// given (capped), otherwise exponential backoff from initial_backoff, capped at max_backoff, scaled
// by `jitter` in [0, 1] into the upper half of the step so parallel clients spread out.
std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      std::optional<std::chrono::milliseconds> retry_after, double jitter);

// A uniformly random jitter in [0, 1].
double random_jitter();

// Sleeps through the policy's sleep function, or really.
void wait(const RetryPolicy& policy, std::chrono::milliseconds delay);

}  // namespace minicd::registry
