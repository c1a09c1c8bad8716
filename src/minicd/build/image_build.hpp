#pragma once

#include <functional>
#include <optional>
#include <string>

#include "minicd/build/artifacts.hpp"
#include "minicd/build/builder.hpp"
#include "minicd/model/image_ref.hpp"
#include "minicd/registry/client.hpp"
#include "minicd/registry/credentials.hpp"
#include "minicd/util/result.hpp"

namespace minicd::build {

// Asks the registry which manifest digest a reference (with its tag) names now.
using DigestResolver = std::function<Result<std::string>(const model::ImageRef&)>;

// Resolves through minicd's registry client, which must outlive the resolver.
DigestResolver registry_resolver(registry::Client& client);

// The credentials a build pushes with when no auth file is given: what registry::find_credentials
// finds for the registry the request pushes to, so the builder pushes as the same account minicd
// reads the digests back with. nullopt when the request does not push, `auth_file` is set (the
// builder reads that instead) or nothing is found (the builder's own defaults apply). Both
// `minicd build` and `minicd ci` build this way.
Result<std::optional<registry::Credentials>> push_credentials(const BuildRequest& request, const std::string& auth_file,
                                                              const registry::CredentialOptions& options = {});

// Builds the image with the configured builder and, when the request says so, pushes every
// reference, then asks the registry (through `resolve`) for the digest of each. The builder's own
// report of the digest is only a cross-check: when it differs from what the registry serves, that
// is an error. Returns the artifact of the main reference (repository:tag); its digest is "" when
// nothing was pushed. A builder failure names the step, the builder's exit status and the last
// lines of its stderr.
Result<Artifact> build_image(const BuilderConfig& config, const BuildRequest& request, const DigestResolver& resolve);

}  // namespace minicd::build
