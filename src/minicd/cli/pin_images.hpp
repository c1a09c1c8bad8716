#pragma once

#include <optional>
#include <string>
#include <vector>

#include "minicd/render/images.hpp"
#include "minicd/render/render.hpp"
#include "minicd/util/result.hpp"

namespace minicd::cli {

// The images of a build artifact file (minicd build --output-file), to be pinned by digest
// wherever manifests name them. An empty file name (no --build-artifacts) gives nullopt: nothing
// is pinned, and the release records what the manifests pin by digest themselves.
Result<std::optional<render::ImagePinning>> pinning_from_artifacts(const std::string& artifacts_file);

// --image-path values, "<Kind>[.<group>]:<path>" (render::parse_image_path): where custom
// resources keep images.
Result<std::vector<render::ImagePath>> parse_image_paths(const std::vector<std::string>& image_paths);

// Logs each image reference that was pinned and warns about each render warning.
void log_rendered(const render::Rendered& rendered);

}  // namespace minicd::cli
