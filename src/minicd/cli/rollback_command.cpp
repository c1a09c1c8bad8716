#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/deploy_report.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/target_flags.hpp"
#include "minicd/deploy/deploy.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/util/duration.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

namespace {

constexpr std::chrono::seconds k_default_timeout{300};
constexpr int k_default_history = 10;

struct RollbackFlags {
    TargetFlags target;
    int to = 0;  // 0: the newest release verified healthy before the current one
    bool include_crds = false;
    bool wait = true;
    std::string timeout;  // "": the environment's timeout, else k_default_timeout
    std::string lock_wait = "90s";
    int concurrency = 8;
    bool dry_run = false;
    int history = 0;  // 0: the environment's history, else k_default_history
    std::string output = "text";
};

int run_rollback(const RollbackFlags& flags) {
    // Flags are checked before connecting: bad input costs nothing.
    auto lock_wait = seconds_flag(flags.lock_wait, "--lock-wait");
    if (!lock_wait) return report_failure(lock_wait.error());
    auto timeout = optional_seconds_flag(flags.timeout, "--timeout");
    if (!timeout) return report_failure(timeout.error());

    auto connected = connect_target(flags.target);
    if (!connected) return report_failure(connected.error());
    kube::Client& client = *connected->client;
    kube::Discovery discovery(client, kube::default_discovery_cache_dir());
    // An environment is rolled back with the settings `minicd ci` deploys it with; otherwise apply's defaults hold.
    const std::optional<config::Environment>& environment = connected->environment;
    int history = flags.history;
    if (history == 0) history = environment ? environment->history : k_default_history;

    deploy::DeployOptions options{
        .target = connected->target,
        .wait = flags.wait,
        .timeout = timeout->value_or(environment ? environment->timeout : k_default_timeout),
        .dry_run = flags.dry_run,
        .concurrency = flags.concurrency,
        .lock_wait = *lock_wait,
        .assess = {.wait_for_load_balancer = environment && environment->wait_for_addresses},
        .history = history,
        .deployed_by = deploy::detect_provenance(),
    };
    const OutputFormat format = flags.output == "json" ? OutputFormat::json : OutputFormat::text;
    if (format == OutputFormat::text) options.progress = [](const std::string& line) { util::log_info("{}", line); };

    auto result = deploy::rollback(client, discovery, options, flags.to,
                                   flags.include_crds ? deploy::IncludeCrds::yes : deploy::IncludeCrds::no);
    if (!result) return report_failure(result.error());
    print_report(*result, format, flags.dry_run ? DryRun::yes : DryRun::no, client.requests_sent());
    return exit_code(result->outcome);
}

}  // namespace

Command add_rollback_command(CLI::App& app) {
    auto flags = std::make_shared<RollbackFlags>();
    CLI::App* rollback = app.add_subcommand(
        "rollback", "Return an app in one environment to a release recorded before, without Git or a rebuild");
    add_target_flags(*rollback, flags->target);
    rollback->add_option("--to", flags->to, "The release to return to (default: the newest verified healthy before the current one)")
        ->check(CLI::Range(1, std::numeric_limits<int>::max()));
    rollback->add_flag("--include-crds", flags->include_crds,
                       "Also return CustomResourceDefinitions to the release (they change every resource of their kinds)");
    rollback->add_flag("--wait,!--no-wait", flags->wait, "Wait until every object is ready (default)");
    rollback->add_option("--timeout", flags->timeout,
                         "How long to wait for readiness (default: the environment's timeout with ENVIRONMENT, else 5m)");
    rollback->add_option("--lock-wait", flags->lock_wait, "How long to wait for another deploy of this app/env to finish")
        ->capture_default_str();
    rollback->add_option("--concurrency", flags->concurrency, "Parallel writes")->check(CLI::Range(1, 64))->capture_default_str();
    rollback->add_flag("--dry-run", flags->dry_run, "Show what would change; change nothing");
    rollback->add_option("--history", flags->history,
                         "Releases kept in the history (default: the environment's with ENVIRONMENT, else 10)")
        ->check(CLI::Range(1, 100));
    rollback->add_option("-o,--output", flags->output, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    rollback->footer("The release the rollback replaces is held: its commit is not deployed there again without --force.");
    return Command{rollback, [flags] { return run_rollback(*flags); }};
}

}  // namespace minicd::cli
