#include "minicd/cli/deploy_report.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <map>

#include "minicd/cli/app.hpp"

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

}  // namespace

TextReport text_report(const deploy::DeployResult& result, DryRun dry_run, long requests) {
    TextReport report;
    for (const auto& object : result.objects) {
        std::string line = fmt::format("{} {}", object.id.describe(), model::to_string(object.action));
        if (!object.detail.empty()) line += ": " + object.detail;
        report.out += line + "\n";
        for (const auto& change : object.changes) report.out += fmt::format("    {}\n", diff::describe(change));
    }
    std::string summary = objects_summary(result.objects);
    if (result.rollback_to > 0) summary = fmt::format("rollback to release {}: {}", result.rollback_to, summary);
    if (dry_run == DryRun::yes) summary += " (dry run: nothing was changed)";
    if (result.revision > 0) summary += fmt::format("; release {}", result.revision);
    summary += fmt::format("; {} API requests", requests);
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
    fmt::print("{}\n", report_json(result, dry_run, requests).dump(2));
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
