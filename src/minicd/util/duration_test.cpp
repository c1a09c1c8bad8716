#include "minicd/util/duration.hpp"

#include <gtest/gtest.h>

#include <string>

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

TEST(Duration, HugeNumbersAreOutOfRangeNamingTheMaximum) {
    // Each of these overflowed (or threw from std::stoll) before: bare seconds, one big part, a
    // product with the unit, and a sum of parts that fit alone.
    for (const char* text : {"99999999999999999999", "9223372036854775807", "10000000000000", "99999999999999999999s",
                             "999999999d", "2562048h", "36501d", "36500d1ms", "20000d20000d"}) {
        auto parsed = parse_duration(text);
        ASSERT_FALSE(parsed) << text;
        EXPECT_EQ(parsed.error().code, ErrorCode::usage);
        EXPECT_EQ(parsed.error().message,
                  std::string("duration \"") + text + "\" is out of range: the maximum is 36500d (about 100 years)");
    }
}

TEST(Duration, AcceptsTheMaximumExactly) {
    EXPECT_EQ(parse_duration("36500d").value(), k_max_duration);
    EXPECT_EQ(parse_duration("876000h").value(), k_max_duration);
    EXPECT_EQ(parse_duration("3153600000").value(), k_max_duration);
    EXPECT_EQ(parse_duration("36499d23h59m59s1000ms").value(), k_max_duration);
}

TEST(Duration, LongDigitStringsOfSmallValuesAreFine) {
    // Leading zeros are not magnitude; parts of more than nine digits are fine while in range.
    EXPECT_EQ(parse_duration("0000000000000000000090s").value(), 90s);
    EXPECT_EQ(parse_duration("1000000000ms").value(), 1'000'000s);
}

TEST(Duration, UnknownUnitWinsOverRange) {
    auto parsed = parse_duration("99999999999999999999x");
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().message, "invalid duration \"99999999999999999999x\" (examples: 90s, 5m, 1h30m, 7d)");
}

}  // namespace
}  // namespace minicd::util
