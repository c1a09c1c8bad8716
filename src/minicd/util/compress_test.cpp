#include "minicd/util/compress.hpp"

#include <gtest/gtest.h>

#include <random>

namespace minicd::util {
namespace {

TEST(Compress, RoundTripsTextAndRandomBytes) {
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "apiVersion: v1\nkind: ConfigMap\n";
    std::mt19937 random(7);
    std::string noise(300000, '\0');
    for (auto& byte : noise) byte = static_cast<char>(random());
    for (const std::string& input : {std::string(), std::string("x"), text, noise}) {
        auto packed = gzip(input);
        ASSERT_GE(packed.size(), 2U);
        EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f) << "a gzip header";
        auto unpacked = gunzip(packed, input.size() + 1);
        ASSERT_TRUE(unpacked) << unpacked.error().describe();
        EXPECT_EQ(*unpacked, input);
    }
    EXPECT_LT(gzip(text).size(), text.size() / 50) << "repetitive manifests compress well";
}

TEST(Compress, RefusesWhatExpandsBeyondTheLimit) {
    auto packed = gzip(std::string(1 << 20, 'a'));
    auto unpacked = gunzip(packed, 4096);
    ASSERT_FALSE(unpacked);
    EXPECT_NE(unpacked.error().message.find("more than 4096 bytes"), std::string::npos) << unpacked.error().message;
    EXPECT_TRUE(gunzip(packed, 1 << 20)) << "exactly the limit is fine";
}

TEST(Compress, DamagedTruncatedAndTrailingInputAreErrors) {
    auto packed = gzip("hello, world, hello, world");
    EXPECT_FALSE(gunzip(packed.substr(0, packed.size() / 2), 1000)) << "truncated";
    std::string flipped = packed;
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x55);
    EXPECT_FALSE(gunzip(flipped, 1000)) << "damaged";
    EXPECT_FALSE(gunzip(packed + "junk", 1000)) << "trailing bytes";
    EXPECT_FALSE(gunzip("not gzip at all", 1000));
    EXPECT_FALSE(gunzip("", 1000));
}

}  // namespace
}  // namespace minicd::util
