#include "minicd/model/credential_json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace minicd::model {
namespace {

constexpr std::string_view k_secret = "s3cret-DO-NOT-PRINT";

TEST(CredentialJson, SyntaxErrorsGiveLineColumnAndFixedWordsOnly) {
    const std::string text = "{\n  \"token\": \"" + std::string(k_secret) + "\n\"}";
    auto parsed = parse_credential_json(text);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, util::ErrorCode::input);
    EXPECT_EQ(parsed.error().subject, "");
    EXPECT_EQ(parsed.error().message,
              "line 2, column 32: a string holds a raw control character such as a line break; it must be escaped");

    const std::pair<std::string, std::string_view> cases[] = {
        {"{\"token\": " + std::string(k_secret) + "}", "a bare word that is not true, false or null"},
        {"{\"token\": \"" + std::string(k_secret), "a string has no closing quote"},
        {"{\"token\": \"x\"} \"" + std::string(k_secret) + "\"", "more text follows the JSON value"},
        {"{\"token\": \"x\", \"n\": 1e400}", "a number is too large"},
    };
    for (const auto& [bad, says] : cases) {
        auto refused = parse_credential_json(bad);
        ASSERT_FALSE(refused) << says;
        EXPECT_NE(refused.error().message.find(says), std::string::npos) << refused.error().message;
        EXPECT_EQ(refused.error().describe().find("DO-NOT-PRINT"), std::string::npos) << refused.error().describe();
    }
}

TEST(CredentialJson, ValidTextParses) {
    auto parsed = parse_credential_json(R"({"auths": {"r.io": {"auth": "dTpw"}}, "n": 1.5})");
    ASSERT_TRUE(parsed) << parsed.error().describe();
    EXPECT_EQ((*parsed)["auths"]["r.io"]["auth"], "dTpw");
}

}  // namespace
}  // namespace minicd::model
