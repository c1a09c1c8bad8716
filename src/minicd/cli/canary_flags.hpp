#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "minicd/model/canary.hpp"
#include "minicd/util/result.hpp"

namespace minicd::cli {

// A canary given on the command line instead of minicd.yaml.
struct CanaryFlags {
    std::string steps;     // "10:2m,50:5m"; "" for no canary
    std::string analysis;  // a file holding what `analysis:` holds in minicd.yaml; "" for none
};

// Adds --canary-steps and --canary-analysis.
void add_canary_flags(CLI::App& command, CanaryFlags& flags);

// The strategy the flags describe; nullopt without --canary-steps. The analysis file is validated
// as minicd.yaml's block is (file:line:column for every error).
Result<std::optional<model::CanaryStrategy>> canary_from_flags(const CanaryFlags& flags);

}  // namespace minicd::cli
