#include "minicd/canary/analysis.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace minicd::canary {
namespace {

using model::Condition;
using Op = Condition::Op;

model::Metric success_rate(int failure_limit = 0, int consecutive_error_limit = 4) {
    return model::Metric{.name = "success-rate",
                         .query = "q",
                         .success = Condition{Op::greater_equal, 0.99},
                         .failure = std::nullopt,
                         .failure_limit = failure_limit,
                         .consecutive_error_limit = consecutive_error_limit};
}

model::Metric latency() {
    return model::Metric{.name = "p99-latency", .query = "q", .success = std::nullopt, .failure = Condition{Op::greater, 0.5}};
}

model::Analysis analysis_of(std::vector<model::Metric> metrics, model::NoData no_data = model::NoData::fail) {
    return model::Analysis{.prometheus = {}, .interval = {}, .metrics = std::move(metrics), .no_data = no_data};
}

Result<Sample> value(double number) { return Sample{.value = number}; }
Result<Sample> no_data() { return Sample{}; }
Result<Sample> query_error(std::string message = "query failed: HTTP 503") {
    return fail(util::ErrorCode::http, std::move(message), "Prometheus http://prom:9090");
}

TEST(Judge, ComparesTheValueWithTheConditions) {
    EXPECT_EQ(judge(success_rate(), value(0.995)), Verdict::success);
    EXPECT_EQ(judge(success_rate(), value(0.99)), Verdict::success);
    EXPECT_EQ(judge(success_rate(), value(0.42)), Verdict::failure);
    EXPECT_EQ(judge(latency(), value(0.2)), Verdict::success);
    EXPECT_EQ(judge(latency(), value(0.8)), Verdict::failure);
    EXPECT_EQ(judge(latency(), value(std::numeric_limits<double>::infinity())), Verdict::failure);
}

TEST(Judge, FailsWhenEitherConditionSays) {
    auto both = success_rate();
    both.failure = Condition{Op::less, 0.5};
    EXPECT_EQ(judge(both, value(0.995)), Verdict::success);
    EXPECT_EQ(judge(both, value(0.9)), Verdict::failure);  // success condition missed
    EXPECT_EQ(judge(both, value(0.1)), Verdict::failure);  // failure condition met
}

TEST(Judge, NoValueOrNaNIsNoDataAndAQueryErrorIsAnError) {
    EXPECT_EQ(judge(success_rate(), no_data()), Verdict::no_data);
    EXPECT_EQ(judge(success_rate(), value(std::nan(""))), Verdict::no_data);
    EXPECT_EQ(judge(success_rate(), query_error()), Verdict::error);
}

TEST(Measure, AFailureCarriesWhatWasWantedAndAFailureConditionIsTurnedAround) {
    auto missed = measure(success_rate(), value(0.42));
    EXPECT_EQ(missed.verdict, Verdict::failure);
    EXPECT_EQ(missed.value, 0.42);
    EXPECT_EQ(missed.wanted, (Condition{Op::greater_equal, 0.99}));

    auto alarm = measure(latency(), value(0.8));
    EXPECT_EQ(alarm.wanted, (Condition{Op::less_equal, 0.5}));
    EXPECT_EQ(describe(alarm), "p99-latency = 0.8 FAILED (<= 0.5)");
}

TEST(Describe, WritesOneProgressLinePerVerdict) {
    EXPECT_EQ(describe(measure(success_rate(), value(0.995))), "success-rate = 0.995 ok");
    EXPECT_EQ(describe(measure(success_rate(), value(0.42))), "success-rate = 0.42 FAILED (>= 0.99)");
    EXPECT_EQ(describe(measure(success_rate(), no_data())), "success-rate: no data");
    EXPECT_EQ(describe(measure(success_rate(), query_error())),
              "success-rate: error: Prometheus http://prom:9090: query failed: HTTP 503");
}

TEST(Describe, AValueIsNeverRoundedOntoItsThreshold) {
    EXPECT_EQ(describe(measure(success_rate(), value(0.98996))), "success-rate = 0.98996 FAILED (>= 0.99)");
    EXPECT_EQ(describe(measure(success_rate(), value(0.9899))), "success-rate = 0.9899 FAILED (>= 0.99)");
    EXPECT_EQ(describe(measure(success_rate(), value(123456.0))), "success-rate = 1.235e+05 ok");
}

TEST(Tally, FailureLimitZeroAbortsAtTheFirstFailure) {
    Tally tally(analysis_of({success_rate(0)}));
    EXPECT_EQ(tally.record(measure(success_rate(), value(0.995))), std::nullopt);
    EXPECT_EQ(tally.record(measure(success_rate(), value(0.42))),
              "success-rate = 0.42, wanted >= 0.99 (1 failed measurement, 0 tolerated)");
}

TEST(Tally, FailureLimitOneToleratesOneFailureOverTheWholeCanary) {
    const auto metric = success_rate(1);
    Tally tally(analysis_of({metric}));
    EXPECT_EQ(tally.record(measure(metric, value(0.42))), std::nullopt);
    EXPECT_EQ(tally.record(measure(metric, value(0.995))), std::nullopt);
    EXPECT_EQ(tally.end_step(), std::nullopt);  // a tolerated failure does not fail the step
    EXPECT_EQ(tally.record(measure(metric, value(0.5))),
              "success-rate = 0.5, wanted >= 0.99 (2 failed measurements, 1 tolerated)");
}

TEST(Tally, ConsecutiveErrorsAreResetByASuccess) {
    const auto metric = success_rate(0, 2);
    Tally tally(analysis_of({metric}));
    for (int round = 0; round < 3; ++round) {
        EXPECT_EQ(tally.record(measure(metric, query_error())), std::nullopt);
        EXPECT_EQ(tally.record(measure(metric, query_error())), std::nullopt);
        EXPECT_EQ(tally.record(measure(metric, value(0.995))), std::nullopt);
    }
}

TEST(Tally, ErrorsBeyondTheLimitAbortWithTheLastError) {
    const auto metric = success_rate(0, 4);
    Tally tally(analysis_of({metric}));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(tally.record(measure(metric, query_error())), std::nullopt);
    EXPECT_EQ(tally.record(measure(metric, query_error("connection refused"))),
              "success-rate: Prometheus failed 5 times in a row (consecutiveErrorLimit 4): "
              "Prometheus http://prom:9090: connection refused");
}

TEST(Tally, NoDataFailCountsAsAFailure) {
    Tally tally(analysis_of({success_rate(0)}, model::NoData::fail));
    EXPECT_EQ(tally.record(measure(success_rate(), no_data())),
              "success-rate: no data (noData: fail) (1 failed measurement, 0 tolerated)");
}

TEST(Tally, NoDataPassCountsAsASuccess) {
    Tally tally(analysis_of({success_rate(0)}, model::NoData::pass));
    EXPECT_EQ(tally.record(measure(success_rate(), no_data())), std::nullopt);
    EXPECT_EQ(tally.record(measure(success_rate(), no_data())), std::nullopt);
    EXPECT_EQ(tally.end_step(), std::nullopt);
}

TEST(Tally, NoDataInconclusiveFailsTheStepOnlyWhenItsLastMeasurementHadNoData) {
    Tally tally(analysis_of({success_rate(0)}, model::NoData::inconclusive));
    EXPECT_EQ(tally.record(measure(success_rate(), no_data())), std::nullopt);
    EXPECT_EQ(tally.record(measure(success_rate(), value(0.995))), std::nullopt);
    EXPECT_EQ(tally.end_step(), std::nullopt);

    EXPECT_EQ(tally.record(measure(success_rate(), value(0.995))), std::nullopt);
    EXPECT_EQ(tally.record(measure(success_rate(), no_data())), std::nullopt);
    EXPECT_EQ(tally.end_step(), "success-rate: no data at the end of the step (noData: inconclusive)");
}

TEST(Tally, NoDataResetsConsecutiveErrors) {
    const auto metric = success_rate(0, 1);
    Tally tally(analysis_of({metric}, model::NoData::inconclusive));
    EXPECT_EQ(tally.record(measure(metric, query_error())), std::nullopt);
    EXPECT_EQ(tally.record(measure(metric, no_data())), std::nullopt);
    EXPECT_EQ(tally.record(measure(metric, query_error())), std::nullopt);
}

TEST(Tally, AStepWhoseLastMeasurementWasAnErrorFails) {
    Tally tally(analysis_of({success_rate()}));
    EXPECT_EQ(tally.record(measure(success_rate(), value(0.995))), std::nullopt);
    EXPECT_EQ(tally.record(measure(success_rate(), query_error())), std::nullopt);
    EXPECT_EQ(tally.end_step(), "success-rate: the step's last measurement failed, so it cannot be judged: "
                                "Prometheus http://prom:9090: query failed: HTTP 503");
    // The next step starts afresh.
    EXPECT_EQ(tally.record(measure(success_rate(), value(0.995))), std::nullopt);
    EXPECT_EQ(tally.end_step(), std::nullopt);
}

TEST(Tally, AStepFailsForEveryMetricNotMeasuredInIt) {
    Tally tally(analysis_of({success_rate(), latency()}));
    EXPECT_EQ(tally.record(measure(latency(), value(0.1))), std::nullopt);
    EXPECT_EQ(tally.end_step(), "success-rate: not measured during the step");
    EXPECT_EQ(tally.end_step(), "success-rate: not measured during the step; p99-latency: not measured during the step");
}

TEST(Tally, MetricsAreCountedSeparately) {
    Tally tally(analysis_of({success_rate(1), latency()}));
    EXPECT_EQ(tally.record(measure(success_rate(1), value(0.42))), std::nullopt);
    EXPECT_EQ(tally.record(measure(latency(), value(0.9))),
              "p99-latency = 0.9, wanted <= 0.5 (1 failed measurement, 0 tolerated)");
}

TEST(Tally, QualifiedNamesAreSeriesCountedOnTheirOwnWithTheMetricsLimits) {
    const auto metric = success_rate(1);
    Tally tally(analysis_of({metric}));
    auto for_workload = [&](const std::string& workload, double number) {
        auto measurement = measure(metric, value(number));
        measurement.metric += " (" + workload + ")";
        return measurement;
    };
    EXPECT_EQ(tally.record(for_workload("web", 0.5)), std::nullopt);
    EXPECT_EQ(tally.record(for_workload("api", 0.5)), std::nullopt);
    EXPECT_EQ(tally.end_step(), std::nullopt);
    EXPECT_EQ(tally.record(for_workload("api", 0.995)), std::nullopt);
    EXPECT_EQ(tally.record(for_workload("web", 0.4)),
              "success-rate (web) = 0.4, wanted >= 0.99 (2 failed measurements, 1 tolerated)");
}

TEST(Tally, AStepFailsForEachSeriesWhoseLastMeasurementFailed) {
    Tally tally(analysis_of({success_rate()}));
    auto failed = measure(success_rate(), query_error("connection refused"));
    failed.metric = "success-rate (api)";
    auto fine = measure(success_rate(), value(0.995));
    fine.metric = "success-rate (web)";
    EXPECT_EQ(tally.record(fine), std::nullopt);
    EXPECT_EQ(tally.record(failed), std::nullopt);
    EXPECT_EQ(tally.end_step(), "success-rate (api): the step's last measurement failed, so it cannot be judged: "
                                "Prometheus http://prom:9090: connection refused");
}

TEST(Tally, AnUnknownMetricIsAProgrammerError) {
    Tally tally(analysis_of({success_rate()}));
    EXPECT_THROW(tally.record(measure(latency(), value(0.1))), std::invalid_argument);
    auto unqualified = measure(success_rate(), value(0.995));
    unqualified.metric = "success-rate-2";
    EXPECT_THROW(tally.record(unqualified), std::invalid_argument);
}

}  // namespace
}  // namespace minicd::canary
