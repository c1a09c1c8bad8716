#include "minicd/model/json_read.hpp"

#include <gtest/gtest.h>

#include <string>

namespace minicd::model {
namespace {

// A live object in which every field has a type other than the API's.
const Json k_odd = Json::parse(R"({
    "kind": 7,
    "metadata": {"name": ["web"], "uid": {"id": 1}, "annotations": ["a", "b"], "labels": null,
                 "generation": "3", "resourceVersion": 12},
    "spec": {"replicas": 3.0, "paused": "true", "huge": 18446744073709551615, "holderIdentity": {"name": "x"}},
    "status": []
})");

TEST(JsonRead, WrongTypesReadAsAbsent) {
    EXPECT_EQ(string_at(k_odd, {"kind"}), "");
    EXPECT_EQ(string_at(k_odd, {"metadata", "name"}), "");
    EXPECT_EQ(string_at(k_odd, {"metadata", "uid"}), "");
    EXPECT_EQ(string_at(k_odd, {"metadata", "resourceVersion"}), "");
    EXPECT_EQ(string_at(k_odd, {"spec", "holderIdentity"}), "");
    EXPECT_EQ(string_at(k_odd, {"metadata", "annotations", "minicd.io/owner"}), "") << "annotations is a list";
    EXPECT_EQ(object_at(k_odd, {"metadata", "annotations"}), nullptr);
    EXPECT_EQ(array_at(k_odd, {"metadata", "labels"}), nullptr);
    EXPECT_FALSE(int_at(k_odd, {"metadata", "generation"}));
    EXPECT_FALSE(int_at(k_odd, {"spec", "huge"})) << "beyond int64";
    EXPECT_FALSE(bool_at(k_odd, {"spec", "paused"}));
    EXPECT_FALSE(has_elements_at(k_odd, {"status"}));
}

TEST(JsonRead, ReadsWhatIsThere) {
    const Json lease = Json::parse(R"({"metadata": {"uid": "u-1", "annotations": {"a": "b"}},
                                       "spec": {"holderIdentity": "runner", "leaseDurationSeconds": 15,
                                                "replicas": 3.0, "on": true, "list": [1]}})");
    EXPECT_EQ(string_at(lease, {"metadata", "uid"}), "u-1");
    EXPECT_EQ(string_at(lease, {"metadata", "annotations", "a"}), "b");
    EXPECT_EQ(int_at(lease, {"spec", "leaseDurationSeconds"}), 15);
    EXPECT_EQ(int_at(lease, {"spec", "replicas"}), 3) << "an integral float";
    EXPECT_TRUE(bool_at(lease, {"spec", "on"}));
    ASSERT_NE(object_at(lease, {"metadata"}), nullptr);
    ASSERT_NE(array_at(lease, {"spec", "list"}), nullptr);
    EXPECT_TRUE(has_elements_at(lease, {"spec", "list"}));
}

TEST(JsonRead, MemberKeepsNullButPathsDoNot) {
    const Json object = Json::parse(R"({"a": null, "b": {"c": null}})");
    ASSERT_NE(member(object, "a"), nullptr);
    EXPECT_TRUE(member(object, "a")->is_null());
    EXPECT_EQ(member(object, "z"), nullptr);
    EXPECT_EQ(member(Json::array({1}), "a"), nullptr);
    EXPECT_EQ(member(Json("text"), "a"), nullptr);
    EXPECT_EQ(find_path(object, {"a"}), nullptr);
    EXPECT_EQ(find_path(object, {"b", "c"}), nullptr);
    EXPECT_EQ(find_path(object, {"b", "c", "d"}), nullptr);
    EXPECT_EQ(&*find_path(object, {}), &object) << "the empty path is the value itself";
}

TEST(JsonRead, ReadersNeverThrowOnAnyShape) {
    const Json shapes[] = {Json(), Json(Json::value_t::discarded), Json(1), Json(-1.5), Json("s"), Json(true),
                           Json::array(), Json::object(), k_odd};
    for (const Json& shape : shapes) {
        EXPECT_NO_THROW({
            (void)string_at(shape, {"metadata", "annotations", "x"});
            (void)int_at(shape, {"spec", "replicas"});
            (void)bool_at(shape, {"spec"});
            (void)object_at(shape, {"metadata"});
            (void)array_at(shape, {"status"});
            (void)has_elements_at(shape, {"status"});
        }) << shape.dump();
    }
}

TEST(JsonDepth, CountsBracketsOutsideStrings) {
    EXPECT_EQ(json_depth("1"), 0U);
    EXPECT_EQ(json_depth("[]"), 1U);
    EXPECT_EQ(json_depth(R"({"a": [{"b": []}], "c": {}})"), 4U);
    EXPECT_EQ(json_depth(R"(["[[[[", "\"[[[", "\\"])"), 1U) << "brackets and escaped quotes inside strings";
    EXPECT_EQ(json_depth(std::string(100000, '['), 10), 11U) << "stops counting past the limit";
}

std::string nested(std::size_t depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }

TEST(ReadJson, RefusesNestingDeeperThanTheLimit) {
    auto deepest = read_json(nested(k_max_json_depth));
    ASSERT_TRUE(deepest) << deepest.error().message;
    EXPECT_EQ(deepest->dump().size(), 2 * k_max_json_depth + 1);

    for (std::size_t depth : {k_max_json_depth + 1, std::size_t{100000}}) {
        auto parsed = read_json(nested(depth));
        ASSERT_FALSE(parsed) << depth;
        EXPECT_EQ(parsed.error().code, util::ErrorCode::api);
        EXPECT_EQ(parsed.error().message, "nested deeper than 512 levels");
        EXPECT_TRUE(parse_json(nested(depth)).is_discarded());
    }
    // Objects count as much as arrays; unbalanced text too deep is refused before it is parsed.
    std::string objects;
    for (int i = 0; i < 600; ++i) objects += R"({"a":)";
    EXPECT_FALSE(read_json(objects));
}

TEST(ReadJson, NotJsonIsAnErrorNotAnException) {
    for (const char* text : {"", "{", "{\"a\":1}}", "nul", "1e400", "{\"a\":\"\xff\"}"}) {
        auto parsed = read_json(text);
        ASSERT_FALSE(parsed) << text;
        EXPECT_EQ(parsed.error().message, "not valid JSON");
        EXPECT_TRUE(parse_json(text).is_discarded());
    }
    EXPECT_EQ(parse_json(R"({"a": [1, 2]})")["a"][1], 2);
}

}  // namespace
}  // namespace minicd::model
