#pragma once

#include <span>

namespace minicd::cli {

// Process exit codes shared by every command.
enum ExitCode : int {
    k_exit_ok = 0,
    k_exit_failed = 1,  // the operation ran and failed (apply refused, rollout unhealthy, ...)
    k_exit_usage = 2,   // the command line or an input file is wrong; nothing was done
    k_exit_drift = 3,   // live objects differ from the last release (minicd drift, a scheduled minicd ci)
};

// Parses the command line, runs the chosen command and returns the process exit code.
int run(std::span<char*> args);

}  // namespace minicd::cli
