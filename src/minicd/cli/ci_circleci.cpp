#include "minicd/cli/ci_result.hpp"

namespace minicd::cli {

Result<void> write_circleci(const CiResult& result, const CiResultFiles& files) {
    // CircleCI has no summary page: the job stores this file as an artifact (store_artifacts).
    const std::string path = files.report.empty() ? std::string(k_circleci_report) : files.report;
    return write_text(path, ci_markdown(result), WriteMode::replace);
}

}  // namespace minicd::cli
