#include <fmt/format.h>

#include <memory>
#include <string>

#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/history_report.hpp"
#include "minicd/cli/json_output.hpp"
#include "minicd/cli/target_flags.hpp"
#include "minicd/deploy/store.hpp"

namespace minicd::cli {

namespace {

struct HistoryFlags {
    TargetFlags target;
    std::string output = "text";
};

int run_history(const HistoryFlags& flags) {
    auto connected = connect_target(flags.target);
    if (!connected) return report_failure(connected.error());
    const render::Target& target = connected->target;
    deploy::Store store(*connected->client, target.namespace_, target.app, target.env);
    auto releases = store.load_releases();
    if (!releases) return report_failure(releases.error());

    if (flags.output == "json") {
        fmt::print("{}\n", json_text(history_json(target, *releases)));
        return k_exit_ok;
    }
    // An empty history is an answer, not a failure: nothing was deployed there by minicd yet.
    if (releases->empty()) {
        fmt::print(stderr, "no releases recorded for {} in namespace {}\n", target.owner(), target.namespace_);
        return k_exit_ok;
    }
    fmt::print("{}", history_table(*releases));
    return k_exit_ok;
}

}  // namespace

Command add_history_command(CLI::App& app) {
    auto flags = std::make_shared<HistoryFlags>();
    CLI::App* history = app.add_subcommand("history", "List the releases of an app in one environment, newest first");
    add_target_flags(*history, flags->target);
    history->add_option("-o,--output", flags->output, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    history->footer("A release marked (hold) holds its commit: it is not deployed there again without --force.");
    return Command{history, [flags] { return run_history(*flags); }};
}

}  // namespace minicd::cli
