#include "minicd/canary/analysis.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <stdexcept>
#include <utility>

namespace minicd::canary {
namespace {

using model::Condition;

// Significant digits a value is shown with, unless more are needed to tell it from the threshold.
constexpr int k_value_digits = 4;
constexpr int k_max_value_digits = 17;

// The condition that holds exactly when `condition` does not (for numbers; NaN never gets here).
Condition turned_around(const Condition& condition) {
    auto op = Condition::Op::greater_equal;
    switch (condition.op) {
    case Condition::Op::less: op = Condition::Op::greater_equal; break;
    case Condition::Op::less_equal: op = Condition::Op::greater; break;
    case Condition::Op::greater: op = Condition::Op::less_equal; break;
    case Condition::Op::greater_equal: op = Condition::Op::less; break;
    case Condition::Op::equal: op = Condition::Op::not_equal; break;
    case Condition::Op::not_equal: op = Condition::Op::equal; break;
    }
    return Condition{.op = op, .threshold = condition.threshold};
}

// The condition a value broke, if any: the failure condition first, as it is the explicit alarm.
std::optional<Condition> broken_condition(const model::Metric& metric, double value) {
    if (metric.failure && metric.failure->holds(value)) return turned_around(*metric.failure);
    if (metric.success && !metric.success->holds(value)) return metric.success;
    return std::nullopt;
}

// Compact, yet a failed value is never rounded onto the threshold it missed: 0.98996 against
// ">= 0.99" shows as "0.98996", not "0.99".
std::string format_value(double value, const std::optional<Condition>& wanted) {
    int digits = k_value_digits;
    if (wanted && value != wanted->threshold) {
        while (digits < k_max_value_digits &&
               fmt::format("{:.{}g}", value, digits) == fmt::format("{:.{}g}", wanted->threshold, digits)) {
            ++digits;
        }
    }
    return fmt::format("{:.{}g}", value, digits);
}

// "success-rate = 0.42, wanted >= 0.99" or "success-rate: no data (noData: fail)".
std::string failed_measurement(const Measurement& measurement, model::NoData no_data) {
    if (measurement.verdict == Verdict::no_data || !measurement.value) {
        return fmt::format("{}: no data (noData: {})", measurement.metric, model::to_string(no_data));
    }
    std::string text = fmt::format("{} = {}", measurement.metric, format_value(*measurement.value, measurement.wanted));
    if (measurement.wanted) text += ", wanted " + model::to_string(*measurement.wanted);
    return text;
}

std::string plural(int count, std::string_view noun) {
    return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

}  // namespace

std::string_view to_string(Verdict verdict) {
    switch (verdict) {
    case Verdict::success: return "success";
    case Verdict::failure: return "failure";
    case Verdict::no_data: return "no data";
    case Verdict::error: return "error";
    }
    return "error";
}

Verdict judge(const model::Metric& metric, const Result<Sample>& sample) {
    if (!sample) return Verdict::error;
    if (!sample->value || std::isnan(*sample->value)) return Verdict::no_data;
    return broken_condition(metric, *sample->value) ? Verdict::failure : Verdict::success;
}

Measurement measure(const model::Metric& metric, const Result<Sample>& sample) {
    Measurement measurement{.metric = metric.name, .verdict = judge(metric, sample)};
    if (measurement.verdict == Verdict::error) {
        measurement.error = sample.error().describe();
    } else if (measurement.verdict != Verdict::no_data) {
        measurement.value = sample->value;
        if (measurement.verdict == Verdict::failure) measurement.wanted = broken_condition(metric, *sample->value);
    }
    return measurement;
}

std::string describe(const Measurement& measurement) {
    const std::string& name = measurement.metric;
    if (measurement.verdict == Verdict::error) return fmt::format("{}: error: {}", name, measurement.error);
    if (measurement.verdict == Verdict::no_data || !measurement.value) return fmt::format("{}: no data", name);
    const std::string value = format_value(*measurement.value, measurement.wanted);
    if (measurement.verdict == Verdict::success) return fmt::format("{} = {} ok", name, value);
    const std::string wanted = measurement.wanted ? " (" + model::to_string(*measurement.wanted) + ")" : "";
    return fmt::format("{} = {} FAILED{}", name, value, wanted);
}

Tally::Tally(const model::Analysis& analysis) : m_metrics(analysis.metrics), m_no_data(analysis.no_data) {}

Tally::Series& Tally::series_of(const std::string& name) {
    for (auto& series : m_series) {
        if (series.name == name) return series;
    }
    // The metric named, or qualified as in "success-rate (web)"; the longest such name wins.
    std::optional<std::size_t> found;
    for (std::size_t i = 0; i < m_metrics.size(); ++i) {
        const std::string& metric = m_metrics[i].name;
        const bool named = name == metric || (name.starts_with(metric + " (") && name.ends_with(')'));
        if (named && (!found || metric.size() > m_metrics[*found].name.size())) found = i;
    }
    if (!found) throw std::invalid_argument(fmt::format("canary analysis has no metric named \"{}\"", name));
    return m_series.emplace_back(Series{.name = name, .metric = *found});
}

bool Tally::counts_as_failure(Verdict verdict) const {
    return verdict == Verdict::failure || (verdict == Verdict::no_data && m_no_data == model::NoData::fail);
}

std::optional<std::string> Tally::record(const Measurement& measurement) {
    Series& series = series_of(measurement.metric);
    const model::Metric& metric = m_metrics[series.metric];
    series.last = measurement;

    if (measurement.verdict == Verdict::error) {
        ++series.consecutive_errors;
        if (series.consecutive_errors <= metric.consecutive_error_limit) return std::nullopt;
        return fmt::format("{}: Prometheus failed {} times in a row (consecutiveErrorLimit {}): {}", series.name,
                           series.consecutive_errors, metric.consecutive_error_limit, measurement.error);
    }
    series.consecutive_errors = 0;

    if (!counts_as_failure(measurement.verdict)) return std::nullopt;
    ++series.failures;
    if (series.failures <= metric.failure_limit) return std::nullopt;
    return fmt::format("{} ({}, {} tolerated)", failed_measurement(measurement, m_no_data),
                       plural(series.failures, "failed measurement"), metric.failure_limit);
}

std::optional<std::string> Tally::step_problem(const Series& series) const {
    if (!series.last) return std::nullopt;
    switch (series.last->verdict) {
    case Verdict::error:
        return fmt::format("{}: the step's last measurement failed, so it cannot be judged: {}", series.name,
                           series.last->error);
    case Verdict::no_data:
        if (m_no_data != model::NoData::inconclusive) return std::nullopt;
        return fmt::format("{}: no data at the end of the step (noData: inconclusive)", series.name);
    case Verdict::success:
    case Verdict::failure: return std::nullopt;
    }
    return std::nullopt;
}

std::optional<std::string> Tally::end_step() {
    std::vector<std::string> problems;
    for (std::size_t i = 0; i < m_metrics.size(); ++i) {
        bool measured = false;
        for (const auto& series : m_series) {
            if (series.metric != i || !series.last) continue;
            measured = true;
            if (auto problem = step_problem(series)) problems.push_back(*problem);
        }
        if (!measured) problems.push_back(fmt::format("{}: not measured during the step", m_metrics[i].name));
    }
    for (auto& series : m_series) series.last.reset();
    if (problems.empty()) return std::nullopt;
    return fmt::format("{}", fmt::join(problems, "; "));
}

}  // namespace minicd::canary
