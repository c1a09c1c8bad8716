#include "minicd/cli/app.hpp"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <string>
#include <string_view>
#include <vector>

#include "minicd/cli/commands.hpp"
#include "minicd/util/log.hpp"

#ifndef MINICD_VERSION
#error "MINICD_VERSION must be defined by the build"
#endif
#ifndef MINICD_COMMIT
#error "MINICD_COMMIT must be defined by the build (empty when unknown)"
#endif

namespace minicd::cli {

namespace {

constexpr const char* k_description =
    "minicd: continuous delivery to Kubernetes from one minicd.yaml, run as a step of your CI.";

// The help of the command the user was typing (the root when none was chosen).
std::string help_for(const CLI::App& app, const std::vector<Command>& commands) {
    for (const auto& command : commands) {
        if (command.node->parsed()) return command.node->help();
    }
    return app.help();
}

// A repeatable flag takes one value per occurrence (`--build-arg A --build-arg B`), as kubectl's
// and docker's do; CLI11 would otherwise let it swallow the positional arguments after it. A list
// positional (`minicd drift staging production`) keeps taking every word left.
void one_value_per_flag(CLI::App& command) {
    for (CLI::Option* option : command.get_options()) {
        if (!option->get_positional()) option->allow_extra_args(false);
    }
    for (CLI::App* sub : command.get_subcommands([](CLI::App*) { return true; })) one_value_per_flag(*sub);
}

void print_usage_error(const CLI::App& app, const std::vector<Command>& commands, const std::string& message) {
    fmt::print(stderr, "minicd: {}\n\n{}", message, help_for(app, commands));
}

}  // namespace

int run(std::span<char*> args) {
    CLI::App app(k_description, "minicd");
    constexpr std::string_view commit = MINICD_COMMIT;
    app.set_version_flag("--version", commit.empty() ? std::string("minicd " MINICD_VERSION)
                                                     : fmt::format("minicd {} (commit {})", MINICD_VERSION, commit));
    // Unknown words are collected, not thrown, so the message can say whether a command or a flag was wrong.
    app.allow_extras();
    // Root options such as --log-level may also follow the command name.
    app.fallthrough();

    std::vector<Command> commands = {add_apply_command(app)};
    commands.push_back(add_ci_command(app));
    commands.push_back(add_init_command(app));
    commands.push_back(add_promote_command(app));
    commands.push_back(add_image_command(app));
    commands.push_back(add_build_command(app));
    commands.push_back(add_env_command(app));
    commands.push_back(add_preview_command(app));
    commands.push_back(add_config_command(app));
    commands.push_back(add_history_command(app));
    commands.push_back(add_rollback_command(app));
    commands.push_back(add_drift_command(app));
    commands.push_back(add_canary_command(app));
    // One command per run. CLI11 otherwise reads a positional that spells another command's name
    // as that command: `minicd history preview` would run `minicd preview`. Set after the commands
    // are added, which would inherit it.
    app.require_subcommand(0, 1);

    std::string log_level = "info";
    app.add_option("--log-level", log_level, "Messages to show on stderr")
        ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}))
        ->capture_default_str();

    one_value_per_flag(app);

    try {
        app.parse(static_cast<int>(args.size()), args.data());
    } catch (const CLI::CallForHelp&) {
        fmt::print("{}", help_for(app, commands));
        return k_exit_ok;
    } catch (const CLI::CallForAllHelp&) {
        fmt::print("{}", app.help("", CLI::AppFormatMode::All));
        return k_exit_ok;
    } catch (const CLI::CallForVersion& version) {
        fmt::print("{}\n", version.what());
        return k_exit_ok;
    } catch (const CLI::ParseError& error) {
        print_usage_error(app, commands, error.what());
        return k_exit_usage;
    }

    const std::vector<std::string> extras = app.remaining(true);
    if (!extras.empty()) {
        const std::string& first = extras.front();
        print_usage_error(app, commands, first.starts_with("-") ? "unknown flag: " + first : "unknown command: " + first);
        return k_exit_usage;
    }

    const std::vector<std::pair<std::string_view, util::LogLevel>> levels = {
        {"debug", util::LogLevel::debug}, {"info", util::LogLevel::info}, {"warn", util::LogLevel::warn},
        {"error", util::LogLevel::error}, {"quiet", util::LogLevel::quiet}};
    for (const auto& [name, level] : levels) {
        if (name == log_level) util::set_log_level(level);
    }

    for (const auto& command : commands) {
        if (command.node->parsed()) return command.run();
    }
    // No command was given: there is nothing to do, which is a usage error.
    print_usage_error(app, commands, "a command is required");
    return k_exit_usage;
}

}  // namespace minicd::cli
