#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/config/config.hpp"
#include "minicd/model/canary.hpp"
#include "minicd/util/result.hpp"

namespace minicd::config {

enum class Severity { error, warning };

// Whether a command that loads minicd.yaml to run says a warning: one the cluster guard says again
// whenever it connects, with the cluster it found, is left to the guard (`config validate` shows all).
enum class Restated { no, on_connect };

// One problem found in minicd.yaml, with where it is.
struct Diagnostic {
    Severity severity = Severity::error;
    std::string file;
    int line = 0;       // 1-based; 0 when the problem has no place (an unreadable file)
    int column = 0;     // 1-based; 0 when unknown
    std::string field;  // "environments.preview.on.branch[1]"; "" for the file as a whole
    std::string message;
    Restated restated = Restated::no;

    // "minicd.yaml:12:5: environments.preview.on: message"; a warning says so after the place.
    std::string describe() const;
    // describe() without "warning: ", for a log line whose level says it.
    std::string describe_unlabelled() const;
};

struct CheckedConfig {
    std::optional<Config> config;         // set when there is no error (warnings allowed)
    std::vector<Diagnostic> diagnostics;  // every error and warning, in file order

    bool valid() const { return config.has_value(); }
};

// Reads and validates minicd.yaml text, reporting every problem at once: unknown keys (with the
// known key a typo was probably meant as), wrong types, bad patterns, durations and templates,
// missing required fields, promoteFrom naming a missing environment or going round in a circle.
CheckedConfig check_config(std::string_view text, std::string_view file);

// The same for a file; an unreadable file is one error without a place.
CheckedConfig check_config_file(const std::string& path);

// The configuration, or an input error whose message lists every error (warnings are logged).
Result<Config> load_config(const std::string& path);

struct CheckedAnalysis {
    std::optional<model::Analysis> analysis;  // set when there is no error (warnings allowed)
    std::vector<Diagnostic> diagnostics;      // every error and warning, in file order

    bool valid() const { return analysis.has_value(); }
};

// Reads and validates a file holding what `strategy.canary.analysis` holds in minicd.yaml (for
// `minicd apply --canary-analysis FILE`), by the same rules; field paths start at the file's top:
// "metrics[0].successCondition".
CheckedAnalysis check_analysis(std::string_view text, std::string_view file);

// The same for a file; an unreadable file is one error without a place.
CheckedAnalysis check_analysis_file(const std::string& path);

// The analysis, or an input error whose message lists every error (warnings are logged).
Result<model::Analysis> load_analysis(const std::string& path);

// The keys the reader knows at each place of the file: "" (top level), "images[]", "build",
// "imagePaths[]", "environments.*", "environments.*.cluster", "environments.*.on",
// "environments.*.tls", "environments.*.gc", "environments.*.strategy" and the places under it
// ("environments.*.strategy.canary.steps[]", ...). docs/minicd.schema.json must list the same.
// An analysis file's top level knows the keys of "environments.*.strategy.canary.analysis".
const std::map<std::string, std::vector<std::string_view>>& known_keys();

}  // namespace minicd::config
