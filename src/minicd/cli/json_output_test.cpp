#include "minicd/cli/json_output.hpp"

#include <gtest/gtest.h>

namespace minicd::cli {
namespace {

TEST(JsonOutput, TextThatIsNotUtf8IsReplacedRatherThanFailingTheReport) {
    // What a builder's stderr, quoted in an error, may hold: Latin-1 and a character cut in half.
    const model::Json report = {{"outcome", "failed"}, {"error", "caf\xe9 \xe2\x82"}};
    std::string text;
    ASSERT_NO_THROW(text = json_text(report));
    const model::Json back = model::Json::parse(text);
    EXPECT_EQ(back["error"], "caf\ufffd \ufffd") << "each broken sequence becomes U+FFFD";
    EXPECT_EQ(back["outcome"], "failed");
}

TEST(JsonOutput, ValidTextIsPrintedAsIs) {
    EXPECT_EQ(json_text({{"message", "caf\u00e9 \u2192 ok"}, {"n", 1}}),
              "{\n  \"message\": \"caf\u00e9 \u2192 ok\",\n  \"n\": 1\n}");
}

}  // namespace
}  // namespace minicd::cli
