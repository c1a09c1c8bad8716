#include "minicd/pipeline/ci.hpp"

#include <gtest/gtest.h>

namespace minicd::pipeline {
namespace {

using deploy::DriftClass;

model::ObjectId object(std::string kind, std::string name) {
    return {.group = "", .version = "v1", .kind = std::move(kind), .namespace_ = "shop", .name = std::move(name)};
}

TEST(CiDrift, SummaryNamesTheDriftedObjectsOnly) {
    deploy::DriftReport report;
    EXPECT_EQ(drift_summary(report), "no drift");
    report.live.push_back({.id = object("Deployment", "web"), .drift = DriftClass::scaled, .fields = {}});
    EXPECT_EQ(drift_summary(report), "no drift") << "scaled replicas are information";
    report.live.push_back({.id = object("ConfigMap", "settings"), .drift = DriftClass::modified, .fields = {}});
    EXPECT_EQ(drift_summary(report), "1 object drifted (cm/settings modified)");
    report.live.push_back({.id = object("Service", "web"), .drift = DriftClass::deleted, .fields = {}});
    EXPECT_EQ(drift_summary(report), "2 objects drifted (cm/settings modified, svc/web deleted)");
}

TEST(CiDrift, SummaryNamesFiveObjectsAtMost) {
    deploy::DriftReport report;
    for (int i = 1; i <= 7; ++i) {
        report.live.push_back(
            {.id = object("ConfigMap", "c" + std::to_string(i)), .drift = DriftClass::taken_over, .fields = {}});
    }
    EXPECT_EQ(drift_summary(report),
              "7 objects drifted (cm/c1 taken-over, cm/c2 taken-over, cm/c3 taken-over, cm/c4 taken-over, cm/c5 "
              "taken-over and 2 more)");
}

TEST(CiDrift, OnlyDriftLeftAsItIsCountsForTheExitCode) {
    CiReport report;
    deploy::DriftReport clean;
    deploy::DriftReport drifted;
    drifted.live.push_back({.id = object("ConfigMap", "settings"), .drift = DriftClass::modified, .fields = {}});
    report.drift.push_back({.environment = "staging", .target = {}, .report = clean, .fixed = std::nullopt});
    EXPECT_EQ(report.drifted_environments(), 0);
    report.drift.push_back({.environment = "production", .target = {}, .report = drifted, .fixed = std::nullopt});
    EXPECT_EQ(report.drifted_environments(), 1);
    report.drift.back().fixed = deploy::DeployResult{};
    EXPECT_EQ(report.drifted_environments(), 0) << "put back";
    report.drift.back().fixed->outcome = deploy::Outcome::failed;
    EXPECT_EQ(report.drifted_environments(), 1) << "putting it back failed";
}

TEST(CiDrift, ReleaseImagesBecomePinsOfTheirDigests) {
    const std::string digest = "sha256:" + std::string(64, 'a');
    auto pins = release_pins({{"shop", "ghcr.io/acme/shop:1a2b3c4@" + digest}});
    ASSERT_TRUE(pins) << pins.error().describe();
    ASSERT_EQ(pins->size(), 1u);
    EXPECT_EQ((*pins)[0].image_name, "shop");
    EXPECT_EQ((*pins)[0].reference, "ghcr.io/acme/shop:1a2b3c4");
    EXPECT_EQ((*pins)[0].digest, digest);
    EXPECT_FALSE(release_pins({{"shop", "not a reference"}}));
}

}  // namespace
}  // namespace minicd::pipeline
