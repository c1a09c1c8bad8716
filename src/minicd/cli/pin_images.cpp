#include "minicd/cli/pin_images.hpp"

#include "minicd/build/artifacts.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

Result<std::optional<render::ImagePinning>> pinning_from_artifacts(const std::string& artifacts_file) {
    if (artifacts_file.empty()) return std::optional<render::ImagePinning>();
    auto artifacts = build::read_artifacts(artifacts_file);
    if (!artifacts) return fail(artifacts.error());
    render::ImagePinning pinning;
    for (const auto& artifact : *artifacts) {
        pinning.images.push_back({.image_name = artifact.image_name, .reference = artifact.reference, .digest = artifact.digest});
    }
    return pinning;
}

Result<std::vector<render::ImagePath>> parse_image_paths(const std::vector<std::string>& image_paths) {
    std::vector<render::ImagePath> paths;
    for (const auto& text : image_paths) {
        auto path = render::parse_image_path(text);
        if (!path) return fail(path.error());
        paths.push_back(std::move(*path));
    }
    return paths;
}

void log_rendered(const render::Rendered& rendered) {
    for (const auto& replacement : rendered.replacements) {
        util::log_info("{} {}: image {} -> {}", replacement.object.describe(), replacement.path, replacement.from,
                       replacement.to);
    }
    for (const auto& warning : rendered.warnings) util::log_warn("{}", warning);
}

}  // namespace minicd::cli
