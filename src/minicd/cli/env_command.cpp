#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/config/load.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/kube/kubeconfig.hpp"
#include "minicd/pipeline/guard.hpp"
#include "minicd/pipeline/pin_file.hpp"
#include "minicd/util/text.hpp"

namespace minicd::cli {

namespace {

struct EnvFlags {
    std::string file = "minicd.yaml";
    std::string environment;
};

Result<config::Environment> load_environment(const EnvFlags& flags) {
    auto config = config::load_config(flags.file);
    if (!config) return fail(config.error());
    auto found = config::find_environment(*config, flags.environment, flags.file);
    if (!found) return fail(found.error());
    return **found;
}

// What the environment's context resolves to now.
Result<pipeline::ClusterIdentity> observe(const config::Environment& environment) {
    auto rest = kube::load_rest_config({.path = environment.cluster.kubeconfig, .context = environment.cluster.context});
    if (!rest) return fail(rest.error().context(fmt::format("environment {}", environment.name)));
    auto client = kube::Client::create(std::move(*rest));
    if (!client) return fail(client.error());
    return pipeline::observe_identity(**client);
}

// Replaces the file through a rename, so a crash never leaves half a minicd.yaml.
Result<void> replace_file(const std::string& path, const std::string& text) {
    std::error_code error;
    const std::filesystem::path target = std::filesystem::weakly_canonical(path, error);
    if (error) return fail(util::ErrorCode::io, error.message(), path);
    const std::filesystem::path temporary = target.string() + ".minicd-pin.tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (!out) return fail(util::ErrorCode::io, "cannot write", temporary.string());
    }
    std::filesystem::permissions(temporary, std::filesystem::status(target).permissions(), error);
    std::filesystem::rename(temporary, target, error);
    if (error) {
        std::filesystem::remove(temporary, error);
        return fail(util::ErrorCode::io, fmt::format("cannot replace the file: {}", error.message()), path);
    }
    return {};
}

std::string or_none(const std::string& value) { return value.empty() ? std::string("(not pinned)") : value; }

int run_pin(const EnvFlags& flags) {
    // What the context resolves to now is what gets pinned: the user vouches for it by running this.
    auto environment = load_environment(flags);
    if (!environment) return report_failure(environment.error());
    auto found = observe(*environment);
    if (!found) return report_failure(found.error());
    const config::ClusterPin& before = environment->cluster;
    const pipeline::PinValues values{.server = found->server, .uid = found->uid};
    if (values.uid.empty()) {
        util::log_warn("the kube-system namespace's uid could not be read ({}); pinning the server URL only",
                       found->uid_problem);
        if (!before.uid.empty()) {
            util::log_warn("the uid pinned before stays, and this user cannot verify it: remove it from minicd.yaml if "
                           "this user deploys");
        }
    }

    auto text = util::read_file(flags.file);
    if (!text) return report_failure(text.error());
    auto edit = pipeline::write_pin(*text, flags.file, flags.environment, values);
    if (!edit) return report_failure(edit.error());
    if (!edit->text) {
        // Some layouts are not edited by machine; the person can add two lines faster than we can guess.
        fmt::print(stderr, "minicd: {} is not edited automatically here ({}); add under environments.{}.cluster:\n",
                   flags.file, edit->why, flags.environment);
        for (const std::string& line : pipeline::pin_lines(values)) fmt::print("{}\n", line);
        return k_exit_failed;
    }
    if (!edit->changed) {
        fmt::print("environment {} is already pinned: server {}, uid {}\n", flags.environment, values.server,
                   or_none(values.uid));
        return k_exit_ok;
    }
    auto written = replace_file(flags.file, *edit->text);
    if (!written) return report_failure(written.error());
    fmt::print("pinned environment {} (context {}): server {}, uid {}\n", flags.environment, before.context, values.server,
               or_none(values.uid));
    if (before.pinned()) fmt::print("  was: server {}, uid {}\n", or_none(before.server), or_none(before.uid));
    return k_exit_ok;
}

int run_show(const EnvFlags& flags) {
    auto environment = load_environment(flags);
    if (!environment) return report_failure(environment.error());
    const config::ClusterPin& pin = environment->cluster;
    fmt::print("environment {}\n  context:    {}\n", environment->name, pin.context);
    if (!pin.kubeconfig.empty()) fmt::print("  kubeconfig: {}\n", pin.kubeconfig);
    fmt::print("  pinned:     server {}, uid {}\n", or_none(pin.server), or_none(pin.uid));

    auto found = observe(*environment);
    if (!found) return report_failure(found.error());
    fmt::print("  now:        server {}, uid {}\n", found->server,
               found->uid.empty() ? fmt::format("unreadable ({})", found->uid_problem) : found->uid);
    auto verdict = pipeline::check_identity(*environment, *found);
    if (!verdict) {
        fmt::print("  verdict:    refused\n");
        return report_failure(verdict.error());
    }
    fmt::print("  verdict:    {}\n", verdict->warning.empty() ? "matches the pin" : "not pinned: any cluster is accepted");
    return k_exit_ok;
}

}  // namespace

Command add_env_command(CLI::App& app) {
    auto flags = std::make_shared<EnvFlags>();
    CLI::App* env = app.add_subcommand("env", "Pin and inspect the cluster each environment deploys to");
    env->require_subcommand(1);
    CLI::App* pin = env->add_subcommand(
        "pin", "Record the server URL and kube-system uid the environment's context resolves to now, in minicd.yaml");
    CLI::App* show = env->add_subcommand("show", "Print the environment's pin and what its context resolves to now");
    for (CLI::App* sub : {pin, show}) {
        sub->add_option("ENV", flags->environment, "Environment name from minicd.yaml")->required();
        sub->add_option("-f,--file", flags->file, "The configuration file")->capture_default_str();
    }
    return Command{env, [flags, pin] { return pin->parsed() ? run_pin(*flags) : run_show(*flags); }};
}

}  // namespace minicd::cli
