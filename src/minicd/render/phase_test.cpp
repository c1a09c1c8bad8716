#include "minicd/render/phase.hpp"

#include <gtest/gtest.h>

namespace minicd::render {
namespace {

using model::Json;
using model::Phase;

source::Manifest manifest(const std::string& json, int line = 1) {
    return source::Manifest{model::Object(Json::parse(json)), "k8s/migrate.yaml", line};
}

Result<bool> namespaced(const model::ObjectId&) { return true; }

const Target k_target{.app = "shop", .env = "staging", .namespace_ = "shop"};

std::string job(const std::string& phase) {
    return R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"migrate","annotations":{"minicd.io/phase":)" + phase +
           R"(}},"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"m","image":"db:1"}]}}}})";
}

TEST(Phase, NoAnnotationIsTheReleaseItself) {
    EXPECT_EQ(phase_of(Json::parse(R"({"metadata":{"name":"web"}})")), Phase::main);
    EXPECT_EQ(phase_of(Json::parse(R"({"metadata":{"name":"web","annotations":{"other":"pre"}}})")), Phase::main);
}

TEST(Phase, PreAndPostAreRead) {
    auto pre = prepare({manifest(job("\"pre\""))}, k_target, namespaced);
    auto post = prepare({manifest(job("\"post\""))}, k_target, namespaced);
    ASSERT_TRUE(pre && post);
    EXPECT_EQ((*pre)[0].phase, Phase::pre);
    EXPECT_EQ((*post)[0].phase, Phase::post);
}

TEST(Phase, UnknownValueIsRefusedWithFileAndLine) {
    for (const std::string value : {"\"before\"", "\"Pre\"", "true"}) {
        auto refused = prepare({manifest(job(value), 12)}, k_target, namespaced);
        ASSERT_FALSE(refused) << value;
        EXPECT_EQ(refused.error().code, util::ErrorCode::input);
        EXPECT_EQ(refused.error().subject, "k8s/migrate.yaml:12");
        EXPECT_NE(refused.error().message.find("batch/v1 Job"), std::string::npos) << refused.error().message;
        EXPECT_NE(refused.error().message.find("minicd.io/phase: " + value + " is not a phase"), std::string::npos)
            << refused.error().message;
    }
}

TEST(Phase, JobsOfAPhaseAreNamedAfterTheRelease) {
    auto prepared = prepare({manifest(job("\"pre\""))}, k_target, namespaced);
    ASSERT_TRUE(prepared);
    Desired& desired = (*prepared)[0];
    ASSERT_TRUE(runs_per_release(desired));
    ASSERT_TRUE(name_for_release(desired, 7));
    EXPECT_EQ(desired.id.name, "migrate-7");
    const Json& body = desired.object.body();
    EXPECT_EQ(body["metadata"]["name"], "migrate-7");
    EXPECT_EQ(body["metadata"]["annotations"]["minicd.io/desired-hash"], desired_hash(body));
}

TEST(Phase, OnlyJobsOfAPhaseRunPerRelease) {
    auto prepared = prepare({manifest(job("\"post\"")),
                             manifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"smoke",
                                          "annotations":{"minicd.io/phase":"post"}}})"),
                             manifest(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"seed"}})")},
                            k_target, namespaced);
    ASSERT_TRUE(prepared);
    EXPECT_TRUE(runs_per_release((*prepared)[0]));
    EXPECT_FALSE(runs_per_release((*prepared)[1]));
    EXPECT_FALSE(runs_per_release((*prepared)[2]));
}

TEST(Phase, ANameTooLongForAJobIsRefused) {
    auto prepared = prepare({manifest(R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":")" + std::string(60, 'm') +
                                      R"(","annotations":{"minicd.io/phase":"pre"}}})",
                                      3)},
                            k_target, namespaced);
    ASSERT_TRUE(prepared);
    auto named = name_for_release((*prepared)[0], 1234);
    ASSERT_FALSE(named);
    EXPECT_EQ(named.error().subject, "k8s/migrate.yaml:3");
    EXPECT_NE(named.error().message.find("63 characters"), std::string::npos) << named.error().message;
}

}  // namespace
}  // namespace minicd::render
