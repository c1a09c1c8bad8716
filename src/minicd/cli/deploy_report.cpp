#include "minicd/cli/deploy_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <map>

#include "minicd/cli/app.hpp"
#include "minicd/cli/json_output.hpp"

namespace minicd::cli {

namespace {

constexpr const char* k_no_healthy_release = "no release was verified healthy before this one: nothing rolled back";

// "2 created, 1 configured", in the order the phases act.
std::string objects_summary(const model::ChangeSet& objects) {
    std::map<deploy::Action, int> counts;
    for (const auto& object : objects) ++counts[object.action];
    std::vector<std::string> parts;
    for (auto action : {deploy::Action::created, deploy::Action::configured, deploy::Action::adopted,
                        deploy::Action::recreated, deploy::Action::unchanged, deploy::Action::pruned, deploy::Action::kept,
                        deploy::Action::refused, deploy::Action::failed}) {
        if (counts[action] > 0) parts.push_back(fmt::format("{} {}", counts[action], model::to_string(action)));
    }
    return parts.empty() ? std::string("nothing to apply") : fmt::format("{}", fmt::join(parts, ", "));
}

// Whoever reads a failed deploy asks next what runs now: the block answers that.
void add_rollback_text(TextReport& report, const deploy::AutomaticRollback& rollback) {
    if (rollback.target == 0) {
        report.out += fmt::format("{}\n", k_no_healthy_release);
        return;
    }
    const deploy::DeployResult* done = rollback.result.get();
    if (done == nullptr) {
        report.errors += fmt::format("error: the rollback to release {} did not run; the cluster is left as it is\n",
                                     rollback.target);
        return;
    }
    const std::string release = done->revision > 0 ? fmt::format("; release {}", done->revision) : std::string();
    if (!done->succeeded()) {
        report.out += fmt::format("rolling back to release {}: {}{}\n", rollback.target, objects_summary(done->objects), release);
        report.errors += fmt::format("error: the rollback failed too: {}; the cluster is left as it is\n", done->failure);
        return;
    }
    const bool healthy = done->health && done->health->healthy;
    report.out += fmt::format("rolled back to release {}: {}{}; {}\n", rollback.target, objects_summary(done->objects), release,
                              healthy ? "healthy again" : "not waited for: its health is unknown");
}

model::Json objects_json(const model::ChangeSet& changes) {
    model::Json objects = model::Json::array();
    for (const auto& object : changes) {
        objects.push_back({{"apiVersion", object.id.api_version()},
                           {"kind", object.id.kind},
                           {"namespace", object.id.namespace_},
                           {"name", object.id.name},
                           {"action", model::to_string(object.action)},
                           {"phase", model::to_string(object.phase)},
                           {"detail", object.detail}});
        if (!object.changes.empty()) objects.back()["changes"] = changes_json(object.changes);
    }
    return objects;
}

model::Json rollback_json(const deploy::AutomaticRollback& rollback) {
    const deploy::DeployResult* done = rollback.result.get();
    const bool succeeded = done != nullptr && done->succeeded();
    model::Json out = {{"target", rollback.target},
                       {"succeeded", succeeded},
                       {"revision", done != nullptr ? done->revision : 0},
                       {"objects", done != nullptr ? objects_json(done->objects) : model::Json::array()}};
    if (!succeeded) {
        if (rollback.target == 0) {
            out["failure"] = k_no_healthy_release;
        } else {
            out["failure"] = done != nullptr ? done->failure : std::string("the rollback did not run");
        }
    }
    return out;
}

std::string_view to_string(deploy::CanaryEnd end) {
    switch (end) {
    case deploy::CanaryEnd::promoted: return "promoted";
    case deploy::CanaryEnd::aborted: return "aborted";
    case deploy::CanaryEnd::skipped: return "skipped";
    case deploy::CanaryEnd::planned: return "planned";
    }
    return "skipped";
}

// "canary of web: promoted after 2 steps", "canary of web: aborted at step 1/2: ...".
std::string canary_line(const deploy::CanaryReport& canary) {
    const std::string what = canary.workloads.empty() ? std::string("canary")
                                                      : fmt::format("canary of {}", fmt::join(canary.workloads, ", "));
    switch (canary.end) {
    case deploy::CanaryEnd::promoted: return fmt::format("{}: promoted after step {}/{}", what, canary.reached, canary.steps);
    case deploy::CanaryEnd::aborted: return fmt::format("{}: aborted at step {}/{}: {}", what, canary.reached, canary.steps, canary.reason);
    case deploy::CanaryEnd::skipped: return fmt::format("no canary: {}", canary.reason);
    case deploy::CanaryEnd::planned:
        return fmt::format("{}: would run {} step{}, then promote", what, canary.steps, canary.steps == 1 ? "" : "s");
    }
    return what;
}

model::Json canary_json(const deploy::CanaryReport& canary) {
    model::Json measurements = model::Json::array();
    for (const auto& measurement : canary.measurements) {
        measurements.push_back({{"step", measurement.step}, {"measurement", measurement.line}});
    }
    return {{"end", std::string(to_string(canary.end))}, {"release", canary.release}, {"workloads", canary.workloads},
            {"steps", canary.steps}, {"reached", canary.reached}, {"reason", canary.reason},
            {"measurements", std::move(measurements)}};
}

}  // namespace

TextReport text_report(const deploy::DeployResult& result, DryRun dry_run, long requests) {
    TextReport report;
    for (const auto& object : result.objects) {
        std::string line = fmt::format("{} {}", object.id.describe(), model::to_string(object.action));
        if (object.phase != model::Phase::main) line += fmt::format(" ({} phase)", model::to_string(object.phase));
        if (!object.detail.empty()) line += ": " + object.detail;
        report.out += line + "\n";
        for (const auto& change : object.changes) report.out += fmt::format("    {}\n", diff::describe(change));
    }
    std::string summary = objects_summary(result.objects);
    if (result.rollback_to > 0) summary = fmt::format("rollback to release {}: {}", result.rollback_to, summary);
    if (dry_run == DryRun::yes) summary += " (dry run: nothing was changed)";
    if (result.revision > 0) summary += fmt::format("; release {}", result.revision);
    summary += fmt::format("; {} API requests", requests);
    if (result.canary) report.out += canary_line(*result.canary) + "\n";
    report.out += summary + "\n";
    if (!result.succeeded()) report.errors += fmt::format("error: {}\n", result.failure);
    if (result.rollback) add_rollback_text(report, *result.rollback);
    return report;
}

model::Json changes_json(const std::vector<diff::FieldChange>& changes) {
    model::Json out = model::Json::array();
    for (const auto& change : changes) {
        model::Json entry = {{"path", change.path}};
        if (change.kind != diff::FieldChange::Kind::added) entry["before"] = change.before;
        if (change.kind != diff::FieldChange::Kind::removed) entry["after"] = change.after;
        out.push_back(std::move(entry));
    }
    return out;
}

model::Json report_json(const deploy::DeployResult& result, DryRun dry_run, long requests) {
    model::Json out = {{"succeeded", result.succeeded()},
                       {"dryRun", dry_run == DryRun::yes},
                       {"objects", objects_json(result.objects)},
                       {"revision", result.revision},
                       {"requests", requests}};
    if (!result.succeeded()) out["failure"] = result.failure;
    if (result.rollback_to > 0) out["rollbackTo"] = result.rollback_to;
    if (result.rollback) out["rollback"] = rollback_json(*result.rollback);
    if (result.canary) out["canary"] = canary_json(*result.canary);
    return out;
}

void print_text(const deploy::DeployResult& result, DryRun dry_run, long requests) {
    const TextReport report = text_report(result, dry_run, requests);
    fmt::print("{}", report.out);
    // Flushed first so that, on one terminal, the errors come after the summary they explain.
    std::fflush(stdout);
    fmt::print(stderr, "{}", report.errors);
}

void print_json(const deploy::DeployResult& result, DryRun dry_run, long requests) {
    fmt::print("{}\n", json_text(report_json(result, dry_run, requests)));
}

void print_report(const deploy::DeployResult& result, OutputFormat format, DryRun dry_run, long requests) {
    if (format == OutputFormat::json) {
        print_json(result, dry_run, requests);
    } else {
        print_text(result, dry_run, requests);
    }
}

int exit_code(deploy::Outcome outcome) {
    switch (outcome) {
    case deploy::Outcome::succeeded: return k_exit_ok;
    case deploy::Outcome::refused: return k_exit_usage;
    case deploy::Outcome::rejected:
    case deploy::Outcome::failed: return k_exit_failed;
    }
    return k_exit_failed;
}

}  // namespace minicd::cli
