#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "minicd/health/health.hpp"

namespace minicd::health {
namespace {

using model::Json;

// metadata.labels of a pod of Deployment web.
const Json k_labels = Json::parse(R"json({"app.kubernetes.io/name": "web", "app.kubernetes.io/component": "frontend",
                                          "pod-template-hash": "7d9c6b5f4", "track": "stable"})json");

struct Case {
    std::string_view what;
    std::string_view selector;
    bool matches;
};

void expect_cases(const std::vector<Case>& cases) {
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        EXPECT_EQ(selector_matches(Json::parse(c.selector), k_labels), c.matches);
    }
}

TEST(Selector, MatchLabelsRequiresEveryPair) {
    expect_cases({
        {"one pair", R"json({"matchLabels": {"app.kubernetes.io/name": "web"}})json", true},
        {"two pairs", R"json({"matchLabels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d9c6b5f4"}})json", true},
        {"wrong value", R"json({"matchLabels": {"app.kubernetes.io/name": "api"}})json", false},
        {"missing label", R"json({"matchLabels": {"app.kubernetes.io/name": "web", "tier": "db"}})json", false},
        {"non-string value", R"json({"matchLabels": {"track": true}})json", false},
    });
}

TEST(Selector, MatchExpressionsSupportEveryOperator) {
    expect_cases({
        {"In, value listed", R"json({"matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "canary"]}]})json", true},
        {"In, value not listed", R"json({"matchExpressions": [{"key": "track", "operator": "In", "values": ["canary"]}]})json", false},
        {"In, label missing", R"json({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]})json", false},
        {"NotIn, value listed", R"json({"matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["stable"]}]})json", false},
        {"NotIn, value not listed", R"json({"matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]})json", true},
        {"NotIn, label missing", R"json({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]})json", true},
        {"Exists", R"json({"matchExpressions": [{"key": "pod-template-hash", "operator": "Exists"}]})json", true},
        {"Exists, label missing", R"json({"matchExpressions": [{"key": "tier", "operator": "Exists"}]})json", false},
        {"DoesNotExist", R"json({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]})json", true},
        {"DoesNotExist, label present", R"json({"matchExpressions": [{"key": "track", "operator": "DoesNotExist"}]})json", false},
        {"unknown operator", R"json({"matchExpressions": [{"key": "track", "operator": "Gt", "values": ["1"]}]})json", false},
    });
}

TEST(Selector, MatchLabelsAndExpressionsMustAllHold) {
    expect_cases({
        {"both hold", R"json({"matchLabels": {"app.kubernetes.io/name": "web"},
            "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable"]},
                                 {"key": "canary", "operator": "DoesNotExist"}]})json", true},
        {"expression fails", R"json({"matchLabels": {"app.kubernetes.io/name": "web"},
            "matchExpressions": [{"key": "track", "operator": "In", "values": ["canary"]}]})json", false},
        {"labels fail", R"json({"matchLabels": {"app.kubernetes.io/name": "api"},
            "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable"]}]})json", false},
    });
}

TEST(Selector, EmptySelectorMatchesEverythingNullMatchesNothing) {
    EXPECT_TRUE(selector_matches(Json::object(), k_labels));
    EXPECT_TRUE(selector_matches(Json::parse(R"json({"matchLabels": {}, "matchExpressions": []})json"), k_labels));
    EXPECT_TRUE(selector_matches(Json::object(), Json()));
    EXPECT_FALSE(selector_matches(Json(), k_labels));
    EXPECT_FALSE(selector_matches(Json(), Json::object()));
}

TEST(Selector, PodWithoutLabelsMatchesOnlyAbsenceRequirements) {
    EXPECT_FALSE(selector_matches(Json::parse(R"json({"matchLabels": {"app.kubernetes.io/name": "web"}})json"), Json()));
    EXPECT_TRUE(selector_matches(
        Json::parse(R"json({"matchExpressions": [{"key": "track", "operator": "DoesNotExist"}]})json"), Json::object()));
}

TEST(Selector, MalformedSelectorMatchesNothing) {
    expect_cases({
        {"map-style selector", R"json({"app.kubernetes.io/name": "web"})json", false},
        {"matchLabels not an object", R"json({"matchLabels": ["app.kubernetes.io/name"]})json", false},
        {"matchExpressions not an array", R"json({"matchExpressions": {"key": "track"}})json", false},
        {"expression without operator", R"json({"matchExpressions": [{"key": "track", "values": ["stable"]}]})json", false},
    });
}

}  // namespace
}  // namespace minicd::health
