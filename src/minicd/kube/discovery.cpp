#include "minicd/kube/discovery.hpp"
#include "minicd/kube/verbs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <optional>
#include <sstream>

#include "minicd/model/json_read.hpp"
#include "minicd/util/log.hpp"

namespace minicd::kube {

using model::Json;
using util::ErrorCode;

namespace {

// Aggregated discovery first (v2, then v2beta1); the trailing plain JSON makes old servers answer
// with the legacy APIVersions / APIGroupList documents instead of 406.
constexpr std::string_view k_discovery_accept =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json";

// Legacy discovery needs one request per group-version; more than this at once only queues up at the server.
constexpr std::size_t k_max_parallel_fetches = 8;

// Bumped when the cache file's shape changes; other values are a cache miss.
constexpr int k_cache_format = 1;

std::string gvk_key(std::string_view group, std::string_view version, std::string_view kind) {
    return fmt::format("{}/{}/{}", group, version, kind);
}

// Discovery documents come from the server: read them without trusting types, so a surprising
// field is skipped instead of throwing.
std::string text_of(const Json& object, std::string_view key) {
    if (!object.is_object()) return {};
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const Json& array_of(const Json& object, std::string_view key) {
    static const Json empty = Json::array();
    if (!object.is_object()) return empty;
    auto it = object.find(key);
    return it != object.end() && it->is_array() ? *it : empty;
}

const Json& object_of(const Json& object, std::string_view key) {
    static const Json empty = Json::object();
    if (!object.is_object()) return empty;
    auto it = object.find(key);
    return it != object.end() && it->is_object() ? *it : empty;
}

// A boolean field; nullopt when missing or not a boolean.
std::optional<bool> flag_of(const Json& object, std::string_view key) {
    if (!object.is_object()) return std::nullopt;
    auto it = object.find(key);
    return it != object.end() && it->is_boolean() ? std::optional<bool>(it->get<bool>()) : std::nullopt;
}

std::vector<std::string> strings_of(const Json& object, std::string_view key) {
    std::vector<std::string> values;
    for (const auto& value : array_of(object, key)) {
        if (value.is_string()) values.push_back(value.get<std::string>());
    }
    return values;
}

// The first entry for a key wins, so a document's own order decides duplicates deterministically.
void add(std::map<std::string, ResourceInfo>& map, ResourceInfo info) {
    if (info.kind.empty() || info.resource.empty() || info.version.empty()) return;
    // Subresources ("deployments/status") share their parent's kind but are not where objects live.
    if (info.resource.find('/') != std::string::npos) return;
    std::string key = gvk_key(info.group, info.version, info.kind);
    map.emplace(std::move(key), std::move(info));
}

// items[] = groups (core is the item without a name, served at /api), versions[] = that group's
// versions, resources[] = what each serves. Stale versions belong to an unavailable aggregated
// API server; client-go skips them too.
void add_aggregated(std::map<std::string, ResourceInfo>& map, const Json& document) {
    for (const auto& item : array_of(document, "items")) {
        std::string group = text_of(object_of(item, "metadata"), "name");
        for (const auto& version : array_of(item, "versions")) {
            if (text_of(version, "freshness") == "Stale") continue;
            for (const auto& resource : array_of(version, "resources")) {
                add(map, {.group = group,
                          .version = text_of(version, "version"),
                          .kind = text_of(object_of(resource, "responseKind"), "kind"),
                          .resource = text_of(resource, "resource"),
                          .namespaced = text_of(resource, "scope") == "Namespaced",
                          .verbs = strings_of(resource, "verbs")});
            }
        }
    }
}

// An APIResourceList ("/api/v1", "/apis/apps/v1"): the list's groupVersion is the key, not the
// entries' own group/version (those name the kind a subresource answers with, e.g. autoscaling Scale).
void add_resource_list(std::map<std::string, ResourceInfo>& map, const Json& document, std::string_view group,
                       std::string_view version) {
    for (const auto& resource : array_of(document, "resources")) {
        add(map, {.group = std::string(group),
                  .version = std::string(version),
                  .kind = text_of(resource, "kind"),
                  .resource = text_of(resource, "name"),
                  .namespaced = flag_of(resource, "namespaced").value_or(false),
                  .verbs = strings_of(resource, "verbs")});
    }
}

// A legacy group-version to fetch: where, and what its resources are keyed under.
struct GroupVersion {
    std::string path;  // "/api/v1", "/apis/apps/v1"
    std::string group;
    std::string version;
};

// The group-versions a legacy root document names: APIVersions ("/api") or APIGroupList ("/apis").
std::vector<GroupVersion> legacy_group_versions(const Json& document, std::string_view root) {
    std::vector<GroupVersion> found;
    if (root == "/api") {
        for (const auto& version : array_of(document, "versions")) {
            if (!version.is_string() || version.get<std::string>().empty()) continue;
            found.push_back({"/api/" + version.get<std::string>(), "", version.get<std::string>()});
        }
        return found;
    }
    // Every version of every group, not only the preferred one: manifests may name any served version.
    for (const auto& group : array_of(document, "groups")) {
        std::string name = text_of(group, "name");
        for (const auto& version : array_of(group, "versions")) {
            std::string group_version = text_of(version, "groupVersion");
            std::string version_name = text_of(version, "version");
            if (name.empty() || group_version.empty() || version_name.empty()) continue;
            found.push_back({"/apis/" + group_version, name, version_name});
        }
    }
    return found;
}

// GET returning the parsed document; a non-2xx answer or a body that is not a JSON object is an error.
Result<Json> fetch_document(Client& client, const std::string& path, std::string_view accept) {
    auto response = client.send({.path = path, .accept = std::string(accept)});
    if (!response) return fail(response.error().context("API discovery"));
    if (response->status < 200 || response->status >= 300) {
        return fail(api_error(*response, "API discovery GET " + path));
    }
    auto document = model::parse_json(response->body);
    if (document.is_discarded() || !document.is_object()) {
        return fail(ErrorCode::api, "the server answered with something that is not a JSON object",
                    "API discovery GET " + path);
    }
    return document;
}

// Fetches the legacy group-versions with at most k_max_parallel_fetches requests in flight; the
// first failure (in list order) is the error.
Result<std::vector<Json>> fetch_group_versions(Client& client, const std::vector<GroupVersion>& group_versions) {
    std::vector<Result<Json>> results(group_versions.size());
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    auto worker = [&] {
        // Once one fetch failed the whole refresh fails, so the rest is not worth asking for.
        for (std::size_t index; !failed && (index = next++) < group_versions.size();) {
            results[index] = fetch_document(client, group_versions[index].path, "application/json");
            if (!results[index]) failed = true;
        }
    };
    std::size_t workers = std::min(k_max_parallel_fetches, group_versions.size());
    std::vector<std::future<void>> running;
    for (std::size_t i = 0; i + 1 < workers; ++i) running.push_back(std::async(std::launch::async, worker));
    if (workers > 0) worker();
    for (auto& task : running) task.get();

    // Slots are claimed in order, so every slot before a failed one holds a real answer; the
    // unclaimed ones after it (default, null) are never reached.
    std::vector<Json> documents;
    for (auto& result : results) {
        if (!result) return fail(result.error());
        documents.push_back(std::move(*result));
    }
    return documents;
}

// One root ("/api" or "/apis"): aggregated documents are read as they are; legacy ones name the
// group-versions still to fetch.
void read_root(std::map<std::string, ResourceInfo>& map, std::vector<GroupVersion>& legacy, const Json& document,
               std::string_view root) {
    if (text_of(document, "kind") == "APIGroupDiscoveryList") {
        add_aggregated(map, document);
        return;
    }
    auto found = legacy_group_versions(document, root);
    legacy.insert(legacy.end(), std::make_move_iterator(found.begin()), std::make_move_iterator(found.end()));
}

Result<std::map<std::string, ResourceInfo>> fetch_all(Client& client) {
    // Both roots at once: a cold resolve against an aggregated-discovery server costs one round trip.
    auto core = std::async(std::launch::async, [&client] { return fetch_document(client, "/api", k_discovery_accept); });
    auto groups = fetch_document(client, "/apis", k_discovery_accept);
    auto core_document = core.get();
    if (!core_document) return fail(core_document.error());
    if (!groups) return fail(groups.error());

    std::map<std::string, ResourceInfo> map;
    std::vector<GroupVersion> legacy;
    read_root(map, legacy, *core_document, "/api");
    read_root(map, legacy, *groups, "/apis");
    if (!legacy.empty()) {
        auto documents = fetch_group_versions(client, legacy);
        if (!documents) return fail(documents.error());
        for (std::size_t i = 0; i < legacy.size(); ++i) {
            add_resource_list(map, (*documents)[i], legacy[i].group, legacy[i].version);
        }
    }
    // Every API server serves at least the core group; nothing at all means we did not talk to one.
    if (map.empty()) {
        return fail(ErrorCode::api, "the server's discovery documents list no resources", client.config().server);
    }
    return map;
}

// "https://10.0.0.1:6443/k8s/clusters/c-1" -> "10.0.0.1_6443_k8s_clusters_c-1": host and port (and
// a proxy path, so clusters behind one host stay apart) as a file name.
std::string cache_file_name(std::string_view server) {
    if (auto scheme = server.find("://"); scheme != std::string_view::npos) server.remove_prefix(scheme + 3);
    while (server.ends_with('/')) server.remove_suffix(1);
    std::string name;
    for (char c : server) {
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
        name += plain ? c : '_';
    }
    return (name.empty() ? "default" : name) + ".json";
}

// Creates the missing folders of `dir` with 0700: the cache reveals what the cluster runs.
bool make_private_dirs(const std::filesystem::path& dir) {
    std::error_code error;
    if (std::filesystem::is_directory(dir, error)) return true;
    if (dir.has_parent_path() && dir.parent_path() != dir && !make_private_dirs(dir.parent_path())) return false;
    return ::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t written = ::write(fd, data.data(), data.size());
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
}

std::int64_t unix_seconds_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string ResourceInfo::collection_path(std::string_view namespace_) const {
    std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    if (namespaced && !namespace_.empty()) path += "/namespaces/" + path_segment(namespace_);
    return path + "/" + resource;
}

std::string ResourceInfo::object_path(std::string_view namespace_, std::string_view name) const {
    return collection_path(namespace_) + "/" + path_segment(name);
}

Discovery::Discovery(Client& client, std::string cache_dir, std::chrono::seconds ttl)
    : m_client(client),
      m_cache_file(cache_dir.empty() ? std::string()
                                     : (std::filesystem::path(cache_dir) / cache_file_name(client.config().server))
                                           .string()),
      m_ttl(ttl) {}

Result<ResourceInfo> Discovery::resolve(std::string_view group, std::string_view version, std::string_view kind) {
    std::lock_guard lock(m_mutex);
    // First use: the disk cache when it is young enough, else the server.
    if (m_source == Source::none && !load_cache_locked()) {
        if (auto refreshed = refresh_locked(); !refreshed) return fail(refreshed.error());
    }
    if (const auto* info = find_locked(group, version, kind)) return *info;
    // A cached map may predate a CRD: ask the server once. A map this object fetched is believed.
    if (m_source == Source::disk) {
        if (auto refreshed = refresh_locked(); !refreshed) return fail(refreshed.error());
        if (const auto* info = find_locked(group, version, kind)) return *info;
    }
    std::string api_version = group.empty() ? std::string(version) : fmt::format("{}/{}", group, version);
    return fail(ErrorCode::input,
                fmt::format("no matches for kind \"{}\" in version \"{}\" (is its CustomResourceDefinition installed?)",
                            kind, api_version));
}

Result<ResourceInfo> Discovery::resolve_object(const model::ObjectId& id) {
    auto exact = resolve(id.group, id.version, id.kind);
    if (exact || exact.error().code != ErrorCode::input) return exact;
    std::lock_guard lock(m_mutex);
    for (const auto& [key, info] : m_by_gvk) {
        if (info.group == id.group && info.kind == id.kind) return info;
    }
    return exact;
}

void Discovery::invalidate() {
    std::lock_guard lock(m_mutex);
    m_by_gvk.clear();
    m_source = Source::none;
    if (m_cache_file.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(m_cache_file, ignored);
}

const ResourceInfo* Discovery::find_locked(std::string_view group, std::string_view version,
                                           std::string_view kind) const {
    auto it = m_by_gvk.find(gvk_key(group, version, kind));
    return it == m_by_gvk.end() ? nullptr : &it->second;
}

Result<void> Discovery::refresh_locked() {
    long before = m_client.requests_sent();
    auto fetched = fetch_all(m_client);
    if (!fetched) return fail(fetched.error());
    m_by_gvk = std::move(*fetched);
    m_source = Source::server;
    util::log_debug("discovery: {} kinds from {} in {} requests", m_by_gvk.size(), m_client.config().server,
                    m_client.requests_sent() - before);
    save_cache_locked();
    return {};
}

bool Discovery::load_cache_locked() {
    if (m_cache_file.empty()) return false;
    std::ifstream file(m_cache_file, std::ios::binary);
    if (!file) return false;
    std::stringstream text;
    text << file.rdbuf();
    auto cache = model::parse_json(text.str());
    if (cache.is_discarded() || !cache.is_object()) return false;

    // Any doubt about the file (other format, other server, clock jumped back, too old) is a miss.
    auto format = cache.find("format");
    if (format == cache.end() || *format != k_cache_format) return false;
    if (text_of(cache, "server") != m_client.config().server) return false;
    const auto fetched = model::int_at(cache, {"fetched_at"});
    const std::int64_t now = unix_seconds_now();
    // Compared before subtracting: a time far in the past (or beyond int64) must not overflow the age.
    if (!fetched || *fetched < 0 || *fetched > now) return false;
    if (now - *fetched >= m_ttl.count()) return false;

    std::map<std::string, ResourceInfo> map;
    for (const auto& entry : array_of(cache, "resources")) {
        auto namespaced = flag_of(entry, "namespaced");
        if (!namespaced) return false;
        ResourceInfo info{.group = text_of(entry, "group"),
                          .version = text_of(entry, "version"),
                          .kind = text_of(entry, "kind"),
                          .resource = text_of(entry, "resource"),
                          .namespaced = *namespaced,
                          .verbs = strings_of(entry, "verbs")};
        if (info.version.empty() || info.kind.empty() || info.resource.empty()) return false;
        std::string key = gvk_key(info.group, info.version, info.kind);
        map.emplace(std::move(key), std::move(info));
    }
    if (map.empty()) return false;
    m_by_gvk = std::move(map);
    m_source = Source::disk;
    return true;
}

void Discovery::save_cache_locked() const {
    if (m_cache_file.empty()) return;
    Json resources = Json::array();
    for (const auto& [key, info] : m_by_gvk) {
        resources.push_back({{"group", info.group},
                             {"version", info.version},
                             {"kind", info.kind},
                             {"resource", info.resource},
                             {"namespaced", info.namespaced},
                             {"verbs", info.verbs}});
    }
    Json cache = {{"format", k_cache_format},
                  {"server", m_client.config().server},
                  {"fetched_at", unix_seconds_now()},
                  {"resources", std::move(resources)}};

    // The cache only saves requests: failing to write it is worth a debug line, not an error.
    std::filesystem::path target(m_cache_file);
    if (!make_private_dirs(target.parent_path())) {
        util::log_debug("discovery: cannot create cache folder {}", target.parent_path().string());
        return;
    }
    // Temp file + rename: a concurrent reader sees the old file or the new one, never half of one.
    std::string temp = m_cache_file + ".XXXXXX";
    int fd = ::mkstemp(temp.data());  // mode 0600
    if (fd < 0) {
        util::log_debug("discovery: cannot create a temporary file beside {}", m_cache_file);
        return;
    }
    bool written = write_all(fd, cache.dump()) && ::fsync(fd) == 0;
    written = ::close(fd) == 0 && written;
    if (!written || ::rename(temp.c_str(), m_cache_file.c_str()) != 0) {
        ::unlink(temp.c_str());
        util::log_debug("discovery: cannot write the cache file {}", m_cache_file);
    }
}

std::string default_discovery_cache_dir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
        return std::string(xdg) + "/minicd/discovery";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        return std::string(home) + "/.cache/minicd/discovery";
    }
    return {};
}

}  // namespace minicd::kube
