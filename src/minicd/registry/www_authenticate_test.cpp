#include "minicd/registry/www_authenticate.hpp"

#include <gtest/gtest.h>

namespace minicd::registry {
namespace {

struct Case {
    std::string header;
    std::vector<Challenge> expected;
};

TEST(WwwAuthenticate, ParsesChallengesAndParameters) {
    const Case cases[] = {
        {R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push")",
         {{"bearer",
           {{"realm", "https://auth.docker.io/token"},
            {"service", "registry.docker.io"},
            {"scope", "repository:samalba/my-app:pull,push"}},
           ""}}},
        {R"(Basic realm="minicd-test")", {{"basic", {{"realm", "minicd-test"}}, ""}}},
        {"basic Realm=plain", {{"basic", {{"realm", "plain"}}, ""}}},
        {R"(Bearer realm = "r" , service=s)", {{"bearer", {{"realm", "r"}, {"service", "s"}}, ""}}},
        {R"(Bearer realm="a \"quoted\" \\ realm")", {{"bearer", {{"realm", R"(a "quoted" \ realm)"}}, ""}}},
        {R"(Bearer realm="r",scope="repository:a/b:pull,push repository:c:pull", Basic realm="x")",
         {{"bearer", {{"realm", "r"}, {"scope", "repository:a/b:pull,push repository:c:pull"}}, ""},
          {"basic", {{"realm", "x"}}, ""}}},
        {R"(Negotiate, Basic realm="x")", {{"negotiate", {}, ""}, {"basic", {{"realm", "x"}}, ""}}},
        {"Negotiate abc+/def==", {{"negotiate", {}, "abc+/def=="}}},
        {R"(Negotiate abc==, Bearer realm="r")", {{"negotiate", {}, "abc=="}, {"bearer", {{"realm", "r"}}, ""}}},
        {R"(Bearer realm="r",error="insufficient_scope",)", {{"bearer", {{"realm", "r"}, {"error", "insufficient_scope"}}, ""}}},
        {R"(Bearer realm="")", {{"bearer", {{"realm", ""}}, ""}}},
    };
    for (const Case& c : cases) {
        auto parsed = parse_www_authenticate(c.header);
        ASSERT_TRUE(parsed) << c.header << ": " << parsed.error().describe();
        EXPECT_EQ(*parsed, c.expected) << c.header;
    }
}

TEST(WwwAuthenticate, RejectsMalformedHeaders) {
    for (std::string header : {"", " , ", R"(Bearer realm="unterminated)", R"(Bearer realm="r" service="s")",
                               R"(Bearer realm="r", =x)", "=x"}) {
        auto parsed = parse_www_authenticate(header);
        ASSERT_FALSE(parsed) << header;
        EXPECT_EQ(parsed.error().code, util::ErrorCode::input);
    }
}

TEST(WwwAuthenticate, LooksUpParametersCaseInsensitively) {
    auto parsed = parse_www_authenticate(R"(Bearer Realm="r")");
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->front().param("REALM"), "r");
    EXPECT_EQ(parsed->front().param("service"), "");
}

}  // namespace
}  // namespace minicd::registry
