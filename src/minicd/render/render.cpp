#include "minicd/render/render.hpp"

#include <algorithm>
#include <utility>

#include "minicd/render/helm_marks.hpp"

namespace minicd::render {

namespace {

void add_warnings(std::vector<std::string>& warnings, std::vector<std::string> found) {
    for (auto& warning : found) {
        // The same warning twice tells the reader nothing new.
        if (std::find(warnings.begin(), warnings.end(), warning) != warnings.end()) continue;
        warnings.push_back(std::move(warning));
    }
}

std::map<std::string, std::string> pinned_images(const std::vector<ImagePin>& pins) {
    std::map<std::string, std::string> images;
    for (const auto& pin : pins) images[pin.image_name] = pin.reference + "@" + pin.digest;
    return images;
}

Result<void> pin(Rendered& rendered, const RenderRequest& request) {
    if (!request.pinning) {
        // Nothing to pin, but the release still records the images the manifests pin themselves.
        rendered.images = digest_pinned_images(rendered.manifests, request.custom_paths);
        return {};
    }
    const ImagePinning pinning{
        .images = request.pinning->images, .declared = request.pinning->declared, .custom_paths = request.custom_paths};
    auto pinned = pin_images(rendered.manifests, pinning);
    if (!pinned) return fail(pinned.error());
    rendered.replacements = std::move(pinned->replacements);
    add_warnings(rendered.warnings, std::move(pinned->warnings));
    rendered.images = pinned_images(pinning.images);
    return {};
}

Result<void> route(Rendered& rendered, const std::optional<PreviewRouting>& preview) {
    if (!preview) return {};
    auto routed = route_preview(rendered.manifests, *preview);
    if (!routed) return fail(routed.error());
    add_warnings(rendered.warnings, std::move(routed->warnings));
    return {};
}

Result<std::vector<source::Manifest>> load(const RenderRequest& request) {
    if (!request.chart) return source::load_manifests(request.manifest_paths);
    auto manifests = source::render_chart(*request.chart);
    if (!manifests) return fail(manifests.error());
    if (auto translated = translate_helm_marks(*manifests); !translated) return fail(translated.error());
    return manifests;
}

}  // namespace

Result<Rendered> render(const RenderRequest& request) {
    Rendered rendered;
    auto manifests = load(request);
    if (!manifests) return fail(manifests.error());
    rendered.manifests = std::move(*manifests);
    // By digest, so the cluster runs exactly the bytes that were built or promoted.
    if (auto pinned = pin(rendered, request); !pinned) return fail(pinned.error());
    // A preview answers on its own host, never on the one the manifests were written for.
    if (auto routed = route(rendered, request.preview); !routed) return fail(routed.error());
    return rendered;
}

}  // namespace minicd::render
