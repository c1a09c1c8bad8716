#include "minicd/util/duration.hpp"

#include <gtest/gtest.h>

namespace minicd::util {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesGoStyleUnitsAndBareSeconds) {
    EXPECT_EQ(parse_duration("90s").value(), 90s);
    EXPECT_EQ(parse_duration("5m").value(), 5min);
    EXPECT_EQ(parse_duration("1h30m").value(), 90min);
    EXPECT_EQ(parse_duration("250ms").value(), 250ms);
    EXPECT_EQ(parse_duration("42").value(), 42s);
    EXPECT_EQ(parse_duration("7d").value(), 7 * 24h);
    EXPECT_EQ(parse_duration("1d12h").value(), 36h);
}

TEST(Duration, RejectsWhatItCannotRead) {
    for (const char* text : {"", "m", "5x", "1.5s", "-3s", "s5"}) {
        auto parsed = parse_duration(text);
        EXPECT_FALSE(parsed) << text;
        if (!parsed) {
            EXPECT_EQ(parsed.error().code, ErrorCode::usage);
        }
    }
}

}  // namespace
}  // namespace minicd::util
