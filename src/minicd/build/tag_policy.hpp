#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "minicd/source/git.hpp"
#include "minicd/util/result.hpp"

namespace minicd::build {

// How the tag of a built image follows from the Git checkout.
struct TagPolicy {
    std::size_t length = 7;    // digits of the commit SHA, 4..40
    bool pushing = true;       // whether the image leaves this machine
    bool in_ci = false;        // a CI job: an image pushed from a dirty tree is refused...
    bool allow_dirty = false;  // ...unless this says it is wanted
    // Paths relative to the work tree root that do not make it dirty: files minicd writes there
    // itself, such as the build artifact file of an earlier build.
    std::vector<std::string> skip_paths;
};

// The short commit SHA of HEAD ("abc1234"), with "-dirty" appended when the work tree has
// uncommitted changes, so such an image can never be mistaken for the commit's. Pushing from a
// dirty tree in CI is an input error listing some of the changed paths.
Result<std::string> commit_tag(source::Repository& repository, const TagPolicy& policy);

// Whether the environment says this is a CI job: CI set to "true" or "1", as CI services set it.
bool running_in_ci();

}  // namespace minicd::build
