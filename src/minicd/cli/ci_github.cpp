#include <fmt/format.h>

#include "minicd/cli/ci_result.hpp"

namespace minicd::cli {

namespace {

// One output: `name=value`, or `name<<delimiter` lines when the value breaks a line (the
// delimiter is made longer until the value does not hold it).
std::string output_line(std::string_view name, const std::string& value) {
    if (value.find_first_of("\r\n") == std::string::npos) return fmt::format("{}={}\n", name, value);
    std::string delimiter = "MINICD_EOF";
    while (value.find(delimiter) != std::string::npos) delimiter += "_";
    return fmt::format("{}<<{}\n{}\n{}\n", name, delimiter, value, delimiter);
}

}  // namespace

std::string github_outputs(const CiOutputs& outputs) {
    return output_line("url", outputs.url) + output_line("environment", outputs.environment) +
           output_line("release", outputs.release) + output_line("digest", outputs.digest);
}

Result<void> write_github(const CiResult& result, const CiResultFiles& files) {
    // Each step's summary and outputs go to files the runner names; a step appends to them.
    if (!files.github_summary.empty()) {
        auto written = write_text(files.github_summary, ci_markdown(result), WriteMode::append);
        if (!written) return fail(written.error().context("$GITHUB_STEP_SUMMARY"));
    }
    if (!files.github_output.empty()) {
        auto written = write_text(files.github_output, github_outputs(ci_outputs(result)), WriteMode::append);
        if (!written) return fail(written.error().context("$GITHUB_OUTPUT"));
    }
    return {};
}

}  // namespace minicd::cli
