#include "minicd/kube/discovery.hpp"

namespace minicd::kube {

std::string ResourceInfo::collection_path(std::string_view namespace_) const {
    std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
    if (namespaced && !namespace_.empty()) path += "/namespaces/" + std::string(namespace_);
    return path + "/" + resource;
}

std::string ResourceInfo::object_path(std::string_view namespace_, std::string_view name) const {
    return collection_path(namespace_) + "/" + std::string(name);
}

Discovery::Discovery(Client& client, std::string cache_dir, std::chrono::seconds ttl)
    : m_client(client), m_cache_file(std::move(cache_dir)), m_ttl(ttl) {}

Result<ResourceInfo> Discovery::resolve(std::string_view group, std::string_view version, std::string_view kind) {
    return fail(util::ErrorCode::internal,
                "discovery is not implemented yet: " + std::string(group) + "/" + std::string(version) + " " + std::string(kind));
}

void Discovery::invalidate() {}

}  // namespace minicd::kube
