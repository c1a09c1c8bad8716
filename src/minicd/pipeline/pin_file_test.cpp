#include "minicd/pipeline/pin_file.hpp"

#include <gtest/gtest.h>

namespace minicd::pipeline {
namespace {

const PinValues k_pin{.server = "https://10.0.0.1:6443", .uid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"};

std::string edited(std::string_view text, std::string_view environment = "production", const PinValues& values = k_pin) {
    auto edit = write_pin(text, "minicd.yaml", environment, values);
    if (!edit) {
        ADD_FAILURE() << edit.error().describe();
        return {};
    }
    if (!edit->text) {
        ADD_FAILURE() << "not edited: " << edit->why;
        return {};
    }
    return *edit->text;
}

std::string not_edited(std::string_view text, std::string_view environment = "production") {
    auto edit = write_pin(text, "minicd.yaml", environment, k_pin);
    if (!edit) {
        ADD_FAILURE() << edit.error().describe();
        return {};
    }
    EXPECT_FALSE(edit->text) << *edit->text;
    return edit->why;
}

TEST(WritePin, AddsLinesToABlockMappingKeepingEverythingElse) {
    const std::string text =
        "# deploys\n"
        "app: shop\n"
        "environments:\n"
        "  production:   # the real one\n"
        "    cluster:\n"
        "      context: prd      # see ~/.kube/config\n"
        "      kubeconfig: /etc/kube/prd\n"
        "\n"
        "    # promoted, never built\n"
        "    namespace: shop\n";
    EXPECT_EQ(edited(text),
              "# deploys\n"
              "app: shop\n"
              "environments:\n"
              "  production:   # the real one\n"
              "    cluster:\n"
              "      context: prd      # see ~/.kube/config\n"
              "      kubeconfig: /etc/kube/prd\n"
              "      server: \"https://10.0.0.1:6443\"\n"
              "      uid: \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"\n"
              "\n"
              "    # promoted, never built\n"
              "    namespace: shop\n");
}

TEST(WritePin, ReplacesExistingValuesInPlace) {
    const std::string text =
        "environments:\n"
        "  production:\n"
        "    cluster:\n"
        "      server: https://old.example.com   # rebuilt in May\n"
        "      context: prd\n"
        "      uid: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d'\n"
        "    namespace: shop\n";
    EXPECT_EQ(edited(text),
              "environments:\n"
              "  production:\n"
              "    cluster:\n"
              "      server: \"https://10.0.0.1:6443\"   # rebuilt in May\n"
              "      context: prd\n"
              "      uid: \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"\n"
              "    namespace: shop\n");
}

TEST(WritePin, AddsOneAndReplacesTheOther) {
    const std::string text =
        "environments:\n"
        "  production:\n"
        "    cluster:\n"
        "      context: prd\n"
        "      server: \"https://old.example.com\"\n";
    EXPECT_EQ(edited(text),
              "environments:\n"
              "  production:\n"
              "    cluster:\n"
              "      context: prd\n"
              "      server: \"https://10.0.0.1:6443\"\n"
              "      uid: \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"\n");
}

TEST(WritePin, AddsToAOneLineFlowMapping) {
    const std::string text =
        "environments:\n"
        "  preview:\n"
        "    cluster: {context: dev}   # identity pin\n"
        "  production:\n"
        "    cluster: { context: prd , kubeconfig: \"/etc/kube/{x}\" }\n";
    EXPECT_EQ(edited(text),
              "environments:\n"
              "  preview:\n"
              "    cluster: {context: dev}   # identity pin\n"
              "  production:\n"
              "    cluster: { context: prd , kubeconfig: \"/etc/kube/{x}\", server: \"https://10.0.0.1:6443\", "
              "uid: \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\" }\n");
}

TEST(WritePin, ReplacesInAFlowMapping) {
    const std::string text = "environments:\n  production:\n    cluster: {context: prd, server: https://old:6443, uid: x}\n";
    EXPECT_EQ(edited(text),
              "environments:\n  production:\n    cluster: {context: prd, server: \"https://10.0.0.1:6443\", "
              "uid: \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"}\n");
}

TEST(WritePin, WritesOnlyTheValuesGiven) {
    const std::string text = "environments:\n  production:\n    cluster: {context: prd}\n";
    EXPECT_EQ(edited(text, "production", {.server = "https://a.example.com", .uid = ""}),
              "environments:\n  production:\n    cluster: {context: prd, server: \"https://a.example.com\"}\n");
}

TEST(WritePin, KeepsCrlfLineEndingsAndAByteOrderMark) {
    const std::string text = "\xEF\xBB\xBF" "environments:\r\n  production:\r\n    cluster:\r\n      context: prd\r\n";
    EXPECT_EQ(edited(text), "\xEF\xBB\xBF" "environments:\r\n  production:\r\n    cluster:\r\n      context: prd\r\n"
                            "      server: \"https://10.0.0.1:6443\"\r\n"
                            "      uid: \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"\r\n");
}

TEST(WritePin, AddsANewlineWhenTheLastLineHasNone) {
    EXPECT_EQ(edited("environments:\n  production:\n    cluster:\n      context: prd", "production",
                     {.server = "", .uid = "u-1"}),
              "environments:\n  production:\n    cluster:\n      context: prd\n      uid: \"u-1\"\n");
}

TEST(WritePin, ReportsNoChangeWhenAlreadyPinned) {
    const std::string text =
        "environments:\n  production:\n    cluster:\n      context: prd\n      server: \"https://10.0.0.1:6443\"\n"
        "      uid: \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\"\n";
    auto edit = write_pin(text, "minicd.yaml", "production", k_pin);
    ASSERT_TRUE(edit && edit->text);
    EXPECT_FALSE(edit->changed);
    EXPECT_EQ(*edit->text, text);
}

TEST(WritePin, LeavesAFlowMappingOverSeveralLinesAlone) {
    EXPECT_NE(not_edited("environments:\n  production:\n    cluster: {context: prd,\n      kubeconfig: /k}\n").find("several lines"),
              std::string::npos);
}

TEST(WritePin, LeavesAnAliasAlone) {
    const std::string text =
        "x-prd: &prd {context: prd}\n"
        "environments:\n  production:\n    cluster: *prd\n";
    EXPECT_FALSE(not_edited(text).empty());
}

TEST(WritePin, LeavesAMultiLineValueAlone) {
    const std::string text =
        "environments:\n  production:\n    cluster:\n      context: prd\n      kubeconfig: /a/very/long\n"
        "        /path\n";
    EXPECT_NE(not_edited(text).find("several lines"), std::string::npos);
}

TEST(WritePin, LeavesABlockScalarAlone) {
    const std::string text = "environments:\n  production:\n    cluster:\n      context: prd\n      server: |\n        https://a\n";
    EXPECT_FALSE(not_edited(text).empty());
}

TEST(WritePin, AMissingEnvironmentIsAnInputError) {
    auto edit = write_pin("environments:\n  staging:\n    cluster: {context: stg}\n", "minicd.yaml", "production", k_pin);
    ASSERT_FALSE(edit);
    EXPECT_EQ(edit.error().code, util::ErrorCode::input);
}

TEST(WritePin, BrokenYamlIsAnInputError) {
    EXPECT_FALSE(write_pin("environments: [\n", "minicd.yaml", "production", k_pin));
}

TEST(PinLines, QuoteTheValues) {
    EXPECT_EQ(pin_lines(k_pin),
              (std::vector<std::string>{"server: \"https://10.0.0.1:6443\"", "uid: \"6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\""}));
}

}  // namespace
}  // namespace minicd::pipeline
