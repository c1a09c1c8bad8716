#include "minicd/cli/pin_images.hpp"

#include "minicd/build/artifacts.hpp"
#include "minicd/render/images.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

namespace {

Result<std::vector<render::ImagePath>> parse_image_paths(const std::vector<std::string>& image_paths) {
    std::vector<render::ImagePath> paths;
    for (const auto& text : image_paths) {
        auto path = render::parse_image_path(text);
        if (!path) return fail(path.error());
        paths.push_back(std::move(*path));
    }
    return paths;
}

}  // namespace

Result<std::map<std::string, std::string>> pin_built_images(const std::string& artifacts_file,
                                                            const std::vector<std::string>& image_paths,
                                                            std::vector<source::Manifest>& manifests) {
    auto artifacts = build::read_artifacts(artifacts_file);
    if (!artifacts) return fail(artifacts.error());
    render::ImagePinning pinning;
    std::map<std::string, std::string> pinned;
    for (const auto& artifact : *artifacts) {
        pinning.images.push_back({.image_name = artifact.image_name, .reference = artifact.reference, .digest = artifact.digest});
        pinned[artifact.image_name] = artifact.pinned();
    }
    auto paths = parse_image_paths(image_paths);
    if (!paths) return fail(paths.error());
    pinning.custom_paths = std::move(*paths);
    auto result = render::pin_images(manifests, pinning);
    if (!result) return fail(result.error());
    for (const auto& replacement : result->replacements) {
        util::log_info("{} {}: image {} -> {}", replacement.object.describe(), replacement.path, replacement.from,
                       replacement.to);
    }
    for (const auto& warning : result->warnings) util::log_warn("{}", warning);
    return pinned;
}

Result<std::map<std::string, std::string>> digest_pinned_images(const std::vector<std::string>& image_paths,
                                                                const std::vector<source::Manifest>& manifests) {
    auto paths = parse_image_paths(image_paths);
    if (!paths) return fail(paths.error());
    return render::digest_pinned_images(manifests, *paths);
}

}  // namespace minicd::cli
