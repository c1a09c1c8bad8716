// Feeds bytes to config::check_config as the text of minicd.yaml, and to config::check_analysis as
// a canary analysis file. Checks that a file is valid exactly when no diagnostic is an error and
// that every diagnostic names the file and a place inside it.

#include <algorithm>

#include "fuzz_support.hpp"
#include "minicd/config/load.hpp"

namespace {

using minicd::config::Diagnostic;
using minicd::config::Severity;
using minicd::fuzz::require;

constexpr std::string_view k_file = "minicd.yaml";

void check_diagnostics(std::string_view text, bool valid, const std::vector<Diagnostic>& diagnostics) {
    const bool has_error = std::any_of(diagnostics.begin(), diagnostics.end(),
                                       [](const Diagnostic& d) { return d.severity == Severity::error; });
    require(valid != has_error, "a file is valid exactly when it has no error");
    // YAML also ends a line at a lone carriage return.
    const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n') +
                                        std::count(text.begin(), text.end(), '\r')) + 1;
    for (const Diagnostic& diagnostic : diagnostics) {
        require(diagnostic.file == k_file, "a diagnostic names the file");
        require(!diagnostic.message.empty(), "a diagnostic says what is wrong");
        require(diagnostic.line >= 0 && diagnostic.line <= lines, "a diagnostic's line is in the file");
        require(diagnostic.column >= 0, "a diagnostic's column is not negative");
        require(diagnostic.describe().starts_with(k_file), "a described diagnostic starts with the file");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = minicd::fuzz::as_text(data, size);
    auto checked = minicd::config::check_config(text, k_file);
    check_diagnostics(text, checked.valid(), checked.diagnostics);
    auto analysis = minicd::config::check_analysis(text, k_file);
    check_diagnostics(text, analysis.valid(), analysis.diagnostics);
    return 0;
}
