#pragma once

#include <functional>
#include <string>

#include "minicd/build/artifacts.hpp"
#include "minicd/build/builder.hpp"
#include "minicd/model/image_ref.hpp"
#include "minicd/registry/client.hpp"
#include "minicd/util/result.hpp"

namespace minicd::build {

// Asks the registry which manifest digest a reference (with its tag) names now.
using DigestResolver = std::function<Result<std::string>(const model::ImageRef&)>;

// Resolves through minicd's registry client, which must outlive the resolver.
DigestResolver registry_resolver(registry::Client& client);

// Builds the image with the configured builder and, when the request says so, pushes every
// reference, then asks the registry (through `resolve`) for the digest of each. The builder's own
// report of the digest is only a cross-check: when it differs from what the registry serves, that
// is an error. Returns the artifact of the main reference (repository:tag); its digest is "" when
// nothing was pushed. A builder failure names the step, the builder's exit status and the last
// lines of its stderr.
Result<Artifact> build_image(const BuilderConfig& config, const BuildRequest& request, const DigestResolver& resolve);

}  // namespace minicd::build
