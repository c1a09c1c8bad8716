#include "minicd/pipeline/plan.hpp"

#include <fmt/format.h>

#include "minicd/util/text.hpp"

namespace minicd::pipeline {

namespace {

bool builds(const config::Environment& environment) { return environment.promote_from.empty(); }

// The event the environments are matched against: a pull request deploys its source branch.
source::Event matching_event(const source::Event& event) {
    source::Event matched = event;
    if (event.kind == source::EventKind::pull_request && !event.branch.empty()) {
        matched.kind = source::EventKind::branch_push;
    }
    return matched;
}

std::string build_description(const config::Config& config, const GitFacts& git) {
    std::vector<std::string> references;
    for (const auto& image : config.images) {
        references.push_back(fmt::format("{}:{}", image_repository(config, image), git.image_tag));
    }
    if (references.empty()) return "nothing to build: minicd.yaml declares no images";
    return fmt::format("build and push {}", fmt::join(references, ", "));
}

std::string deploy_description(const config::Environment& environment, const source::Event& event) {
    std::string where = environment.per_branch() ? fmt::format("the preview of {}", event.branch)
                                                  : fmt::format("namespace {}", environment.namespace_);
    return fmt::format("deploy to {}, wait up to {}s for health{}", where, environment.timeout.count(),
                       environment.prune ? ", prune what was dropped" : "");
}

std::string promote_description(const config::Environment& environment, const source::Event& event) {
    std::string checks = fmt::format("the commit's images must have run healthy in {}", environment.promote_from);
    if (event.kind == source::EventKind::tag_push) {
        return fmt::format("{} and the tag must be on the main branch; re-tag them as {}", checks, event.tag);
    }
    return checks;
}

void add_gc(Plan& result, const config::Environment& environment) {
    if (!environment.per_branch() || !environment.gc.enabled) return;
    for (const auto& step : result.steps) {
        if (step.kind == StepKind::gc && step.environment == environment.name) return;
    }
    result.steps.push_back({.kind = StepKind::gc,
                            .environment = environment.name,
                            .description = fmt::format("remove previews whose branch is gone{} (at most {} per run)",
                                                       environment.ttl.count() > 0 ? " or that sat idle past the TTL" : "",
                                                       environment.gc.max_deletions)});
}

std::string drift_description(const config::Environment& environment) {
    return fmt::format("compare namespace {} with its last release{}", environment.namespace_,
                       environment.drift == config::DriftAction::fix ? ", put back what drifted" : "; report what drifted");
}

// Many CIs cannot run a job when a branch is deleted, so every run collects previews, last.
void add_gc_everywhere(Plan& result, const config::Config& config) {
    for (const auto& environment : config.environments) add_gc(result, environment);
}

}  // namespace

std::string_view to_string(StepKind kind) {
    switch (kind) {
        case StepKind::build: return "build";
        case StepKind::promote: return "promote";
        case StepKind::deploy: return "deploy";
        case StepKind::gc: return "gc";
        case StepKind::teardown: return "teardown";
        case StepKind::drift: return "drift";
    }
    return "unknown";
}

std::string image_repository(const config::Config& config, const config::Image& image) {
    std::string registry = config.registry;
    while (!registry.empty() && registry.back() == '/') registry.pop_back();
    return registry + "/" + image.name;
}

std::string describe_event(const source::Event& event) {
    std::string what;
    switch (event.kind) {
        case source::EventKind::branch_push: what = fmt::format("branch push of {}", event.branch); break;
        case source::EventKind::tag_push: what = fmt::format("tag {}", event.tag); break;
        case source::EventKind::branch_delete: what = fmt::format("deletion of branch {}", event.branch); break;
        case source::EventKind::pull_request: what = fmt::format("pull request from {}", event.branch); break;
        case source::EventKind::scheduled: what = "scheduled run"; break;
        case source::EventKind::unknown: what = "unknown event"; break;
    }
    if (!event.sha.empty()) what += fmt::format(" at {}", util::utf8_prefix(event.sha, 7));
    what += fmt::format(" ({}", source::to_string(event.provider));
    if (!event.trigger.empty()) what += ": " + event.trigger;
    return what + ")";
}

Plan plan(const config::Config& config, const source::Event& event, const GitFacts& git) {
    Plan result{.event = event};
    if (event.kind == source::EventKind::scheduled) {
        for (const auto& environment : config.environments) {
            if (!environment.per_branch() || environment.gc.enabled) result.environments.push_back(environment.name);
        }
        // Nothing was pushed: a fixed environment should still run its last release, whatever its trigger.
        for (const auto& environment : config.environments) {
            if (environment.per_branch()) continue;
            result.steps.push_back({.kind = StepKind::drift,
                                    .environment = environment.name,
                                    .description = drift_description(environment)});
        }
        for (const auto& environment : config.environments) add_gc(result, environment);
        if (result.steps.empty()) {
            result.reason = "a scheduled run checks fixed environments for drift and collects previews; minicd.yaml "
                            "has no fixed environment and no per-branch one with gc";
        }
        return result;
    }
    if (event.kind == source::EventKind::unknown) {
        result.reason = "the event could not be detected: not a known CI, and HEAD is neither a branch nor a tag";
        return result;
    }

    const auto matched = config::match(config, matching_event(event));
    if (matched.empty()) {
        const std::string name = event.kind == source::EventKind::tag_push ? "tag " + event.tag : "branch " + event.branch;
        result.reason = event.kind == source::EventKind::branch_delete
                            ? fmt::format("no per-branch environment deploys {}", name)
                            : fmt::format("no environment's `on:` selects {}", name);
        return result;
    }
    for (const auto* environment : matched) result.environments.push_back(environment->name);

    if (event.kind == source::EventKind::branch_delete) {
        for (const auto* environment : matched) {
            result.steps.push_back({.kind = StepKind::teardown,
                                    .environment = environment->name,
                                    .description = fmt::format("delete the preview namespace of {}", event.branch)});
        }
        add_gc_everywhere(result, config);
        return result;
    }

    bool any_build = false;
    for (const auto* environment : matched) any_build = any_build || builds(*environment);
    if (any_build) result.steps.push_back({.kind = StepKind::build, .description = build_description(config, git)});
    for (const auto* environment : matched) {
        if (!builds(*environment)) {
            result.steps.push_back({.kind = StepKind::promote,
                                    .environment = environment->name,
                                    .description = promote_description(*environment, event)});
        }
        result.steps.push_back(
            {.kind = StepKind::deploy, .environment = environment->name, .description = deploy_description(*environment, event)});
        add_gc(result, *environment);
    }
    add_gc_everywhere(result, config);
    return result;
}

model::Json to_json(const Plan& plan) {
    const auto& event = plan.event;
    model::Json steps = model::Json::array();
    for (const auto& step : plan.steps) {
        steps.push_back({{"kind", to_string(step.kind)}, {"environment", step.environment}, {"description", step.description}});
    }
    return {{"event",
             {{"kind", source::to_string(event.kind)},
              {"provider", source::to_string(event.provider)},
              {"trigger", event.trigger},
              {"ref", event.ref},
              {"branch", event.branch},
              {"tag", event.tag},
              {"sha", event.sha}}},
            {"environments", plan.environments},
            {"steps", steps},
            {"reason", plan.reason}};
}

}  // namespace minicd::pipeline
