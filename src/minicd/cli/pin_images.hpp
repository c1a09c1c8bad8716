#pragma once

#include <map>
#include <string>
#include <vector>

#include "minicd/render/images.hpp"
#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

namespace minicd::cli {

// Pins the images of a build artifact file (minicd build --output-file) in the manifests: every
// reference to a built image becomes <reference>@<digest>. `image_paths` adds custom-resource
// places, "<Kind>[.<group>]:<path>" (render::parse_image_path). Each replacement is logged, and
// built images no manifest uses are warned about. Returns image name -> pinned reference, as the
// release record keeps them.
Result<std::map<std::string, std::string>> pin_built_images(const std::string& artifacts_file,
                                                            const std::vector<std::string>& image_paths,
                                                            std::vector<source::Manifest>& manifests);

// The images the manifests already pin by digest (render::digest_pinned_images), for the release
// record of an apply without build artifacts; `image_paths` as above.
Result<std::map<std::string, std::string>> digest_pinned_images(const std::vector<std::string>& image_paths,
                                                                const std::vector<source::Manifest>& manifests);

}  // namespace minicd::cli
