#include "minicd/model/image_ref.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace minicd::model {
namespace {

const std::string k_hex(64, 'a');

struct ValidCase {
    std::string text;
    ImageRef expected;
};

TEST(ParseImageRef, AcceptsValidReferencesAndNormalises) {
    const std::string d = "sha256:" + k_hex;
    const ValidCase cases[] = {
        {"nginx", {"docker.io", "library/nginx", "", ""}},
        {"nginx:1.25", {"docker.io", "library/nginx", "1.25", ""}},
        {"docker.io/nginx", {"docker.io", "library/nginx", "", ""}},
        {"index.docker.io/bitnami/redis:7", {"docker.io", "bitnami/redis", "7", ""}},
        {"acme/web", {"docker.io", "acme/web", "", ""}},
        {"127.0.0.1:5000/app:v1", {"127.0.0.1:5000", "app", "v1", ""}},
        {"localhost/app", {"localhost", "app", "", ""}},
        {"localhost:5000/a/b/c:latest", {"localhost:5000", "a/b/c", "latest", ""}},
        {"[::1]:5000/app:v1", {"[::1]:5000", "app", "v1", ""}},
        {"[fe80::1]/app", {"[fe80::1]", "app", "", ""}},
        {"asia-docker.pkg.dev/acme-cr/apps/shop:v1.2.3", {"asia-docker.pkg.dev", "acme-cr/apps/shop", "v1.2.3", ""}},
        {"reg.example.com/a.b_c__d---e/f@" + d, {"reg.example.com", "a.b_c__d---e/f", "", d}},
        {"reg.example.com/app:v1@" + d, {"reg.example.com", "app", "v1", d}},
        {"nginx@" + d, {"docker.io", "library/nginx", "", d}},
        {"r.io/app:_Under.score-1", {"r.io", "app", "_Under.score-1", ""}},
        {"r.io/app:" + std::string(128, 't'), {"r.io", "app", std::string(128, 't'), ""}},
        {"r.io/app@sha512:" + std::string(128, '0'), {"r.io", "app", "", "sha512:" + std::string(128, '0')}},
        {"Registry.Example.com/app", {"Registry.Example.com", "app", "", ""}},
    };
    for (const ValidCase& c : cases) {
        auto parsed = parse_image_ref(c.text);
        ASSERT_TRUE(parsed) << c.text << ": " << parsed.error().describe();
        EXPECT_EQ(*parsed, c.expected) << c.text << " parsed as " << parsed->str();
    }
}

struct InvalidCase {
    std::string text;
    std::string message_part;
};

TEST(ParseImageRef, RejectsInvalidReferencesSayingWhy) {
    const InvalidCase cases[] = {
        {"", "empty reference"},
        {"Nginx/App", "lowercase"},
        {"r.io/Acme/app", "lowercase"},
        {"r.io/a//b", "empty path component"},
        {"r.io/a/", "empty path component"},
        {"/app", "empty path component"},
        {"r.io/", "no repository path"},
        {"r.io/-app", "start and end"},
        {"r.io/app-", "start and end"},
        {"r.io/a..b", "invalid separator"},
        {"r.io/a___b", "invalid separator"},
        {"r.io/a._b", "invalid separator"},
        {"r.io/app@sha256:abc", "digest"},
        {"r.io/app@sha256:" + std::string(64, 'A'), "digest"},
        {"r.io/app@sha256:" + std::string(65, 'a'), "digest"},
        {"r.io/app@" + std::string(64, 'a'), "digest"},
        {"r.io/app:" + std::string(129, 't'), "longer than 128"},
        {"r.io/app:.v1", "tag"},
        {"r.io/app:", "empty tag"},
        {":tag", "no repository name"},
        {"127.0.0.1:5000", "no repository path"},
        {"localhost:5000", "no repository path"},
        {"[::1]:5000", "no repository path"},
        {"[::1]", "no repository path"},
        {"r.io:/app", "empty port"},
        {"r.io:50a0/app", "invalid port"},
        {"bad_host.io/app", "invalid registry host"},
        {"[zz::1]/app", "IPv6"},
        {"r.io/app tag", "whitespace"},
        {"r.io/" + std::string(260, 'a'), "longer than 255"},
    };
    for (const InvalidCase& c : cases) {
        auto parsed = parse_image_ref(c.text);
        ASSERT_FALSE(parsed) << c.text << " parsed as " << parsed->str();
        EXPECT_EQ(parsed.error().code, util::ErrorCode::input) << c.text;
        EXPECT_EQ(parsed.error().subject, c.text);
        EXPECT_NE(parsed.error().message.find(c.message_part), std::string::npos)
            << c.text << ": " << parsed.error().message;
    }
}

TEST(ImageRef, PrintsAndRoundTrips) {
    ImageRef ref = parse_image_ref("nginx:1.25").value();
    EXPECT_EQ(ref.name(), "docker.io/library/nginx");
    EXPECT_EQ(ref.str(), "docker.io/library/nginx:1.25");
    const std::string d = "sha256:" + k_hex;
    for (const std::string& text :
         std::vector<std::string>{"127.0.0.1:5000/a/b:v1", "[::1]:5000/app", "r.io/app:v1@" + d, "r.io/app@" + d}) {
        EXPECT_EQ(parse_image_ref(text).value().str(), text);
        EXPECT_EQ(parse_image_ref(parse_image_ref(text).value().str()).value(), parse_image_ref(text).value());
    }
}

TEST(ImageRef, WithTagDropsDigestAndWithDigestKeepsTag) {
    const std::string d = "sha256:" + k_hex;
    ImageRef ref = parse_image_ref("r.io/app:v1@" + d).value();
    EXPECT_EQ(ref.with_tag("v2").str(), "r.io/app:v2");
    EXPECT_EQ(ref.with_tag("v2").with_digest(d).str(), "r.io/app:v2@" + d);
    EXPECT_EQ(parse_image_ref("r.io/app").value().with_digest(d).str(), "r.io/app@" + d);
}

TEST(ImageRef, ValidatesTagsAndDigestsOnTheirOwn) {
    EXPECT_TRUE(is_valid_tag("v1.2.3"));
    EXPECT_FALSE(is_valid_tag("-v1"));
    EXPECT_FALSE(is_valid_tag("v1/2"));
    EXPECT_TRUE(is_valid_digest("sha256:" + k_hex));
    EXPECT_FALSE(is_valid_digest("sha256:" + k_hex.substr(1)));
    EXPECT_TRUE(is_valid_digest("blake3:" + std::string(64, 'f')));
    EXPECT_FALSE(is_valid_digest(":" + k_hex));
}

}  // namespace
}  // namespace minicd::model
