#include "minicd/cli/target_flags.hpp"

#include <fmt/format.h>

#include <utility>
#include <vector>

#include "minicd/config/load.hpp"
#include "minicd/kube/kubeconfig.hpp"
#include "minicd/pipeline/guard.hpp"
#include "minicd/pipeline/naming.hpp"
#include "minicd/pipeline/preview.hpp"
#include "minicd/util/duration.hpp"

namespace minicd::cli {

namespace {

using util::ErrorCode;

// The environment, its namespace and its app, before any connection: bad input costs nothing.
struct Resolved {
    render::Target target;
    config::Environment environment;
};

Result<Resolved> resolve_environment(const TargetFlags& flags) {
    auto config = config::load_config(flags.file);
    if (!config) return fail(config.error());
    auto found = config::find_environment(*config, flags.environment, flags.file);
    if (!found) return fail(found.error());
    config::Environment environment = **found;
    // The pin and the context stay those of minicd.yaml: only where the kubeconfig lives may differ
    // (a CI job writes it somewhere else), and the guard still checks what it points at.
    if (!flags.kubeconfig.empty()) environment.cluster.kubeconfig = flags.kubeconfig;

    Result<std::string> namespace_ = std::string();
    if (environment.per_branch()) {
        if (flags.branch.empty()) {
            return fail(ErrorCode::usage,
                        fmt::format("environment {} has one namespace per branch: name the branch with --branch", environment.name));
        }
        namespace_ = pipeline::preview_namespace_name(*config, environment, flags.branch);
    } else {
        if (!flags.branch.empty()) {
            return fail(ErrorCode::usage, fmt::format("--branch is for per-branch environments; {} has one namespace ({})",
                                                      environment.name, environment.namespace_));
        }
        namespace_ = pipeline::namespace_name(environment.namespace_, {.app = config->app, .env = environment.name});
    }
    if (!namespace_) return fail(namespace_.error());
    return Resolved{.target = {.app = config->app, .env = environment.name, .namespace_ = *namespace_},
                    .environment = std::move(environment)};
}

}  // namespace

void add_target_flags(CLI::App& command, TargetFlags& flags) {
    command.add_option("ENVIRONMENT", flags.environment,
                       "Environment of minicd.yaml (or give -n/--namespace, --app and --env instead)");
    command.add_option("-f,--file", flags.file, "The configuration file, with ENVIRONMENT")
        ->capture_default_str()
        ->each([&flags](const std::string&) { flags.file_given = true; });
    command.add_option("--branch", flags.branch, "The branch, for a per-branch (preview) environment");
    command.add_option("-n,--namespace", flags.namespace_, "Namespace, without ENVIRONMENT (with --app and --env)");
    command.add_option("--app", flags.app, "Application name, without ENVIRONMENT (as given to minicd apply)");
    command.add_option("--env", flags.env, "Environment name, without ENVIRONMENT (as given to minicd apply)");
    command.add_option("--kubeconfig", flags.kubeconfig,
                       "Kubeconfig file (default: the environment's, else $KUBECONFIG or ~/.kube/config)");
    command.add_option("--context", flags.context, "Kubeconfig context, without ENVIRONMENT (default: current-context)");
}

Result<TargetForm> target_form(const TargetFlags& flags) {
    std::vector<std::string> given;
    std::vector<std::string> missing;
    const std::vector<std::pair<std::string, bool>> explicit_flags = {
        {"-n/--namespace", !flags.namespace_.empty()}, {"--app", !flags.app.empty()}, {"--env", !flags.env.empty()}};
    for (const auto& [name, set] : explicit_flags) (set ? given : missing).push_back(name);
    if (!flags.environment.empty()) {
        if (!given.empty()) {
            return fail(ErrorCode::usage, fmt::format("give either ENVIRONMENT or -n/--namespace, --app and --env, not both "
                                                      "(ENVIRONMENT {} with {})",
                                                      flags.environment, fmt::join(given, ", ")));
        }
        // The environment names its context in minicd.yaml, and its pin is checked against that one.
        if (!flags.context.empty()) {
            return fail(ErrorCode::usage,
                        fmt::format("--context does not go with ENVIRONMENT: environment {} uses the context minicd.yaml names",
                                    flags.environment));
        }
        return TargetForm::environment;
    }
    if (given.empty()) {
        return fail(ErrorCode::usage, "name the target: ENVIRONMENT of minicd.yaml, or -n/--namespace, --app and --env");
    }
    if (!missing.empty()) {
        return fail(ErrorCode::usage, fmt::format("without ENVIRONMENT, -n/--namespace, --app and --env go together (missing: {})",
                                                  fmt::join(missing, ", ")));
    }
    if (flags.file_given || !flags.branch.empty()) {
        return fail(ErrorCode::usage, "-f/--file and --branch go with ENVIRONMENT, not with -n/--namespace, --app and --env");
    }
    return TargetForm::explicit_;
}

Result<ConnectedTarget> connect_target(const TargetFlags& flags) {
    auto form = target_form(flags);
    if (!form) return fail(form.error());
    if (*form == TargetForm::environment) {
        auto resolved = resolve_environment(flags);
        if (!resolved) return fail(resolved.error());
        if (auto valid = render::validate_target(resolved->target); !valid) return fail(valid.error());
        auto cluster = pipeline::connect_guarded(resolved->environment);
        if (!cluster) return fail(cluster.error());
        return ConnectedTarget{.target = std::move(resolved->target),
                               .client = std::move(cluster->client),
                               .environment = std::move(resolved->environment)};
    }
    const render::Target target{.app = flags.app, .env = flags.env, .namespace_ = flags.namespace_};
    if (auto valid = render::validate_target(target); !valid) return fail(valid.error());
    // Which cluster, as which user, exactly as kubectl would resolve it.
    auto config = kube::load_rest_config({.path = flags.kubeconfig, .context = flags.context});
    if (!config) return fail(config.error());
    auto client = kube::Client::create(*config);
    if (!client) return fail(client.error());
    return ConnectedTarget{.target = target, .client = std::move(*client), .environment = std::nullopt};
}

Result<std::chrono::seconds> seconds_flag(const std::string& text, const char* flag) {
    auto parsed = util::parse_duration(text);
    if (!parsed) return fail(parsed.error().context(flag));
    return std::chrono::duration_cast<std::chrono::seconds>(*parsed);
}

Result<std::optional<std::chrono::seconds>> optional_seconds_flag(const std::string& text, const char* flag) {
    if (text.empty()) return std::optional<std::chrono::seconds>();
    auto parsed = seconds_flag(text, flag);
    if (!parsed) return fail(parsed.error());
    return std::optional(*parsed);
}

}  // namespace minicd::cli
