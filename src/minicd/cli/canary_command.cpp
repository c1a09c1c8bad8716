// `minicd canary status|promote|abort|resume`: a running canary, by hand.
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "minicd/cli/app.hpp"
#include "minicd/cli/canary_flags.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/deploy_report.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/json_output.hpp"
#include "minicd/cli/target_flags.hpp"
#include "minicd/deploy/canary.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/text.hpp"

namespace minicd::cli {

namespace {

constexpr std::chrono::seconds k_default_timeout{300};
constexpr int k_default_history = 10;

// What each verb acts on.
enum class Verb { status, promote, abort, resume };

struct CanaryCommandFlags {
    TargetFlags target;
    CanaryFlags canary;  // resume in the -n/--app/--env form: the steps and analysis to continue with
    std::string reason;  // abort: recorded as why
    std::string timeout;
    std::string lock_wait = "90s";
    std::string output = "text";
};

int print_status(const ConnectedTarget& connected, OutputFormat format) {
    auto status = deploy::canary_status(*connected.client, connected.target);
    if (!status) return report_failure(status.error());
    if (format == OutputFormat::json) {
        model::Json out = {{"running", status->has_value()}};
        if (*status) {
            const deploy::CanaryStatus& canary = **status;
            model::Json workloads = model::Json::array();
            for (const auto& workload : canary.workloads) {
                workloads.push_back({{"name", workload.name}, {"replicas", workload.replicas}, {"ready", workload.ready}});
            }
            out.update({{"release", canary.release.revision}, {"gitSha", canary.release.git_sha}, {"step", canary.step + 1},
                        {"steps", canary.steps}, {"weight", canary.weight}, {"workloads", std::move(workloads)}});
        }
        fmt::print("{}\n", json_text(out));
        return k_exit_ok;
    }
    if (!*status) {
        fmt::print("no canary is running for {} in namespace {}\n", connected.target.owner(), connected.target.namespace_);
        return k_exit_ok;
    }
    const deploy::CanaryStatus& canary = **status;
    const std::string commit =
        canary.release.git_sha.empty() ? "" : ", commit " + std::string(util::utf8_prefix(canary.release.git_sha, 12));
    if (canary.step < 0) {
        fmt::print("release {}{} is a canary, but none of its Deployments runs: minicd canary resume continues it, "
                   "minicd canary abort ends it\n",
                   canary.release.revision, commit);
        return k_exit_ok;
    }
    fmt::print("release {}{}: canary at step {}/{} ({}% of pods), since {}\n", canary.release.revision, commit, canary.step + 1,
               canary.steps, canary.weight, canary.release.time);
    for (const auto& workload : canary.workloads) {
        fmt::print("  {}: {}/{} ready\n", workload.name, workload.ready, workload.replicas);
    }
    return k_exit_ok;
}

int run_canary(Verb verb, const CanaryCommandFlags& flags) {
    // Flags are checked before connecting: bad input costs nothing.
    auto lock_wait = seconds_flag(flags.lock_wait, "--lock-wait");
    if (!lock_wait) return report_failure(lock_wait.error());
    auto timeout = optional_seconds_flag(flags.timeout, "--timeout");
    if (!timeout) return report_failure(timeout.error());
    auto from_flags = canary_from_flags(flags.canary);
    if (!from_flags) return report_failure(from_flags.error());

    auto connected = connect_target(flags.target);
    if (!connected) return report_failure(connected.error());
    const OutputFormat format = flags.output == "json" ? OutputFormat::json : OutputFormat::text;
    if (verb == Verb::status) return print_status(*connected, format);

    kube::Client& client = *connected->client;
    kube::Discovery discovery(client, kube::default_discovery_cache_dir());
    const std::optional<config::Environment>& environment = connected->environment;
    deploy::DeployOptions options{
        .target = connected->target,
        .prune = environment ? environment->prune : false,
        .timeout = timeout->value_or(environment ? environment->timeout : k_default_timeout),
        .lock_wait = *lock_wait,
        .assess = {.wait_for_load_balancer = environment && environment->wait_for_addresses},
        .on_failure = environment && environment->failure_policy() == config::OnFailure::rollback ? deploy::OnFailure::rollback
                                                                                                 : deploy::OnFailure::keep,
        .history = environment ? environment->history : k_default_history,
        .deployed_by = deploy::detect_provenance(),
    };
    if (format == OutputFormat::text) options.progress = [](const std::string& line) { util::log_info("{}", line); };

    Result<deploy::DeployResult> result = fail(util::ErrorCode::internal, "no canary verb ran");
    switch (verb) {
    case Verb::promote: result = deploy::promote_canary(client, discovery, options); break;
    case Verb::abort: {
        const std::string why =
            flags.reason.empty() ? fmt::format("aborted by hand ({})", options.deployed_by.by) : flags.reason;
        result = deploy::abort_canary(client, discovery, options, why);
        break;
    }
    case Verb::resume: {
        // The steps and analysis come from the configuration, never from the cluster.
        std::optional<model::CanaryStrategy> strategy = *from_flags;
        if (!strategy && environment) strategy = environment->canary;
        if (!strategy) {
            return report_failure(util::make_error(
                util::ErrorCode::usage, environment ? fmt::format("environment {} has no strategy.canary to resume with", environment->name)
                                                    : std::string("give the steps to resume with: --canary-steps (and "
                                                                  "--canary-analysis)")));
        }
        result = deploy::resume_canary(client, discovery, options, *strategy);
        break;
    }
    case Verb::status: break;
    }
    if (!result) return report_failure(result.error());
    print_report(*result, format, DryRun::no, client.requests_sent());
    // An abort asked for and done is a success of the command, though its release failed.
    if (verb == Verb::abort && result->canary && result->canary->end == deploy::CanaryEnd::aborted) return k_exit_ok;
    return exit_code(result->outcome);
}

CLI::App* add_verb(CLI::App& canary, const char* name, const char* description, Verb verb, CanaryCommandFlags& flags) {
    CLI::App* command = canary.add_subcommand(name, description);
    add_target_flags(*command, flags.target);
    command->add_option("-o,--output", flags.output, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    if (verb != Verb::status) {
        command->add_option("--lock-wait", flags.lock_wait, "How long to wait for another deploy of this app/env to finish")
            ->capture_default_str();
        command->add_option("--timeout", flags.timeout,
                            "How long to wait for readiness (default: the environment's timeout with ENVIRONMENT, else 5m)");
    }
    return command;
}

}  // namespace

Command add_canary_command(CLI::App& app) {
    auto flags = std::make_shared<CanaryCommandFlags>();
    CLI::App* canary = app.add_subcommand("canary", "Show, promote, abort or resume the canary running in one environment");
    canary->require_subcommand(1);
    CLI::App* status = add_verb(*canary, "status", "Where the running canary is: its release, step and pods", Verb::status, *flags);
    CLI::App* promote = add_verb(*canary, "promote", "Apply the canary's release to the stable workloads now, skipping the steps left",
                                 Verb::promote, *flags);
    CLI::App* abort = add_verb(*canary, "abort", "Delete the canary and hold its release; the stable version runs on", Verb::abort, *flags);
    abort->add_option("--reason", flags->reason, "Why, recorded in the release (default: aborted by hand)");
    CLI::App* resume = add_verb(*canary, "resume", "Continue the canary at its current step (as the next minicd ci would)",
                                Verb::resume, *flags);
    add_canary_flags(*resume, flags->canary);
    return Command{canary, [=] {
                       if (status->parsed()) return run_canary(Verb::status, *flags);
                       if (promote->parsed()) return run_canary(Verb::promote, *flags);
                       if (abort->parsed()) return run_canary(Verb::abort, *flags);
                       return run_canary(Verb::resume, *flags);
                   }};
}

}  // namespace minicd::cli
