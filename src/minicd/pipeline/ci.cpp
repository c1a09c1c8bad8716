#include "minicd/pipeline/ci.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "minicd/build/detect.hpp"
#include "minicd/build/image_build.hpp"
#include "minicd/deploy/canary.hpp"
#include "minicd/deploy/deploy.hpp"
#include "minicd/deploy/record.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/model/image_ref.hpp"
#include "minicd/pipeline/guard.hpp"
#include "minicd/pipeline/naming.hpp"
#include "minicd/pipeline/preview.hpp"
#include "minicd/pipeline/preview_gc.hpp"
#include "minicd/registry/client.hpp"
#include "minicd/render/images.hpp"
#include "minicd/render/preview.hpp"
#include "minicd/render/render.hpp"
#include "minicd/source/git.hpp"
#include "minicd/util/text.hpp"

namespace minicd::pipeline {

namespace {

using util::ErrorCode;
namespace fs = std::filesystem;

std::string relative_to(const std::string& base, const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute() || base.empty()) return path;
    return (fs::path(base) / path).lexically_normal().string();
}

Result<std::vector<render::ImagePath>> custom_image_paths(const config::Config& config) {
    std::vector<render::ImagePath> paths;
    for (const auto& path : config.image_paths) {
        auto parsed =
            render::parse_image_path(fmt::format("{}{}:{}", path.kind, path.group.empty() ? "" : "." + path.group, path.path));
        if (!parsed) return fail(parsed.error());
        paths.push_back(std::move(*parsed));
    }
    return paths;
}

// A step's line names this many drifted objects at most; `minicd drift` lists them all.
constexpr std::size_t k_named_in_summary = 5;

// What a step came to: most are done or fail; drift an environment only reports is a warning.
struct StepResult {
    StepStatus status = StepStatus::done;
    std::string detail;
};

Result<StepResult> as_done(Result<std::string> detail) {
    if (!detail) return fail(detail.error());
    return StepResult{.status = StepStatus::done, .detail = std::move(*detail)};
}

// One run: the state steps hand each other (clients, built or promoted images).
class Run {
public:
    Run(const config::Config& config, const Plan& plan, const GitFacts& git, const CiOptions& options)
        : m_config(config), m_plan(plan), m_git(git), m_options(options) {}

    CiReport execute() {
        for (const auto& step : m_plan.steps) m_report.steps.push_back({.step = step});
        // Wrong cluster: refuse before the registry or any cluster is written to.
        if (auto guarded = guard_clusters(); !guarded) {
            m_report.error = guarded.error();
            return std::move(m_report);
        }
        // A namespace this run may not deploy into is refused before anything is written, too.
        if (auto available = check_namespaces(); !available) {
            m_report.error = available.error();
            return std::move(m_report);
        }
        // A commit that failed or was rolled back is not deployed there again unless forced.
        if (auto free = check_holds(); !free) {
            m_report.error = free.error();
            return std::move(m_report);
        }
        for (auto& report : m_report.steps) {
            if (m_report.error) break;
            progress(fmt::format("--> {}{}: {}", to_string(report.step.kind),
                                 report.step.environment.empty() ? "" : " " + report.step.environment,
                                 report.step.description));
            const auto started = std::chrono::steady_clock::now();
            auto detail = run_step(report.step);
            report.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
            if (detail) {
                report.status = detail->status;
                report.detail = std::move(detail->detail);
            } else if (report.step.kind == StepKind::gc) {
                // A preview left for the next run costs little; failing a good deploy for it would cost more.
                report.status = StepStatus::warning;
                report.detail = detail.error().describe();
            } else {
                report.status = StepStatus::failed;
                report.detail = detail.error().describe();
                m_report.error = detail.error();
            }
            progress(fmt::format("    {} in {:.1f}s: {}", to_string(report.status), report.elapsed.count() / 1000.0, report.detail));
        }
        return std::move(m_report);
    }

private:
    void progress(const std::string& line) const {
        if (m_options.progress) m_options.progress(line);
    }

    const config::Environment& environment(const std::string& name) const { return *m_config.find(name); }

    // The environments whose clusters this run talks to: those planned and the ones they promote from.
    std::vector<std::string> clusters_needed() const {
        std::vector<std::string> names;
        auto add = [&names](const std::string& name) {
            if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
        };
        for (const auto& step : m_plan.steps) {
            if (step.environment.empty()) continue;
            add(step.environment);
            if (step.kind == StepKind::promote) add(environment(step.environment).promote_from);
        }
        return names;
    }

    // True when the run only collects previews in `name` (no deploy, promotion or teardown there).
    bool only_collected(const std::string& name) const {
        for (const auto& step : m_plan.steps) {
            if (step.kind == StepKind::gc) continue;
            if (step.environment == name) return false;
            if (step.kind == StepKind::promote && environment(step.environment).promote_from == name) return false;
        }
        return true;
    }

    Result<void> guard_clusters() {
        for (const auto& name : clusters_needed()) {
            const auto* found = m_config.find(name);
            if (found == nullptr) return fail(ErrorCode::input, fmt::format("environment {} is not in minicd.yaml", name));
            config::Environment environment = *found;
            if (!m_options.kubeconfig.empty()) environment.cluster.kubeconfig = m_options.kubeconfig;
            auto guarded = connect_guarded(environment);
            if (!guarded && only_collected(name)) {
                // This job may not reach the preview cluster at all; its previews wait for a run that does.
                auto error = guarded.error().context(fmt::format("cluster of environment {}", name));
                progress(fmt::format("cluster of {}: not used, previews are not collected this run: {}", name, error.describe()));
                m_unguarded.emplace(name, std::move(error));
                continue;
            }
            if (!guarded) return fail(guarded.error().context(fmt::format("cluster of environment {}", name)));
            // An unpinned cluster was named by the guard's warning already, with its context and server.
            if (environment.cluster.pinned()) {
                progress(fmt::format("cluster of {}: context {} at {} (identity pin checked)", name,
                                     environment.cluster.context, guarded->report.found.server));
            }
            m_clients[name] = std::move(guarded->client);
        }
        return {};
    }

    kube::Client& client(const std::string& environment) { return *m_clients.at(environment); }

    Result<StepResult> run_step(const Step& step) {
        switch (step.kind) {
            case StepKind::build: return as_done(build_images());
            case StepKind::promote: return as_done(promote(environment(step.environment)));
            case StepKind::deploy: return as_done(deploy_to(environment(step.environment)));
            case StepKind::gc:
                if (auto unguarded = m_unguarded.find(step.environment); unguarded != m_unguarded.end()) {
                    return fail(unguarded->second);
                }
                return as_done(collect(environment(step.environment)));
            case StepKind::teardown: return as_done(tear_down(environment(step.environment)));
            case StepKind::drift: return check_drift(environment(step.environment));
        }
        return fail(ErrorCode::internal, "unknown step");
    }

    Result<registry::Client*> registry_client() {
        if (!m_registry) {
            auto created = registry::Client::create(
                {.insecure_registries = m_options.build.insecure_registries, .ca_file = m_options.build.registry_ca});
            if (!created) return fail(created.error());
            m_registry = std::move(*created);
        }
        return m_registry.get();
    }

    // Builds and pushes every image; the digests are read back from the registry.
    Result<std::string> build_images() {
        // No builder is needed (or looked for) when there is nothing to build.
        if (m_config.images.empty()) return std::string("nothing to build");
        auto builder = build::find_builder(m_options.build.builder.empty() ? m_config.build.builder : m_options.build.builder);
        if (!builder) return fail(builder.error());
        auto registry = registry_client();
        if (!registry) return fail(registry.error());
        const build::DigestResolver resolve = build::registry_resolver(**registry);
        const build::BuilderConfig builder_config{.kind = builder->kind,
                                                  .program = builder->program,
                                                  .global_args = m_options.build.builder_args,
                                                  .insecure_registries = m_options.build.insecure_registries,
                                                  .auth_file = m_options.build.auth_file,
                                                  .cert_dir = m_options.build.cert_dir};
        std::vector<std::string> pushed;
        for (const auto& request : build_requests(m_config, m_options.config_dir, m_git.image_tag)) {
            // The builder pushes as the account minicd found for the registry (as `minicd build` does),
            // the one the digests are read back with.
            auto credentials = build::push_credentials(request, m_options.build.auth_file);
            if (!credentials) return fail(credentials.error());
            build::BuilderConfig config = builder_config;
            config.credentials = std::move(*credentials);
            auto artifact = build::build_image(config, request, resolve);
            if (!artifact) return fail(artifact.error());
            // Said once, in the step's line below: each image pushed, with its digest.
            m_images.push_back({.image_name = artifact->image_name, .reference = artifact->reference, .digest = artifact->digest});
            pushed.push_back(artifact->pinned());
        }
        return fmt::format("pushed {} with {}", fmt::join(pushed, ", "), build::to_string(builder->kind));
    }

    Result<std::string> namespace_of(const config::Environment& environment) const {
        return environment_namespace(m_config, environment, m_plan.event.branch);
    }

    // The ref that says what is on the main branch: the remote's when the clone has it (CI clones).
    Result<std::string> main_ref(source::Repository& repository) const {
        for (const auto& ref : {fmt::format("refs/remotes/{}/{}", m_options.remote, m_options.main_branch),
                                fmt::format("refs/heads/{}", m_options.main_branch)}) {
            if (repository.resolve_commit(ref)) return ref;
        }
        return fail(ErrorCode::input,
                    fmt::format("the main branch {} is not in this clone (neither refs/remotes/{}/{} nor refs/heads/{}); "
                                "fetch it (e.g. a full clone, fetch-depth: 0)",
                                m_options.main_branch, m_options.remote, m_options.main_branch, m_options.main_branch));
    }

    PromotionCheck check_promotion(const config::Environment& environment, const config::Environment& from) {
        PromotionCheck check;
        if (m_plan.event.kind == source::EventKind::tag_push) {
            auto repository = source::Repository::open(m_options.repository_dir.empty() ? m_options.config_dir
                                                                                        : m_options.repository_dir);
            auto ref = repository ? main_ref(*repository) : Result<std::string>(fail(repository.error()));
            auto on_main = ref ? repository->is_reachable(m_git.sha, *ref) : Result<bool>(fail(ref.error()));
            if (!on_main) {
                check.problems.push_back(fmt::format("cannot tell whether tag {} is on {}: {}", m_plan.event.tag,
                                                     m_options.main_branch, on_main.error().describe()));
            } else if (!*on_main) {
                check.problems.push_back(fmt::format("tag {} points at {}, which is not on the main branch ({})",
                                                     m_plan.event.tag, m_git.sha.substr(0, 12), *ref));
            }
        }
        auto from_namespace = namespace_of(from);
        if (!from_namespace) {
            check.problems.push_back(from_namespace.error().describe());
            return check;
        }
        deploy::Store store(client(from.name), *from_namespace, m_config.app, from.name);
        auto releases = store.load_releases();
        if (!releases) {
            check.problems.push_back(
                fmt::format("cannot read the release history of {}: {}", from.name, releases.error().describe()));
            return check;
        }
        check.release = deploy::healthy_release(*releases, m_git.sha);
        if (!check.release) {
            check.problems.push_back(fmt::format("commit {} was never deployed healthy to {} (namespace {}), so there is no "
                                                 "tested image digest to promote to {}",
                                                 m_git.sha.substr(0, 12), from.name, *from_namespace, environment.name));
        }
        return check;
    }

    // With --force and no healthy release: the images built for this commit, as the registry has them.
    Result<std::vector<render::ImagePin>> forced_images() {
        auto registry = registry_client();
        if (!registry) return fail(registry.error());
        std::vector<render::ImagePin> pins;
        for (const auto& image : m_config.images) {
            auto ref = model::parse_image_ref(fmt::format("{}:{}", image_repository(m_config, image), m_git.image_tag));
            if (!ref) return fail(ref.error());
            auto descriptor = (*registry)->resolve(*ref);
            if (!descriptor) {
                return fail(descriptor.error().context(fmt::format("finding the image built for {}", m_git.sha.substr(0, 12))));
            }
            pins.push_back({.image_name = image.name, .reference = ref->str(), .digest = descriptor->digest});
        }
        return pins;
    }

    // The images promoteFrom ran for this commit, re-tagged as the version for a tag.
    Result<std::string> promote(const config::Environment& environment) {
        const auto& from = this->environment(environment.promote_from);
        auto check = check_promotion(environment, from);
        if (!check.problems.empty()) {
            if (!m_options.force) return fail(ErrorCode::input, refusal_message(environment.name, check));
            progress(fmt::format("    checks failed, going on because of --force: {}", fmt::join(check.problems, "; ")));
            m_forced = fmt::format("forced past: {}; reason: {}", fmt::join(check.problems, "; "), m_options.reason);
        }
        std::vector<render::ImagePin> pins;
        if (check.release) {
            auto pinned = release_pins(check.release->images);
            if (!pinned) {
                return fail(pinned.error().context(fmt::format("release {} of {}", check.release->revision, from.name)));
            }
            pins = std::move(*pinned);
        } else {
            auto found = forced_images();
            if (!found) return fail(found.error());
            pins = std::move(*found);
        }
        std::vector<std::string> done;
        if (m_plan.event.kind == source::EventKind::tag_push) {
            auto registry = registry_client();
            if (!registry) return fail(registry.error());
            for (auto& pin : pins) {
                auto source = model::parse_image_ref(pin.reference);
                if (!source) return fail(source.error());
                // A manifest copy: the version names the very bytes staging ran, nothing is rebuilt.
                auto retagged = (*registry)->retag(source->with_digest(pin.digest), m_plan.event.tag,
                                                   {.allow_overwrite = m_config.allow_tag_overwrite});
                if (!retagged) return fail(retagged.error());
                pin.reference = source->with_tag(m_plan.event.tag).str();
                done.push_back(fmt::format("{}@{}{}", pin.reference, pin.digest, retagged->unchanged ? " (already tagged)" : ""));
            }
        } else {
            for (const auto& pin : pins) done.push_back(fmt::format("{}@{}", pin.reference, pin.digest));
        }
        m_promoted[environment.name] = pins;
        std::string origin = check.release ? fmt::format("release {} of {}", check.release->revision, from.name)
                                           : std::string("the registry (forced)");
        return fmt::format("{} from {}", fmt::join(done, ", "), origin);
    }

    // Read-only: every namespace a deploy step will use must be free for it (see ensure_namespace).
    Result<void> check_namespaces() {
        for (const auto& step : m_plan.steps) {
            if (step.kind != StepKind::deploy) continue;
            const auto& environment = this->environment(step.environment);
            auto name = namespace_of(environment);
            if (!name) return fail(name.error());
            auto checked = environment.per_branch()
                               ? check_preview_namespace(client(environment.name), {.app = m_config.app, .env = environment.name},
                                                         *name, m_plan.event.branch)
                               : check_environment_namespace(client(environment.name), *name);
            if (!checked) return fail(checked.error());
        }
        return {};
    }

    Result<void> check_holds() {
        for (const auto& step : m_plan.steps) {
            if (step.kind != StepKind::deploy) continue;
            if (auto free = check_hold(environment(step.environment), {}); !free) return free;
        }
        return {};
    }

    // A release that failed or was rolled back holds its commit (and image digests) in its
    // environment, so that re-running the CI job does not bring it back; --force goes on, and the
    // reason is recorded in the release.
    Result<void> check_hold(const config::Environment& environment, const std::vector<std::string>& digests) {
        auto name = namespace_of(environment);
        if (!name) return fail(name.error());
        deploy::Store store(client(environment.name), *name, m_config.app, environment.name);
        auto releases = store.load_releases();
        if (!releases) {
            return fail(releases.error().context(fmt::format("reading the release history of {}", environment.name)));
        }
        auto hold = model::hold_on(*releases, m_git.sha, digests);
        if (!hold) return {};
        const std::string what =
            fmt::format("release {} of {} ({}) was {} at {}: {}", hold->revision, environment.name,
                        hold->git_sha == m_git.sha ? "commit " + m_git.sha.substr(0, 12) : std::string("the same images"),
                        model::to_string(hold->outcome), hold->time, util::shorten_utf8(hold->message, 300));
        if (!m_options.force) {
            std::string finished = finish_interrupted_rollback(environment, *name, *releases, *hold);
            return fail(ErrorCode::input,
                        fmt::format("held: {}\n{}fix it in a new commit, or run again with --force --reason \"why\" to "
                                    "deploy it anyway (the reason is recorded in the release)",
                                    what, finished),
                        environment.name);
        }
        progress(fmt::format("    held, going on because of --force: {}", what));
        m_hold_overrides[environment.name] =
            fmt::format("forced past the hold of release {}; reason: {}", hold->revision, m_options.reason);
        return {};
    }

    // A release that failed in an environment that rolls back, and is still the newest, was left by
    // a job stopped before its automatic rollback finished (cancelled, killed): finish it now, so
    // the environment converges to its last healthy release. Says what it did, for the refusal.
    std::string finish_interrupted_rollback(const config::Environment& environment, const std::string& namespace_,
                                            const std::vector<deploy::Release>& releases, const deploy::Release& hold) {
        if (environment.failure_policy() != config::OnFailure::rollback) return "";
        auto newest = std::find_if(releases.begin(), releases.end(), [](const deploy::Release& release) { return model::ran(release); });
        if (newest == releases.end() || newest->revision != hold.revision || hold.outcome != model::ReleaseOutcome::failed) {
            return "";
        }
        progress(fmt::format("    release {} of {} failed and was never rolled back: rolling back now", hold.revision,
                             environment.name));
        kube::Client& kube = client(environment.name);
        kube::Discovery discovery(kube, m_options.discovery_cache);
        auto restored = deploy::rollback(kube, discovery,
                                         restore_options(environment, {.app = m_config.app, .env = environment.name,
                                                                       .namespace_ = namespace_}),
                                         0, deploy::IncludeCrds::no);
        if (!restored) return fmt::format("the rollback it was owed could not run: {}\n", restored.error().describe());
        if (!restored->succeeded()) {
            return fmt::format("the rollback it was owed (release {}) failed: {}\n", restored->revision, restored->failure);
        }
        return fmt::format("its rollback, interrupted before, is done now: release {} restored release {}\n",
                           restored->revision, restored->rollback_to);
    }

    // How a recorded release is applied again in an environment (a rollback, a drift correction):
    // as its deploys are, waiting for health.
    deploy::DeployOptions restore_options(const config::Environment& environment, render::Target target) {
        return {.target = std::move(target),
                .wait = true,
                .timeout = environment.timeout,
                .lock_wait = std::chrono::seconds(90),
                .assess = {.wait_for_load_balancer = environment.wait_for_addresses},
                .progress = [this](const std::string& line) { progress("    " + line); },
                .history = environment.history,
                .deployed_by = deploy::detect_provenance()};
    }

    // Why this deploy went on despite a failed check or a hold; "" when nothing was overridden.
    std::string release_message(const std::string& environment) const {
        std::string message = m_forced;
        if (auto held = m_hold_overrides.find(environment); held != m_hold_overrides.end()) {
            message += (message.empty() ? "" : "; ") + held->second;
        }
        return message;
    }

    // A preview namespace is made (or refreshed) with its labels and last-deployed time, and never
    // taken over from something else; other namespaces are created plain when missing.
    Result<void> ensure_namespace(kube::Client& kube, const config::Environment& environment, const std::string& name) {
        if (environment.per_branch()) {
            return ensure_preview_namespace(kube, {.app = m_config.app, .env = environment.name}, name, m_plan.event.branch,
                                            Clock::now());
        }
        return ensure_environment_namespace(kube, name);
    }

    Result<std::string> url_of(const config::Environment& environment) const {
        if (environment.host.empty()) return std::string();
        if (environment.per_branch()) return preview_url(m_config, environment, m_plan.event.branch);
        auto host = host_name(environment.host, {.app = m_config.app, .env = environment.name});
        if (!host) return fail(host.error());
        return fmt::format("{}://{}", environment.tls ? "https" : "http", *host);
    }

    Result<std::string> deploy_to(const config::Environment& environment) {
        auto namespace_ = namespace_of(environment);
        if (!namespace_) return fail(namespace_.error());
        // Read and render everything before the first write to the cluster.
        const auto promoted = m_promoted.find(environment.name);
        const auto& pins = promoted != m_promoted.end() ? promoted->second : m_images;
        std::vector<std::string> declared;
        for (const auto& image : m_config.images) declared.push_back(image.name);
        auto kube_version = chart_kube_version(client(environment.name), m_config.manifests_for(environment));
        if (!kube_version) return fail(kube_version.error());
        auto rendered = render_environment(
            m_config, environment,
            {.config_dir = m_options.config_dir, .branch = m_plan.event.branch, .pins = pins, .declared = std::move(declared),
             .kube_version = *kube_version});
        if (!rendered) return fail(rendered.error());
        for (const auto& warning : rendered->warnings) progress("    warning: " + warning);
        auto url = url_of(environment);
        if (!url) return fail(url.error());

        // The images may be held there under another commit (a promotion of what failed before).
        std::vector<std::string> digests;
        for (const auto& pin : pins) digests.push_back(pin.digest);
        if (!digests.empty()) {
            if (auto free = check_hold(environment, digests); !free) return fail(free.error());
        }

        kube::Client& kube = client(environment.name);
        if (auto ensured = ensure_namespace(kube, environment, *namespace_); !ensured) return fail(ensured.error());
        kube::Discovery discovery(kube, m_options.discovery_cache);
        const auto& images = rendered->images;
        deploy::DeployOptions apply_options{
            .target = {.app = m_config.app, .env = environment.name, .namespace_ = *namespace_},
            .prune = environment.prune,
            .adopt = environment.adopt ? deploy::Adopt::take : deploy::Adopt::refuse,
            .wait = true,
            .timeout = environment.timeout,
            .lock_wait = std::chrono::seconds(90),
            .git_sha = m_git.sha,
            .images = images,
            .release_message = release_message(environment.name),
            .assess = {.wait_for_load_balancer = environment.wait_for_addresses},
            .progress = [this](const std::string& line) { progress("    " + line); },
            .on_failure = environment.failure_policy() == config::OnFailure::rollback ? deploy::OnFailure::rollback
                                                                                      : deploy::OnFailure::keep,
            .history = environment.history,
            .deployed_by = deploy::detect_provenance(),
        };
        // Previews are deployed at once: a canary needs a stable version serving next to it.
        const std::optional<model::CanaryStrategy> strategy =
            environment.per_branch() ? std::nullopt : environment.canary;
        auto applied = deploy::deploy_with(kube, discovery, rendered->manifests, apply_options, strategy);
        if (!applied) return fail(applied.error());
        m_report.environments.push_back({.environment = environment.name,
                                         .namespace_ = *namespace_,
                                         .url = *url,
                                         .images = images,
                                         .revision = applied->revision,
                                         .succeeded = applied->succeeded()});
        if (!applied->succeeded()) {
            // Objects of someone else are bad input, like any refusal made before writing.
            const ErrorCode code = applied->outcome == deploy::Outcome::refused ? ErrorCode::input : ErrorCode::api;
            return fail(code, fmt::format("deploy to {} failed: {}", environment.name, applied->failure), *namespace_);
        }
        int changed = 0;
        for (const auto& object : applied->objects) changed += object.action != deploy::Action::unchanged ? 1 : 0;
        std::string canary;
        if (applied->canary && applied->canary->end == deploy::CanaryEnd::promoted) {
            canary = fmt::format(" after a canary of {} steps", applied->canary->steps);
        }
        return fmt::format("namespace {}: {} objects, {} changed, healthy{}; release {}{}", *namespace_, applied->objects.size(),
                           changed, canary, applied->revision, url->empty() ? "" : "; " + *url);
    }

    Result<std::string> collect(const config::Environment& environment) {
        auto outcome = run_preview_gc(client(environment.name), m_config, environment,
                                      {.repository = m_options.repository_dir.empty() ? m_options.config_dir
                                                                                      : m_options.repository_dir});
        if (!outcome) return fail(outcome.error());
        for (const auto& decision : outcome->decisions) {
            if (decision.action != GcAction::keep) {
                progress(fmt::format("    {} {}: {}", to_string(decision.action), decision.namespace_, decision.reason));
            }
        }
        if (!outcome->succeeded()) {
            return fail(ErrorCode::api, fmt::format("preview gc: {}", fmt::join(outcome->failures, "; ")));
        }
        std::string deleted = outcome->deleted.empty() ? "none" : fmt::format("{}", fmt::join(outcome->deleted, ", "));
        return fmt::format("{} previews, removed: {}", outcome->decisions.size(), deleted);
    }

    // Compares the environment with its last release; puts drift back when the environment says
    // `drift: fix`, else reports it as a warning so the other environments are still checked.
    Result<StepResult> check_drift(const config::Environment& environment) {
        auto namespace_ = namespace_of(environment);
        if (!namespace_) return fail(namespace_.error());
        kube::Client& kube = client(environment.name);
        const render::Target target{.app = m_config.app, .env = environment.name, .namespace_ = *namespace_};
        // Production before its first tag has nothing to drift from: that is no reason to fail the night.
        deploy::Store store(kube, *namespace_, m_config.app, environment.name);
        auto releases = store.load_releases();
        if (!releases) {
            return fail(releases.error().context(fmt::format("reading the release history of {}", environment.name)));
        }
        if (auto current = deploy::current_release(*releases); !current) {
            return StepResult{.detail = fmt::format("namespace {}: {}", *namespace_, current.error().message)};
        }
        kube::Discovery discovery(kube, m_options.discovery_cache);
        auto found = deploy::detect_drift(kube, discovery, {.target = target}, nullptr);
        if (!found) return fail(found.error());
        const std::string summary = drift_summary(*found);
        DriftCheck& check =
            m_report.drift.emplace_back(DriftCheck{.environment = environment.name, .target = target, .report = *found});
        if (!found->drifted()) return StepResult{.detail = fmt::format("namespace {}: {}", *namespace_, summary)};
        if (environment.drift == config::DriftAction::report) {
            return StepResult{.status = StepStatus::warning,
                              .detail = fmt::format("namespace {}: {}; left as it is (drift: report)", *namespace_, summary)};
        }
        progress(fmt::format("    {}: putting back release {}", summary, found->release.revision));
        auto fixed = deploy::fix_drift(kube, discovery, restore_options(environment, target));
        if (!fixed) return fail(fixed.error().context(fmt::format("putting back the drift in {}", environment.name)));
        check.fixed = *fixed;
        if (!fixed->succeeded()) {
            const ErrorCode code = fixed->outcome == deploy::Outcome::refused ? ErrorCode::input : ErrorCode::api;
            return fail(code, fmt::format("{}; putting it back failed: {}", summary, fixed->failure), *namespace_);
        }
        return StepResult{
            .detail = fmt::format("namespace {}: {}, fixed: release {}", *namespace_, summary, fixed->revision)};
    }

    Result<std::string> tear_down(const config::Environment& environment) {
        auto namespace_ = preview_namespace_name(m_config, environment, m_plan.event.branch);
        if (!namespace_) return fail(namespace_.error());
        auto done = tear_down_preview(client(environment.name), {.app = m_config.app, .env = environment.name}, *namespace_,
                                      m_plan.event.branch);
        if (!done) return fail(done.error());
        switch (*done) {
            case TearDown::deleted: return fmt::format("namespace {} deleted", *namespace_);
            case TearDown::absent: return fmt::format("namespace {} was already gone", *namespace_);
            case TearDown::terminating: return fmt::format("namespace {} was already being deleted", *namespace_);
        }
        return std::string();
    }

    const config::Config& m_config;
    const Plan& m_plan;
    const GitFacts& m_git;
    const CiOptions& m_options;
    CiReport m_report;
    std::map<std::string, std::unique_ptr<kube::Client>> m_clients;  // by environment, guarded
    std::map<std::string, util::Error> m_unguarded;  // environments only collected whose cluster failed the guard
    std::unique_ptr<registry::Client> m_registry;                    // made on first use
    std::vector<render::ImagePin> m_images;                          // built by this run
    std::map<std::string, std::vector<render::ImagePin>> m_promoted;  // by environment
    std::string m_forced;  // why a failed check was overridden, for the release record; "" when none was
    std::map<std::string, std::string> m_hold_overrides;  // by environment: the hold --force went past
};

}  // namespace

std::string_view to_string(StepStatus status) {
    switch (status) {
        case StepStatus::done: return "done";
        case StepStatus::failed: return "failed";
        case StepStatus::warning: return "warning";
        case StepStatus::skipped: return "skipped";
    }
    return "unknown";
}

int CiReport::drifted_environments() const {
    int count = 0;
    for (const auto& check : drift) count += check.report.drifted() && !(check.fixed && check.fixed->succeeded()) ? 1 : 0;
    return count;
}

Result<std::vector<render::ImagePin>> release_pins(const std::map<std::string, std::string>& images) {
    std::vector<render::ImagePin> pins;
    for (const auto& [name, pinned] : images) {
        auto ref = model::parse_image_ref(pinned);
        if (!ref) return fail(ref.error());
        pins.push_back({.image_name = name, .reference = ref->with_tag(ref->tag).str(), .digest = ref->digest});
    }
    return pins;
}

Result<std::string> environment_namespace(const config::Config& config, const config::Environment& environment,
                                          std::string_view branch) {
    if (environment.per_branch()) return preview_namespace_name(config, environment, branch);
    return namespace_name(environment.namespace_, {.app = config.app, .env = environment.name});
}

Result<std::string> chart_kube_version(kube::Client& client, const config::ManifestSource& manifests) {
    if (!manifests.helm) return std::string();
    auto version = kube::server_version(client);
    if (!version) return fail(version.error().context("reading the cluster's version, which the chart is rendered for"));
    return version;
}

namespace {

// The chart of `source`, as `helm template` renders it into the environment's namespace.
Result<source::ChartRender> chart_render(const config::Config& config, const config::Environment& environment,
                                         const config::HelmChart& chart, const EnvironmentSource& source) {
    auto namespace_ = environment_namespace(config, environment, source.branch);
    if (!namespace_) return fail(namespace_.error());
    source::ChartRender render{.chart = chart.chart.starts_with("oci://") ? chart.chart : relative_to(source.config_dir, chart.chart),
                               .values = {},
                               .set = chart.set,
                               .version = chart.version,
                               .release = config.app,
                               .namespace_ = std::move(*namespace_),
                               .kube_version = source.kube_version};
    for (const auto& file : chart.values) render.values.push_back(relative_to(source.config_dir, file));
    return render;
}

}  // namespace

Result<render::Rendered> render_environment(const config::Config& config, const config::Environment& environment,
                                            const EnvironmentSource& source) {
    const config::ManifestSource& manifests = config.manifests_for(environment);
    std::vector<std::string> manifest_paths;
    std::optional<source::ChartRender> chart;
    if (manifests.helm) {
        auto rendered = chart_render(config, environment, *manifests.helm, source);
        if (!rendered) return fail(rendered.error());
        chart = std::move(*rendered);
    } else {
        manifest_paths.push_back(relative_to(source.config_dir, manifests.path));
    }
    auto paths = custom_image_paths(config);
    if (!paths) return fail(paths.error());
    std::optional<render::PreviewRouting> preview;
    if (environment.per_branch() && !environment.host.empty()) {
        auto host = host_name(environment.host, {.app = config.app, .env = environment.name, .branch = source.branch});
        if (!host) return fail(host.error());
        std::optional<render::PreviewTls> tls;
        if (environment.tls) {
            tls = render::PreviewTls{.cluster_issuer = environment.tls->cluster_issuer,
                                     .issuer = environment.tls->issuer,
                                     .secret_name = environment.tls->secret_name};
        }
        preview = render::PreviewRouting{.host = *host, .tls = tls};
    }
    return render::render({.manifest_paths = std::move(manifest_paths),
                           .chart = std::move(chart),
                           .pinning = render::ImagePinning{.images = source.pins, .declared = source.declared},
                           .custom_paths = std::move(*paths),
                           .preview = std::move(preview)});
}

std::string drift_summary(const deploy::DriftReport& report) {
    std::vector<std::string> named;
    std::size_t drifted = 0;
    for (const auto& object : report.live) {
        if (!deploy::counts(object.drift)) continue;
        if (++drifted <= k_named_in_summary) {
            named.push_back(
                fmt::format("{}/{} {}", model::short_kind(object.id.kind), object.id.name, deploy::to_string(object.drift)));
        }
    }
    if (drifted == 0) return "no drift";
    std::string list = fmt::format("{}", fmt::join(named, ", "));
    if (drifted > named.size()) list += fmt::format(" and {} more", drifted - named.size());
    return fmt::format("{} object{} drifted ({})", drifted, drifted == 1 ? "" : "s", list);
}

std::vector<build::BuildRequest> build_requests(const config::Config& config, const std::string& config_dir,
                                                const std::string& tag) {
    std::vector<build::BuildRequest> requests;
    for (const auto& image : config.images) {
        const std::string context = relative_to(config_dir, image.context);
        std::vector<std::string> build_args;
        for (const auto& [key, value] : image.build_args) build_args.push_back(key + "=" + value);
        requests.push_back({.image_name = image.name,
                            .repository = image_repository(config, image),
                            .tag = tag,
                            .context_dir = context,
                            .dockerfile = relative_to(context, image.dockerfile),
                            .build_args = std::move(build_args),
                            .target = image.target,
                            .push = true});
    }
    return requests;
}

std::string refusal_message(std::string_view environment, const PromotionCheck& check) {
    std::string message = fmt::format("promotion to {} refused:", environment);
    for (const auto& problem : check.problems) message += "\n  - " + problem;
    message += "\nto deploy anyway, run again with --force --reason \"why\" (the reason is recorded in the release)";
    return message;
}

CiReport run_ci(const config::Config& config, const Plan& plan, const GitFacts& git, const CiOptions& options) {
    if (options.force && options.reason.empty()) {
        CiReport report;
        report.error = util::make_error(ErrorCode::usage, "--force needs --reason: it is recorded in the release");
        return report;
    }
    return Run(config, plan, git, options).execute();
}

}  // namespace minicd::pipeline
