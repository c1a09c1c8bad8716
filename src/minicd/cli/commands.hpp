#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace minicd::cli {

// A registered subcommand: its CLI11 node and what runs when it was chosen (returns the exit code).
struct Command {
    CLI::App* node = nullptr;
    std::function<int()> run;
};

// Each command file adds its subcommand, options and runner to the root app.
Command add_apply_command(CLI::App& app);
Command add_ci_command(CLI::App& app);
Command add_init_command(CLI::App& app);
Command add_promote_command(CLI::App& app);
Command add_image_command(CLI::App& app);
Command add_build_command(CLI::App& app);
Command add_env_command(CLI::App& app);
Command add_preview_command(CLI::App& app);
Command add_config_command(CLI::App& app);

}  // namespace minicd::cli
