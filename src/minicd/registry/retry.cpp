#include "minicd/registry/retry.hpp"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <thread>

namespace minicd::registry {

bool is_retryable_status(long status) {
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

namespace {

// What a Retry-After further ahead than any real wait reads as; the policy's cap applies later.
constexpr std::chrono::hours k_absurdly_long{24 * 365};

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        if (value.size() > 9) return k_absurdly_long;
        return std::chrono::seconds(std::stol(std::string(value)));
    }
    // IMF-fixdate, the only date form servers may send: "Sun, 06 Nov 1994 08:49:37 GMT".
    std::tm parts{};
    std::string text(value);
    const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    if (end == nullptr || *end != '\0') return std::nullopt;
    // Compared in whole seconds first: a date past 2262 does not fit in the clock's nanoseconds.
    const std::chrono::sys_seconds at{std::chrono::seconds(::timegm(&parts))};
    const auto ahead = at - std::chrono::floor<std::chrono::seconds>(now);
    if (ahead > k_absurdly_long) return k_absurdly_long;
    if (ahead <= std::chrono::seconds(0) || at <= now) return std::chrono::milliseconds(0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
}

std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      std::optional<std::chrono::milliseconds> retry_after, double jitter) {
    if (retry_after) return std::min(*retry_after, policy.max_retry_after);
    long long step = policy.initial_backoff.count();
    for (int i = 1; i < attempt && step < policy.max_backoff.count(); ++i) step *= 2;
    step = std::min<long long>(step, policy.max_backoff.count());
    jitter = std::clamp(jitter, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(step) * (0.5 + 0.5 * jitter)));
}

double random_jitter() {
    thread_local std::mt19937 random(std::random_device{}());
    return std::uniform_real_distribution<double>(0.0, 1.0)(random);
}

void wait(const RetryPolicy& policy, std::chrono::milliseconds delay) {
    if (policy.sleep) {
        policy.sleep(delay);
    } else {
        std::this_thread::sleep_for(delay);
    }
}

}  // namespace minicd::registry
