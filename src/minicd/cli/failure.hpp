#pragma once

#include "minicd/cli/app.hpp"
#include "minicd/util/error.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

// Input and usage problems exit 2 (nothing was done); everything that failed while working exits 1.
inline int exit_code_for(const util::Error& error) {
    return error.code == util::ErrorCode::input || error.code == util::ErrorCode::usage ? k_exit_usage : k_exit_failed;
}

// Logs the error and returns its exit code.
inline int report_failure(const util::Error& error) {
    util::log_error("{}", error.describe());
    return exit_code_for(error);
}

}  // namespace minicd::cli
