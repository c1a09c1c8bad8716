#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string_view>

#include "minicd/build/tag_policy.hpp"
#include "minicd/cli/app.hpp"
#include "minicd/cli/ci_result.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/drift_report.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/json_output.hpp"
#include "minicd/config/load.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/pipeline/ci.hpp"
#include "minicd/pipeline/plan.hpp"
#include "minicd/pipeline/preview.hpp"
#include "minicd/source/ci_event.hpp"
#include "minicd/source/git.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

namespace {

struct CiFlags {
    std::string file = "minicd.yaml";
    bool explain = false;
    bool force = false;
    std::string reason;
    bool allow_dirty = false;
    std::string output = "text";
    std::string kubeconfig;
    std::string main_branch;  // "" uses minicd.yaml's mainBranch
    std::string remote = "origin";
    std::string ci_report;  // --ci-report / $MINICD_CI_REPORT; "" = the CI's default
    pipeline::BuildSettings build;
};

// What git says about HEAD, for CIs that leave things out.
Result<source::GitHead> git_head(source::Repository& repository) {
    auto sha = repository.head_commit();
    if (!sha) return fail(sha.error());
    auto branch = repository.head_branch();
    if (!branch) return fail(branch.error());
    auto tags = repository.tags_at_head();
    if (!tags) return fail(tags.error());
    return source::GitHead{.branch = branch->detached ? "" : branch->name, .tags = *tags, .sha = *sha};
}

// The commit being delivered (a tag's own commit for a tag) and the tag built images get.
Result<pipeline::GitFacts> git_facts(source::Repository& repository, const source::Event& event, const config::Config& config,
                                     bool allow_dirty) {
    pipeline::GitFacts facts;
    auto sha = event.kind == source::EventKind::tag_push ? repository.resolve_commit("refs/tags/" + event.tag)
                                                         : repository.head_commit();
    if (!sha) return fail(sha.error());
    facts.sha = *sha;
    auto tag = build::commit_tag(repository, {.length = static_cast<std::size_t>(config.build.tag_length),
                                              .pushing = true,
                                              .in_ci = build::running_in_ci(),
                                              .allow_dirty = allow_dirty || config.build.allow_dirty});
    if (!tag) return fail(tag.error());
    facts.image_tag = *tag;
    return facts;
}

void print_plan(const pipeline::Plan& plan, const pipeline::GitFacts& git) {
    fmt::print("event:  {}\n", pipeline::describe_event(plan.event));
    fmt::print("commit: {} (images tagged {})\n", git.sha, git.image_tag);
    if (plan.steps.empty()) {
        fmt::print("plan:   nothing to do: {}\n", plan.reason);
        return;
    }
    fmt::print("plan:\n");
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
        const auto& step = plan.steps[i];
        fmt::print("  {}. {}{}: {}\n", i + 1, pipeline::to_string(step.kind), step.environment.empty() ? "" : " " + step.environment,
                   step.description);
    }
    std::fflush(stdout);
}

// The drift steps' findings, as `minicd drift` reports them.
std::vector<EnvironmentDrift> drift_of(const pipeline::CiReport& report) {
    std::vector<EnvironmentDrift> environments;
    for (const auto& check : report.drift) {
        environments.push_back(
            {.name = check.environment, .target = check.target, .report = check.report, .fixed = check.fixed});
    }
    return environments;
}

void print_summary(const pipeline::CiReport& report) {
    fmt::print("\nsummary:\n");
    for (const auto& step : report.steps) {
        fmt::print("  {:<8} {:<9}{:<12} {:>7}  {}\n", pipeline::to_string(step.status), pipeline::to_string(step.step.kind),
                   step.step.environment, seconds_text(step.elapsed), step.detail);
    }
    for (const auto& environment : report.environments) {
        fmt::print("\nenvironment {}: namespace {}, release {}, {}\n", environment.environment, environment.namespace_,
                   environment.revision, environment.succeeded ? "healthy" : "NOT healthy");
        for (const auto& [name, pinned] : environment.images) fmt::print("  image {}: {}\n", name, pinned);
        if (!environment.url.empty()) fmt::print("  url: {}\n", environment.url);
    }
    // Only where something differs: the steps above already say "no drift" for the rest.
    for (const auto& environment : drift_of(report)) {
        if (!environment.report->live.empty()) fmt::print("\n{}", drift_text(environment));
    }
    if (!report.succeeded()) {
        fmt::print("\nminicd ci: FAILED\n");
    } else if (const int drifted = report.drifted_environments(); drifted > 0) {
        fmt::print("\nminicd ci: succeeded, but live drift was found in {} environment{} and left as it is\n", drifted,
                   drifted == 1 ? "" : "s");
    } else {
        fmt::print("\nminicd ci: succeeded\n");
    }
}

model::Json report_json(const pipeline::Plan& plan, const pipeline::GitFacts& git, const pipeline::CiReport* report) {
    model::Json out = {{"plan", pipeline::to_json(plan)}, {"commit", git.sha}, {"imageTag", git.image_tag}};
    if (report == nullptr) return out;
    model::Json steps = model::Json::array();
    for (const auto& step : report->steps) {
        steps.push_back({{"kind", pipeline::to_string(step.step.kind)},
                         {"environment", step.step.environment},
                         {"status", pipeline::to_string(step.status)},
                         {"detail", step.detail},
                         {"seconds", step.elapsed.count() / 1000.0}});
    }
    model::Json environments = model::Json::array();
    for (const auto& environment : report->environments) {
        environments.push_back({{"environment", environment.environment},
                                {"namespace", environment.namespace_},
                                {"url", environment.url},
                                {"images", environment.images},
                                {"revision", environment.revision},
                                {"succeeded", environment.succeeded}});
    }
    model::Json drift = model::Json::array();
    for (const auto& environment : drift_of(*report)) drift.push_back(environment_json(environment));
    out["steps"] = steps;
    out["environments"] = environments;
    out["drift"] = drift;
    out["driftedEnvironments"] = report->drifted_environments();
    out["succeeded"] = report->succeeded();
    if (report->error) out["error"] = report->error->describe();
    return out;
}

// Shows the result where the CI shows results: GitHub's step summary and outputs, GitLab's dotenv
// report, CircleCI's stored artifact; nothing elsewhere. A file that cannot be written is a
// warning, never a reason to fail the run.
void write_ci_results(const CiResult& result, std::string_view report_file) {
    const auto variable = [](const char* name) {
        const char* value = std::getenv(name);
        return value == nullptr ? std::string() : std::string(value);
    };
    const CiResultFiles files{.github_summary = variable("GITHUB_STEP_SUMMARY"),
                              .github_output = variable("GITHUB_OUTPUT"),
                              .report = std::string(report_file)};
    Result<void> written;
    switch (result.plan.event.provider) {
        case source::Provider::github: written = write_github(result, files); break;
        case source::Provider::gitlab: written = write_gitlab(result, files); break;
        case source::Provider::circleci: written = write_circleci(result, files); break;
        case source::Provider::generic: break;
    }
    if (!written) util::log_warn("the CI report was not written: {}", written.error().describe());
}

// A preview asked for by hand: the event is a push of `branch` and only that preview environment
// is planned (build and deploy; collecting other previews is the CI's business).
struct PreviewRequest {
    std::string branch;
    std::string env;  // "" for the only per-branch environment
};

// The plan for a preview asked for by hand: minicd.yaml's triggers do not decide.
Result<pipeline::Plan> preview_plan(config::Config config, const PreviewRequest& request, const source::Event& event,
                                    const pipeline::GitFacts& git) {
    auto environment = pipeline::preview_environment(config, request.env);
    if (!environment) return fail(environment.error());
    const std::string name = (*environment)->name;
    for (auto& candidate : config.environments) {
        candidate.on = candidate.name == name ? std::optional<config::Trigger>(config::Trigger{.branch = {{"*"}}}) : std::nullopt;
    }
    auto plan = pipeline::plan(config, event, git);
    std::erase_if(plan.steps, [](const pipeline::Step& step) { return step.kind == pipeline::StepKind::gc; });
    return plan;
}

int run_ci(const CiFlags& flags, const std::optional<PreviewRequest>& preview = std::nullopt) {
    if (flags.force && flags.reason.empty()) {
        return report_failure(util::make_error(util::ErrorCode::usage, "--force needs --reason: it is recorded in the release"));
    }
    auto config = config::load_config(flags.file);
    if (!config) return report_failure(config.error());
    const std::string config_dir = std::filesystem::absolute(flags.file).parent_path().string();
    auto repository = source::Repository::open(config_dir);
    if (!repository) return report_failure(repository.error());

    // Which Git event this job runs for: the CI's variables first, the checkout for the rest.
    auto head = git_head(*repository);
    if (!head) return report_failure(head.error());
    auto event = preview ? Result<source::Event>(source::Event{.kind = source::EventKind::branch_push,
                                                               .trigger = "minicd preview up",
                                                               .ref = "refs/heads/" + preview->branch,
                                                               .branch = preview->branch,
                                                               .sha = head->sha})
                         : source::detect_event(source::process_environment(), *head);
    if (!event) return report_failure(event.error());
    auto git = git_facts(*repository, *event, *config, flags.allow_dirty || flags.explain);
    if (!git) return report_failure(git.error());
    auto plan = preview ? preview_plan(*config, *preview, *event, *git) : Result<pipeline::Plan>(pipeline::plan(*config, *event, *git));
    if (!plan) return report_failure(plan.error());

    const bool text = flags.output == "text";
    if (text) print_plan(*plan, *git);
    if (flags.explain || plan->steps.empty()) {
        if (text && flags.explain) fmt::print("\n--explain: nothing was done\n");
        if (!text) fmt::print("{}\n", json_text(report_json(*plan, *git, nullptr)));
        if (!flags.explain) write_ci_results({.plan = *plan, .git = *git, .report = std::nullopt, .drift = {}}, flags.ci_report);
        return k_exit_ok;
    }

    pipeline::CiOptions options{
        .config_dir = config_dir,
        .repository_dir = repository->path(),
        .main_branch = flags.main_branch.empty() ? config->main_branch : flags.main_branch,
        .remote = flags.remote,
        .force = flags.force,
        .reason = flags.reason,
        .kubeconfig = flags.kubeconfig,
        .discovery_cache = kube::default_discovery_cache_dir(),
        .build = flags.build,
        .progress =
            [text](const std::string& line) {
                // In a CI log the progress belongs with the plan on stdout; JSON keeps stdout for itself.
                if (text) {
                    fmt::print("{}\n", line);
                    std::fflush(stdout);
                } else {
                    util::log_info("{}", line);
                }
            },
    };
    if (text) fmt::print("\n");
    const auto report = pipeline::run_ci(*config, *plan, *git, options);
    if (text) {
        print_summary(report);
    } else {
        fmt::print("{}\n", json_text(report_json(*plan, *git, &report)));
    }
    write_ci_results({.plan = *plan, .git = *git, .report = report, .drift = drift_of(report)}, flags.ci_report);
    // Drift left as it is fails the nightly job, so someone looks; anything that failed says more.
    if (report.succeeded()) return report.drifted_environments() > 0 ? k_exit_drift : k_exit_ok;
    util::log_error("{}", report.error->describe());
    // Nothing written yet (refused up front, bad input): 2; a failure after the first write: 1.
    bool wrote = false;
    for (const auto& step : report.steps) wrote = wrote || step.status == pipeline::StepStatus::done;
    return wrote ? k_exit_failed : exit_code_for(*report.error);
}

}  // namespace

int run_preview_up(const std::string& file, const std::string& branch, const std::string& env) {
    CiFlags flags;
    flags.file = file;
    return run_ci(flags, PreviewRequest{.branch = branch, .env = env});
}

Command add_ci_command(CLI::App& app) {
    auto flags = std::make_shared<CiFlags>();
    CLI::App* ci = app.add_subcommand("ci", "Deliver the Git event this CI job runs for: preview, staging or production");
    ci->add_option("-f,--file", flags->file, "minicd.yaml")->capture_default_str();
    ci->add_flag("--explain", flags->explain, "Print the detected event and the plan; do nothing");
    ci->add_flag("--force", flags->force, "Promote even when a promotion check fails (needs --reason)");
    ci->add_option("--reason", flags->reason, "Why --force was needed; recorded in the release");
    ci->add_flag("--allow-dirty", flags->allow_dirty, "Build and push from a work tree with uncommitted changes");
    ci->add_option("-o,--output", flags->output, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    ci->add_option("--kubeconfig", flags->kubeconfig, "Kubeconfig for every environment (default: minicd.yaml's, $KUBECONFIG)");
    ci->add_option("--main-branch", flags->main_branch, "Branch a release tag must be on (default: minicd.yaml's mainBranch, main)");
    ci->add_option("--remote", flags->remote, "Remote whose main branch counts (refs/remotes/<remote>/<main>)")->capture_default_str();
    ci->add_option("--ci-report", flags->ci_report,
                   "Where the run's report for the CI goes: GitLab's dotenv report (default minicd.env), CircleCI's "
                   "Markdown summary (default /tmp/minicd/summary.md); GitHub Actions uses $GITHUB_STEP_SUMMARY and "
                   "$GITHUB_OUTPUT")
        ->envname("MINICD_CI_REPORT");
    ci->add_option("--builder", flags->build.builder, "buildah, docker, podman or kaniko (default: minicd.yaml's, else the first found)");
    ci->add_option("--builder-arg", flags->build.builder_args, "Argument given to the builder before its command, e.g. --builder-arg=--storage-driver=vfs");
    ci->add_option("--insecure-registry", flags->build.insecure_registries, "host:port reached over plain HTTP");
    ci->add_option("--auth-file", flags->build.auth_file, "Registry credentials for the builder (docker config.json format)");
    ci->add_option("--cert-dir", flags->build.cert_dir, "Directory of registry CA certificates (*.crt) for buildah and podman");
    ci->add_option("--registry-ca", flags->build.registry_ca, "CA bundle (PEM) minicd trusts for registries");
    ci->footer("A scheduled run checks every fixed environment for drift (and puts it back where minicd.yaml says "
               "drift: fix) and collects previews.\n"
               "Exit codes: 0 done; 1 failed after writing; 2 refused or bad input, nothing written; 3 live drift "
               "found and left as it is (drift: report), everything else done.");
    return Command{ci, [flags] { return run_ci(*flags); }};
}

}  // namespace minicd::cli
