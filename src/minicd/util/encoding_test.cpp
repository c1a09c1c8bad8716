#include "minicd/util/encoding.hpp"

#include <gtest/gtest.h>

namespace minicd::util {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodesPaddedAndUnpadded) {
    EXPECT_EQ(base64_decode("Zm9vYg==").value(), "foob");
    EXPECT_EQ(base64_decode("Zm9vYg").value(), "foob");
    EXPECT_EQ(base64_decode("Zm9vYmFy").value(), "foobar");
}

TEST(Base64, RoundTripsBinary) {
    std::string bytes;
    for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
    EXPECT_EQ(base64_decode(base64_encode(bytes)).value(), bytes);
}

TEST(Base64, RejectsGarbage) {
    auto decoded = base64_decode("not*base64");
    ASSERT_FALSE(decoded);
    EXPECT_EQ(decoded.error().code, ErrorCode::input);
}

TEST(Sha256, MatchesKnownDigest) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HmacSha256, MatchesRfc4231Vectors) {
    // Test cases 1 and 2 of RFC 4231.
    EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There").value(),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?").value(),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_NE(hmac_sha256_hex("Jefe", "abc").value(), sha256_hex("abc"));
}

TEST(RandomBytes, GivesTheCountAskedForAndDiffersEachTime) {
    auto first = random_bytes(32);
    auto second = random_bytes(32);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->size(), 32u);
    EXPECT_NE(*first, *second);
    EXPECT_EQ(random_bytes(0).value(), "");
}

TEST(PercentEncode, KeepsUnreservedAndEncodesTheRest) {
    EXPECT_EQ(percent_encode("AZaz09-._~"), "AZaz09-._~");
    EXPECT_EQ(percent_encode("minicd.io/app=shop,x!=y"), "minicd.io%2Fapp%3Dshop%2Cx%21%3Dy");
    EXPECT_EQ(percent_encode("a b\xc3\xa9"), "a%20b%C3%A9");
    EXPECT_EQ(percent_encode(""), "");
}

}  // namespace
}  // namespace minicd::util
