#include "minicd/util/error.hpp"

#include <gtest/gtest.h>

#include "minicd/util/result.hpp"

namespace minicd::util {
namespace {

Result<int> parse_port(int value) {
    if (value <= 0 || value > 65535) return fail(ErrorCode::input, "port out of range", "minicd.yaml:3: registry");
    return value;
}

TEST(Error, DescribeNamesSubjectFirst) {
    Error error = make_error(ErrorCode::api, "field is immutable: spec.selector", "deploy/web (apps/v1 Deployment)");
    EXPECT_EQ(error.describe(), "deploy/web (apps/v1 Deployment): field is immutable: spec.selector");
}

TEST(Error, DescribeWithoutSubjectIsTheMessage) {
    EXPECT_EQ(make_error(ErrorCode::io, "disk full").describe(), "disk full");
}

TEST(Error, ContextPrefixesTheMessageAndKeepsCodeAndSubject) {
    Error error = make_error(ErrorCode::io, "no such file", "k8s/app.yaml").context("loading manifests");
    EXPECT_EQ(error.code, ErrorCode::io);
    EXPECT_EQ(error.describe(), "k8s/app.yaml: loading manifests: no such file");
}

TEST(Result, CarriesValueOrError) {
    auto good = parse_port(8080);
    ASSERT_TRUE(good.has_value());
    EXPECT_EQ(*good, 8080);

    auto bad = parse_port(70000);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, ErrorCode::input);
    EXPECT_EQ(bad.error().describe(), "minicd.yaml:3: registry: port out of range");
}

TEST(ErrorCode, EveryCodeHasAName) {
    for (auto code : {ErrorCode::usage, ErrorCode::input, ErrorCode::io, ErrorCode::subprocess, ErrorCode::timeout,
                      ErrorCode::network, ErrorCode::http, ErrorCode::api, ErrorCode::internal}) {
        EXPECT_NE(to_string(code), "unknown");
    }
}

}  // namespace
}  // namespace minicd::util
