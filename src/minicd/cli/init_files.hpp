#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

namespace minicd::cli {

enum class CiSystem { github, gitlab, circleci };

// "github", "gitlab" or "circleci"; an input error naming the choices otherwise.
Result<CiSystem> parse_ci_system(std::string_view name);

struct InitRequest {
    CiSystem ci = CiSystem::github;
    std::string app;       // DNS label
    std::string registry;  // repository prefix, e.g. "ghcr.io/acme"
};

// A file `minicd init` writes, relative to the repository root.
struct InitFile {
    std::string path;
    std::string text;
};

// A commented minicd.yaml (preview per branch, staging on main, production on v* tags promoted
// from staging) and the CI system's configuration running `minicd ci` on pushes, tags and branch
// deletions, plus a nightly job that checks fixed environments for drift and collects previews
// (`minicd ci` on a schedule; on CircleCI, `minicd preview gc` and `minicd drift`). Pure; an input
// error when the app is not a DNS label.
Result<std::vector<InitFile>> init_files(const InitRequest& request);

}  // namespace minicd::cli
