#include "minicd/kube/discovery.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <thread>

#include "support/local_http_server.hpp"

namespace minicd::kube {
namespace {

using namespace std::chrono_literals;
using model::Json;
using minicd::testing::LocalHttpServer;

constexpr std::string_view k_aggregated_accept =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

// What an API server 1.30+ answers at /api with aggregated discovery: the core group has no name.
Json aggregated_core() {
    return Json::parse(R"({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
      "items": [{"metadata": {"creationTimestamp": null}, "versions": [{"version": "v1", "freshness": "Current",
        "resources": [
          {"resource": "namespaces", "responseKind": {"group": "", "version": "", "kind": "Namespace"},
           "scope": "Cluster", "singularResource": "namespace", "verbs": ["create", "delete", "get", "list", "patch"],
           "subresources": [{"subresource": "status", "responseKind": {"group": "", "version": "", "kind": "Namespace"},
                             "verbs": ["get", "patch", "update"]}]},
          {"resource": "endpoints", "responseKind": {"group": "", "version": "", "kind": "Endpoints"},
           "scope": "Namespaced", "singularResource": "endpoints", "verbs": ["get", "list"]}]}]}]})");
}

// /apis: apps, networking (its responseKind leaves group and version out: the entry's own are the key), a
// metrics group whose newest version is Stale (its aggregated API server is down), and optionally a CRD.
Json aggregated_groups(bool with_widget = false) {
    auto document = Json::parse(R"({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
      "metadata": {}, "items": [
        {"metadata": {"name": "apps"}, "versions": [{"version": "v1", "freshness": "Current", "resources": [
          {"resource": "deployments", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
           "scope": "Namespaced", "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
           "subresources": [{"subresource": "scale",
                             "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}}]}]}]},
        {"metadata": {"name": "networking.k8s.io"}, "versions": [{"version": "v1", "freshness": "Current",
          "resources": [{"resource": "ingresses", "responseKind": {"group": "", "version": "", "kind": "Ingress"},
                         "scope": "Namespaced", "verbs": ["get", "list"]}]}]},
        {"metadata": {"name": "metrics.k8s.io"}, "versions": [
          {"version": "v1beta2", "freshness": "Stale", "resources": [
            {"resource": "nodes", "responseKind": {"group": "metrics.k8s.io", "version": "v1beta2", "kind": "NodeMetrics"},
             "scope": "Cluster", "verbs": ["get", "list"]}]},
          {"version": "v1beta1", "resources": [
            {"resource": "nodes", "responseKind": {"group": "metrics.k8s.io", "version": "v1beta1", "kind": "NodeMetrics"},
             "scope": "Cluster", "verbs": ["get", "list"]}]}]}]})");
    if (with_widget) {
        document["items"].push_back(Json::parse(R"({"metadata": {"name": "example.com"}, "versions": [
          {"version": "v1", "freshness": "Current", "resources": [
            {"resource": "gizmos", "responseKind": {"group": "example.com", "version": "v1", "kind": "Widget"},
             "scope": "Namespaced", "verbs": ["get", "list", "patch"]}]}]})"));
    }
    return document;
}

// A scripted API server: a document per path (404 otherwise), counting requests and remembering Accept.
class FakeApiServer {
public:
    FakeApiServer() : m_server([this](const LocalHttpServer::Request& request) { return answer(request); }) {}

    void set(const std::string& path, const Json& document, int status = 200) {
        std::lock_guard lock(m_mutex);
        m_routes[path] = {status, document.dump()};
    }
    void set_delay(std::chrono::milliseconds delay) { m_delay = delay; }

    int requests() const {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }
    int requests_for(const std::string& path) const {
        std::lock_guard lock(m_mutex);
        return static_cast<int>(std::count(m_paths.begin(), m_paths.end(), path));
    }
    std::string accept_for(const std::string& path) const {
        std::lock_guard lock(m_mutex);
        auto it = m_accept.find(path);
        return it == m_accept.end() ? "" : it->second;
    }
    int most_in_flight() const { return m_most_in_flight.load(); }

    std::unique_ptr<Client> client() const {
        auto made = Client::create(RestConfig{.server = m_server.url("")}, ClientOptions{.max_attempts = 1});
        EXPECT_TRUE(made) << made.error().describe();
        return std::move(*made);
    }
    // The cache file name for this server: "127.0.0.1_<port>.json".
    std::string cache_file_name() const {
        std::string host_port = m_server.url("").substr(std::string("http://").size());
        host_port[host_port.find(':')] = '_';
        return host_port + ".json";
    }

private:
    LocalHttpServer::Reply answer(const LocalHttpServer::Request& request) {
        int now = ++m_in_flight;
        for (int seen = m_most_in_flight.load(); now > seen && !m_most_in_flight.compare_exchange_weak(seen, now);) {
        }
        if (m_delay.load() > 0ms) std::this_thread::sleep_for(m_delay.load());
        LocalHttpServer::Reply reply{.status = 404, .headers = {{"Content-Type", "application/json"}}, .body = "{}"};
        {
            std::lock_guard lock(m_mutex);
            ++m_requests;
            m_paths.push_back(request.target);
            m_accept[request.target] = request.headers.count("accept") ? request.headers.at("accept") : "";
            if (auto it = m_routes.find(request.target); it != m_routes.end()) {
                reply.status = it->second.first;
                reply.body = it->second.second;
            }
        }
        --m_in_flight;
        return reply;
    }

    mutable std::mutex m_mutex;
    std::map<std::string, std::pair<int, std::string>> m_routes;
    std::map<std::string, std::string> m_accept;
    std::vector<std::string> m_paths;
    int m_requests = 0;
    std::atomic<std::chrono::milliseconds> m_delay{0ms};
    std::atomic<int> m_in_flight{0};
    std::atomic<int> m_most_in_flight{0};
    LocalHttpServer m_server;  // last: its threads call answer(), which uses the members above
};

void serve_aggregated(FakeApiServer& api, bool with_widget = false) {
    api.set("/api", aggregated_core());
    api.set("/apis", aggregated_groups(with_widget));
}

// An API server without aggregated discovery: roots list group-versions, each served as an APIResourceList.
// Subresources come first so that taking them for their kind would show.
void serve_legacy(FakeApiServer& api) {
    api.set("/api", Json::parse(R"({"kind": "APIVersions", "versions": ["v1"],
      "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}]})"));
    api.set("/apis", Json::parse(R"({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
      {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
       "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
      {"name": "networking.k8s.io", "versions": [{"groupVersion": "networking.k8s.io/v1", "version": "v1"}],
       "preferredVersion": {"groupVersion": "networking.k8s.io/v1", "version": "v1"}},
      {"name": "autoscaling", "versions": [{"groupVersion": "autoscaling/v2", "version": "v2"},
                                           {"groupVersion": "autoscaling/v1", "version": "v1"}],
       "preferredVersion": {"groupVersion": "autoscaling/v2", "version": "v2"}}]})"));
    api.set("/api/v1", Json::parse(R"({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
      {"name": "namespaces/status", "singularName": "", "namespaced": false, "kind": "Namespace", "verbs": ["get"]},
      {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace",
       "verbs": ["create", "delete", "get", "list"]},
      {"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]},
      {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list"]},
      {"name": "endpoints", "singularName": "endpoints", "namespaced": true, "kind": "Endpoints", "verbs": ["get"]}]})"));
    api.set("/apis/apps/v1", Json::parse(R"({"kind": "APIResourceList", "groupVersion": "apps/v1", "resources": [
      {"name": "deployments/scale", "singularName": "", "namespaced": true, "group": "autoscaling", "version": "v1",
       "kind": "Scale", "verbs": ["get", "patch", "update"]},
      {"name": "deployments/status", "singularName": "", "namespaced": true, "kind": "Deployment", "verbs": ["get"]},
      {"name": "deployments", "singularName": "deployment", "namespaced": true, "kind": "Deployment",
       "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"], "shortNames": ["deploy"]}]})"));
    api.set("/apis/networking.k8s.io/v1", Json::parse(R"({"kind": "APIResourceList",
      "groupVersion": "networking.k8s.io/v1", "resources": [
      {"name": "ingresses", "singularName": "ingress", "namespaced": true, "kind": "Ingress", "verbs": ["get"]}]})"));
    for (std::string version : {"v1", "v2"}) {
        api.set("/apis/autoscaling/" + version, {{"kind", "APIResourceList"},
                                                 {"groupVersion", "autoscaling/" + version},
                                                 {"resources", Json::array({{{"name", "horizontalpodautoscalers"},
                                                                             {"namespaced", true},
                                                                             {"kind", "HorizontalPodAutoscaler"},
                                                                             {"verbs", {"get"}}}})}});
    }
}

// A fresh folder per test, removed afterwards.
class TempDir {
public:
    TempDir() {
        char pattern[] = "/tmp/minicd-discovery-XXXXXX";
        EXPECT_NE(::mkdtemp(pattern), nullptr);
        m_path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(m_path, ignored);
    }
    const std::filesystem::path& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

ResourceInfo resolved(Discovery& discovery, std::string_view group, std::string_view version, std::string_view kind) {
    auto info = discovery.resolve(group, version, kind);
    EXPECT_TRUE(info) << info.error().describe();
    return info ? *info : ResourceInfo{};
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
}

unsigned permissions_of(const std::filesystem::path& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return info.st_mode & 0777;
}

TEST(DiscoveryMapping, AggregatedDocumentMapsKindsToTheResourcesTheServerNames) {
    FakeApiServer api;
    serve_aggregated(api);
    auto client = api.client();
    Discovery discovery(*client, "");

    auto deployment = resolved(discovery, "apps", "v1", "Deployment");
    EXPECT_EQ(deployment.group, "apps");
    EXPECT_EQ(deployment.version, "v1");
    EXPECT_EQ(deployment.kind, "Deployment");
    EXPECT_EQ(deployment.resource, "deployments");
    EXPECT_TRUE(deployment.namespaced);
    EXPECT_NE(std::find(deployment.verbs.begin(), deployment.verbs.end(), "patch"), deployment.verbs.end());
    EXPECT_EQ(deployment.collection_path("shop"), "/apis/apps/v1/namespaces/shop/deployments");

    auto ingress = resolved(discovery, "networking.k8s.io", "v1", "Ingress");
    EXPECT_EQ(ingress.resource, "ingresses");
    EXPECT_EQ(ingress.group, "networking.k8s.io");
    EXPECT_EQ(ingress.object_path("shop", "web"), "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web");

    auto namespace_ = resolved(discovery, "", "v1", "Namespace");
    EXPECT_EQ(namespace_.resource, "namespaces");
    EXPECT_FALSE(namespace_.namespaced);
    EXPECT_EQ(namespace_.object_path("ignored", "shop"), "/api/v1/namespaces/shop");

    EXPECT_EQ(resolved(discovery, "", "v1", "Endpoints").resource, "endpoints");

    // One request per root, both asking for aggregated discovery first.
    EXPECT_EQ(api.requests(), 2);
    EXPECT_EQ(api.accept_for("/api"), k_aggregated_accept);
    EXPECT_EQ(api.accept_for("/apis"), k_aggregated_accept);
}

TEST(DiscoveryMapping, StaleVersionsAreSkipped) {
    FakeApiServer api;
    serve_aggregated(api);
    auto client = api.client();
    Discovery discovery(*client, "");

    EXPECT_EQ(resolved(discovery, "metrics.k8s.io", "v1beta1", "NodeMetrics").resource, "nodes");
    auto stale = discovery.resolve("metrics.k8s.io", "v1beta2", "NodeMetrics");
    ASSERT_FALSE(stale);
    EXPECT_EQ(stale.error().code, util::ErrorCode::input);
}

TEST(DiscoveryMapping, SubresourcesAreNotKinds) {
    FakeApiServer api;
    serve_aggregated(api);
    auto client = api.client();
    Discovery discovery(*client, "");

    // Scale is only ever a subresource of apps/v1 deployments.
    EXPECT_FALSE(discovery.resolve("apps", "v1", "Scale"));
    EXPECT_FALSE(discovery.resolve("autoscaling", "v1", "Scale"));
}

TEST(DiscoveryMapping, LegacyServerIsReadOneGroupVersionAtATime) {
    FakeApiServer api;
    serve_legacy(api);
    auto client = api.client();
    Discovery discovery(*client, "");

    auto deployment = resolved(discovery, "apps", "v1", "Deployment");
    EXPECT_EQ(deployment.resource, "deployments");
    EXPECT_TRUE(deployment.namespaced);
    EXPECT_EQ(resolved(discovery, "networking.k8s.io", "v1", "Ingress").resource, "ingresses");
    auto namespace_ = resolved(discovery, "", "v1", "Namespace");
    EXPECT_EQ(namespace_.resource, "namespaces");
    EXPECT_FALSE(namespace_.namespaced);
    EXPECT_EQ(resolved(discovery, "", "v1", "Pod").resource, "pods");
    EXPECT_EQ(resolved(discovery, "", "v1", "Endpoints").resource, "endpoints");
    // Every version of a group, not only the preferred one.
    EXPECT_EQ(resolved(discovery, "autoscaling", "v1", "HorizontalPodAutoscaler").resource, "horizontalpodautoscalers");
    EXPECT_EQ(resolved(discovery, "autoscaling", "v2", "HorizontalPodAutoscaler").resource, "horizontalpodautoscalers");
    // deployments/scale names autoscaling/v1 Scale: a subresource, not a kind of either group.
    EXPECT_FALSE(discovery.resolve("apps", "v1", "Scale"));
    EXPECT_FALSE(discovery.resolve("autoscaling", "v1", "Scale"));

    // Two roots and five group-versions, each asked once.
    EXPECT_EQ(api.requests(), 7);
    for (std::string path : {"/api", "/apis", "/api/v1", "/apis/apps/v1", "/apis/networking.k8s.io/v1",
                             "/apis/autoscaling/v1", "/apis/autoscaling/v2"}) {
        EXPECT_EQ(api.requests_for(path), 1) << path;
    }
}

TEST(DiscoveryMapping, LegacyGroupVersionsAreFetchedAtMostEightAtOnce) {
    FakeApiServer api;
    api.set("/api", {{"kind", "APIVersions"}, {"versions", {"v1"}}});
    api.set("/api/v1", {{"kind", "APIResourceList"}, {"groupVersion", "v1"},
                        {"resources", Json::array({{{"name", "pods"}, {"namespaced", true}, {"kind", "Pod"}}})}});
    Json groups = Json::array();
    for (int i = 0; i < 20; ++i) {
        std::string group = "g" + std::to_string(i) + ".example.com";
        groups.push_back({{"name", group}, {"versions", Json::array({{{"groupVersion", group + "/v1"}, {"version", "v1"}}})}});
        api.set("/apis/" + group + "/v1",
                {{"kind", "APIResourceList"}, {"groupVersion", group + "/v1"},
                 {"resources", Json::array({{{"name", "things"}, {"namespaced", true}, {"kind", "Thing"}}})}});
    }
    api.set("/apis", {{"kind", "APIGroupList"}, {"groups", groups}});
    api.set_delay(50ms);
    auto client = api.client();
    Discovery discovery(*client, "");

    EXPECT_EQ(resolved(discovery, "g19.example.com", "v1", "Thing").collection_path("a"),
              "/apis/g19.example.com/v1/namespaces/a/things");
    EXPECT_EQ(api.requests(), 23);
    EXPECT_LE(api.most_in_flight(), 8);
    EXPECT_GE(api.most_in_flight(), 2);
}

TEST(DiscoveryUnit, UnknownKindRefreshesOnceThenFailsNamingTheKind) {
    FakeApiServer api;
    serve_aggregated(api);
    TempDir dir;
    auto client = api.client();
    {
        Discovery warm(*client, dir.path().string());
        resolved(warm, "apps", "v1", "Deployment");
    }
    ASSERT_EQ(api.requests(), 2);

    Discovery cached(*client, dir.path().string());
    auto widget = cached.resolve("example.com", "v1", "Widget");
    ASSERT_FALSE(widget);
    EXPECT_EQ(widget.error().code, util::ErrorCode::input);
    EXPECT_EQ(widget.error().message,
              "no matches for kind \"Widget\" in version \"example.com/v1\" (is its CustomResourceDefinition installed?)");
    EXPECT_EQ(api.requests(), 4);  // the cache was loaded, then one refresh

    // The map is now the server's own: asking again does not refresh again.
    EXPECT_FALSE(cached.resolve("example.com", "v1", "Widget"));
    auto gadget = cached.resolve("", "v1", "Gadget");
    ASSERT_FALSE(gadget);
    EXPECT_EQ(gadget.error().message,
              "no matches for kind \"Gadget\" in version \"v1\" (is its CustomResourceDefinition installed?)");
    EXPECT_EQ(api.requests(), 4);
}

TEST(DiscoveryUnit, ColdMissDoesNotFetchTwice) {
    FakeApiServer api;
    serve_aggregated(api);
    auto client = api.client();
    Discovery discovery(*client, "");

    EXPECT_FALSE(discovery.resolve("example.com", "v1", "Widget"));
    EXPECT_EQ(api.requests(), 2);
}

TEST(DiscoveryUnit, RefreshOnMissFindsANewlyInstalledCrd) {
    FakeApiServer api;
    serve_aggregated(api);
    TempDir dir;
    auto client = api.client();
    {
        Discovery warm(*client, dir.path().string());
        resolved(warm, "apps", "v1", "Deployment");
    }
    serve_aggregated(api, true);

    Discovery cached(*client, dir.path().string());
    auto widget = resolved(cached, "example.com", "v1", "Widget");
    EXPECT_EQ(widget.resource, "gizmos");  // whatever the CRD says, not a plural made up from the kind
    EXPECT_EQ(api.requests(), 4);
}

TEST(DiscoveryUnit, ConcurrentMissesRefreshOnce) {
    FakeApiServer api;
    serve_aggregated(api);
    TempDir dir;
    auto client = api.client();
    {
        Discovery warm(*client, dir.path().string());
        resolved(warm, "apps", "v1", "Deployment");
    }

    Discovery cached(*client, dir.path().string());
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            if (!cached.resolve("example.com", "v1", "Widget")) ++failures;
            if (!cached.resolve("apps", "v1", "Deployment")) ++failures;
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 8);
    EXPECT_EQ(api.requests(), 4);
}

TEST(DiscoveryUnit, DiskCacheIsReusedWithinTtlAndPrivate) {
    FakeApiServer api;
    serve_aggregated(api);
    TempDir dir;
    auto cache_dir = dir.path() / "cache" / "discovery";
    {
        auto client = api.client();
        Discovery first(*client, cache_dir.string(), 1h);
        resolved(first, "apps", "v1", "Deployment");
    }
    ASSERT_EQ(api.requests(), 2);
    auto file = cache_dir / api.cache_file_name();
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    EXPECT_EQ(permissions_of(file), 0600u);
    EXPECT_EQ(permissions_of(cache_dir), 0700u);
    EXPECT_EQ(permissions_of(cache_dir.parent_path()), 0700u);

    auto client = api.client();
    Discovery second(*client, cache_dir.string(), 1h);
    EXPECT_EQ(resolved(second, "apps", "v1", "Deployment").resource, "deployments");
    EXPECT_EQ(resolved(second, "networking.k8s.io", "v1", "Ingress").resource, "ingresses");
    auto namespace_ = resolved(second, "", "v1", "Namespace");
    EXPECT_FALSE(namespace_.namespaced);
    EXPECT_EQ(resolved(second, "", "v1", "Endpoints").resource, "endpoints");
    EXPECT_EQ(api.requests(), 2);
    // Only the cache file is left behind, no temporary files.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(cache_dir), std::filesystem::directory_iterator()), 1);
}

TEST(DiscoveryUnit, ExpiredCacheIsIgnored) {
    FakeApiServer api;
    serve_aggregated(api);
    TempDir dir;
    auto client = api.client();
    {
        Discovery first(*client, dir.path().string());
        resolved(first, "apps", "v1", "Deployment");
    }
    Discovery expired(*client, dir.path().string(), 0s);
    resolved(expired, "apps", "v1", "Deployment");
    EXPECT_EQ(api.requests(), 4);
}

TEST(DiscoveryUnit, CorruptCacheIsAMissAndIsRewritten) {
    FakeApiServer api;
    serve_aggregated(api);
    TempDir dir;
    auto client = api.client();
    {
        Discovery first(*client, dir.path().string());
        resolved(first, "apps", "v1", "Deployment");
    }
    auto file = std::filesystem::directory_iterator(dir.path())->path();
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    Json entry = {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}, {"resource", "deployments"},
                  {"namespaced", true}, {"verbs", Json::array()}};
    Json good = {{"format", 1}, {"server", client->config().server}, {"fetched_at", now.count()},
                 {"resources", Json::array({entry})}};
    auto changed = [&](const std::string& pointer, const Json& value) {
        Json copy = good;
        copy[Json::json_pointer(pointer)] = value;
        return copy.dump();
    };
    const std::vector<std::string> corrupt = {
        "",
        "{not json",
        "[]",
        good.dump().substr(0, good.dump().size() / 2),
        changed("/format", 2),
        changed("/server", "https://other.example.com:6443"),
        changed("/fetched_at", "yesterday"),
        changed("/fetched_at", now.count() + 3600),  // written in the future: the clock moved
        // Far enough from now that the age would overflow int64 (undefined, UBSan reports it).
        changed("/fetched_at", std::numeric_limits<std::int64_t>::min()),
        changed("/fetched_at", std::numeric_limits<std::uint64_t>::max()),
        changed("/resources", Json::array()),
        changed("/resources/0/resource", 7),
        changed("/resources/0/namespaced", "yes"),
    };
    int expected_requests = 2;
    for (const auto& text : corrupt) {
        SCOPED_TRACE(text);
        write_file(file, text);
        Discovery reader(*client, dir.path().string());
        EXPECT_EQ(resolved(reader, "apps", "v1", "Deployment").resource, "deployments");
        expected_requests += 2;
        EXPECT_EQ(api.requests(), expected_requests);
    }

    // The refresh rewrote a good file, which the next reader uses.
    Discovery after(*client, dir.path().string());
    resolved(after, "networking.k8s.io", "v1", "Ingress");
    EXPECT_EQ(api.requests(), expected_requests);

    // A well-formed file from this server is trusted as it is (this one knows no Ingress).
    write_file(file, good.dump());
    Discovery trusting(*client, dir.path().string());
    resolved(trusting, "apps", "v1", "Deployment");
    EXPECT_EQ(api.requests(), expected_requests);
}

TEST(DiscoveryUnit, InvalidateForgetsMemoryAndRemovesTheFile) {
    FakeApiServer api;
    serve_aggregated(api);
    TempDir dir;
    auto client = api.client();
    Discovery discovery(*client, dir.path().string());
    resolved(discovery, "apps", "v1", "Deployment");
    auto file = std::filesystem::directory_iterator(dir.path())->path();

    discovery.invalidate();
    EXPECT_FALSE(std::filesystem::exists(file));
    EXPECT_EQ(api.requests(), 2);

    serve_aggregated(api, true);
    EXPECT_EQ(resolved(discovery, "example.com", "v1", "Widget").resource, "gizmos");
    EXPECT_EQ(api.requests(), 4);
    EXPECT_TRUE(std::filesystem::exists(file));
}

TEST(DiscoveryUnit, MemoryOnlyWithoutCacheDir) {
    FakeApiServer api;
    serve_aggregated(api);
    auto client = api.client();
    Discovery discovery(*client, "");
    resolved(discovery, "apps", "v1", "Deployment");
    resolved(discovery, "", "v1", "Namespace");
    EXPECT_EQ(api.requests(), 2);
    discovery.invalidate();
    resolved(discovery, "apps", "v1", "Deployment");
    EXPECT_EQ(api.requests(), 4);
}

TEST(DiscoveryUnit, RefusedDiscoveryIsAnApiErrorAndNothingIsCached) {
    FakeApiServer api;
    serve_aggregated(api);
    api.set("/apis",
            {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"reason", "Forbidden"}, {"code", 403},
             {"message", "forbidden: User \"ci\" cannot get path \"/apis\""}},
            403);
    TempDir dir;
    auto client = api.client();
    Discovery discovery(*client, dir.path().string());

    auto refused = discovery.resolve("apps", "v1", "Deployment");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, util::ErrorCode::api);
    EXPECT_NE(refused.error().describe().find("cannot get path \"/apis\" (Forbidden, HTTP 403)"), std::string::npos)
        << refused.error().describe();
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

    // Nothing was remembered either: once the server answers, the same object works.
    serve_aggregated(api);
    EXPECT_EQ(resolved(discovery, "apps", "v1", "Deployment").resource, "deployments");
}

TEST(DiscoveryUnit, FailedGroupVersionFailsLegacyDiscovery) {
    FakeApiServer api;
    serve_legacy(api);
    api.set("/apis/autoscaling/v1", {{"kind", "Status"}, {"code", 404}, {"message", "not here"}}, 404);
    auto client = api.client();
    Discovery discovery(*client, "");

    auto failed = discovery.resolve("apps", "v1", "Deployment");
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, util::ErrorCode::api);
    EXPECT_NE(failed.error().describe().find("/apis/autoscaling/v1"), std::string::npos) << failed.error().describe();
}

TEST(DiscoveryUnit, DocumentsWithoutResourcesAreAnError) {
    FakeApiServer api;
    api.set("/api", {{"kind", "APIGroupDiscoveryList"}, {"items", Json::array()}});
    api.set("/apis", {{"kind", "APIGroupDiscoveryList"}, {"items", Json::array()}});
    auto client = api.client();
    Discovery discovery(*client, "");

    auto empty = discovery.resolve("apps", "v1", "Deployment");
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code, util::ErrorCode::api);
}

TEST(DiscoveryUnit, UnreachableServerIsANetworkError) {
    std::string server;
    {
        LocalHttpServer closed([](const LocalHttpServer::Request&) { return LocalHttpServer::Reply{}; });
        server = closed.url("");
    }
    auto client = Client::create(RestConfig{.server = server}, ClientOptions{.max_attempts = 1});
    ASSERT_TRUE(client);
    Discovery discovery(**client, "");

    auto unreachable = discovery.resolve("apps", "v1", "Deployment");
    ASSERT_FALSE(unreachable);
    EXPECT_EQ(unreachable.error().code, util::ErrorCode::network) << unreachable.error().describe();
}

}  // namespace
}  // namespace minicd::kube
