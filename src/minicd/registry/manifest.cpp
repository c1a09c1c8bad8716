#include "minicd/registry/manifest.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "minicd/model/image_ref.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::registry {
namespace {

using Json = nlohmann::json;
using util::ErrorCode;

// Content-Type without parameters such as "; charset=utf-8".
std::string_view bare_type(std::string_view content_type) {
    std::size_t semicolon = content_type.find(';');
    std::string_view type = content_type.substr(0, semicolon);
    while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
    return type;
}

bool is_foreign_layer(const Json& layer) {
    const std::string type = model::string_at(layer, {"mediaType"});
    bool foreign = type.find("foreign") != std::string::npos || type.find("nondistributable") != std::string::npos;
    return foreign && model::member(layer, "urls") != nullptr;
}

Result<Descriptor> descriptor_from(const Json& json, const std::string& where, const std::string& digest) {
    const Json* found = model::member(json, "digest");
    if (found == nullptr || !found->is_string()) return fail(ErrorCode::api, fmt::format("{} has no digest", where), digest);
    // A mediaType of another type reads as none: the digest alone decides what is copied.
    Descriptor descriptor{.media_type = model::string_at(json, {"mediaType"}), .digest = found->get<std::string>(), .size = -1};
    if (!model::is_valid_digest(descriptor.digest)) {
        return fail(ErrorCode::api, fmt::format("{} has an invalid digest \"{}\"", where, descriptor.digest), digest);
    }
    if (auto size = model::int_at(json, {"size"})) descriptor.size = *size;
    return descriptor;
}

}  // namespace

std::string manifest_accept() {
    return fmt::format("{}, {}, {}, {}", k_oci_index, k_oci_manifest, k_docker_manifest_list, k_docker_manifest);
}

bool is_index_media_type(std::string_view media_type) {
    return media_type == k_oci_index || media_type == k_docker_manifest_list;
}

bool is_manifest_media_type(std::string_view media_type) {
    return is_index_media_type(media_type) || media_type == k_oci_manifest || media_type == k_docker_manifest;
}

Descriptor descriptor_of(const Manifest& manifest) {
    return Descriptor{.media_type = manifest.media_type, .digest = manifest.digest,
                      .size = static_cast<std::int64_t>(manifest.bytes.size())};
}

std::string sha256_digest(std::string_view bytes) { return "sha256:" + util::sha256_hex(bytes); }

Result<void> verify_digest(std::string_view bytes, std::string_view expected, std::string subject) {
    if (!expected.starts_with("sha256:")) {
        return fail(ErrorCode::api, fmt::format("cannot verify digest \"{}\": only sha256 is supported", expected),
                    std::move(subject));
    }
    std::string actual = sha256_digest(bytes);
    if (actual != expected) {
        return fail(ErrorCode::api,
                    fmt::format("the registry sent content whose digest is {}, not the expected {}", actual, expected),
                    std::move(subject));
    }
    return {};
}

std::string manifest_media_type(std::string_view content_type, std::string_view bytes) {
    std::string_view declared = bare_type(content_type);
    if (is_manifest_media_type(declared)) return std::string(declared);
    auto body = model::parse_json(bytes);
    if (!body.is_object()) return {};
    if (auto type = body.find("mediaType"); type != body.end() && type->is_string()) return type->get<std::string>();
    if (body.contains("manifests")) return std::string(k_oci_index);
    if (body.contains("config") || body.contains("layers")) return std::string(k_oci_manifest);
    return {};
}

Result<References> manifest_references(const Manifest& manifest) {
    auto body = model::parse_json(manifest.bytes);
    if (!body.is_object()) return fail(ErrorCode::api, "the manifest is not a JSON object", manifest.digest);
    References references;
    if (is_index_media_type(manifest.media_type)) {
        const Json* children = model::member(body, "manifests");
        if (children == nullptr) return references;
        if (!children->is_array()) return fail(ErrorCode::api, "the index's manifests is not a list", manifest.digest);
        for (std::size_t i = 0; i < children->size(); ++i) {
            auto child = descriptor_from((*children)[i], fmt::format("manifests[{}]", i), manifest.digest);
            if (!child) return fail(child.error());
            references.manifests.push_back(std::move(*child));
        }
        return references;
    }
    if (body.contains("config")) {
        auto config = descriptor_from(body["config"], "config", manifest.digest);
        if (!config) return fail(config.error());
        references.blobs.push_back(std::move(*config));
    }
    const Json* layers = model::member(body, "layers");
    if (layers == nullptr) return references;
    if (!layers->is_array()) return fail(ErrorCode::api, "the manifest's layers is not a list", manifest.digest);
    for (std::size_t i = 0; i < layers->size(); ++i) {
        if (is_foreign_layer((*layers)[i])) continue;
        auto layer = descriptor_from((*layers)[i], fmt::format("layers[{}]", i), manifest.digest);
        if (!layer) return fail(layer.error());
        references.blobs.push_back(std::move(*layer));
    }
    return references;
}

}  // namespace minicd::registry
