#include "minicd/model/canary.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

namespace minicd::model {
namespace {

using namespace std::chrono_literals;
using Op = Condition::Op;

TEST(CanaryCondition, ParsesEveryOperatorWithOrWithoutSpaces) {
    const std::vector<std::tuple<std::string, Op, double>> cases = {
        {">= 0.99", Op::greater_equal, 0.99}, {"<=500", Op::less_equal, 500}, {" == 0 ", Op::equal, 0},
        {"!= 1", Op::not_equal, 1},           {"< -2.5", Op::less, -2.5},     {">1e3", Op::greater, 1000},
    };
    for (const auto& [text, op, threshold] : cases) {
        auto parsed = parse_condition(text);
        ASSERT_TRUE(parsed) << text << ": " << parsed.error().describe();
        EXPECT_EQ(parsed->op, op) << text;
        EXPECT_EQ(parsed->threshold, threshold) << text;
    }
}

TEST(CanaryCondition, ToStringReadsBack) {
    for (const char* text : {">= 0.99", "< 500", "== 0", "!= 1.5", "<= -3", "> 0.05"}) {
        auto parsed = parse_condition(text);
        ASSERT_TRUE(parsed) << text;
        EXPECT_EQ(to_string(*parsed), text);
        EXPECT_EQ(parse_condition(to_string(*parsed)).value(), *parsed);
    }
}

TEST(CanaryCondition, RejectsWhatIsNotOperatorAndNumber) {
    for (const char* text : {"", "0.99", "=> 1", "= 1", ">=", ">= abc", ">= 1x", ">= inf", "> nan", ">= 1 2", "~ 1"}) {
        auto parsed = parse_condition(text);
        ASSERT_FALSE(parsed) << text;
        EXPECT_EQ(parsed.error().code, util::ErrorCode::input) << text;
    }
}

TEST(CanaryCondition, HoldsComparesWithTheThreshold) {
    EXPECT_TRUE((Condition{Op::greater_equal, 0.99}.holds(0.99)));
    EXPECT_FALSE((Condition{Op::greater_equal, 0.99}.holds(0.98)));
    EXPECT_TRUE((Condition{Op::less, 500}.holds(499)));
    EXPECT_FALSE((Condition{Op::less, 500}.holds(500)));
    EXPECT_TRUE((Condition{Op::less_equal, 500}.holds(500)));
    EXPECT_TRUE((Condition{Op::greater, 0}.holds(std::numeric_limits<double>::infinity())));
    EXPECT_TRUE((Condition{Op::equal, 0}.holds(0)));
    EXPECT_TRUE((Condition{Op::not_equal, 0}.holds(1)));
}

TEST(CanaryCondition, NaNHoldsNoCondition) {
    const double nan = std::nan("");
    for (auto op : {Op::less, Op::less_equal, Op::greater, Op::greater_equal, Op::equal, Op::not_equal}) {
        EXPECT_FALSE((Condition{op, 0}.holds(nan))) << static_cast<int>(op);
    }
}

TEST(CanaryReplicas, AreTheWeightsShareOfAllPodsRoundedUpAtLeastOne) {
    const std::vector<std::tuple<int, int, int>> cases = {
        {10, 9, 1}, {50, 4, 4}, {10, 1, 1}, {25, 3, 1}, {33, 10, 5}, {99, 1, 99},
    };
    for (const auto& [weight, stable, expected] : cases) {
        EXPECT_EQ(canary_replicas(weight, stable), expected) << weight << "% next to " << stable;
    }
}

TEST(CanaryReplicas, HugeStableCountsDoNotOverflow) {
    const int most = std::numeric_limits<int>::max();
    EXPECT_EQ(canary_replicas(99, most), most);
    EXPECT_EQ(canary_replicas(50, most), most);
    EXPECT_EQ(canary_replicas(1, most), 21'691'755);  // ceil(2147483647 / 99)
}

TEST(CanarySteps, ParsesWeightsAndPauses) {
    auto steps = parse_canary_steps("10:2m,50:5m");
    ASSERT_TRUE(steps) << steps.error().describe();
    EXPECT_EQ(*steps, (std::vector<CanaryStep>{{10, 2min}, {50, 5min}}));
}

TEST(CanarySteps, AWeightWithoutPauseMeasuresOnce) {
    auto steps = parse_canary_steps("10");
    ASSERT_TRUE(steps) << steps.error().describe();
    EXPECT_EQ(*steps, (std::vector<CanaryStep>{{10, 0ms}}));
}

TEST(CanarySteps, RejectsBadStepsNamingTheProblem) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"10:2m,5:1m", "does not grow"}, {"0:1m", "not within 1..99"}, {"100:1m", "not within 1..99"},
        {"x:1m", "\"x:1m\""},            {"10:abc", "\"10:abc\""},     {"", "WEIGHT:PAUSE"},
    };
    for (const auto& [text, expected] : cases) {
        auto steps = parse_canary_steps(text);
        ASSERT_FALSE(steps) << text;
        EXPECT_EQ(steps.error().code, util::ErrorCode::usage) << text;
        EXPECT_NE(steps.error().describe().find(expected), std::string::npos) << text << ": " << steps.error().describe();
    }
}

TEST(CanaryNoData, PolicyNamesReadBack) {
    for (auto policy : {NoData::fail, NoData::pass, NoData::inconclusive}) {
        EXPECT_EQ(parse_no_data(to_string(policy)), policy);
    }
    EXPECT_FALSE(parse_no_data("ignore"));
}

}  // namespace
}  // namespace minicd::model
