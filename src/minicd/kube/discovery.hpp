#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/kube/client.hpp"
#include "minicd/util/result.hpp"

namespace minicd::kube {

// How one kind is served: what the REST mapping needs.
struct ResourceInfo {
    std::string group;     // "" for core
    std::string version;   // "v1"
    std::string kind;      // "Deployment"
    std::string resource;  // plural as the server names it: "deployments", "ingresses", "endpoints"
    bool namespaced = false;
    std::vector<std::string> verbs;

    // "/apis/apps/v1/namespaces/<ns>/deployments" or "/api/v1/nodes" (namespace ignored when cluster-scoped).
    std::string collection_path(std::string_view namespace_ = {}) const;
    // collection_path + "/" + name.
    std::string object_path(std::string_view namespace_, std::string_view name) const;
};

// Where commands keep the discovery cache: $XDG_CACHE_HOME/minicd/discovery, else
// ~/.cache/minicd/discovery; "" (no disk cache) when neither variable is set.
std::string default_discovery_cache_dir();

// Maps apiVersion + kind to resources using the server's discovery documents: aggregated
// discovery (apidiscovery.k8s.io/v2, falling back to v2beta1 and then /api + /apis), cached on disk
// per server for `ttl`, refreshed once on a miss. Thread-safe.
class Discovery {
public:
    // `cache_dir` "" disables the disk cache (e.g. $XDG_CACHE_HOME/minicd/discovery is the CLI default).
    Discovery(Client& client, std::string cache_dir, std::chrono::seconds ttl = std::chrono::hours(6));

    // The resource serving group/version kind (group "" for core). An unknown kind in a map read from
    // the disk cache triggers one refresh; a map this object fetched itself is believed until
    // invalidate(). Still unknown: an input error saying no matches for kind "X" in version "g/v" (is
    // its CRD installed?). Failing to fetch discovery is a network or api error.
    Result<ResourceInfo> resolve(std::string_view group, std::string_view version, std::string_view kind);

    // The resource serving the object `id` names: through id.version when that is served, else
    // through any served version of its group and kind. Identity has no version, so an inventory
    // entry written as v1beta1 still finds its object after the CRD stopped serving v1beta1.
    Result<ResourceInfo> resolve_object(const model::ObjectId& id);

    // Forget everything (memory and disk), e.g. after a CRD was applied.
    void invalidate();

private:
    // Where the current map came from: decides whether a miss is worth asking the server again.
    enum class Source {
        none,    // nothing loaded yet (or invalidated)
        disk,    // the cache file: may predate a CRD, so a miss refreshes once
        server,  // fetched by this object: a miss is final until invalidate()
    };

    // Replaces the map with the server's current documents and writes the cache; on failure the
    // map is left as it was.
    Result<void> refresh_locked();
    bool load_cache_locked();
    void save_cache_locked() const;
    const ResourceInfo* find_locked(std::string_view group, std::string_view version, std::string_view kind) const;

    Client& m_client;
    std::string m_cache_file;  // "<cache_dir>/<sanitized host_port>.json"; "" when disabled
    std::chrono::seconds m_ttl;
    std::mutex m_mutex;
    Source m_source = Source::none;
    std::map<std::string, ResourceInfo> m_by_gvk;  // key "group/version/Kind" ("/v1/Pod" for core)
};

}  // namespace minicd::kube
