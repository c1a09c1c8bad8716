// The HTTP client against the real kube-apiserver, which speaks HTTP/2 over TLS: concurrent requests
// from many threads are streams of one connection, and a stream paused for a slow consumer holds
// up neither its own data nor the requests beside it.
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <set>
#include <sstream>
#include <thread>

#include "minicd/http/curl_client.hpp"
#include "minicd/util/subprocess.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

std::unique_ptr<http::HttpClient> admin_http() {
    const std::string pki = TestCluster::get().var("MINICD_TEST_PKI");
    auto made = http::make_curl_client({.tls = {.ca_file = pki + "/ca.crt",
                                                .client_cert_file = pki + "/admin.crt",
                                                .client_key_file = pki + "/admin.key"}});
    EXPECT_TRUE(made) << made.error().describe();
    return made ? std::move(*made) : nullptr;
}

http::Request get(const std::string& path) {
    return {.method = Method::get, .url = TestCluster::get().apiserver() + path, .headers = {{"Accept", "application/json"}}};
}

// Local ports of this process's established TCP connections to the API server, as `ss` sees them.
std::set<std::string> connections_to_apiserver() {
    std::string server = TestCluster::get().apiserver();
    std::string port = server.substr(server.rfind(':') + 1);
    auto listed = util::run_subprocess({.inherit = util::Inherit::everything, .argv = {"ss", "-Htnp", "state", "established", "dport", "= :" + port},
                                        .timeout = 10s});
    EXPECT_TRUE(listed && listed->succeeded()) << (listed ? listed->err : listed.error().describe());
    std::set<std::string> ports;
    if (!listed) return ports;
    std::string mine = "pid=" + std::to_string(::getpid()) + ",";
    std::istringstream lines(listed->out);
    for (std::string line; std::getline(lines, line);) {
        if (line.find(mine) == std::string::npos) continue;
        std::istringstream fields(line);
        std::string recv_q, send_q, local;
        fields >> recv_q >> send_q >> local;
        ports.insert(local.substr(local.rfind(':') + 1));
    }
    return ports;
}

class Http2 : public ClusterTest {};

TEST_F(Http2, ConcurrentRequestsFromManyThreadsShareOneConnection) {
    auto client = admin_http();
    ASSERT_NE(client, nullptr);
    auto before = connections_to_apiserver();

    constexpr int k_threads = 8;
    constexpr int k_per_thread = 4;
    const std::vector<std::string> paths = {"/version", "/api/v1/namespaces/" + ns(), "/api",
                                            "/apis/apps/v1/namespaces/" + ns() + "/deployments"};
    std::atomic<int> http2{0};
    std::atomic<int> ok{0};
    // All threads start together, so the first requests race the connection's setup.
    std::barrier start(k_threads);
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < k_per_thread; ++i) {
                auto response = client->send(get(paths[static_cast<std::size_t>(i) % paths.size()]));
                if (!response) {
                    ADD_FAILURE() << response.error().describe();
                    continue;
                }
                if (response->status == 200) ++ok;
                if (response->http_version == 20) ++http2;
            }
        });
    }
    for (auto& thread : threads) thread.join();

    EXPECT_EQ(ok.load(), k_threads * k_per_thread);
    EXPECT_EQ(http2.load(), k_threads * k_per_thread);
    auto stats = http::curl_statistics(*client);
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->transfers, k_threads * k_per_thread);
    EXPECT_EQ(stats->connections_opened, 1);
    // The kernel agrees: one new connection from this process to the API server, still open for reuse.
    std::set<std::string> opened;
    for (const auto& port : connections_to_apiserver()) {
        if (!before.contains(port)) opened.insert(port);
    }
    EXPECT_EQ(opened.size(), 1u);
}

TEST_F(Http2, PausedStreamHoldsUpNeitherItsDataNorOtherRequests) {
    // About 3.6 MB of ConfigMaps to list: far more than the stream buffer.
    constexpr int k_maps = 4;
    for (int i = 0; i < k_maps; ++i) {
        std::string data(900 * 1024, 'x');
        for (std::size_t j = 0; j < data.size(); j += 97) data[j] = static_cast<char>('a' + (i + j) % 26);
        auto created = api(cluster().admin(), Method::post, ns_path("/configmaps"),
                           {{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata", {{"name", "big-" + std::to_string(i)}, {"labels", {{"size", "big"}}}}},
                            {"data", {{"blob", data}}}});
        ASSERT_EQ(created.status, 201) << created.body.dump().substr(0, 300);
    }
    auto client = admin_http();
    ASSERT_NE(client, nullptr);
    // The namespace's own kube-root-ca.crt stays out of the list.
    const std::string list = ns_path("/configmaps?labelSelector=size%3Dbig");
    auto reference = client->send(get(list));
    ASSERT_TRUE(reference) << reference.error().describe();
    ASSERT_EQ(reference->status, 200);

    std::atomic<bool> consumer_asleep{false};
    std::atomic<bool> sends_done{false};
    std::string streamed;
    int calls = 0;
    std::thread sender([&] {
        while (!consumer_asleep) std::this_thread::sleep_for(5ms);
        // The stream is stalled on its consumer now; these must still go through at once.
        auto started = std::chrono::steady_clock::now();
        for (int i = 0; i < 5; ++i) {
            auto response = client->send(get("/version"));
            EXPECT_TRUE(response && response->status == 200 && response->http_version == 20);
        }
        EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
        sends_done = true;
    });
    auto response = client->stream(get(list), [&](std::string_view chunk) {
        if (++calls == 1) {
            consumer_asleep = true;
            std::this_thread::sleep_for(2s);
        }
        streamed.append(chunk);
        return true;
    });
    sender.join();
    ASSERT_TRUE(response) << response.error().describe();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->http_version, 20);
    EXPECT_TRUE(sends_done.load());

    // Lists taken at different moments differ only in metadata; the items must match.
    auto expected = Json::parse(reference->body, nullptr, false);
    auto got = Json::parse(streamed, nullptr, false);
    ASSERT_FALSE(got.is_discarded()) << "the streamed list is not JSON (" << streamed.size() << " bytes)";
    EXPECT_EQ(got["items"], expected["items"]);
    EXPECT_EQ(got["items"].size(), static_cast<std::size_t>(k_maps));

    auto stats = http::curl_statistics(*client);
    ASSERT_TRUE(stats);
    std::printf("[   INFO   ] %zu bytes streamed in %d calls, peak stream buffer %zu bytes, %ld connection(s)\n",
                streamed.size(), calls, stats->peak_stream_buffer, stats->connections_opened);
    EXPECT_LE(stats->peak_stream_buffer, 1024u * 1024 + 64 * 1024);
    EXPECT_EQ(stats->connections_opened, 1);
}

TEST_F(Http2, CancelledWatchEndsPromptlyAndTheConnectionLivesOn) {
    auto client = admin_http();
    ASSERT_NE(client, nullptr);
    std::atomic<bool> stop{false};
    std::thread stopper([&] {
        std::this_thread::sleep_for(500ms);
        stop = true;
    });
    auto started = std::chrono::steady_clock::now();
    auto request = get(ns_path("/configmaps?watch=1&timeoutSeconds=60"));
    request.timeout = 70s;
    std::string events;
    auto watched = client->stream(
        request,
        [&](std::string_view chunk) {
            events.append(chunk);
            return true;
        },
        [&] { return stop.load(); });
    auto took = std::chrono::steady_clock::now() - started;
    stopper.join();
    ASSERT_TRUE(watched) << watched.error().describe();
    EXPECT_EQ(watched->status, 200);
    EXPECT_LT(took, 1500ms);
    // The reset stream leaves the connection usable.
    auto after = client->send(get("/version"));
    ASSERT_TRUE(after) << after.error().describe();
    EXPECT_EQ(after->status, 200);
    EXPECT_EQ(http::curl_statistics(*client)->connections_opened, 1);
}

}  // namespace
}  // namespace minicd::e2e
