#pragma once

#include <array>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

// A canary release, as minicd.yaml (`strategy.canary`) or the apply flags describe it.
namespace minicd::model {

// One step: the share of pods that run the new version, and how long it is watched.
struct CanaryStep {
    int weight = 0;                  // 1..99: percent of the workload's pods running the new version
    std::chrono::milliseconds pause{0};  // analysis runs during the pause; 0 measures once and moves on

    friend bool operator==(const CanaryStep&, const CanaryStep&) = default;
};

// A comparison of a measured value with a threshold: ">= 0.99", "< 500", "== 0".
struct Condition {
    enum class Op { less, less_equal, greater, greater_equal, equal, not_equal };
    Op op = Op::greater_equal;
    double threshold = 0;

    bool holds(double value) const;
    friend bool operator==(const Condition&, const Condition&) = default;
};

// "<op> <number>" with op one of < <= > >= == !=, spaces optional; an input error otherwise.
Result<Condition> parse_condition(std::string_view text);
// ">= 0.99": the same text parse_condition reads back.
std::string to_string(const Condition& condition);

// What a query that returns nothing (an empty vector, or NaN, as 0/0 gives with no traffic) means.
enum class NoData {
    fail,          // a failed measurement
    pass,          // a successful one
    inconclusive,  // neither; a step whose last measurement had no data fails at its end
};
std::string_view to_string(NoData no_data);
std::optional<NoData> parse_no_data(std::string_view text);

// What a query may name, as {{name}}: the namespace, the stable Deployment, and regexes of the
// canary's and the stable's pod names (for pod=~"...").
inline constexpr std::array<std::string_view, 4> k_query_placeholders = {"namespace", "workload", "canary_pods",
                                                                         "stable_pods"};

// One PromQL check. A measurement fails when the failure condition holds or the success
// condition does not (at least one of them is set).
struct Metric {
    std::string name;   // shown in progress lines and in the reason of an abort
    std::string query;  // PromQL with {{namespace}} {{workload}} {{canary_pods}} {{stable_pods}}
    std::optional<Condition> success;
    std::optional<Condition> failure;
    int failure_limit = 0;            // failed measurements tolerated over the whole canary
    int consecutive_error_limit = 4;  // Prometheus errors in a row tolerated

    friend bool operator==(const Metric&, const Metric&) = default;
};

// Where the queries go and how.
struct PrometheusEndpoint {
    std::string address;  // http(s)://host:port[/prefix]
    // NAME of an environment variable holding a bearer token; "" sends none. Never the token itself.
    std::string token_env;
    std::map<std::string, std::string> headers;  // extra headers, e.g. X-Scope-OrgID

    friend bool operator==(const PrometheusEndpoint&, const PrometheusEndpoint&) = default;
};

struct Analysis {
    PrometheusEndpoint prometheus;
    std::chrono::milliseconds interval{30'000};  // between measurements of every metric
    std::vector<Metric> metrics;
    NoData no_data = NoData::fail;

    friend bool operator==(const Analysis&, const Analysis&) = default;
};

struct CanaryStrategy {
    std::vector<std::string> workloads;  // Deployment names; empty: every Deployment of the release
    std::vector<CanaryStep> steps;       // weights strictly increasing
    std::optional<Analysis> analysis;    // none: steps are gated on the canary pods' health only

    friend bool operator==(const CanaryStrategy&, const CanaryStrategy&) = default;
};

// The pods of a canary of `weight` percent next to `stable` replicas: ceil(weight × stable / (100 −
// weight)), at least 1. The stable Deployment keeps its replicas until promotion.
int canary_replicas(int weight, int stable);

// "10:2m,50:5m": weight and pause per step; an input error naming the bad part.
Result<std::vector<CanaryStep>> parse_canary_steps(std::string_view text);
// Weights within 1..99 and strictly increasing, at least one step; "" when they are, else why not.
std::string canary_steps_problem(const std::vector<CanaryStep>& steps);

}  // namespace minicd::model
