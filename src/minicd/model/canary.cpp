#include "minicd/model/canary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "minicd/util/duration.hpp"

namespace minicd::model {

using util::ErrorCode;

namespace {

// Longest first, so "<=" is not read as "<".
constexpr std::array<std::pair<std::string_view, Condition::Op>, 6> k_ops{{
    {"<=", Condition::Op::less_equal},
    {">=", Condition::Op::greater_equal},
    {"==", Condition::Op::equal},
    {"!=", Condition::Op::not_equal},
    {"<", Condition::Op::less},
    {">", Condition::Op::greater},
}};

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

}  // namespace

bool Condition::holds(double value) const {
    if (std::isnan(value)) return false;
    switch (op) {
    case Op::less: return value < threshold;
    case Op::less_equal: return value <= threshold;
    case Op::greater: return value > threshold;
    case Op::greater_equal: return value >= threshold;
    case Op::equal: return value == threshold;
    case Op::not_equal: return value != threshold;
    }
    return false;
}

Result<Condition> parse_condition(std::string_view text) {
    const std::string_view whole = trim(text);
    for (const auto& [symbol, op] : k_ops) {
        if (!whole.starts_with(symbol)) continue;
        const std::string_view number = trim(whole.substr(symbol.size()));
        double threshold = 0;
        const auto* end = number.data() + number.size();
        auto [ptr, ec] = std::from_chars(number.data(), end, threshold);
        if (number.empty() || ec != std::errc() || ptr != end || !std::isfinite(threshold)) {
            return fail(ErrorCode::input, fmt::format("expected a number after \"{}\", found \"{}\"", symbol, number));
        }
        return Condition{.op = op, .threshold = threshold};
    }
    return fail(ErrorCode::input,
                fmt::format("expected a comparison such as \">= 0.99\" (one of < <= > >= == != and a number), found \"{}\"",
                            whole));
}

std::string to_string(const Condition& condition) {
    for (const auto& [symbol, op] : k_ops) {
        if (op == condition.op) return fmt::format("{} {}", symbol, condition.threshold);
    }
    return fmt::format(">= {}", condition.threshold);
}

std::string_view to_string(NoData no_data) {
    switch (no_data) {
    case NoData::fail: return "fail";
    case NoData::pass: return "pass";
    case NoData::inconclusive: return "inconclusive";
    }
    return "fail";
}

std::optional<NoData> parse_no_data(std::string_view text) {
    for (auto policy : {NoData::fail, NoData::pass, NoData::inconclusive}) {
        if (text == to_string(policy)) return policy;
    }
    return std::nullopt;
}

int canary_replicas(int weight, int stable) {
    if (weight <= 0 || stable <= 0) return 1;
    if (weight >= 100) return stable;
    const long long numerator = static_cast<long long>(weight) * stable;
    const long long denominator = 100 - weight;
    const long long replicas = (numerator + denominator - 1) / denominator;
    // 99% next to a huge stable count needs more pods than an int holds: as many as fit.
    return static_cast<int>(std::clamp<long long>(replicas, 1, std::numeric_limits<int>::max()));
}

Result<std::vector<CanaryStep>> parse_canary_steps(std::string_view text) {
    std::vector<CanaryStep> steps;
    std::string_view rest = text;
    while (true) {
        const auto comma = rest.find(',');
        const std::string_view part = trim(rest.substr(0, comma));
        const auto colon = part.find(':');
        const std::string_view weight_text = trim(part.substr(0, colon));
        CanaryStep step;
        const auto* end = weight_text.data() + weight_text.size();
        auto [ptr, ec] = std::from_chars(weight_text.data(), end, step.weight);
        if (weight_text.empty() || ec != std::errc() || ptr != end) {
            return fail(ErrorCode::usage,
                        fmt::format("canary step \"{}\": expected WEIGHT:PAUSE such as 10:2m (weight in percent)", part));
        }
        if (colon != std::string_view::npos) {
            auto pause = util::parse_duration(trim(part.substr(colon + 1)));
            if (!pause) return fail(pause.error().context(fmt::format("canary step \"{}\"", part)));
            step.pause = *pause;
        }
        steps.push_back(step);
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
    }
    if (auto problem = canary_steps_problem(steps); !problem.empty()) return fail(ErrorCode::usage, problem);
    return steps;
}

std::string canary_steps_problem(const std::vector<CanaryStep>& steps) {
    if (steps.empty()) return "a canary needs at least one step";
    int previous = 0;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const int weight = steps[i].weight;
        if (weight < 1 || weight > 99) {
            return fmt::format("step {}: weight {} is not within 1..99 (percent of pods; promotion makes it 100)", i + 1,
                               weight);
        }
        if (weight <= previous) {
            return fmt::format("step {}: weight {} does not grow from the step before ({})", i + 1, weight, previous);
        }
        previous = weight;
    }
    return {};
}

}  // namespace minicd::model
