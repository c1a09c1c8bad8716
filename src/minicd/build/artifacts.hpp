#pragma once

#include <string>
#include <vector>

#include "minicd/util/result.hpp"

namespace minicd::build {

// One image that was built and pushed. Serialized in the build artifact file as
// {"imageName", "reference", "digest", "tag"} where "tag" is reference@digest: the field names
// Skaffold's --file-output uses ("imageName", "tag") plus the two parts, so either tool can read it.
struct Artifact {
    std::string image_name;  // the name manifests use for the image, e.g. "shop"
    std::string reference;   // what was pushed, with its tag: "127.0.0.1:5000/apps/shop:abc1234"
    std::string digest;      // "sha256:<64 hex>", as the registry serves the manifest

    // "reference@digest": the reference that can never move.
    std::string pinned() const;

    friend bool operator==(const Artifact&, const Artifact&) = default;
};

// Reads {"builds": [...]}. Each entry needs imageName and either reference + digest or a
// Skaffold-style tag "reference@digest" (when all three are given they must agree). Errors name
// the file as subject and the field in the message ("builds[1].digest: ...").
Result<std::vector<Artifact>> read_artifacts(const std::string& path);

// The JSON text of the file, as write_artifacts writes it.
std::string artifacts_text(const std::vector<Artifact>& artifacts);

// Writes the file atomically (a temporary file in the same directory, then rename), so a reader
// never sees half of it and a failed write leaves the old file as it was.
Result<void> write_artifacts(const std::string& path, const std::vector<Artifact>& artifacts);

}  // namespace minicd::build
