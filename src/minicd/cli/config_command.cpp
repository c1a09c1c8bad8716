#include <fmt/format.h>

#include <memory>
#include <string>

#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/json_output.hpp"
#include "minicd/config/load.hpp"
#include "minicd/model/object.hpp"

namespace minicd::cli {

namespace {

struct ConfigFlags {
    std::string file = "minicd.yaml";
    std::string output = "text";
};

model::Json diagnostic_json(const config::Diagnostic& diagnostic) {
    return {{"line", diagnostic.line},
            {"column", diagnostic.column},
            {"field", diagnostic.field},
            {"message", diagnostic.message}};
}

void print_json(const ConfigFlags& flags, const config::CheckedConfig& checked) {
    model::Json errors = model::Json::array();
    model::Json warnings = model::Json::array();
    for (const auto& diagnostic : checked.diagnostics) {
        (diagnostic.severity == config::Severity::error ? errors : warnings).push_back(diagnostic_json(diagnostic));
    }
    model::Json environments = model::Json::array();
    if (checked.config) {
        for (const auto& environment : checked.config->environments) {
            environments.push_back(environment.name);
        }
    }
    const model::Json out = {{"file", flags.file},
                             {"valid", checked.valid()},
                             {"errors", errors},
                             {"warnings", warnings},
                             {"environments", environments}};
    fmt::print("{}\n", json_text(out));
}

void print_text(const ConfigFlags& flags, const config::CheckedConfig& checked) {
    std::size_t errors = 0;
    for (const auto& diagnostic : checked.diagnostics) {
        fmt::print(stderr, "{}\n", diagnostic.describe());
        errors += diagnostic.severity == config::Severity::error ? 1 : 0;
    }
    if (!checked.config) {
        fmt::print(stderr, "{}: {} error{}\n", flags.file, errors, errors == 1 ? "" : "s");
        return;
    }
    std::vector<std::string> names;
    for (const auto& environment : checked.config->environments) {
        names.push_back(environment.name);
    }
    fmt::print("{} is valid: app {}, environments {}\n", flags.file, checked.config->app, fmt::join(names, ", "));
}

int run_validate(const ConfigFlags& flags) {
    // Every problem at once, so one edit round fixes them all.
    const config::CheckedConfig checked = config::check_config_file(flags.file);
    if (flags.output == "json") {
        print_json(flags, checked);
    } else {
        print_text(flags, checked);
    }
    return checked.valid() ? k_exit_ok : k_exit_usage;
}

}  // namespace

Command add_config_command(CLI::App& app) {
    auto flags = std::make_shared<ConfigFlags>();
    CLI::App* command = app.add_subcommand("config", "Work with minicd.yaml");
    command->require_subcommand(1);
    CLI::App* validate = command->add_subcommand(
        "validate", "Check minicd.yaml and report every problem with file:line:column (exit 2 when invalid)");
    validate->add_option("-f,--file", flags->file, "The configuration file")->capture_default_str();
    validate->add_option("-o,--output", flags->output, "Output format")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    return Command{command, [flags, validate] { return validate->parsed() ? run_validate(*flags) : k_exit_usage; }};
}

}  // namespace minicd::cli
