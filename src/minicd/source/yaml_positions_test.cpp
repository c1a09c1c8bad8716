#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "minicd/source/yaml.hpp"

namespace minicd::source {
namespace {

constexpr std::string_view k_file = "minicd.yaml";

YamlDocument parse_one(std::string_view text) {
    auto documents = parse_yaml(text, k_file, {.record_positions = true});
    EXPECT_TRUE(documents) << documents.error().describe();
    if (!documents || documents->size() != 1) {
        ADD_FAILURE() << "expected one document";
        return {};
    }
    return std::move(documents->front());
}

// "line:column" of the key and of the value, or "missing".
std::string where(const YamlDocument& document, const std::string& pointer) {
    const auto found = document.positions.find(pointer);
    if (found == document.positions.end()) {
        return "missing";
    }
    const NodePosition& position = found->second;
    return std::to_string(position.key.line) + ":" + std::to_string(position.key.column) + " " +
           std::to_string(position.value.line) + ":" + std::to_string(position.value.column);
}

TEST(YamlPositions, AreNotRecordedUnlessAsked) {
    auto documents = parse_yaml("a: 1\n", k_file);
    ASSERT_TRUE(documents);
    EXPECT_TRUE(documents->front().positions.empty());
}

TEST(YamlPositions, NameKeyAndValueOfEveryMember) {
    const auto document = parse_one(
        "app: shop\n"
        "environments:\n"
        "  preview:\n"
        "    on: {branch: \"!main\"}\n"
        "    namespace:   shop-{branch}\n");
    EXPECT_EQ(where(document, ""), "1:1 1:1");
    EXPECT_EQ(where(document, "/app"), "1:1 1:6");
    EXPECT_EQ(where(document, "/environments"), "2:1 3:3");
    EXPECT_EQ(where(document, "/environments/preview"), "3:3 4:5");
    // YAML 1.1 reads a plain `on` key as true; the pointer follows the converted key.
    EXPECT_EQ(where(document, "/environments/preview/true"), "4:5 4:9");
    EXPECT_EQ(where(document, "/environments/preview/true/branch"), "4:10 4:18");
    EXPECT_EQ(where(document, "/environments/preview/namespace"), "5:5 5:18");
}

TEST(YamlPositions, SequenceItemsAreNumbered) {
    const auto document = parse_one(
        "images:\n"
        "  - name: shop\n"
        "    context: .\n"
        "  - name: worker\n"
        "tags: [a, b]\n");
    EXPECT_EQ(where(document, "/images/0"), "2:5 2:5");
    EXPECT_EQ(where(document, "/images/0/context"), "3:5 3:14");
    EXPECT_EQ(where(document, "/images/1/name"), "4:5 4:11");
    EXPECT_EQ(where(document, "/tags/1"), "5:11 5:11");
}

TEST(YamlPositions, PointerTokensAreEscaped) {
    const auto document = parse_one("a/b:\n  c~d: 1\n");
    EXPECT_EQ(where(document, "/a~1b/c~0d"), "2:3 2:8");
}

TEST(YamlPositions, LinesCountFromTheStartOfTheFileAcrossDocuments) {
    auto documents = parse_yaml("a: 1\n---\n# comment\nb:\n  - x\n", k_file, {.record_positions = true});
    ASSERT_TRUE(documents);
    ASSERT_EQ(documents->size(), 2u);
    EXPECT_EQ(where((*documents)[1], "/b/0"), "5:5 5:5");
}

TEST(YamlPositions, AliasIsListedButNotWhatItCopies) {
    const auto document = parse_one(
        "base: &base\n"
        "  x: 1\n"
        "copy: *base\n"
        "merged:\n"
        "  <<: *base\n"
        "  other: 2\n");
    EXPECT_EQ(where(document, "/copy"), "3:1 3:7");
    EXPECT_EQ(where(document, "/copy/x"), "missing");
    EXPECT_EQ(where(document, "/merged/x"), "missing");
    EXPECT_EQ(where(document, "/merged/other"), "6:3 6:10");
    EXPECT_EQ(where(document, "/merged/<<"), "missing");
}

TEST(YamlPositions, InlineMergeMapListsItsKeysInTheHolder) {
    const auto document = parse_one(
        "m:\n"
        "  <<: {x: 1}\n"
        "  <<: [{z: 3}]\n"
        "  other: 2\n");
    EXPECT_EQ(where(document, "/m/x"), "2:8 2:11");
    EXPECT_EQ(where(document, "/m/z"), "missing");
    EXPECT_EQ(where(document, "/m/0"), "missing");
    EXPECT_EQ(where(document, "/m/other"), "4:3 4:10");
}

TEST(YamlPositions, JsonStreamListsOnlyItsRoots) {
    auto documents = parse_yaml("\n{\"a\": {\"b\": 1}}\n", k_file, {.record_positions = true});
    ASSERT_TRUE(documents);
    EXPECT_EQ(where(documents->front(), ""), "2:1 2:1");
    EXPECT_EQ(where(documents->front(), "/a"), "missing");
}

TEST(YamlPositions, ValuesAreTheSameWithOrWithoutPositions) {
    constexpr std::string_view k_text = "a: &x [1, {b: yes}]\nc: *x\nd:\n  <<: {e: 0755}\n";
    auto plain = parse_yaml(k_text, k_file);
    auto recorded = parse_yaml(k_text, k_file, {.record_positions = true});
    ASSERT_TRUE(plain);
    ASSERT_TRUE(recorded);
    EXPECT_EQ(plain->front().value, recorded->front().value);
}

}  // namespace
}  // namespace minicd::source
