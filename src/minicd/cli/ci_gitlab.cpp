#include <fmt/format.h>

#include "minicd/cli/ci_result.hpp"

namespace minicd::cli {

std::string gitlab_dotenv(const CiOutputs& outputs) {
    // GitLab reads one KEY=VALUE per line: no quoting, no line breaks, and an empty value is left
    // out so that `environment:url: $DYNAMIC_ENVIRONMENT_URL` stays unset rather than "".
    const std::pair<const char*, const std::string*> variables[] = {{"DYNAMIC_ENVIRONMENT_URL", &outputs.url},
                                                                    {"MINICD_ENVIRONMENT", &outputs.environment},
                                                                    {"MINICD_RELEASE", &outputs.release},
                                                                    {"MINICD_DIGEST", &outputs.digest}};
    std::string out;
    for (const auto& [name, value] : variables) {
        if (value->empty() || value->find_first_of("\r\n") != std::string::npos) continue;
        out += fmt::format("{}={}\n", name, *value);
    }
    return out;
}

Result<void> write_gitlab(const CiResult& result, const CiResultFiles& files) {
    // Written whole, also when empty: a report left from an earlier run must not speak for this one.
    const std::string path = files.report.empty() ? std::string(k_gitlab_report) : files.report;
    return write_text(path, gitlab_dotenv(ci_outputs(result)), WriteMode::replace);
}

}  // namespace minicd::cli
