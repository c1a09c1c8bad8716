#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/canary/prometheus.hpp"
#include "minicd/model/canary.hpp"
#include "minicd/util/result.hpp"

// Judging a canary from its measurements: pure functions and state, no I/O.
namespace minicd::canary {

// What one measurement of one metric showed.
enum class Verdict {
    success,  // the value meets the metric's conditions (a metric without conditions always does)
    failure,  // the failure condition is set and holds, or the success condition is set and does not
    no_data,  // an empty vector or NaN; the analysis's noData policy decides what that counts as
    error,    // the query failed: Prometheus unreachable or refusing, several series, ...
};
std::string_view to_string(Verdict verdict);

Verdict judge(const model::Metric& metric, const Result<Sample>& sample);

struct Measurement {
    std::string metric;  // the metric's name, perhaps qualified: "success-rate (web)" (see Tally)
    Verdict verdict = Verdict::error;
    std::optional<double> value;  // set for success and failure
    // Failure only: what the value should have met: the success condition, or the failure condition
    // turned around ("failure: > 0.5" -> "<= 0.5").
    std::optional<model::Condition> wanted;
    std::string error;  // error only: why the query failed
};

// `sample` judged against `metric`, with what a report needs.
Measurement measure(const model::Metric& metric, const Result<Sample>& sample);

// One line for progress output: "success-rate = 0.995 ok", "success-rate = 0.42 FAILED (>= 0.99)",
// "success-rate: no data", "success-rate: error: ...".
std::string describe(const Measurement& measurement);

// The count of each metric's measurements over a whole canary (all its steps), which decides when
// it must stop:
//  - failure: counted; the canary aborts when a metric's failures exceed its failureLimit.
//  - no_data: noData fail counts it as a failure, pass as a success; inconclusive counts nothing,
//    but the step fails at its end when that metric's last measurement in it had no data.
//  - error: consecutive errors are counted, and any other verdict resets the count; the canary
//    aborts when they exceed consecutiveErrorLimit. A step also fails at its end when a metric's
//    last measurement in it was an error: the step could not be judged.
//  - a metric not measured at all during a step fails that step, for the same reason.
// A measurement's `metric` is a metric's name, optionally followed by a qualifier in parentheses
// ("success-rate (web)") when one metric is measured for several workloads: each such series is
// counted on its own, with the metric's limits.
// Every reason is one line for people, naming the metric, the value and the condition.
class Tally {
public:
    explicit Tally(const model::Analysis& analysis);

    // Counts one measurement; why the canary must abort now, or nullopt. A name that is not one of
    // the analysis's metrics (qualified or not) is a programmer error: std::invalid_argument.
    std::optional<std::string> record(const Measurement& measurement);

    // Called when a step's pause ends: why the step fails ("; " between metrics), or nullopt when it
    // passes. Starts the next step; the counts over the whole canary go on.
    std::optional<std::string> end_step();

private:
    // The measurements of one metric under one name (qualified or not).
    struct Series {
        std::string name;
        std::size_t metric = 0;  // index into m_metrics
        int failures = 0;
        int consecutive_errors = 0;
        std::optional<Measurement> last;  // the latest measurement in the current step
    };
    Series& series_of(const std::string& name);
    bool counts_as_failure(Verdict verdict) const;
    std::optional<std::string> step_problem(const Series& series) const;

    std::vector<model::Metric> m_metrics;
    model::NoData m_no_data;
    std::vector<Series> m_series;  // in the order they were first measured
};

}  // namespace minicd::canary
