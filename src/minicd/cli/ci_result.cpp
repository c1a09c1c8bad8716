#include "minicd/cli/ci_result.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "minicd/cli/markdown.hpp"

namespace minicd::cli {

namespace {

// The digest of a pinned reference ("reg/app:tag@sha256:..."); "" when it has none.
std::string digest_of(const std::string& pinned) {
    const std::size_t at = pinned.rfind('@');
    return at == std::string::npos ? std::string() : pinned.substr(at + 1);
}

std::string headline(const CiResult& result) {
    if (!result.report) return "nothing to do";
    if (!result.report->succeeded()) return "FAILED";
    const int drifted = result.report->drifted_environments();
    if (drifted == 0) return "succeeded";
    return fmt::format("succeeded, live drift left in {} environment{}", drifted, drifted == 1 ? "" : "s");
}

void add_steps(std::string& out, const pipeline::CiReport& report) {
    out += "| Step | Environment | Status | Time | Detail |\n| --- | --- | --- | --- | --- |\n";
    for (const auto& step : report.steps) {
        out += fmt::format("| {} | {} | {} | {} | {} |\n", pipeline::to_string(step.step.kind),
                           markdown_cell(step.step.environment), pipeline::to_string(step.status), seconds_text(step.elapsed),
                           markdown_cell(step.detail));
    }
    out += "\n";
}

void add_environment(std::string& out, const pipeline::EnvironmentReport& environment) {
    out += fmt::format("#### {}: {}\n\n", markdown_cell(environment.environment),
                       environment.succeeded ? "healthy" : "NOT healthy");
    out += fmt::format("Namespace {}", markdown_code(environment.namespace_, Place::list));
    if (environment.revision > 0) out += fmt::format(", release {}", environment.revision);
    out += environment.url.empty() ? std::string(".\n\n") : fmt::format(": <{}>\n\n", environment.url);
    if (environment.images.empty()) return;
    out += "| Image | Reference |\n| --- | --- |\n";
    for (const auto& [name, pinned] : environment.images) {
        out += fmt::format("| {} | {} |\n", markdown_code(name), markdown_code(pinned));
    }
    out += "\n";
}

}  // namespace

std::string seconds_text(std::chrono::milliseconds elapsed) { return fmt::format("{:.1f}s", elapsed.count() / 1000.0); }

CiOutputs ci_outputs(const CiResult& result) {
    if (!result.report || result.report->environments.empty()) return {};
    const pipeline::EnvironmentReport& deployed = result.report->environments.back();
    return {.url = deployed.url,
            .environment = deployed.environment,
            .release = deployed.revision > 0 ? std::to_string(deployed.revision) : std::string(),
            .digest = deployed.images.empty() ? std::string() : digest_of(deployed.images.begin()->second)};
}

std::string ci_markdown(const CiResult& result) {
    std::string out = fmt::format("### minicd ci: {}\n\n", headline(result));
    out += fmt::format("Event: {}. Commit {}, images tagged {}.\n\n", markdown_cell(pipeline::describe_event(result.plan.event)),
                       markdown_code(result.git.sha, Place::list), markdown_code(result.git.image_tag, Place::list));
    if (!result.report) return out + fmt::format("Nothing to do: {}.\n\n", markdown_cell(result.plan.reason));
    add_steps(out, *result.report);
    if (result.report->error) out += fmt::format("~~~~text\n{}\n~~~~\n\n", result.report->error->describe());
    for (const auto& environment : result.report->environments) add_environment(out, environment);
    if (!result.drift.empty()) out += drift_markdown(result.drift);
    return out;
}

Result<void> write_text(const std::string& path, const std::string& text, WriteMode mode) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code error;
    if (!parent.empty()) std::filesystem::create_directories(parent, error);
    if (error) return fail(util::ErrorCode::io, fmt::format("cannot create {}: {}", parent.string(), error.message()), path);
    std::ofstream file(path, std::ios::binary | (mode == WriteMode::append ? std::ios::app : std::ios::trunc));
    file << text;
    file.flush();
    if (!file) return fail(util::ErrorCode::io, "cannot write the file", path);
    return {};
}

}  // namespace minicd::cli
