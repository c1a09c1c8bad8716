#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/json_output.hpp"
#include "minicd/config/load.hpp"
#include "minicd/pipeline/guard.hpp"
#include "minicd/pipeline/preview.hpp"
#include "minicd/pipeline/preview_gc.hpp"
#include "minicd/util/duration.hpp"

// `minicd preview up` runs the build + deploy of `minicd ci` for one branch: see run_preview_up in ci_command.cpp.
namespace minicd::cli {

namespace {

struct PreviewFlags {
    std::string file = "minicd.yaml";
    std::string env;
    std::string branch;
    std::string output = "text";
    // gc
    bool dry_run = false;
    int max_deletions = -1;  // -1: gc.maxDeletions of minicd.yaml
    std::string repository;  // "" for the directory of minicd.yaml
    // gc, down
    bool wait = false;
    std::string wait_timeout = "2m";
    // port-forward
    std::string service;
    std::string ports;
};

// The configuration and its preview environment.
struct Loaded {
    config::Config config;
    config::Environment environment;

    pipeline::PreviewOwner owner() const { return {.app = config.app, .env = environment.name}; }
};

Result<Loaded> load(const PreviewFlags& flags) {
    auto config = config::load_config(flags.file);
    if (!config) return fail(config.error());
    auto environment = pipeline::preview_environment(*config, flags.env);
    if (!environment) return fail(environment.error().context(flags.file));
    return Loaded{.config = *config, .environment = **environment};
}

Result<std::chrono::seconds> wait_timeout(const PreviewFlags& flags) {
    auto parsed = util::parse_duration(flags.wait_timeout);
    if (!parsed) return fail(parsed.error().context("--wait-timeout"));
    return std::chrono::duration_cast<std::chrono::seconds>(*parsed);
}

std::string age_since(const std::optional<pipeline::Clock::time_point>& time, pipeline::Clock::time_point now) {
    if (!time) return "-";
    return pipeline::format_age(std::chrono::floor<std::chrono::seconds>(now - *time));
}

int run_list(const PreviewFlags& flags) {
    auto loaded = load(flags);
    if (!loaded) return report_failure(loaded.error());
    auto cluster = pipeline::connect_guarded(loaded->environment);
    if (!cluster) return report_failure(cluster.error());
    auto previews = pipeline::list_previews(*cluster->client, loaded->owner());
    if (!previews) return report_failure(previews.error());

    const auto now = pipeline::Clock::now();
    std::vector<std::array<std::string, 5>> rows;
    model::Json json = model::Json::array();
    for (const auto& ns : *previews) {
        auto url = loaded->environment.host.empty() ? Result<std::string>(std::string())
                                                    : pipeline::preview_url(loaded->config, loaded->environment, ns.branch());
        std::string last_deploy = age_since(ns.last_deployed(), now);
        if (ns.terminating) last_deploy += " (terminating)";
        rows.push_back({ns.name, ns.branch(), age_since(ns.created, now), last_deploy, url.value_or("")});
        json.push_back({{"namespace", ns.name},
                        {"branch", ns.branch()},
                        {"created", ns.created ? pipeline::format_rfc3339(*ns.created) : ""},
                        {"lastDeployed", ns.last_deployed_text()},
                        {"terminating", ns.terminating},
                        {"url", url.value_or("")}});
    }
    if (flags.output == "json") {
        fmt::print("{}\n", json_text(json));
        return k_exit_ok;
    }
    if (rows.empty()) {
        fmt::print(stderr, "no previews of {}/{}\n", loaded->config.app, loaded->environment.name);
        return k_exit_ok;
    }
    std::array<std::string, 5> header = {"NAMESPACE", "BRANCH", "AGE", "LAST DEPLOY", "URL"};
    std::array<std::size_t, 5> widths{};
    for (std::size_t i = 0; i < widths.size(); ++i) {
        widths[i] = header[i].size();
        for (const auto& row : rows) widths[i] = std::max(widths[i], row[i].size());
    }
    const auto print_row = [&](const std::array<std::string, 5>& row) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) line += fmt::format("{:<{}}  ", row[i], widths[i]);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        fmt::print("{}\n", line);
    };
    print_row(header);
    for (const auto& row : rows) print_row(row);
    return k_exit_ok;
}

int run_gc(const PreviewFlags& flags) {
    auto loaded = load(flags);
    if (!loaded) return report_failure(loaded.error());
    auto timeout = wait_timeout(flags);
    if (!timeout) return report_failure(timeout.error());
    // Guarded before anything is listed: deleting previews on the wrong cluster is the worst case.
    auto cluster = pipeline::connect_guarded(loaded->environment);
    if (!cluster) return report_failure(cluster.error());
    const std::string repository = !flags.repository.empty()
                                       ? flags.repository
                                       : std::filesystem::absolute(flags.file).parent_path().string();
    auto outcome = pipeline::run_preview_gc(*cluster->client, loaded->config, loaded->environment,
                                            {.repository = repository,
                                             .dry_run = flags.dry_run,
                                             .max_deletions = flags.max_deletions >= 0 ? std::optional<int>(flags.max_deletions)
                                                                                       : std::nullopt,
                                             .wait = flags.wait,
                                             .wait_timeout = *timeout});
    if (!outcome) return report_failure(outcome.error());

    if (flags.output == "json") {
        model::Json decisions = model::Json::array();
        for (const auto& decision : outcome->decisions) {
            decisions.push_back({{"namespace", decision.namespace_},
                                 {"branch", decision.branch},
                                 {"action", pipeline::to_string(decision.action)},
                                 {"reason", decision.reason}});
        }
        fmt::print("{}\n", json_text(model::Json{{"dryRun", flags.dry_run},
                                                 {"decisions", decisions},
                                                 {"deleted", outcome->deleted},
                                                 {"failures", outcome->failures},
                                                 {"remaining", outcome->remaining}}));
    } else {
        for (const auto& decision : outcome->decisions) {
            const bool removing = decision.action == pipeline::GcAction::remove;
            const std::string action = removing && flags.dry_run ? "would remove" : std::string(pipeline::to_string(decision.action));
            fmt::print("{} {} ({}): {}\n", action, decision.namespace_, decision.branch.empty() ? "?" : decision.branch,
                       decision.reason);
        }
        fmt::print("{} {}, {} over budget (left for the next run), {} kept, {} skipped{}\n",
                   flags.dry_run ? outcome->count(pipeline::GcAction::remove) : static_cast<int>(outcome->deleted.size()),
                   flags.dry_run ? "would be removed" : "removed", outcome->count(pipeline::GcAction::over_budget),
                   outcome->count(pipeline::GcAction::keep), outcome->count(pipeline::GcAction::skip),
                   flags.dry_run ? " (dry run: nothing was deleted)" : "");
    }
    for (const auto& failure : outcome->failures) util::log_error("{}", failure);
    for (const auto& left : outcome->remaining) util::log_error("still terminating: {}", left);
    return outcome->succeeded() ? k_exit_ok : k_exit_failed;
}

int run_down(const PreviewFlags& flags) {
    auto loaded = load(flags);
    if (!loaded) return report_failure(loaded.error());
    auto timeout = wait_timeout(flags);
    if (!timeout) return report_failure(timeout.error());
    auto name = pipeline::preview_namespace_name(loaded->config, loaded->environment, flags.branch);
    if (!name) return report_failure(name.error());
    auto cluster = pipeline::connect_guarded(loaded->environment);
    if (!cluster) return report_failure(cluster.error());
    auto outcome = pipeline::tear_down_preview(*cluster->client, loaded->owner(), *name, flags.branch,
                                               {.wait = flags.wait, .timeout = *timeout});
    if (!outcome) return report_failure(outcome.error());
    switch (*outcome) {
        case pipeline::TearDown::deleted:
            fmt::print("deleted preview namespace {} of branch {}{}\n", *name, flags.branch, flags.wait ? "" : " (terminating)");
            break;
        case pipeline::TearDown::absent: fmt::print("no preview of branch {} (namespace {})\n", flags.branch, *name); break;
        case pipeline::TearDown::terminating:
            fmt::print("preview namespace {} of branch {} is {}\n", *name, flags.branch, flags.wait ? "gone" : "already terminating");
            break;
    }
    return k_exit_ok;
}

int run_url(const PreviewFlags& flags) {
    auto loaded = load(flags);
    if (!loaded) return report_failure(loaded.error());
    auto url = pipeline::preview_url(loaded->config, loaded->environment, flags.branch);
    if (!url) return report_failure(url.error());
    fmt::print("{}\n", *url);
    return k_exit_ok;
}

int run_port_forward(const PreviewFlags& flags) {
    auto loaded = load(flags);
    if (!loaded) return report_failure(loaded.error());
    auto name = pipeline::preview_namespace_name(loaded->config, loaded->environment, flags.branch);
    if (!name) return report_failure(name.error());
    auto cluster = pipeline::connect_guarded(loaded->environment);
    if (!cluster) return report_failure(cluster.error());
    const config::ClusterPin& pin = loaded->environment.cluster;
    auto forward = pipeline::plan_port_forward(*cluster->client,
                                               {.namespace_ = *name,
                                                .service = flags.service,
                                                .ports = flags.ports,
                                                .context = pin.context,
                                                .kubeconfig = pin.kubeconfig},
                                               loaded->owner());
    if (!forward) return report_failure(forward.error());

    util::log_info("{}", fmt::join(forward->argv, " "));
    std::fflush(stdout);
    std::fflush(stderr);
    // kubectl takes over the terminal and signals: it speaks the port-forward protocol, minicd does not.
    std::vector<char*> argv;
    for (auto& argument : forward->argv) argv.push_back(argument.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    return report_failure(util::make_error(util::ErrorCode::subprocess, std::strerror(errno), "kubectl"));
}

}  // namespace

Command add_preview_command(CLI::App& app) {
    auto flags = std::make_shared<PreviewFlags>();
    CLI::App* preview = app.add_subcommand("preview", "Per-branch preview environments: list, clean up, tear down, reach");
    preview->require_subcommand(1);
    CLI::App* list = preview->add_subcommand("list", "List this app's previews: namespace, branch, age, last deploy, URL");
    CLI::App* gc = preview->add_subcommand(
        "gc", "Delete previews whose branch is gone or that sat idle past their ttl (runs even with gc.enabled: false)");
    CLI::App* down = preview->add_subcommand("down", "Delete one branch's preview namespace");
    CLI::App* url = preview->add_subcommand("url", "Print a branch's preview URL");
    CLI::App* forward = preview->add_subcommand("port-forward", "Run kubectl port-forward to a branch's preview Service");
    CLI::App* up = preview->add_subcommand("up", "Build the checkout and deploy it as a branch's preview, as minicd ci would");

    for (CLI::App* sub : {list, gc, down, url, forward, up}) {
        sub->add_option("-f,--file", flags->file, "The configuration file")->capture_default_str();
        sub->add_option("--env", flags->env, "The preview environment, when minicd.yaml has several");
    }
    for (CLI::App* sub : {down, url, forward, up}) {
        sub->add_option("BRANCH", flags->branch, "The branch, as Git spells it")->required();
    }
    for (CLI::App* sub : {list, gc}) {
        sub->add_option("-o,--output", flags->output, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    }
    gc->add_flag("--dry-run", flags->dry_run, "Show what would be deleted; delete nothing");
    gc->add_option("--max-deletions", flags->max_deletions, "Deletions at most in this run (default: gc.maxDeletions)")
        ->check(CLI::Range(0, 1000));
    gc->add_option("--repo", flags->repository, "The clone to list branches with (default: the directory of minicd.yaml)");
    for (CLI::App* sub : {gc, down}) {
        sub->add_flag("--wait", flags->wait, "Wait until deleted namespaces are gone");
        sub->add_option("--wait-timeout", flags->wait_timeout, "How long --wait waits")->capture_default_str();
    }
    forward->add_option("--service", flags->service, "The Service (default: the only Service of the app in the namespace)");
    forward->add_option("--port", flags->ports, "LOCAL:REMOTE or PORT (default: the Service's first port, same locally)");

    return Command{preview, [=] {
                       if (list->parsed()) return run_list(*flags);
                       if (gc->parsed()) return run_gc(*flags);
                       if (down->parsed()) return run_down(*flags);
                       if (url->parsed()) return run_url(*flags);
                       if (up->parsed()) return run_preview_up(flags->file, flags->branch, flags->env);
                       return run_port_forward(*flags);
                   }};
}

}  // namespace minicd::cli
