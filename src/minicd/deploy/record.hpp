#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "minicd/model/release.hpp"

namespace minicd::deploy {

// The newest release of `git_sha` that was deployed and verified healthy and records its images:
// what a promotion may take its digests from. nullopt when there is none.
std::optional<model::Release> healthy_release(const std::vector<model::Release>& releases, std::string_view git_sha);

}  // namespace minicd::deploy
