#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "minicd/config/config.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/result.hpp"

namespace minicd::cli {

// Whose release history a command reads or changes, in one of two forms: an environment of
// minicd.yaml (its cluster guarded, its namespace from the template), or -n/--app/--env on a
// kubeconfig context, for what `minicd apply` deployed.
struct TargetFlags {
    std::string environment;  // ENVIRONMENT; "" in the -n/--app/--env form
    std::string file = "minicd.yaml";
    bool file_given = false;  // -f/--file was on the command line: it belongs to the ENVIRONMENT form
    std::string branch;       // per-branch (preview) environments only
    std::string namespace_;
    std::string app;
    std::string env;
    std::string kubeconfig;
    std::string context;
};

// Adds ENVIRONMENT, -f/--file, --branch, -n/--namespace, --app, --env, --kubeconfig and --context.
void add_target_flags(CLI::App& command, TargetFlags& flags);

enum class TargetForm {
    environment,  // ENVIRONMENT from minicd.yaml
    explicit_,    // -n/--namespace, --app and --env
};

// The form the flags use; a usage error when they mix the two or complete neither.
Result<TargetForm> target_form(const TargetFlags& flags);

// A target with a client for its cluster.
struct ConnectedTarget {
    render::Target target;
    std::unique_ptr<kube::Client> client;
    // The environment of minicd.yaml, for its defaults (timeout, history); nullopt in the
    // -n/--app/--env form.
    std::optional<config::Environment> environment;
};

// Resolves the target, checking everything it can before connecting, and connects: through the
// environment's identity guard in the ENVIRONMENT form, else as kubectl would resolve
// --kubeconfig and --context.
Result<ConnectedTarget> connect_target(const TargetFlags& flags);

// A duration flag (`--timeout 5m`) in whole seconds; the error names the flag.
Result<std::chrono::seconds> seconds_flag(const std::string& text, const char* flag);
// The same for a flag that may be left out: nullopt when `text` is "".
Result<std::optional<std::chrono::seconds>> optional_seconds_flag(const std::string& text, const char* flag);

}  // namespace minicd::cli
