#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "minicd/http/curl_client.hpp"
#include "minicd/http/http_client.hpp"
#include "minicd/util/compress.hpp"
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

TEST(CurlClient, ABodyLongerThanTheLimitIsAnErrorAndNotKept) {
    LocalHttpServer server([](const LocalHttpServer::Request& request) {
        const std::size_t size = request.target == "/exact" ? 1024 * 1024 : 3 * 1024 * 1024;
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = std::string(size, 'x')};
    });
    auto http = client();
    auto too_long = http->send({.url = server.url("/big"), .max_body_bytes = 1024 * 1024});
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().code, util::ErrorCode::api);
    EXPECT_EQ(too_long.error().message, "the response body is larger than the 1 MiB minicd accepts");
    EXPECT_EQ(too_long.error().subject, "GET " + server.url("/big"));

    auto exact = http->send({.url = server.url("/exact"), .max_body_bytes = 1024 * 1024});
    ASSERT_TRUE(exact) << exact.error().describe();
    EXPECT_EQ(exact->body.size(), 1024U * 1024U);
}

TEST(CurlClient, TheDefaultLimitCountsTheBytesAGzipBodyExpandsTo) {
    // About 80 KiB on the wire, 80 MiB once decompressed: past the 64 MiB limit.
    const std::string compressed = util::gzip(std::string(80U << 20, '\0'));
    ASSERT_LT(compressed.size(), 1U << 20);
    LocalHttpServer server([&](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 200, .headers = {{"Content-Encoding", "gzip"}}, .body = compressed};
    });
    auto response = client()->send({.url = server.url("/bomb")});
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, util::ErrorCode::api);
    EXPECT_EQ(response.error().message, "the response body is larger than the 64 MiB minicd accepts");
    EXPECT_EQ(k_max_response_body_bytes, 64U << 20);
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

// A server that records every request target and answers 200, to prove what reached it.
struct RecordingServer {
    std::mutex mutex;
    std::vector<std::string> targets;
    LocalHttpServer server{[this](const LocalHttpServer::Request& request) {
        std::lock_guard lock(mutex);
        targets.push_back(request.target);
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "reached"};
    }};
    std::vector<std::string> seen() {
        std::lock_guard lock(mutex);
        return targets;
    }
};

TEST(CurlClient, SchemesOtherThanHttpAndHttpsAreNeverFetched) {
    char path[] = "/tmp/minicd-curl-file-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "ci-secret-hunter2", 17), 17);
    ::close(fd);
    RecordingServer internal;
    const std::string port = internal.server.url("").substr(std::string("http://127.0.0.1:").size());
    auto http = client();

    auto file = http->send({.url = std::string("file://") + path, .plain_http = PlainHttp::allowed});
    ::unlink(path);
    ASSERT_FALSE(file) << "read a local file: " << file->body;
    EXPECT_EQ(file.error().code, util::ErrorCode::input);
    EXPECT_NE(file.error().describe().find("file"), std::string::npos) << file.error().describe();
    EXPECT_EQ(file.error().describe().find("hunter2"), std::string::npos) << file.error().describe();

    for (const std::string scheme : {"gopher", "dict"}) {
        auto other = http->send({.url = scheme + "://127.0.0.1:" + port + "/_GET", .plain_http = PlainHttp::allowed});
        ASSERT_FALSE(other) << scheme;
        EXPECT_EQ(other.error().code, util::ErrorCode::input) << scheme;
        EXPECT_NE(other.error().subject.find(scheme + "://127.0.0.1:" + port), std::string::npos) << other.error().describe();
    }
    EXPECT_EQ(internal.server.connections_accepted(), 0);
}

TEST(CurlClient, PlainHttpGoesOnlyWhereTheRequestAllowsIt) {
    RecordingServer server;
    auto http = client();
    auto refused = http->send({.url = server.server.url("/v2/"), .plain_http = PlainHttp::refused});
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, util::ErrorCode::input);
    EXPECT_EQ(refused.error().subject, "GET " + server.server.url(""));
    EXPECT_EQ(server.server.connections_accepted(), 0);

    for (auto policy : {PlainHttp::loopback_only, PlainHttp::allowed}) {
        auto sent = http->send({.url = server.server.url("/v2/"), .plain_http = policy});
        ASSERT_TRUE(sent) << sent.error().describe();
        EXPECT_EQ(sent->status, 200);
    }
    auto by_default = http->send({.url = server.server.url("/v2/")});
    ASSERT_TRUE(by_default) << "loopback keeps plain HTTP by default: " << by_default.error().describe();
}

TEST(CurlClient, PlainHttpToOtherHostsNeedsExplicitPermission) {
    // The "proxy" is the loopback server, so a request that wrongly goes out still stays on this machine.
    RecordingServer proxy;
    auto http = client({.proxy = proxy.server.url("")});
    for (auto url : {"http://registry.invalid/v2/", "http://127.0.0.1.nip.invalid/token", "http://127.example.invalid/"}) {
        auto refused = http->send({.url = url, .plain_http = PlainHttp::loopback_only});
        ASSERT_FALSE(refused) << url;
        EXPECT_EQ(refused.error().code, util::ErrorCode::input) << url;
    }
    EXPECT_EQ(proxy.seen(), std::vector<std::string>{});

    auto allowed = http->send({.url = "http://registry.invalid/v2/", .plain_http = PlainHttp::allowed});
    ASSERT_TRUE(allowed) << allowed.error().describe();
    EXPECT_EQ(proxy.seen(), std::vector<std::string>{"http://registry.invalid/v2/"});
}

// Bytes whose position can be checked: a lost, doubled or reordered chunk shows.
std::string patterned(std::size_t size) {
    std::string text(size, '\0');
    for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + (i / 7 + i) % 26);
    return text;
}

CurlStatistics statistics(const HttpClient& http) {
    auto stats = curl_statistics(http);
    EXPECT_TRUE(stats);
    return stats.value_or(CurlStatistics{});
}

TEST(CurlClient, ManyThreadsSendingAtOnceAllGetTheirOwnAnswer) {
    LocalHttpServer server([](const LocalHttpServer::Request& request) {
        // Slow enough that the requests overlap.
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = request.target, .delay_ms = 20};
    });
    auto http = client();
    std::atomic<int> matched{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                std::string path = "/" + std::to_string(t) + "/" + std::to_string(i);
                auto response = http->send({.url = server.url(path)});
                if (response && response->status == 200 && response->body == path) ++matched;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(matched.load(), 160);
    auto stats = statistics(*http);
    EXPECT_EQ(stats.transfers, 160);
    // HTTP/1.1 cannot multiplex: parallel connections, but bounded and reused.
    EXPECT_LE(server.connections_accepted(), 16);
    EXPECT_EQ(stats.connections_opened, server.connections_accepted());
}

TEST(CurlClient, SlowStreamConsumerPausesTheTransferInsteadOfBufferingTheBody) {
    const std::string body = patterned(12 * 1024 * 1024);
    LocalHttpServer server([&](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = body};
    });
    auto http = client();
    std::string received;
    int calls = 0;
    auto response = http->stream({.url = server.url("/blob")}, [&](std::string_view chunk) {
        // Far slower than loopback: the body piles up unless the transfer pauses.
        if (++calls <= 6) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        received.append(chunk);
        return true;
    });
    ASSERT_TRUE(response) << response.error().describe();
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(response->body.empty());
    ASSERT_EQ(received.size(), body.size());
    EXPECT_TRUE(received == body) << "the streamed bytes differ from the body sent";
    auto stats = statistics(*http);
    std::printf("[   INFO   ] peak stream buffer %zu bytes for a %zu-byte body, %d consumer calls\n",
                stats.peak_stream_buffer, body.size(), calls);
    EXPECT_GT(stats.peak_stream_buffer, 512u * 1024);  // the consumer really was behind
    EXPECT_LE(stats.peak_stream_buffer, 1024u * 1024 + 64 * 1024);
}

TEST(CurlClient, StreamConsumerMaySendOnTheSameClient) {
    LocalHttpServer server([](const LocalHttpServer::Request& request) {
        if (request.target == "/upload") {
            return LocalHttpServer::Reply{.status = 202, .headers = {}, .body = std::to_string(request.body.size())};
        }
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "", .delay_ms = 0,
                                      .parts = {{20, "first part;"}, {20, "second part;"}, {20, "third part;"}}};
    });
    auto http = client();
    std::vector<std::string> acknowledged;
    auto response = http->stream({.url = server.url("/blob")}, [&](std::string_view chunk) {
        // As the registry client does: push each chunk upstream before taking the next.
        auto uploaded = http->send({.method = Method::patch, .url = server.url("/upload"), .body = std::string(chunk),
                                    .timeout = std::chrono::seconds(10)});
        if (!uploaded) {
            ADD_FAILURE() << uploaded.error().describe();
            return false;
        }
        acknowledged.push_back(uploaded->body);
        return true;
    });
    ASSERT_TRUE(response) << response.error().describe();
    std::size_t total = 0;
    for (const auto& size : acknowledged) total += std::stoul(size);
    EXPECT_EQ(total, std::string("first part;second part;third part;").size());
}

TEST(CurlClient, CancellingASilentStreamEndsItWithoutError) {
    LocalHttpServer server([](const LocalHttpServer::Request& request) {
        if (request.target == "/after") return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "next"};
        // Headers at once, then nothing for a minute: a quiet watch.
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "", .delay_ms = 0,
                                      .parts = {{60'000, "never"}}};
    });
    auto http = client();
    auto started = std::chrono::steady_clock::now();
    std::atomic<bool> stop{false};
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        stop = true;
    });
    bool got_data = false;
    auto response = http->stream(
        {.url = server.url("/watch"), .timeout = std::chrono::seconds(120)},
        [&](std::string_view) {
            got_data = true;
            return true;
        },
        [&] { return stop.load(); });
    auto took = std::chrono::steady_clock::now() - started;
    stopper.join();
    ASSERT_TRUE(response) << response.error().describe();
    EXPECT_FALSE(got_data);
    EXPECT_EQ(response->status, 200);
    EXPECT_LT(took, std::chrono::milliseconds(1300));
    // The client is still fine afterwards.
    auto next = http->send({.url = server.url("/after")});
    ASSERT_TRUE(next) << next.error().describe();
    EXPECT_EQ(next->body, "next");
}

TEST(CurlClient, ConsumerReturningFalseStopsTheStreamWithoutError) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        // The last part would come only after a minute.
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "", .delay_ms = 0,
                                      .parts = {{0, "one\n"}, {60'000, "two\n"}}};
    });
    auto http = client();
    std::string seen;
    auto started = std::chrono::steady_clock::now();
    auto response = http->stream({.url = server.url("/watch")}, [&](std::string_view chunk) {
        seen.append(chunk);
        return false;
    });
    ASSERT_TRUE(response) << response.error().describe();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(seen, "one\n");
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST(CurlClient, SilentStreamTimesOut) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "", .delay_ms = 0,
                                      .parts = {{60'000, "late"}}};
    });
    auto started = std::chrono::steady_clock::now();
    auto response = client()->stream({.url = server.url("/watch"), .timeout = std::chrono::milliseconds(300)},
                                     [](std::string_view) { return true; });
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, util::ErrorCode::timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST(CurlClient, DefaultRequestTimeoutApplies) {
    LocalHttpServer server([](const LocalHttpServer::Request&) {
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "", .delay_ms = 5000};
    });
    auto response = client({.request_timeout = std::chrono::milliseconds(200)})->send({.url = server.url("/slow")});
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, util::ErrorCode::timeout);
}

TEST(CurlClient, StreamsAndSendsShareTheClientAtOnce) {
    LocalHttpServer server([](const LocalHttpServer::Request& request) {
        if (request.target == "/watch") {
            return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = "", .delay_ms = 0,
                                          .parts = {{50, "a\n"}, {50, "b\n"}, {50, "c\n"}, {50, "d\n"}, {50, "e\n"}}};
        }
        return LocalHttpServer::Reply{.status = 200, .headers = {}, .body = request.target};
    });
    auto http = client();
    std::atomic<int> matched{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            std::string lines;
            auto response = http->stream({.url = server.url("/watch")}, [&](std::string_view chunk) {
                lines.append(chunk);
                return true;
            });
            if (response && lines == "a\nb\nc\nd\ne\n") ++matched;
        });
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20; ++i) {
                std::string path = "/" + std::to_string(t) + "/" + std::to_string(i);
                auto response = http->send({.url = server.url(path)});
                if (response && response->body == path) ++matched;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(matched.load(), 4 + 80);
}

TEST(CurlStatistics, OnlyForTheCurlClient) {
    class Other final : public HttpClient {
    public:
        Result<Response> send(const Request&) override { return Response{}; }
        Result<Response> stream(const Request&, const std::function<bool(std::string_view)>&,
                                const std::function<bool()>&) override {
            return Response{};
        }
    };
    Other other;
    EXPECT_FALSE(curl_statistics(other));
    EXPECT_TRUE(curl_statistics(*client()));
}

TEST(BasicAuthorization, EncodesUserAndPassword) {
    EXPECT_EQ(basic_authorization("Aladdin", "open sesame"), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

}  // namespace
}  // namespace minicd::http
