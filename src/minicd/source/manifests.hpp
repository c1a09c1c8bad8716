#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::source {

// One Kubernetes object read from a manifest, with where it came from (for error messages).
struct Manifest {
    model::Object object;
    std::string file;
    int line = 0;
};

// Loads objects from files and directories, in the order given. A directory with a
// kustomization.yaml (or .yml, or Kustomization) is rendered by `kubectl kustomize`, also when met
// while recursing; other directories are read recursively (*.yaml, *.yml, *.json) in the order
// `kubectl apply -R` uses: names sorted within each directory, depth first, symlinked directories
// not followed. Empty documents are skipped, `kind: List` (and other *List kinds with items) are
// flattened. Every object needs apiVersion, kind and metadata.name, otherwise the error names
// file:line (line of the document; list items add "items[N]: " to the message).
Result<std::vector<Manifest>> load_manifests(const std::vector<std::string>& paths);

// The objects of YAML text another program printed (a renderer's output), by the same rules;
// errors name `file`:line, the line counted in `text`.
Result<std::vector<Manifest>> read_manifests(std::string_view text, const std::string& file);

}  // namespace minicd::source
