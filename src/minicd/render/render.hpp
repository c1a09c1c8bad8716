#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "minicd/render/images.hpp"
#include "minicd/render/preview.hpp"
#include "minicd/source/helm.hpp"
#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

namespace minicd::render {

// Everything minicd changes in the manifests before they reach a cluster.
struct RenderRequest {
    std::vector<std::string> manifest_paths;  // files or directories, as source::load_manifests takes them
    std::optional<source::ChartRender> chart;  // a Helm chart, rendered instead of manifest_paths
    // nullopt: pin nothing; the images map then lists what the manifests pin by digest themselves.
    // Its custom_paths are not read: custom_paths below serve pinning and that report alike.
    std::optional<ImagePinning> pinning;
    std::vector<ImagePath> custom_paths;     // where custom resources keep image references
    std::optional<PreviewRouting> preview;   // nullopt: Ingresses are left as written
};

struct Rendered {
    std::vector<source::Manifest> manifests;
    std::vector<ImageReplacement> replacements;  // image references rewritten, in manifest order
    std::vector<std::string> warnings;           // pinning's, then routing's; each once, in the order found
    // What the release records, image name -> "reference@sha256:...": the pins when pinning was
    // asked for (also names no manifest uses), otherwise what the manifests pin by digest.
    std::map<std::string, std::string> images;
};

// Loads the manifests (or renders the chart and translates its Helm marks), pins images, then routes
// the preview host. Errors are those of source::load_manifests (or render_chart and
// translate_helm_marks), pin_images and route_preview, unchanged (file:line subjects included).
// Reads files (and may run `kubectl kustomize` or `helm template`); everything after loading is pure.
Result<Rendered> render(const RenderRequest& request);

}  // namespace minicd::render
