#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

namespace minicd::registry {

inline constexpr std::string_view k_oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view k_docker_manifest_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view k_docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";

// The Accept header for manifests: all four types, so a multi-arch tag is served as its index and
// not as one platform's manifest.
std::string manifest_accept();

bool is_index_media_type(std::string_view media_type);
// One of the four manifest types (index or image).
bool is_manifest_media_type(std::string_view media_type);

// What a registry says about a manifest or blob.
struct Descriptor {
    std::string media_type;
    std::string digest;  // "sha256:<hex>"
    std::int64_t size = -1;  // -1 when the registry did not say

    friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

// A manifest exactly as the registry served it: its digest is over these bytes.
struct Manifest {
    std::string bytes;
    std::string media_type;
    std::string digest;
};

// The descriptor of a manifest as it was read.
Descriptor descriptor_of(const Manifest& manifest);

// "sha256:" + the hex SHA-256 of the bytes.
std::string sha256_digest(std::string_view bytes);

// Checks that the bytes hash to `expected`. Only sha256 digests can be checked; any other
// algorithm is an error rather than a silent pass. `subject` names the manifest for the message.
Result<void> verify_digest(std::string_view bytes, std::string_view expected, std::string subject);

// The media type of manifest bytes: the Content-Type when it is a manifest type, otherwise the
// body's mediaType, otherwise guessed from its shape (OCI allows leaving mediaType out).
// Empty when the bytes are not a JSON manifest.
std::string manifest_media_type(std::string_view content_type, std::string_view bytes);

// What a manifest points at: the blobs of an image (config first, then layers) and the child
// manifests of an index. Layers that must not be copied (foreign / non-distributable, with URLs
// of their own) are left out.
struct References {
    std::vector<Descriptor> blobs;
    std::vector<Descriptor> manifests;
};
Result<References> manifest_references(const Manifest& manifest);

}  // namespace minicd::registry
