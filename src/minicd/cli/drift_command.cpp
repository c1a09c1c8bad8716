#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/deploy_report.hpp"
#include "minicd/cli/drift_report.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/json_output.hpp"
#include "minicd/cli/target_flags.hpp"
#include "minicd/config/load.hpp"
#include "minicd/deploy/deploy.hpp"
#include "minicd/deploy/drift.hpp"
#include "minicd/deploy/store.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/pipeline/ci.hpp"
#include "minicd/pipeline/guard.hpp"
#include "minicd/pipeline/naming.hpp"
#include "minicd/pipeline/preview.hpp"
#include "minicd/render/render.hpp"
#include "minicd/util/duration.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

namespace {

using util::ErrorCode;

constexpr std::chrono::seconds k_default_timeout{300};
constexpr std::chrono::seconds k_lock_wait{90};
constexpr int k_default_history = 10;

constexpr const char* k_footer =
    "Without ENVIRONMENT every fixed environment of minicd.yaml is compared (an environment where nothing was "
    "deployed yet is skipped); --previews adds every preview namespace of the per-branch environments, and naming a "
    "per-branch environment compares all its previews.\n"
    "Only fields minicd applied count: defaults, webhook mutations, other managers' fields and replicas an "
    "autoscaler sets are never drift. With minicd.yaml, the environment's manifests in this checkout are compared "
    "with the release too (images as the release pinned them); -m does that in the -n/--app/--env form. Changes in "
    "Git that no release deployed yet are reported, never deployed, and do not change the exit code: the next "
    "deploy is for them.\n"
    "Exit codes: 0 no live drift (or all of it fixed and healthy); 3 live drift found and not fixed; 1 an error "
    "or a failed fix; 2 bad input, or nothing deployed where a named target was asked for.";

struct DriftFlags {
    std::vector<std::string> environments;  // empty: every fixed environment of minicd.yaml
    std::string file = "minicd.yaml";
    bool file_given = false;
    bool previews = false;
    std::string namespace_;
    std::string app;
    std::string env;
    std::vector<std::string> manifests;  // -n/--app/--env form: Git to compare with the release
    std::string kubeconfig;
    std::string context;
    bool fix = false;
    std::string timeout;  // "": the environment's timeout with minicd.yaml, else k_default_timeout
    int concurrency = 8;
    std::string output = "text";
};

// Whether an environment with no release is an answer or an error: asked for by name it is an
// error (there is nothing to compare), found by going through minicd.yaml it is skipped.
enum class Asked { by_name, all };

// The exit code of a run that met all of these: a failure says most, then bad input, then drift.
int worse(int current, int next) {
    for (int code : {k_exit_failed, k_exit_usage, k_exit_drift}) {
        if (current == code || next == code) return code;
    }
    return k_exit_ok;
}

// One namespace to compare, with what is needed to render its Git side and to fix it.
struct Subject {
    EnvironmentDrift drift;
    const config::Environment* environment = nullptr;  // null in the -n/--app/--env form
};

// Shared by every environment of a run: the flags, minicd.yaml when used, and what came out.
class DriftRun {
public:
    DriftRun(const DriftFlags& flags, const config::Config* config, std::optional<std::chrono::seconds> timeout)
        : m_flags(flags),
          m_config(config),
          m_timeout(timeout),
          m_format(flags.output == "json" ? OutputFormat::json : OutputFormat::text) {}

    // Compares one namespace (and fixes it when asked), printing as it goes in text form.
    void compare(kube::Client& client, Subject subject, Asked asked) {
        EnvironmentDrift& drift = subject.drift;
        kube::Discovery discovery(client, kube::default_discovery_cache_dir());
        auto found = detect(client, discovery, subject, asked);
        if (!found) {
            drift.comparison = Comparison::failed;
            drift.error = found.error().describe();
            m_exit = worse(m_exit, exit_code_for(found.error()));
            util::log_error("{}: {}", drift_label(drift), found.error().describe());
        } else if (!*found) {
            drift.comparison = Comparison::nothing_deployed;
        } else {
            drift.report = std::move(**found);
        }
        if (m_format == OutputFormat::text) print_text(drift_text(drift));
        if (drift.report && drift.report->drifted()) {
            if (m_flags.fix) fix(client, discovery, subject);
            m_exit = worse(m_exit, drift_left(drift) ? k_exit_drift : k_exit_ok);
        }
        m_done.push_back(std::move(drift));
    }

    // An environment that could not even be reached: its namespaces are not known, or not connected to.
    void not_reached(EnvironmentDrift drift, const util::Error& error) {
        drift.comparison = Comparison::failed;
        drift.error = error.describe();
        m_exit = worse(m_exit, exit_code_for(error));
        util::log_error("{}: {}", drift.name, error.describe());
        m_done.push_back(std::move(drift));
    }

    void count_requests(const kube::Client& client) { m_requests += client.requests_sent(); }

    int finish() {
        if (m_format == OutputFormat::json) fmt::print("{}\n", json_text(drift_json(m_done, m_requests)));
        append_step_summary(m_done);
        return m_exit;
    }

private:
    void print_text(const std::string& text) {
        if (text.empty()) return;
        fmt::print("{}{}", m_printed ? "\n" : "", text);
        std::fflush(stdout);
        m_printed = true;
    }

    // The live objects (and Git) compared with the last release. nullopt when nothing was deployed
    // there and the namespace was not asked for by name.
    Result<std::optional<deploy::DriftReport>> detect(kube::Client& client, kube::Discovery& discovery,
                                                      const Subject& subject, Asked asked) {
        const render::Target& target = subject.drift.target;
        const bool with_git = subject.environment != nullptr || !m_flags.manifests.empty();
        std::optional<std::vector<source::Manifest>> manifests;
        // The release is read ahead only when it is needed: Git is rendered with its images (so
        // undeployed changes are about manifests, not about which build runs), and an environment
        // never deployed is skipped when every environment was asked for.
        if (with_git || asked == Asked::all) {
            deploy::Store store(client, target.namespace_, target.app, target.env);
            auto releases = store.load_releases();
            if (!releases) return fail(releases.error());
            auto current = deploy::current_release(*releases);
            if (!current && asked == Asked::all) return std::optional<deploy::DriftReport>();
            if (!current) {
                return fail(current.error().context(fmt::format("{} in namespace {}", target.owner(), target.namespace_)));
            }
            if (with_git) {
                auto rendered = render_git(client, subject, *current);
                if (!rendered) return fail(rendered.error());
                manifests = std::move(*rendered);
            }
        }
        auto report = deploy::detect_drift(client, discovery, {.target = target, .concurrency = m_flags.concurrency},
                                           manifests ? &*manifests : nullptr);
        if (!report) return fail(report.error());
        return std::optional<deploy::DriftReport>(std::move(*report));
    }

    // The manifests to compare the release with: the environment's render of this checkout, or -m's.
    Result<std::vector<source::Manifest>> render_git(kube::Client& client, const Subject& subject, const model::Release& release) {
        auto pins = pipeline::release_pins(release.images);
        if (!pins) return fail(pins.error().context(fmt::format("the images of release {}", release.revision)));
        // Nothing is declared: an image the release did not run (added in Git since) stays as written.
        std::string kube_version;
        if (subject.environment != nullptr) {
            auto version = pipeline::chart_kube_version(client, m_config->manifests_for(*subject.environment));
            if (!version) return fail(version.error());
            kube_version = std::move(*version);
        }
        Result<render::Rendered> rendered =
            subject.environment != nullptr
                ? pipeline::render_environment(*m_config, *subject.environment,
                                               {.config_dir = config_dir(),
                                                .branch = subject.drift.branch,
                                                .pins = std::move(*pins),
                                                .declared = {},
                                                .kube_version = std::move(kube_version)})
                : render::render(
                      {.manifest_paths = m_flags.manifests, .pinning = render::ImagePinning{.images = std::move(*pins)}});
        if (!rendered) return fail(rendered.error());
        for (const auto& warning : rendered->warnings) util::log_warn("{}", warning);
        return std::move(rendered->manifests);
    }

    std::string config_dir() const { return std::filesystem::absolute(m_flags.file).parent_path().string(); }

    // Re-applies the release's version of what drifted, with the settings `minicd ci` deploys the
    // environment with (apply's defaults in the -n/--app/--env form), and reports it.
    void fix(kube::Client& client, kube::Discovery& discovery, Subject& subject) {
        const config::Environment* environment = subject.environment;
        deploy::DeployOptions options{
            .target = subject.drift.target,
            .wait = true,
            .timeout = m_timeout.value_or(environment != nullptr ? environment->timeout : k_default_timeout),
            .concurrency = m_flags.concurrency,
            .lock_wait = k_lock_wait,
            .assess = {.wait_for_load_balancer = environment != nullptr && environment->wait_for_addresses},
            .history = environment != nullptr ? environment->history : k_default_history,
            .deployed_by = deploy::detect_provenance(),
        };
        if (m_format == OutputFormat::text) {
            options.progress = [](const std::string& line) { util::log_info("{}", line); };
            util::log_info("{}: putting back release {}", subject.drift.name, subject.drift.report->release.revision);
        }
        auto fixed = deploy::fix_drift(client, discovery, options);
        if (!fixed) {
            deploy::DeployResult failed;
            failed.outcome = deploy::Outcome::failed;
            failed.failure = fixed.error().describe();
            subject.drift.fixed = std::move(failed);
            util::log_error("{}: the drift was not put back: {}", subject.drift.name, fixed.error().describe());
            m_exit = worse(m_exit, k_exit_failed);
            return;
        }
        subject.drift.fixed = *fixed;
        if (!fixed->succeeded()) m_exit = worse(m_exit, k_exit_failed);
        if (m_format == OutputFormat::text) {
            const TextReport report = text_report(*fixed, DryRun::no, client.requests_sent());
            fmt::print("fixing {}:\n{}", subject.drift.name, report.out);
            std::fflush(stdout);
            fmt::print(stderr, "{}", report.errors);
        }
    }

    const DriftFlags& m_flags;
    const config::Config* m_config;  // null in the -n/--app/--env form
    std::optional<std::chrono::seconds> m_timeout;
    OutputFormat m_format;
    std::vector<EnvironmentDrift> m_done;
    long m_requests = 0;
    int m_exit = k_exit_ok;
    bool m_printed = false;
};

// The -n/--app/--env form or minicd.yaml's environments; usage errors for what does not go together.
Result<TargetForm> drift_form(const DriftFlags& flags) {
    const bool explicit_given = !flags.namespace_.empty() || !flags.app.empty() || !flags.env.empty();
    TargetForm form = TargetForm::environment;
    if (!flags.environments.empty() || explicit_given) {
        TargetFlags probe;
        probe.environment = flags.environments.empty() ? std::string() : flags.environments.front();
        probe.file = flags.file;
        probe.file_given = flags.file_given;
        probe.namespace_ = flags.namespace_;
        probe.app = flags.app;
        probe.env = flags.env;
        probe.context = flags.context;
        auto checked = target_form(probe);
        if (!checked) return fail(checked.error());
        form = *checked;
    } else if (!flags.context.empty()) {
        return fail(ErrorCode::usage, "--context goes with -n/--namespace, --app and --env: the environments of minicd.yaml "
                                      "use the contexts it names");
    }
    if (form == TargetForm::environment && !flags.manifests.empty()) {
        return fail(ErrorCode::usage, "-m/--manifests goes with -n/--namespace, --app and --env: an environment of "
                                      "minicd.yaml is compared with its own manifests");
    }
    if (form == TargetForm::explicit_ && flags.previews) {
        return fail(ErrorCode::usage, "--previews goes with the environments of minicd.yaml, not with -n/--namespace, --app "
                                      "and --env");
    }
    return form;
}

// The environments to compare, in the order named (else minicd.yaml's): every fixed one when
// none is named, the per-branch ones too with --previews.
Result<std::vector<const config::Environment*>> chosen_environments(const DriftFlags& flags,
                                                                   const config::Config& config) {
    std::vector<const config::Environment*> chosen;
    for (const auto& name : flags.environments) {
        auto found = config::find_environment(config, name, flags.file);
        if (!found) return fail(found.error());
        if (std::find(chosen.begin(), chosen.end(), *found) == chosen.end()) chosen.push_back(*found);
    }
    if (!flags.environments.empty()) return chosen;
    for (const auto& environment : config.environments) {
        if (!environment.per_branch() || flags.previews) chosen.push_back(&environment);
    }
    if (chosen.empty()) {
        return fail(ErrorCode::usage,
                    fmt::format("{} has only per-branch environments: add --previews to compare their previews", flags.file));
    }
    return chosen;
}

// Every preview namespace of a per-branch environment, on one guarded connection.
void compare_previews(DriftRun& run, const DriftFlags& flags, const config::Config& config,
                      const config::Environment& environment, Asked asked) {
    const render::Target owner{.app = config.app, .env = environment.name};
    config::Environment reached = environment;
    if (!flags.kubeconfig.empty()) reached.cluster.kubeconfig = flags.kubeconfig;
    auto cluster = pipeline::connect_guarded(reached);
    if (!cluster) {
        run.not_reached({.name = environment.name, .target = owner}, cluster.error());
        return;
    }
    kube::Client& client = *cluster->client;
    auto previews = pipeline::list_previews(client, {.app = config.app, .env = environment.name});
    if (!previews) {
        run.not_reached({.name = environment.name, .target = owner}, previews.error());
        run.count_requests(client);
        return;
    }
    if (previews->empty()) util::log_info("{}: no previews", environment.name);
    for (const auto& preview : *previews) {
        // Being deleted: nothing there is worth putting back.
        if (preview.terminating) continue;
        render::Target target = owner;
        target.namespace_ = preview.name;
        run.compare(client,
                    {.drift = {.name = environment.name, .branch = preview.branch(), .target = target},
                     .environment = &environment},
                    asked);
    }
    run.count_requests(client);
}

int run_drift(const DriftFlags& flags) {
    // Flags are checked before connecting: bad input costs nothing.
    auto form = drift_form(flags);
    if (!form) return report_failure(form.error());
    auto timeout = optional_seconds_flag(flags.timeout, "--timeout");
    if (!timeout) return report_failure(timeout.error());

    if (*form == TargetForm::explicit_) {
        TargetFlags target;
        target.namespace_ = flags.namespace_;
        target.app = flags.app;
        target.env = flags.env;
        target.kubeconfig = flags.kubeconfig;
        target.context = flags.context;
        auto connected = connect_target(target);
        if (!connected) return report_failure(connected.error());
        DriftRun run(flags, nullptr, *timeout);
        run.compare(*connected->client, {.drift = {.name = flags.env, .target = connected->target}}, Asked::by_name);
        run.count_requests(*connected->client);
        return run.finish();
    }

    auto config = config::load_config(flags.file);
    if (!config) return report_failure(config.error());
    auto chosen = chosen_environments(flags, *config);
    if (!chosen) return report_failure(chosen.error());
    // Every fixed namespace is named before the first connection.
    for (const auto* environment : *chosen) {
        if (environment->per_branch()) continue;
        auto name = pipeline::namespace_name(environment->namespace_, {.app = config->app, .env = environment->name});
        if (!name) return report_failure(name.error());
    }
    const Asked asked = flags.environments.empty() ? Asked::all : Asked::by_name;
    DriftRun run(flags, &*config, *timeout);
    for (const auto* environment : *chosen) {
        if (environment->per_branch()) {
            compare_previews(run, flags, *config, *environment, asked);
            continue;
        }
        TargetFlags target;
        target.environment = environment->name;
        target.file = flags.file;
        target.file_given = flags.file_given;
        target.kubeconfig = flags.kubeconfig;
        auto connected = connect_target(target);
        if (!connected) {
            run.not_reached({.name = environment->name, .target = {.app = config->app, .env = environment->name}},
                            connected.error());
            continue;
        }
        run.compare(*connected->client,
                    {.drift = {.name = environment->name, .target = connected->target}, .environment = environment},
                    asked);
        run.count_requests(*connected->client);
    }
    return run.finish();
}

}  // namespace

Command add_drift_command(CLI::App& app) {
    auto flags = std::make_shared<DriftFlags>();
    CLI::App* drift = app.add_subcommand(
        "drift", "Compare what runs in the cluster with the last release, name who changed it, and put it back with --fix");
    drift->add_option("ENVIRONMENT", flags->environments,
                      "Environments of minicd.yaml (default: every fixed one; or give -n/--namespace, --app and --env)");
    drift->add_option("-f,--file", flags->file, "The configuration file, with ENVIRONMENT")
        ->capture_default_str()
        ->each([flags](const std::string&) { flags->file_given = true; });
    drift->add_flag("--previews", flags->previews, "Also compare every preview of the per-branch environments");
    drift->add_option("-n,--namespace", flags->namespace_, "Namespace, without ENVIRONMENT (with --app and --env)");
    drift->add_option("--app", flags->app, "Application name, without ENVIRONMENT (as given to minicd apply)");
    drift->add_option("--env", flags->env, "Environment name, without ENVIRONMENT (as given to minicd apply)");
    drift->add_option("-m,--manifests", flags->manifests,
                      "With -n/--app/--env: a manifest file or directory (Git) to compare the release with too; "
                      "repeat for more");
    drift->add_option("--kubeconfig", flags->kubeconfig,
                      "Kubeconfig file (default: the environment's, else $KUBECONFIG or ~/.kube/config)");
    drift->add_option("--context", flags->context, "Kubeconfig context, without ENVIRONMENT (default: current-context)");
    drift->add_flag("--fix", flags->fix,
                    "Put live drift back: re-apply the last release's version of the drifted objects, wait, record a "
                    "release \"drift correction\" (changes in Git are never deployed)");
    drift->add_option("--timeout", flags->timeout,
                      "With --fix, how long to wait for readiness (default: the environment's timeout, else 5m)");
    drift->add_option("--concurrency", flags->concurrency, "Parallel reads and writes")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    drift->add_option("-o,--output", flags->output, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    drift->footer(k_footer);
    return Command{drift, [flags] { return run_drift(*flags); }};
}

}  // namespace minicd::cli
