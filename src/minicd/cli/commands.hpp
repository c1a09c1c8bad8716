#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace minicd::cli {

// A registered subcommand: its CLI11 node and what runs when it was chosen (returns the exit code).
struct Command {
    CLI::App* node = nullptr;
    std::function<int()> run;
};

// Each command file adds its subcommand, options and runner to the root app.
Command add_apply_command(CLI::App& app);
Command add_ci_command(CLI::App& app);
// `minicd preview up BRANCH`: build and deploy one branch's preview as `minicd ci` would for a push of it.
int run_preview_up(const std::string& file, const std::string& branch, const std::string& env);
Command add_init_command(CLI::App& app);
Command add_promote_command(CLI::App& app);
Command add_image_command(CLI::App& app);
Command add_build_command(CLI::App& app);
Command add_env_command(CLI::App& app);
Command add_preview_command(CLI::App& app);
Command add_config_command(CLI::App& app);
Command add_history_command(CLI::App& app);
Command add_rollback_command(CLI::App& app);
Command add_drift_command(CLI::App& app);
Command add_canary_command(CLI::App& app);

}  // namespace minicd::cli
