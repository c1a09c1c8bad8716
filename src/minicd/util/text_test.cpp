#include "minicd/util/text.hpp"

#include <gtest/gtest.h>

#include "minicd/model/object.hpp"

namespace minicd::util {
namespace {

// "é" is two bytes, "€" three, "😀" four.
constexpr std::string_view k_mixed = "ab\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";

TEST(Utf8Prefix, NeverSplitsAMultiByteCharacter) {
    EXPECT_EQ(utf8_prefix(k_mixed, 2), "ab");
    EXPECT_EQ(utf8_prefix(k_mixed, 3), "ab");  // would cut "é" in half
    EXPECT_EQ(utf8_prefix(k_mixed, 4), "ab\xC3\xA9");
    EXPECT_EQ(utf8_prefix(k_mixed, 6), "ab\xC3\xA9");  // would cut "€" after two of its three bytes
    EXPECT_EQ(utf8_prefix(k_mixed, 7), "ab\xC3\xA9\xE2\x82\xAC");
    EXPECT_EQ(utf8_prefix(k_mixed, 10), "ab\xC3\xA9\xE2\x82\xAC");  // three of the emoji's four bytes
    EXPECT_EQ(utf8_prefix(k_mixed, 11), "ab\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    EXPECT_EQ(utf8_prefix(k_mixed, 100), k_mixed);
    EXPECT_EQ(utf8_prefix("\xC3\xA9", 1), "");
    EXPECT_EQ(utf8_prefix("", 0), "");
}

TEST(Utf8Prefix, TextThatIsNotUtf8IsCutWhereAsked) {
    const std::string_view stray = "\x80\x80\x80\x80\x80\x80";
    EXPECT_EQ(utf8_prefix(stray, 5), stray.substr(0, 5));
}

TEST(Utf8Suffix, NeverStartsInsideAMultiByteCharacter) {
    EXPECT_EQ(utf8_suffix(k_mixed, 1), "z");
    EXPECT_EQ(utf8_suffix(k_mixed, 4), "z");  // would start after the emoji's first byte
    EXPECT_EQ(utf8_suffix(k_mixed, 5), "\xF0\x9F\x98\x80z");
    EXPECT_EQ(utf8_suffix(k_mixed, 7), "\xF0\x9F\x98\x80z");  // would start inside the "€"
    EXPECT_EQ(utf8_suffix(k_mixed, 8), "\xE2\x82\xAC\xF0\x9F\x98\x80z");
    EXPECT_EQ(utf8_suffix(k_mixed, 9), "\xE2\x82\xAC\xF0\x9F\x98\x80z");  // would start inside the "é"
    EXPECT_EQ(utf8_suffix(k_mixed, 100), k_mixed);
    EXPECT_EQ(utf8_suffix("\xC3\xA9", 1), "");
    EXPECT_EQ(utf8_suffix("", 0), "");
    const std::string_view stray = "\x80\x80\x80\x80\x80\x80";
    EXPECT_EQ(utf8_suffix(stray, 5), stray.substr(1)) << "not UTF-8: cut where asked";
}

TEST(ShortenUtf8, CutValuesStayDumpableAsJson) {
    // A value of repeated "é" cut at every length must give text nlohmann can dump (it throws on a
    // split sequence), and never be longer than asked.
    std::string value;
    for (int i = 0; i < 100; ++i) value += "\xC3\xA9";
    for (std::size_t max = 0; max < 40; ++max) {
        std::string shown = shorten_utf8(value, max);
        EXPECT_LE(shown.size(), max);
        EXPECT_NO_THROW((void)model::Json(shown).dump()) << max;
    }
}

TEST(ShortenUtf8, MarksTheCutWithDotsWithinTheLimit) {
    EXPECT_EQ(shorten_utf8("short", 10), "short");
    EXPECT_EQ(shorten_utf8("exactly10!", 10), "exactly10!");
    EXPECT_EQ(shorten_utf8("abcdefghijk", 10), "abcdefg...");
    EXPECT_EQ(shorten_utf8("abcd\xE2\x82\xAC" "efgh", 8), "abcd...");
    EXPECT_EQ(shorten_utf8("abcdef", 3), "abc");
}

TEST(FindInvalidUtf8, AcceptsEveryLengthOfSequence) {
    EXPECT_EQ(find_invalid_utf8(""), std::nullopt);
    EXPECT_EQ(find_invalid_utf8("plain ASCII\n"), std::nullopt);
    EXPECT_EQ(find_invalid_utf8("\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"), std::nullopt);
}

TEST(FindInvalidUtf8, GivesTheOffsetOfTheFirstBadSequence) {
    EXPECT_EQ(find_invalid_utf8("ab\x98"), 2u);                // a continuation byte without a lead
    EXPECT_EQ(find_invalid_utf8("a\xC5\xC5"), 1u);            // a lead byte without its continuation
    EXPECT_EQ(find_invalid_utf8("\xE2\x82"), 0u);             // cut short by the end
    EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);             // overlong "/"
    EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);       // a surrogate
    EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);   // past U+10FFFF
    EXPECT_EQ(find_invalid_utf8("\xFF"), 0u);
}

TEST(PositionAt, CountsLinesAndCharacters) {
    const std::string_view text = "{\n  \"k\xC3\xA9y\": x\n}";
    EXPECT_EQ(position_at(text, 0).line, 1U);
    EXPECT_EQ(position_at(text, 0).column, 1U);
    const std::size_t x = text.find('x');
    EXPECT_EQ(position_at(text, x).line, 2U);
    EXPECT_EQ(position_at(text, x).column, 10U);  // "é" is one column though two bytes
    EXPECT_EQ(position_at(text, text.size() + 5).line, 3U);
    EXPECT_EQ(position_at(text, text.size() + 5).column, 2U);
}

}  // namespace
}  // namespace minicd::util
