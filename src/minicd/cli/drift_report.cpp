#include "minicd/cli/drift_report.hpp"

#include <fmt/format.h>

#include <algorithm>

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <string_view>

#include "minicd/cli/deploy_report.hpp"
#include "minicd/cli/markdown.hpp"
#include "minicd/diff/diff.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/text.hpp"

namespace minicd::cli {

namespace {

constexpr std::size_t k_commit_length = 12;
// Images by digest, certificates, scripts: a field line stays readable (JSON has the values whole).
constexpr std::size_t k_value_length = 80;

std::string plural(std::size_t count, std::string_view one) {
    return fmt::format("{} {}{}", count, one, count == 1 ? "" : "s");
}

std::size_t counted(const deploy::DriftReport& report) {
    std::size_t count = 0;
    for (const auto& object : report.live) count += deploy::counts(object.drift) ? 1 : 0;
    return count;
}

// "kubectl-edit, Update, 2026-12-03T22:14:00Z": whatever is known of who wrote the field last.
std::string attribution(const deploy::FieldDrift& field) {
    std::vector<std::string> parts;
    for (const std::string* part : {&field.manager, &field.operation, &field.time}) {
        if (!part->empty()) parts.push_back(*part);
    }
    return fmt::format("{}", fmt::join(parts, ", "));
}

// "kubectl-edit (Update, 2026-12-03T22:14:00Z)": the manager first, for a table column.
std::string changed_by(const deploy::FieldDrift& field) {
    std::vector<std::string> when;
    for (const std::string* part : {&field.operation, &field.time}) {
        if (!part->empty()) when.push_back(*part);
    }
    std::string who = field.manager.empty() ? std::string("(no manager)") : field.manager;
    if (when.empty()) return who;
    return fmt::format("{} ({})", who, fmt::join(when, ", "));
}

// "(commit 0123456789ab, deployed 2026-12-03T22:14:00Z)", leaving out what the release lacks.
std::string release_facts(const model::Release& release) {
    std::vector<std::string> facts;
    if (!release.git_sha.empty()) facts.push_back("commit " + std::string(util::utf8_prefix(release.git_sha, k_commit_length)));
    if (!release.time.empty()) facts.push_back("deployed " + release.time);
    if (facts.empty()) return "";
    return fmt::format(" ({})", fmt::join(facts, ", "));
}

std::string where(const EnvironmentDrift& environment) {
    return fmt::format("{} in namespace {}", environment.target.owner(), environment.target.namespace_);
}

model::Json id_json(const model::ObjectId& id) {
    return {{"apiVersion", id.api_version()}, {"kind", id.kind}, {"namespace", id.namespace_}, {"name", id.name}};
}

model::Json live_json(const std::vector<deploy::ObjectDrift>& live) {
    model::Json out = model::Json::array();
    for (const auto& object : live) {
        model::Json entry = id_json(object.id);
        entry["class"] = deploy::to_string(object.drift);
        model::Json fields = model::Json::array();
        for (const auto& field : object.fields) {
            fields.push_back({{"path", field.path},
                              {"before", field.before},
                              {"after", field.after},
                              {"manager", field.manager},
                              {"operation", field.operation},
                              {"time", field.time}});
        }
        entry["fields"] = std::move(fields);
        out.push_back(std::move(entry));
    }
    return out;
}

model::Json undeployed_json(const std::vector<deploy::UndeployedChange>& undeployed) {
    model::Json out = model::Json::array();
    for (const auto& change : undeployed) {
        model::Json entry = id_json(change.id);
        entry["change"] = deploy::to_string(change.change);
        entry["fields"] = changes_json(change.fields);
        out.push_back(std::move(entry));
    }
    return out;
}

// The fix as `minicd apply -o json` reports a deploy, without what belongs to the whole run.
model::Json fixed_json(const deploy::DeployResult& fixed) {
    model::Json out = report_json(fixed, DryRun::no, 0);
    out.erase("dryRun");
    out.erase("requests");
    return out;
}

std::string_view status_name(Comparison comparison) {
    switch (comparison) {
    case Comparison::compared: return "compared";
    case Comparison::nothing_deployed: return "nothing-deployed";
    case Comparison::failed: return "failed";
    }
    return "failed";
}

void add_live_rows(std::string& out, const deploy::ObjectDrift& object) {
    const std::string name = markdown_code(object_name(object.id));
    const std::string kind =
        object.drift == deploy::DriftClass::scaled ? "scaled (not drift)" : std::string(deploy::to_string(object.drift));
    if (object.fields.empty()) {
        out += fmt::format("| {} | {} | | | |\n", name, kind);
        return;
    }
    for (const auto& field : object.fields) {
        const std::string before = markdown_code(drift_value(field.before));
        const std::string values = field.before == field.after ? fmt::format("{} unchanged", before)
                                                               : fmt::format("{} → {}", before, markdown_code(drift_value(field.after)));
        out += fmt::format("| {} | {} | {} | {} | {} |\n", name, kind, markdown_code(field.path), values, markdown_cell(changed_by(field)));
    }
}

std::string fix_markdown(const deploy::DeployResult& fixed) {
    if (fixed.succeeded()) return fmt::format("Fixed: release {} put the drifted objects back.\n\n", fixed.revision);
    return fmt::format("Fix failed: {}\n\n", markdown_cell(fixed.failure));
}

void add_environment_markdown(std::string& out, const EnvironmentDrift& environment) {
    out += fmt::format("#### {}\n\n", markdown_cell(drift_label(environment)));
    if (environment.comparison == Comparison::failed) {
        out += fmt::format("{}: not compared: {}\n\n", markdown_cell(where(environment)), markdown_cell(environment.error));
        return;
    }
    if (environment.comparison == Comparison::nothing_deployed || !environment.report) {
        out += fmt::format("{}: nothing deployed yet.\n\n", markdown_cell(where(environment)));
        return;
    }
    const deploy::DriftReport& report = *environment.report;
    out += fmt::format("{}, compared with release {}{}.\n\n", markdown_cell(where(environment)), report.release.revision,
                       release_facts(report.release));
    if (!report.drifted()) out += "No drift.\n\n";
    if (!report.live.empty()) {
        out += "| Object | Class | Field | Before → After | Changed by |\n| --- | --- | --- | --- | --- |\n";
        for (const auto& object : report.live) add_live_rows(out, object);
        out += "\n";
    }
    if (environment.fixed) out += fix_markdown(*environment.fixed);
    if (!report.undeployed) return;
    if (report.undeployed->empty()) {
        out += "No undeployed changes in Git.\n\n";
        return;
    }
    out += "Undeployed changes in Git (the next deploy applies them):\n\n";
    for (const auto& change : *report.undeployed) {
        out += fmt::format("- {} {}\n", markdown_code(object_name(change.id), Place::list), deploy::to_string(change.change));
        for (const auto& field : change.fields) out += fmt::format("  - {}\n", markdown_code(diff::describe(field), Place::list));
    }
    out += "\n";
}

}  // namespace

bool drift_left(const EnvironmentDrift& environment) {
    if (!environment.report || !environment.report->drifted()) return false;
    return !environment.fixed || !environment.fixed->succeeded();
}

std::string object_name(const model::ObjectId& id) { return model::short_kind(id.kind) + "/" + id.name; }

std::string drift_value(const model::Json& value) {
    if (value.is_null()) return "(gone)";
    if (value.is_string()) return model::Json(util::shorten_utf8(value.get<std::string>(), k_value_length)).dump();
    return util::shorten_utf8(value.dump(), k_value_length);
}

std::string describe_field(const deploy::FieldDrift& field) {
    std::string line = field.before == field.after
                           ? fmt::format("{}: {} unchanged", field.path, drift_value(field.before))
                           : fmt::format("{}: {} → {}", field.path, drift_value(field.before), drift_value(field.after));
    const std::string who = attribution(field);
    if (!who.empty()) line += fmt::format(" ({})", who);
    return line;
}

std::string drift_label(const EnvironmentDrift& environment) {
    if (environment.branch.empty()) return environment.name;
    return fmt::format("{} (branch {})", environment.name, environment.branch);
}

std::string drift_header(const EnvironmentDrift& environment) {
    std::string header = fmt::format("{}: {}", drift_label(environment), where(environment));
    if (environment.report) {
        header += fmt::format(", compared with release {}{}", environment.report->release.revision,
                              release_facts(environment.report->release));
    }
    return header;
}

// "canary running: release 5 at step 2 (minicd canary status ...)": a canary never goes unmentioned.
std::string canary_running(const model::Release& canary) {
    const std::string commit = canary.git_sha.empty() ? "" : ", commit " + std::string(util::utf8_prefix(canary.git_sha, 12));
    return fmt::format("canary running: release {} at step {}{} (minicd canary status, promote or abort)", canary.revision,
                       std::max(canary.canary_step, 1), commit);
}

std::string drift_text(const EnvironmentDrift& environment) {
    if (environment.comparison == Comparison::nothing_deployed) return drift_header(environment) + ": nothing deployed yet\n";
    if (!environment.report) return "";
    const deploy::DriftReport& report = *environment.report;
    std::string out = drift_header(environment) + "\n";
    if (report.canary) out += canary_running(*report.canary) + "\n";
    const std::size_t drifted = counted(report);
    out += drifted == 0 ? std::string("live drift: none\n") : fmt::format("live drift: {}\n", plural(drifted, "object"));
    for (const auto& object : report.live) {
        if (!deploy::counts(object.drift)) continue;
        out += fmt::format("  {} {}\n", object_name(object.id), deploy::to_string(object.drift));
        for (const auto& field : object.fields) out += fmt::format("      {}\n", describe_field(field));
    }
    if (drifted < report.live.size()) {
        out += "  information (not drift):\n";
        for (const auto& object : report.live) {
            if (deploy::counts(object.drift)) continue;
            if (object.fields.empty()) {
                out += fmt::format("    {} {}\n", object_name(object.id), deploy::to_string(object.drift));
            }
            for (const auto& field : object.fields) {
                out += fmt::format("    {} {}\n", object_name(object.id), describe_field(field));
            }
        }
    }
    if (!report.undeployed) return out;
    if (report.undeployed->empty()) return out + "undeployed changes in Git: none\n";
    out += fmt::format("undeployed changes in Git: {}\n", plural(report.undeployed->size(), "object"));
    for (const auto& change : *report.undeployed) {
        out += fmt::format("  {} {}\n", object_name(change.id), deploy::to_string(change.change));
        for (const auto& field : change.fields) out += fmt::format("      {}\n", diff::describe(field));
    }
    return out;
}

model::Json environment_json(const EnvironmentDrift& environment) {
    const render::Target& target = environment.target;
    model::Json out = {{"environment", environment.name}};
    if (!environment.branch.empty()) out["branch"] = environment.branch;
    out["app"] = target.app;
    out["env"] = target.env;
    out["namespace"] = target.namespace_;
    out["status"] = status_name(environment.comparison);
    const deploy::DriftReport* report = environment.report ? &*environment.report : nullptr;
    out["revision"] = report != nullptr ? report->release.revision : 0;
    out["gitSha"] = report != nullptr ? report->release.git_sha : std::string();
    out["drifted"] = report != nullptr && report->drifted();
    out["live"] = report != nullptr ? live_json(report->live) : model::Json::array();
    if (report != nullptr && report->undeployed) out["undeployed"] = undeployed_json(*report->undeployed);
    if (report != nullptr && report->canary) {
        out["canary"] = {{"revision", report->canary->revision}, {"step", report->canary->canary_step},
                         {"gitSha", report->canary->git_sha}};
    }
    if (environment.fixed) out["fixed"] = fixed_json(*environment.fixed);
    if (!environment.error.empty()) out["error"] = environment.error;
    return out;
}

model::Json drift_json(const std::vector<EnvironmentDrift>& environments, long requests) {
    model::Json list = model::Json::array();
    bool drifted = false;
    for (const auto& environment : environments) {
        drifted = drifted || (environment.report && environment.report->drifted());
        list.push_back(environment_json(environment));
    }
    return {{"drifted", drifted}, {"environments", std::move(list)}, {"requests", requests}};
}

std::string drift_markdown(const std::vector<EnvironmentDrift>& environments) {
    std::string out = "### minicd drift\n\n";
    for (const auto& environment : environments) add_environment_markdown(out, environment);
    return out;
}

void append_step_summary(const std::vector<EnvironmentDrift>& environments) {
    const char* path = std::getenv("GITHUB_STEP_SUMMARY");
    if (path == nullptr || *path == '\0' || environments.empty()) return;
    std::ofstream file(path, std::ios::app | std::ios::binary);
    file << drift_markdown(environments);
    file.flush();
    if (!file) util::log_warn("cannot append the drift summary to {} ($GITHUB_STEP_SUMMARY)", path);
}

}  // namespace minicd::cli
