#include "minicd/http/url_policy.hpp"

#include <gtest/gtest.h>

namespace minicd::http {
namespace {

TEST(LoopbackHost, IsLocalhostOrAnAddressIn127Slash8OrIpv6One) {
    for (auto host : {"localhost", "LocalHost", "127.0.0.1", "127.255.255.254", "127.1.2.3", "::1", "[::1]",
                      "[0:0:0:0:0:0:0:1]"}) {
        EXPECT_TRUE(is_loopback_host(host)) << host;
    }
}

TEST(LoopbackHost, NamesThatMerelyLookLoopbackAreNot) {
    for (auto host : {"127.example.com", "127.0.0.1.nip.io", "localhost.example.com", "my-localhost", "128.0.0.1",
                      "10.0.0.1", "::2", "[::ffff:127.0.0.1]", "127.0.0.1:5000", "", "[::1"}) {
        EXPECT_FALSE(is_loopback_host(host)) << host;
    }
}

TEST(UrlPolicy, HttpsIsAlwaysAllowed) {
    for (auto policy : {PlainHttp::refused, PlainHttp::loopback_only, PlainHttp::allowed}) {
        auto checked = check_url("https://reg.example.com:5000/v2/?x=1", policy);
        ASSERT_TRUE(checked) << checked.error().describe();
        EXPECT_EQ(checked->scheme, "https");
        EXPECT_EQ(checked->host, "reg.example.com");
        EXPECT_EQ(checked->port, "5000");
    }
}

TEST(UrlPolicy, PlainHttpGoesOnlyWhereThePolicySays) {
    EXPECT_FALSE(check_url("http://127.0.0.1:5000/v2/", PlainHttp::refused));
    EXPECT_TRUE(check_url("http://127.0.0.1:5000/v2/", PlainHttp::loopback_only));
    EXPECT_TRUE(check_url("http://[::1]:5000/v2/", PlainHttp::loopback_only));
    EXPECT_TRUE(check_url("http://localhost/v2/", PlainHttp::loopback_only));
    EXPECT_FALSE(check_url("http://reg.example.com/v2/", PlainHttp::loopback_only));
    EXPECT_TRUE(check_url("http://reg.example.com/v2/", PlainHttp::allowed));
}

TEST(UrlPolicy, LoopbackLookalikesGetNoPlainHttp) {
    // The host is what libcurl would connect to: userinfo before "@" is not the host.
    for (auto url : {"http://127.0.0.1.nip.io/token", "http://127.example.com/token", "http://127.0.0.1@evil.example/",
                     "http://localhost.evil.example/"}) {
        auto checked = check_url(url, PlainHttp::loopback_only);
        ASSERT_FALSE(checked) << url;
        EXPECT_EQ(checked.error().code, util::ErrorCode::input);
    }
}

TEST(UrlPolicy, OtherSchemesAreRefusedWhateverThePolicy) {
    for (auto url : {"file:///home/runner/.docker/config.json", "gopher://127.0.0.1:70/_GET", "dict://localhost:11211/stat",
                     "ftp://127.0.0.1/", "ldap://127.0.0.1/"}) {
        auto checked = check_url(url, PlainHttp::allowed);
        EXPECT_FALSE(checked) << url;
    }
    EXPECT_FALSE(check_url("/v2/relative", PlainHttp::allowed)) << "a URL without a scheme is not guessed at";
}

TEST(UrlPolicy, RefusalNamesSchemeAndHostButNoPathOrPassword) {
    auto file = check_url("file:///home/runner/.docker/config.json", PlainHttp::allowed);
    ASSERT_FALSE(file);
    EXPECT_EQ(file.error().subject, "file:// (no host)");
    EXPECT_NE(file.error().message.find("file scheme"), std::string::npos) << file.error().message;
    EXPECT_EQ(file.error().describe().find("config.json"), std::string::npos) << file.error().describe();

    auto remote = check_url("http://robot:hunter2@reg.example.com:8080/token", PlainHttp::refused);
    ASSERT_FALSE(remote);
    EXPECT_EQ(remote.error().subject, "http://reg.example.com:8080");
    EXPECT_EQ(remote.error().describe().find("hunter2"), std::string::npos) << remote.error().describe();
}

}  // namespace
}  // namespace minicd::http
