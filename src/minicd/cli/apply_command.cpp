#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "minicd/cli/app.hpp"
#include "minicd/cli/canary_flags.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/deploy_report.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/pin_images.hpp"
#include "minicd/deploy/canary.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/kube/kubeconfig.hpp"
#include "minicd/source/manifests.hpp"
#include "minicd/util/duration.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

namespace {

struct ApplyFlags {
    std::vector<std::string> files;
    std::string kubeconfig;
    std::string context;
    std::string namespace_;
    std::string app = "default";
    std::string env = "default";
    bool prune = false;
    bool allow_empty = false;
    bool prune_namespaces = false;
    bool prune_volumes = false;
    bool prune_crds = false;
    bool adopt = false;
    bool app_given = false;  // --app was on the command line: prune needs to know whose objects it removes
    bool wait = true;
    bool wait_for_addresses = false;
    std::string timeout = "5m";
    std::string lock_wait = "90s";
    bool dry_run = false;
    bool force_recreate = false;
    bool allow_other_namespaces = false;
    int concurrency = 8;
    std::string on_failure = "keep";
    int history = 10;
    std::string output = "text";
    std::string git_sha;
    std::string build_artifacts;
    std::vector<std::string> image_paths;
    CanaryFlags canary;
};

int run_apply(const ApplyFlags& flags) {
    // Two unrelated applies sharing the default app name would prune each other's objects.
    if (flags.prune && !flags.app_given) {
        return report_failure(util::make_error(
            util::ErrorCode::usage,
            "--prune needs --app (and usually --env): prune deletes what this app/env applied before, so it must "
            "know whose objects those are; without --app every apply in the namespace would share the owner "
            "\"default/default\" and delete each other's objects"));
    }
    auto timeout = util::parse_duration(flags.timeout);
    if (!timeout) return report_failure(timeout.error());
    auto lock_wait = util::parse_duration(flags.lock_wait);
    if (!lock_wait) return report_failure(lock_wait.error());

    // Built images are pinned by digest, so the cluster runs exactly what was built and pushed.
    auto pinning = pinning_from_artifacts(flags.build_artifacts);
    if (!pinning) return report_failure(pinning.error());
    auto paths = parse_image_paths(flags.image_paths);
    if (!paths) return report_failure(paths.error());
    auto canary = canary_from_flags(flags.canary);
    if (!canary) return report_failure(canary.error());
    // Read and render every manifest before talking to any cluster: bad input costs nothing.
    auto rendered = render::render(
        {.manifest_paths = flags.files, .pinning = std::move(*pinning), .custom_paths = std::move(*paths)});
    if (!rendered) return report_failure(rendered.error());
    log_rendered(*rendered);
    // Which cluster, as which user, exactly as kubectl would resolve it.
    auto config = kube::load_rest_config({.path = flags.kubeconfig, .context = flags.context});
    if (!config) return report_failure(config.error());
    auto client = kube::Client::create(*config);
    if (!client) return report_failure(client.error());
    kube::Discovery discovery(**client, kube::default_discovery_cache_dir());

    deploy::DeployOptions options{
        .target = {.app = flags.app,
                   .env = flags.env,
                   .namespace_ = flags.namespace_.empty() ? config->namespace_ : flags.namespace_,
                   .allow_other_namespaces = flags.allow_other_namespaces},
        .prune = flags.prune,
        .allow_empty = flags.allow_empty,
        .allow_prune_namespaces = flags.prune_namespaces,
        .allow_prune_volumes = flags.prune_volumes,
        .allow_prune_crds = flags.prune_crds,
        .adopt = flags.adopt ? deploy::Adopt::take : deploy::Adopt::refuse,
        .wait = flags.wait,
        .timeout = std::chrono::duration_cast<std::chrono::seconds>(*timeout),
        .dry_run = flags.dry_run,
        .force_recreate = flags.force_recreate,
        .concurrency = flags.concurrency,
        .lock_wait = std::chrono::duration_cast<std::chrono::seconds>(*lock_wait),
        .git_sha = flags.git_sha,
        .images = rendered->images,
        .assess = {.wait_for_load_balancer = flags.wait_for_addresses},
        .on_failure = flags.on_failure == "rollback" ? deploy::OnFailure::rollback : deploy::OnFailure::keep,
        .history = flags.history,
        .deployed_by = deploy::detect_provenance(),
    };
    const OutputFormat format = flags.output == "json" ? OutputFormat::json : OutputFormat::text;
    if (format == OutputFormat::text) options.progress = [](const std::string& line) { util::log_info("{}", line); };

    auto result = deploy::deploy_with(**client, discovery, rendered->manifests, options, *canary);
    if (!result) return report_failure(result.error());
    print_report(*result, format, flags.dry_run ? DryRun::yes : DryRun::no, (*client)->requests_sent());
    return exit_code(result->outcome);
}

}  // namespace

Command add_apply_command(CLI::App& app) {
    auto flags = std::make_shared<ApplyFlags>();
    CLI::App* apply = app.add_subcommand("apply", "Make one namespace match a set of manifests, safely");
    apply->add_option("-f,--filename", flags->files, "Manifest files or directories (kustomize directories too)")
        ->required();
    apply->add_option("--kubeconfig", flags->kubeconfig, "Kubeconfig file (default: $KUBECONFIG or ~/.kube/config)");
    apply->add_option("--context", flags->context, "Kubeconfig context (default: current-context)");
    apply->add_option("-n,--namespace", flags->namespace_, "Target namespace (default: the context's)");
    apply->add_option("--app", flags->app, "Application name: with --env, names what minicd owns (required with --prune)")
        ->capture_default_str()
        ->each([flags](const std::string&) { flags->app_given = true; });
    apply->add_option("--env", flags->env, "Environment name")->capture_default_str();
    apply->add_flag("--prune", flags->prune, "Delete objects applied before by this app/env and no longer declared");
    apply->add_flag("--allow-empty", flags->allow_empty, "Allow an empty set of manifests (with --prune: delete everything)");
    apply->add_flag("--prune-namespaces", flags->prune_namespaces,
                    "With --prune, also delete Namespaces (and everything in them) this app/env no longer declares");
    apply->add_flag("--prune-volumes", flags->prune_volumes,
                    "With --prune, also delete PersistentVolumeClaims (and possibly their data) no longer declared");
    apply->add_flag("--prune-crds", flags->prune_crds,
                    "With --prune, also delete CustomResourceDefinitions (and every resource of their kinds, in every "
                    "namespace) no longer declared");
    apply->add_flag("--adopt", flags->adopt,
                    "Take over existing objects that another minicd app/env, Helm, Argo CD or Flux owns (refused otherwise)");
    apply->add_flag("--wait,!--no-wait", flags->wait, "Wait until every object is ready (default)");
    apply->add_flag("--wait-for-addresses", flags->wait_for_addresses,
                    "Also wait until Ingresses and LoadBalancer Services have an address (off: many controllers never publish one)");
    apply->add_option("--timeout", flags->timeout, "How long to wait for readiness")->capture_default_str();
    apply->add_option("--lock-wait", flags->lock_wait, "How long to wait for another deploy of this app/env to finish")
        ->capture_default_str();
    apply->add_flag("--dry-run", flags->dry_run, "Show what would change; change nothing");
    apply->add_flag("--force-recreate", flags->force_recreate, "Delete and re-create objects whose immutable fields changed");
    apply->add_flag("--allow-other-namespaces", flags->allow_other_namespaces,
                    "Let manifests name namespaces other than the target");
    apply->add_option("--concurrency", flags->concurrency, "Parallel writes")->check(CLI::Range(1, 64))->capture_default_str();
    apply->add_option("--on-failure", flags->on_failure,
                      "When the rollout fails after writing: keep the cluster as it is (to debug it), or roll back to "
                      "the newest release verified healthy and wait for it (the exit code stays 1)")
        ->check(CLI::IsMember({"keep", "rollback"}))
        ->capture_default_str();
    apply->add_option("--history", flags->history, "Releases kept in the history, each with the objects it applied")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    add_canary_flags(*apply, flags->canary);
    apply->add_option("-o,--output", flags->output, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    apply->add_option("--git-sha", flags->git_sha, "Commit recorded in the release history");
    apply->add_option("--build-artifacts", flags->build_artifacts, "Pin the images of this file (minicd build --output-file)");
    apply->add_option("--image-path,--images-paths", flags->image_paths,
                      "Where a custom resource keeps images: <Kind>[.<group>]:<path>, e.g. Rollout.argoproj.io:spec.template.spec.containers[].image");
    return Command{apply, [flags] { return run_apply(*flags); }};
}

}  // namespace minicd::cli
