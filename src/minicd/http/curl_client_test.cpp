#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "minicd/http/http_client.hpp"
#include "support/local_http_server.hpp"

namespace minicd::http {
namespace {

using namespace std::chrono_literals;
using minicd::testing::LocalHttpServer;

std::unique_ptr<HttpClient> client(ClientOptions options = {}) {
    auto made = make_curl_client(std::move(options));
    EXPECT_TRUE(made) << made.error().describe();
    return std::move(*made);
}

TEST(CurlClient, SendsMethodHeadersAndBodyAndReadsTheReply) {
    LocalHttpServer server([](const LocalHttpServer::Request& request) {
        LocalHttpServer::Reply reply;
        reply.status = 201;
        reply.headers = {{"Content-Type", "application/json"}, {"X-Echo-Method", request.method}};
        reply.body = request.target + "|" + request.headers.at("content-type") + "|" + request.body;
        return reply;
    });
    auto http = client();
    auto response = http->send({.method = Method::patch,
                                .url = server.url("/apis/apps/v1?fieldManager=minicd"),
                                .headers = {{"Content-Type", "application/apply-patch+yaml"}},
                                .body = R"({"kind":"Deployment"})"});
    ASSERT_TRUE(response) << response.error().describe();
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(response->body, R"(/apis/apps/v1?fieldManager=minicd|application/apply-patch+yaml|{"kind":"Deployment"})");
    EXPECT_EQ(response->header("x-echo-method").value_or(""), "PATCH");
    EXPECT_EQ(response->header("CONTENT-TYPE").value_or(""), "application/json");
    EXPECT_FALSE(response->header("x-missing"));
    EXPECT_EQ(response->http_version, 11);
}

TEST(CurlClient, ErrorStatusesAreResponsesNotErrors) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 404, .headers = {}, .body = "not found"};
    });
    auto response = client()->send({.url = server.url("/missing")});
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 404);
    EXPECT_EQ(response->body, "not found");
}

TEST(CurlClient, HeadReturnsHeadersWithoutBody) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 200, .headers = {{"Docker-Content-Digest", "sha256:abc"}}, .body = "x"};
    });
    auto response = client()->send({.method = Method::head, .url = server.url("/v2/app/manifests/1")});
    ASSERT_TRUE(response) << response.error().describe();
    EXPECT_EQ(response->header("docker-content-digest").value_or(""), "sha256:abc");
    EXPECT_EQ(response->body, "");
}

TEST(CurlClient, SendsEmptyBodyForPutAndDelete) {
    std::vector<std::string> seen;
    std::mutex mutex;
    LocalHttpServer server([&](const LocalHttpServer::Request& request) {
        std::lock_guard lock(mutex);
        auto length = request.headers.find("content-length");
        seen.push_back(request.method + ":" + (length == request.headers.end() ? "-" : length->second));
        return LocalHttpServer::Reply{};
    });
    auto http = client();
    ASSERT_TRUE(http->send({.method = Method::put, .url = server.url("/a")}));
    ASSERT_TRUE(http->send({.method = Method::delete_, .url = server.url("/a")}));
    ASSERT_TRUE(http->send({.method = Method::delete_, .url = server.url("/a"), .body = "{}"}));
    EXPECT_EQ(seen, (std::vector<std::string>{"PUT:0", "DELETE:-", "DELETE:2"}));
}

TEST(CurlClient, ReusesTheConnectionAcrossRequests) {
    LocalHttpServer server([](const LocalHttpServer::Request&) { return LocalHttpServer::Reply{}; });
    auto http = client();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(http->send({.url = server.url("/")}));
    EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(CurlClient, IsSafeToUseFromManyThreads) {
    std::atomic<int> served{0};
    LocalHttpServer server([&](const LocalHttpServer::Request& request) {
        ++served;
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = request.target};
    });
    auto http = client();
    std::atomic<int> matched{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                std::string path = "/" + std::to_string(t) + "/" + std::to_string(i);
                auto response = http->send({.url = server.url(path)});
                if (response && response->body == path) ++matched;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(matched.load(), 200);
    EXPECT_EQ(served.load(), 200);
    EXPECT_LE(server.connections_accepted(), 8);
}

TEST(CurlClient, TimeoutIsATimeoutError) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "", .delay_ms = 2000};
    });
    auto response = client()->send({.url = server.url("/slow"), .timeout = 200ms});
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, util::ErrorCode::timeout);
    EXPECT_NE(response.error().subject.find("GET http://127.0.0.1:"), std::string::npos);
}

TEST(CurlClient, RefusedConnectionIsANetworkError) {
    std::string url;
    {
        LocalHttpServer closed([](const LocalHttpServer::Request&) { return LocalHttpServer::Reply{}; });
        url = closed.url("/");
    }
    auto response = client()->send({.url = url});
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, util::ErrorCode::network);
}

TEST(CurlClient, ErrorsNeverShowCredentialsFromTheUrl) {
    std::string url;
    {
        LocalHttpServer closed([](const LocalHttpServer::Request&) { return LocalHttpServer::Reply{}; });
        url = closed.url("/");
    }
    url.insert(url.find("127.0.0.1"), "robot:s3cret@");
    auto response = client()->send({.url = url});
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().describe().find("s3cret"), std::string::npos) << response.error().describe();
}

TEST(BasicAuthorization, EncodesUserAndPassword) {
    EXPECT_EQ(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

}  // namespace
}  // namespace minicd::http
