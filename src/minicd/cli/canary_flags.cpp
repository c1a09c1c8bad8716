#include "minicd/cli/canary_flags.hpp"

#include "minicd/config/load.hpp"

namespace minicd::cli {

void add_canary_flags(CLI::App& command, CanaryFlags& flags) {
    command.add_option("--canary-steps", flags.steps,
                       "Run the release as a canary first: WEIGHT:PAUSE per step, e.g. 10:2m,50:5m (percent of pods)");
    command.add_option("--canary-analysis", flags.analysis,
                       "YAML file with the canary's Prometheus analysis (prometheus, interval, metrics, noData), as "
                       "under strategy.canary.analysis in minicd.yaml");
}

Result<std::optional<model::CanaryStrategy>> canary_from_flags(const CanaryFlags& flags) {
    if (flags.steps.empty()) {
        if (!flags.analysis.empty()) {
            return fail(util::ErrorCode::usage, "--canary-analysis needs --canary-steps: the steps the analysis gates");
        }
        return std::optional<model::CanaryStrategy>();
    }
    model::CanaryStrategy strategy;
    auto steps = model::parse_canary_steps(flags.steps);
    if (!steps) return fail(steps.error().context("--canary-steps"));
    strategy.steps = std::move(*steps);
    if (!flags.analysis.empty()) {
        auto analysis = config::load_analysis(flags.analysis);
        if (!analysis) return fail(analysis.error());
        strategy.analysis = std::move(*analysis);
    }
    return std::optional(std::move(strategy));
}

}  // namespace minicd::cli
