#pragma once

#include <map>
#include <string>
#include <vector>

#include "minicd/model/object.hpp"
#include "minicd/model/release.hpp"
#include "minicd/render/ownership.hpp"

// What `minicd history` prints, apart from the cluster it reads.
namespace minicd::cli {

// "web@sha256:1a2b3c4d5e6f": the image name's last path segment and 12 hex digits of its digest;
// a reference without a digest is shown by its last path segment. "-" when there are none.
std::string short_images(const std::map<std::string, std::string>& images);

// "0s", "42s", "3m12s", "1h05m"; "-" when none was recorded.
std::string format_duration(double seconds);

// The releases as a table, in the order given (the store gives newest first), header first:
// REVISION, TIME, OUTCOME, COMMIT, IMAGES, BY, DURATION, MESSAGE.
std::string history_table(const std::vector<model::Release>& releases);

// {"app", "env", "namespace", "releases": [deploy::to_json(release) and "held"]}.
model::Json history_json(const render::Target& target, const std::vector<model::Release>& releases);

}  // namespace minicd::cli
