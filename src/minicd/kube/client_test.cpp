#include "minicd/kube/client.hpp"

#include <gtest/gtest.h>

#include <atomic>

#include "support/local_http_server.hpp"

namespace minicd::kube {
namespace {

using namespace std::chrono_literals;
using minicd::testing::LocalHttpServer;

std::unique_ptr<Client> client_for(const LocalHttpServer& server, std::string token = {}) {
    std::string url = server.url("");
    RestConfig config{.server = url, .token = std::move(token)};
    auto client = Client::create(config, {.max_attempts = 4, .initial_backoff = 1ms, .max_backoff = 5ms});
    EXPECT_TRUE(client) << client.error().describe();
    return std::move(*client);
}

TEST(KubeClient, RetriesTooManyRequestsEvenForUnsafeCalls) {
    std::atomic<int> calls{0};
    LocalHttpServer server([&](const LocalHttpServer::Request&) {
        if (++calls < 3) return LocalHttpServer::Reply{.status = 429, .headers = {{"Retry-After", "0"}}, .body = "{}"};
        return LocalHttpServer::Reply{.status = 201, .headers = {}, .body = "{}"};
    });
    auto response = client_for(server)->send({.method = http::Method::post, .path = "/api/v1/namespaces",
                                              .body = "{}", .content_type = "application/json",
                                              .replay = Replay::unsafe});
    ASSERT_TRUE(response) << response.error().describe();
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(response->attempts, 3);
}

TEST(KubeClient, ServerErrorsAreRetriedOnlyWhenReplayIsSafe) {
    std::atomic<int> calls{0};
    LocalHttpServer server([&](const LocalHttpServer::Request&) {
        ++calls;
        return LocalHttpServer::Reply{.status = 503, .headers = {}, .body = "{}"};
    });
    auto http = client_for(server);
    auto safe = http->send({.path = "/api"});
    ASSERT_TRUE(safe);
    EXPECT_EQ(safe->status, 503);
    EXPECT_EQ(calls.load(), 4) << "max_attempts";

    calls = 0;
    auto unsafe = http->send({.method = http::Method::post, .path = "/api/v1/namespaces", .body = "{}",
                              .content_type = "application/json", .replay = Replay::unsafe});
    ASSERT_TRUE(unsafe);
    EXPECT_EQ(calls.load(), 1) << "a create that may have happened is not repeated blindly";
}

TEST(KubeClient, SendsBearerTokenAndRetriesOnceAfterUnauthorized) {
    std::atomic<int> calls{0};
    std::string seen;
    LocalHttpServer server([&](const LocalHttpServer::Request& request) {
        ++calls;
        seen = request.headers.count("authorization") ? request.headers.at("authorization") : "";
        return LocalHttpServer::Reply{.status = 401, .headers = {}, .body = R"({"kind":"Status","reason":"Unauthorized","message":"Unauthorized","code":401})"};
    });
    auto response = client_for(server, "s3cret")->send({.path = "/api"});
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 401);
    EXPECT_EQ(calls.load(), 2) << "one refresh, then the server is believed";
    EXPECT_EQ(seen, "Bearer s3cret");
    util::Error error = api_error(*response, "GET /api");
    EXPECT_EQ(error.describe(), "GET /api: Unauthorized (Unauthorized, HTTP 401)");
    EXPECT_EQ(error.describe().find("s3cret"), std::string::npos);
}

TEST(KubeClient, GetJsonRendersStatusObjects) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{
            .status = 404, .headers = {},
            .body = R"({"kind":"Status","status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","code":404})"};
    });
    auto json = client_for(server)->get_json("/api/v1/namespaces/a/configmaps/x");
    ASSERT_FALSE(json);
    EXPECT_EQ(json.error().code, util::ErrorCode::api);
    EXPECT_EQ(json.error().message, "configmaps \"x\" not found (NotFound, HTTP 404)");
}

TEST(KubeClient, WatchDeliversEventsSplitAcrossChunksAndStopsOnRequest) {
    LocalHttpServer server([](const LocalHttpServer::Request& request) {
        EXPECT_NE(request.target.find("watch=1"), std::string::npos);
        EXPECT_NE(request.target.find("allowWatchBookmarks=true"), std::string::npos);
        std::string events = R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                             "\n"
                             R"({"type":"MODIFIED","object":{"metadata":{"name":"a"}}})"
                             "\n"
                             R"({"type":"DELETED","object":{"metadata":{"name":"a"}}})"
                             "\n";
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = events};
    });
    std::vector<std::string> types;
    auto watched = client_for(server)->watch("/api/v1/namespaces/a/configmaps", [&](const model::Json& event) {
        types.push_back(event.value("type", ""));
        return types.size() < 2;
    }, 5s);
    ASSERT_TRUE(watched) << watched.error().describe();
    EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED"}));
}

TEST(KubeClient, WatchErrorStatusIsAnError) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 410, .headers = {},
                                      .body = R"json({"kind":"Status","message":"too old resource version: 1 (5)","reason":"Expired","code":410})json"};
    });
    auto watched = client_for(server)->watch("/api/v1/pods?resourceVersion=1", [](const model::Json&) { return true; }, 5s);
    ASSERT_FALSE(watched);
    EXPECT_NE(watched.error().message.find("too old resource version"), std::string::npos);
}

TEST(KubeClient, WatchEventsSplitAcrossManyChunksAllArrive) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = {},
                                      .parts = {{0, R"({"type":"ADD)"},
                                                {20, R"(ED","object":{}})" "\n" R"({"ty)"},
                                                {20, R"(pe":"MODIFIED","object":{}})"},
                                                {20, "\n\n"},
                                                {20, R"({"type":"DELETED","object":{}})" "\n"}}};
    });
    std::vector<std::string> types;
    auto watched = client_for(server)->watch("/api/v1/pods", [&](const model::Json& event) {
        types.push_back(event.value("type", ""));
        return true;
    }, 5s);
    ASSERT_TRUE(watched) << watched.error().describe();
    EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"}));
}

TEST(KubeClient, AWatchLineLongerThanTheLimitEndsTheWatchWithAnError) {
    // One event, then a line that never ends: 17 MiB without a newline.
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        LocalHttpServer::Reply reply{.status = 200, .headers = {}, .body = {}, .parts = {}};
        reply.parts.push_back({0, R"({"type":"ADDED","object":{}})" "\n" R"({"type":"ADDED","object":{"data":")"});
        for (int i = 0; i < 17; ++i) reply.parts.push_back({0, std::string(1 << 20, 'x')});
        return reply;
    });
    int events = 0;
    auto watched = client_for(server)->watch("/api/v1/configmaps", [&](const model::Json&) {
        ++events;
        return true;
    }, 30s);
    ASSERT_FALSE(watched);
    EXPECT_EQ(watched.error().code, util::ErrorCode::api);
    EXPECT_EQ(watched.error().message, "watch sent a line longer than 16 MiB, more than any object holds");
    EXPECT_EQ(events, 1);
    EXPECT_EQ(k_max_watch_line_bytes, 16U << 20);
}

TEST(KubeClient, JsonNestedDeeperThanAnyObjectIsRefused) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 200, .headers = {},
                                      .body = std::string(100000, '[') + std::string(100000, ']')};
    });
    auto json = client_for(server)->get_json("/api/v1/namespaces/a/configmaps/x");
    ASSERT_FALSE(json);
    EXPECT_EQ(json.error().code, util::ErrorCode::api);
    EXPECT_EQ(json.error().message, "the server's answer is nested deeper than 512 levels");
}

TEST(KubeClient, AnAnswerTooLargeToKeepIsNotAskedForAgain) {
    std::atomic<int> calls{0};
    const std::string body(http::k_max_response_body_bytes + 1, ' ');
    LocalHttpServer server([&](const LocalHttpServer::Request&) {
        ++calls;
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = body};
    });
    auto response = client_for(server)->send({.path = "/api/v1/configmaps"});
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, util::ErrorCode::api);
    EXPECT_EQ(calls.load(), 1) << "the same answer would come again";
}

TEST(KubeClient, RejectsServerThatIsNotAUrl) {
    auto client = Client::create(RestConfig{.server = "kubernetes.local:6443"});
    ASSERT_FALSE(client);
    EXPECT_EQ(client.error().code, util::ErrorCode::input);
}

}  // namespace
}  // namespace minicd::kube
