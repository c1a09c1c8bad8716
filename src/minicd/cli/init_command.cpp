#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/init_files.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

namespace {

namespace fs = std::filesystem;

struct InitFlags {
    std::string ci = "github";
    std::string app;
    std::string registry = "registry.example.com/team";
    std::string dir = ".";
    bool force = false;
};

// The directory's name as a DNS label: "My_Shop" -> "my-shop".
std::string app_from_directory(const std::string& dir) {
    std::string name = fs::absolute(dir).lexically_normal().filename().string();
    if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
    std::string label;
    for (char c : name) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c >= 'A' && c <= 'Z') {
            label += static_cast<char>(c - 'A' + 'a');
        } else if (keep) {
            label += c;
        } else if (!label.empty() && label.back() != '-') {
            label += '-';
        }
    }
    while (!label.empty() && label.back() == '-') label.pop_back();
    if (label.size() > 40) label.resize(40);
    if (label.empty() || label.front() < 'a' || label.front() > 'z') label = "app" + std::string(label.empty() ? "" : "-") + label;
    return label;
}

int run_init(const InitFlags& flags) {
    auto ci = parse_ci_system(flags.ci);
    if (!ci) return report_failure(ci.error());
    auto files = init_files({.ci = *ci, .app = flags.app.empty() ? app_from_directory(flags.dir) : flags.app,
                             .registry = flags.registry});
    if (!files) return report_failure(files.error());
    // Nothing is written unless everything can be: a half-initialised repository helps nobody.
    if (!flags.force) {
        for (const auto& file : *files) {
            const fs::path path = fs::path(flags.dir) / file.path;
            if (fs::exists(path)) {
                return report_failure(util::make_error(util::ErrorCode::input, "already exists; pass --force to overwrite it",
                                                  path.string()));
            }
        }
    }
    for (const auto& file : *files) {
        const fs::path path = fs::path(flags.dir) / file.path;
        std::error_code error;
        fs::create_directories(path.parent_path(), error);
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << file.text;
        out.close();
        if (!out) return report_failure(util::make_error(util::ErrorCode::io, "cannot write the file", path.string()));
        fmt::print("wrote {}\n", path.string());
    }
    fmt::print("next: edit minicd.yaml (registry, kube contexts, hosts), check it with `minicd config validate`,\n"
               "pin each cluster with `minicd env pin <environment>`, and see a push's plan with `minicd ci --explain`\n");
    return k_exit_ok;
}

}  // namespace

Command add_init_command(CLI::App& app) {
    auto flags = std::make_shared<InitFlags>();
    CLI::App* init = app.add_subcommand("init", "Write a commented minicd.yaml and the CI configuration that runs minicd");
    init->add_option("--ci", flags->ci, "CI system: github, gitlab or circleci")
        ->check(CLI::IsMember({"github", "gitlab", "circleci"}))
        ->capture_default_str();
    init->add_option("--app", flags->app, "Application name (default: the directory's name)");
    init->add_option("--registry", flags->registry, "Where images are pushed, e.g. ghcr.io/acme")->capture_default_str();
    init->add_option("--dir", flags->dir, "Repository root to write into")->capture_default_str();
    init->add_flag("--force", flags->force, "Overwrite files that exist");
    return Command{init, [flags] { return run_init(*flags); }};
}

}  // namespace minicd::cli
