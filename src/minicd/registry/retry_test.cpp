#include "minicd/registry/retry.hpp"

#include <gtest/gtest.h>

namespace minicd::registry {
namespace {

using namespace std::chrono_literals;

TEST(RetryPolicy, RetriesThrottlingAndServerErrorsOnly) {
    for (long status : {429L, 500L, 502L, 503L, 504L}) EXPECT_TRUE(is_retryable_status(status)) << status;
    for (long status : {200L, 201L, 400L, 401L, 403L, 404L, 405L, 409L, 501L}) EXPECT_FALSE(is_retryable_status(status)) << status;
}

TEST(RetryPolicy, BacksOffExponentiallyWithJitterUpToTheCap) {
    RetryPolicy policy{.max_attempts = 10, .initial_backoff = 100ms, .max_backoff = 1000ms};
    EXPECT_EQ(retry_delay(policy, 1, std::nullopt, 1.0), 100ms);
    EXPECT_EQ(retry_delay(policy, 2, std::nullopt, 1.0), 200ms);
    EXPECT_EQ(retry_delay(policy, 3, std::nullopt, 1.0), 400ms);
    EXPECT_EQ(retry_delay(policy, 5, std::nullopt, 1.0), 1000ms);
    EXPECT_EQ(retry_delay(policy, 60, std::nullopt, 1.0), 1000ms);
    // Jitter keeps the wait within the upper half of the step.
    EXPECT_EQ(retry_delay(policy, 3, std::nullopt, 0.0), 200ms);
    EXPECT_EQ(retry_delay(policy, 3, std::nullopt, 0.5), 300ms);
    for (int i = 0; i < 100; ++i) {
        double jitter = random_jitter();
        EXPECT_GE(jitter, 0.0);
        EXPECT_LE(jitter, 1.0);
    }
}

TEST(RetryPolicy, RetryAfterWinsButIsCapped) {
    RetryPolicy policy{.max_attempts = 3, .initial_backoff = 100ms, .max_backoff = 1000ms, .max_retry_after = 30s};
    EXPECT_EQ(retry_delay(policy, 1, 7s, 0.3), 7s);
    EXPECT_EQ(retry_delay(policy, 1, 3600s, 0.3), 30s);
    EXPECT_EQ(retry_delay(policy, 1, 0ms, 0.3), 0ms);
}

TEST(RetryAfter, ParsesSecondsAndHttpDates) {
    auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
    EXPECT_EQ(parse_retry_after("120", now), 120s);
    EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), 30s);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), 0ms);
    EXPECT_EQ(parse_retry_after("", now), std::nullopt);
    EXPECT_EQ(parse_retry_after("-5", now), std::nullopt);
    EXPECT_EQ(parse_retry_after("soon", now), std::nullopt);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT trailing", now), std::nullopt);
}

// Past 2262 a date does not fit in system_clock's nanoseconds; such a date is just very far ahead.
TEST(RetryAfter, DatesCenturiesAheadOrBehindAreFarAheadOrPast) {
    auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 3988 08:50:07 GMT", now), std::chrono::hours(24 * 365));
    EXPECT_EQ(parse_retry_after("Mon, 06 Nov 1995 08:49:37 GMT", now), std::chrono::hours(24 * 365));
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 0100 08:50:07 GMT", now), 0ms);
    EXPECT_EQ(retry_delay(RetryPolicy{}, 1, parse_retry_after("Sun, 06 Nov 3988 08:50:07 GMT", now), 0.5), 60s);
}

TEST(RetryPolicy, WaitUsesTheInjectedSleep) {
    std::vector<std::chrono::milliseconds> slept;
    RetryPolicy policy{.sleep = [&](std::chrono::milliseconds d) { slept.push_back(d); }};
    wait(policy, 1234ms);
    ASSERT_EQ(slept.size(), 1u);
    EXPECT_EQ(slept[0], 1234ms);
}

}  // namespace
}  // namespace minicd::registry
