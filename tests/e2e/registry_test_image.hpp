#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "minicd/registry/client.hpp"

namespace minicd::e2e {

// Pushes a small OCI image by digest into `repository`: a config naming `architecture` and one
// layer whose bytes are `layer` (registries do not look inside). Fails the test on error.
inline registry::Descriptor push_test_image(registry::Client& client, const model::ImageRef& repository,
                                            const std::string& layer, const std::string& architecture = "amd64") {
    std::string config = fmt::format(R"({{"architecture":"{}","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}}}})",
                                     architecture);
    auto config_blob = client.push_blob(repository, config, "application/vnd.oci.image.config.v1+json");
    auto layer_blob = client.push_blob(repository, layer, "application/vnd.oci.image.layer.v1.tar");
    if (!config_blob || !layer_blob) {
        ADD_FAILURE() << "pushing blobs: " << (config_blob ? layer_blob.error() : config_blob.error()).describe();
        return {};
    }
    std::string manifest = fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
        R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},)"
        R"("layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}})",
        config_blob->digest, config_blob->size, layer_blob->digest, layer_blob->size);
    auto put = client.put_manifest(repository.with_tag("").with_digest(registry::sha256_digest(manifest)), manifest,
                                   registry::k_oci_manifest);
    if (!put) {
        ADD_FAILURE() << "pushing the manifest: " << put.error().describe();
        return {};
    }
    return *put;
}

}  // namespace minicd::e2e
