// Feeds bytes to registry::parse_retry_after as the value of a Retry-After header (delta-seconds
// or an HTTP-date), and the result to registry::retry_delay. Checks that no wait is negative and
// that the policy's cap holds.

#include <chrono>

#include "fuzz_support.hpp"
#include "minicd/registry/retry.hpp"

using minicd::fuzz::require;
using namespace std::chrono_literals;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A fixed "now" (2024-01-01T00:00:00Z), so a crash reproduces whatever the date.
    const std::chrono::system_clock::time_point now{std::chrono::seconds{1'704'067'200}};
    auto after = minicd::registry::parse_retry_after(minicd::fuzz::as_text(data, size), now);
    if (!after) return 0;
    require(*after >= 0ms, "a Retry-After is not negative");
    const minicd::registry::RetryPolicy policy;
    auto delay = minicd::registry::retry_delay(policy, 1, after, 0.5);
    require(delay >= 0ms && delay <= policy.max_retry_after, "a Retry-After wait stays within the cap");
    return 0;
}
