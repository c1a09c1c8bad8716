#include "minicd/pipeline/preview_gc.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "minicd/render/ownership.hpp"
#include "minicd/source/branches.hpp"
#include "minicd/util/log.hpp"

namespace minicd::pipeline {

namespace {

// Why a preview is a candidate for removal; the order is the order the budget is spent in.
enum class Cause { branch_gone = 0, expired = 1 };

struct Candidate {
    std::size_t index = 0;  // into the decisions
    Cause cause = Cause::branch_gone;
    std::optional<Clock::time_point> activity;  // nullopt sorts first: nothing says it was used
    std::string name;
};

// The last sign of use: the last deploy, else the creation.
std::optional<Clock::time_point> last_activity(const PreviewNamespace& ns) {
    if (auto deployed = ns.last_deployed()) return deployed;
    return ns.created;
}

std::chrono::seconds idle_for(Clock::time_point since, Clock::time_point now) {
    return std::max(std::chrono::seconds(0), std::chrono::floor<std::chrono::seconds>(now - since));
}

}  // namespace

std::string_view to_string(GcAction action) {
    switch (action) {
        case GcAction::keep: return "keep";
        case GcAction::remove: return "remove";
        case GcAction::skip: return "skip";
        case GcAction::over_budget: return "over budget";
    }
    return "?";
}

std::vector<GcDecision> plan_gc(const std::vector<PreviewNamespace>& namespaces, const std::set<std::string>& branches,
                                const GcPolicy& policy) {
    std::vector<GcDecision> decisions;
    std::vector<Candidate> candidates;
    for (const PreviewNamespace& ns : namespaces) {
        GcDecision& decision = decisions.emplace_back(
            GcDecision{.namespace_ = ns.name, .branch = ns.branch(), .action = GcAction::skip, .reason = {}});
        if (const std::string problem = preview_label_problem(ns, policy.owner); !problem.empty()) {
            decision.reason = problem;
            continue;
        }
        if (ns.terminating) {
            decision.reason = "already being deleted";
            continue;
        }
        if (branches.empty()) {
            decision.reason = "no branch list: nothing is deleted";
            continue;
        }
        const std::size_t index = decisions.size() - 1;
        if (!branches.contains(decision.branch)) {
            decision.action = GcAction::remove;
            decision.reason = fmt::format("branch {} no longer exists", decision.branch);
            candidates.push_back({.index = index, .cause = Cause::branch_gone, .activity = last_activity(ns), .name = ns.name});
            continue;
        }
        decision.action = GcAction::keep;
        decision.reason = "branch exists";
        if (policy.ttl.count() <= 0) continue;
        if (!ns.last_deployed_text().empty() && !ns.last_deployed()) {
            // A mangled timestamp says nothing about idleness; deleting on it would be a guess.
            decision.reason = fmt::format("branch exists; {} \"{}\" is not RFC 3339, so the ttl is not applied",
                                          render::k_last_deployed_annotation, ns.last_deployed_text());
            continue;
        }
        const auto activity = last_activity(ns);
        if (!activity) {
            decision.reason = "branch exists; no deploy or creation time, so the ttl is not applied";
            continue;
        }
        const auto idle = idle_for(*activity, policy.now);
        if (idle <= policy.ttl) {
            decision.reason = fmt::format("branch exists; idle {} of ttl {}", format_age(idle), format_age(policy.ttl));
            continue;
        }
        decision.action = GcAction::remove;
        decision.reason = fmt::format("idle {} (ttl {})", format_age(idle), format_age(policy.ttl));
        candidates.push_back({.index = index, .cause = Cause::expired, .activity = activity, .name = ns.name});
    }

    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return std::tie(a.cause, a.activity, a.name) < std::tie(b.cause, b.activity, b.name);
    });
    const std::size_t budget = static_cast<std::size_t>(std::max(0, policy.max_deletions));
    for (std::size_t i = budget; i < candidates.size(); ++i) {
        GcDecision& decision = decisions[candidates[i].index];
        decision.action = GcAction::over_budget;
        decision.reason += fmt::format("; over this run's budget of {} deletion{}", budget, budget == 1 ? "" : "s");
    }
    return decisions;
}

int GcOutcome::count(GcAction action) const {
    return static_cast<int>(std::count_if(decisions.begin(), decisions.end(),
                                          [action](const GcDecision& decision) { return decision.action == action; }));
}

Result<GcOutcome> collect_previews(kube::Client& client, const std::set<std::string>& branches, const GcOptions& options) {
    // Refused here as well as in the planner: this is the line between a bad listing and deleted previews.
    if (branches.empty()) {
        return fail(util::ErrorCode::input, "the branch list is empty; no preview was deleted");
    }
    auto previews = list_previews(client, options.policy.owner);
    if (!previews) return fail(previews.error());

    GcOutcome outcome;
    outcome.decisions = plan_gc(*previews, branches, options.policy);
    if (options.dry_run) return outcome;

    std::vector<PreviewNamespace> deleted;
    for (std::size_t i = 0; i < outcome.decisions.size(); ++i) {
        if (outcome.decisions[i].action != GcAction::remove) continue;
        const PreviewNamespace& ns = (*previews)[i];
        auto result = delete_preview(client, ns);
        if (!result) {
            outcome.failures.push_back(result.error().describe());
            continue;
        }
        util::log_info("deleted preview namespace {} ({})", ns.name, outcome.decisions[i].reason);
        outcome.deleted.push_back(ns.name);
        deleted.push_back(ns);
    }
    if (options.wait && !deleted.empty()) {
        auto remaining = wait_until_gone(client, deleted, options.wait_timeout);
        if (!remaining) return fail(remaining.error());
        outcome.remaining = std::move(*remaining);
    }
    return outcome;
}

Result<std::set<std::string>> list_branches(const config::PreviewGc& gc, const std::string& repository) {
    auto branches = gc.branches == config::BranchSource::refs
                        ? source::list_tracking_branches(repository, gc.remote)
                        : source::list_remote_branches({.remote = gc.remote, .repository = repository, .token_env = gc.token_env});
    if (!branches) return fail(branches.error().context("listing branches for preview garbage collection"));
    return std::set<std::string>(branches->begin(), branches->end());
}

Result<GcOutcome> run_preview_gc(kube::Client& client, const config::Config& config, const config::Environment& environment,
                                 const PreviewGcRun& run) {
    auto branches = list_branches(environment.gc, run.repository);
    if (!branches) return fail(branches.error());
    util::log_debug("{} branches on {}", branches->size(), environment.gc.remote);
    const GcOptions options{
        .policy = {.owner = {.app = config.app, .env = environment.name},
                   .ttl = environment.ttl,
                   .max_deletions = run.max_deletions.value_or(environment.gc.max_deletions),
                   .now = Clock::now()},
        .dry_run = run.dry_run,
        .wait = run.wait,
        .wait_timeout = run.wait_timeout,
    };
    return collect_previews(client, *branches, options);
}

}  // namespace minicd::pipeline
