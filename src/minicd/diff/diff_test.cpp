#include "minicd/diff/diff.hpp"

#include <gtest/gtest.h>

namespace minicd::diff {
namespace {

using model::Json;

std::vector<std::string> lines(const Json& before, const Json& after) {
    std::vector<std::string> out;
    for (const auto& change : compare(before, after)) out.push_back(describe(change));
    return out;
}

TEST(Diff, IdenticalObjectsHaveNoChanges) {
    Json a = Json::parse(R"({"kind": "ConfigMap", "data": {"a": "1"}})");
    EXPECT_TRUE(compare(a, a).empty());
}

TEST(Diff, ServerOwnedFieldsAreIgnored) {
    Json a = Json::parse(R"({"kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "1", "uid": "x",
        "generation": 1, "creationTimestamp": "t", "managedFields": []}, "status": {"x": 1}})");
    Json b = Json::parse(R"({"kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "2", "uid": "y",
        "generation": 2, "creationTimestamp": "u", "managedFields": [{}]}, "status": {"x": 2}})");
    EXPECT_TRUE(compare(a, b).empty());
}

TEST(Diff, ScalarChangeNamesThePathAndBothValues) {
    Json a = Json::parse(R"({"spec": {"replicas": 2}})");
    Json b = Json::parse(R"({"spec": {"replicas": 3}})");
    EXPECT_EQ(lines(a, b), std::vector<std::string>{"spec.replicas: 2 -> 3"});
}

TEST(Diff, NamedListItemsAreMatchedByNameNotPosition) {
    Json a = Json::parse(R"({"spec": {"containers": [{"name": "web", "image": "web:1"}]}})");
    Json b = Json::parse(R"({"spec": {"containers": [{"name": "init", "image": "busybox"}, {"name": "web", "image": "web:2"}]}})");
    EXPECT_EQ(lines(a, b), (std::vector<std::string>{R"(spec.containers[name=web].image: "web:1" -> "web:2")",
                                                     R"(spec.containers[name=init]: added {"image":"busybox","name":"init"})"}));
}

TEST(Diff, UnnamedListItemsAreComparedByPosition) {
    Json a = Json::parse(R"({"rules": [{"host": "a"}, {"host": "b"}]})");
    Json b = Json::parse(R"({"rules": [{"host": "a"}, {"host": "c"}, {"host": "d"}]})");
    EXPECT_EQ(lines(a, b), (std::vector<std::string>{R"(rules[1].host: "b" -> "c")", R"(rules[2]: added {"host":"d"})"}));
}

TEST(Diff, ListOfScalarsIsShownWhole) {
    Json a = Json::parse(R"({"args": ["--a", "--b"]})");
    Json b = Json::parse(R"({"args": ["--a", "--c"]})");
    EXPECT_EQ(lines(a, b), std::vector<std::string>{R"(args: ["--a","--b"] -> ["--a","--c"])"});
}

TEST(Diff, KeysWithDotsAreQuoted) {
    Json a = Json::parse(R"({"metadata": {"labels": {"app.kubernetes.io/name": "a"}}})");
    Json b = Json::parse(R"({"metadata": {"labels": {}}})");
    EXPECT_EQ(lines(a, b), std::vector<std::string>{R"(metadata.labels["app.kubernetes.io/name"]: removed (was "a"))"});
}

TEST(Diff, CreationListsEveryTopLevelField) {
    Json b = Json::parse(R"({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}})");
    EXPECT_EQ(compare(nullptr, b).size(), 3u);
}

TEST(Diff, SecretValuesAreNeverShown) {
    Json a = Json::parse(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"czNjcjN0\"}}"}},
        "data": {"password": "czNjcjN0", "old": "b2xk"}, "stringData": {"token": "hunter2"}})");
    Json b = Json::parse(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"bmV3\"}}"}},
        "data": {"password": "bmV3", ".dockerconfigjson": "e30="}, "stringData": {"token": "hunter3"}})");
    auto text = lines(a, b);
    ASSERT_EQ(text.size(), 5u);
    for (const auto& line : text) {
        EXPECT_EQ(line.find("czNjcjN0"), std::string::npos) << line;
        EXPECT_EQ(line.find("bmV3"), std::string::npos) << line;
        EXPECT_EQ(line.find("hunter"), std::string::npos) << line;
        EXPECT_EQ(line.find("e30="), std::string::npos) << line;
        EXPECT_NE(line.find("(hidden)"), std::string::npos) << line;
    }
    EXPECT_EQ(text[0], "data.old: removed (was (hidden))");
    EXPECT_EQ(text[1], "data.password: (hidden) -> (hidden)");
    EXPECT_EQ(text[2], R"(data[".dockerconfigjson"]: added (hidden))");
}

TEST(Diff, WholeSecretCreatedOrDeletedStaysHidden) {
    Json secret = Json::parse(R"({"apiVersion": "v1", "kind": "Secret", "data": {"password": "czNjcjN0"}})");
    for (const auto& line : lines(nullptr, secret)) EXPECT_EQ(line.find("czNjcjN0"), std::string::npos) << line;
    EXPECT_EQ(lines(nullptr, secret)[1], R"x(data: added {"password":"(hidden)"})x");
    for (const auto& line : lines(secret, nullptr)) EXPECT_EQ(line.find("czNjcjN0"), std::string::npos) << line;
}

TEST(Diff, LongValuesAreCut) {
    Json a = Json::parse(R"({"v": "a"})");
    Json b = {{"v", std::string(500, 'x')}};
    auto changes = compare(a, b);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].after.size(), 120u);
    EXPECT_TRUE(changes[0].after.ends_with("..."));
}

TEST(Diff, LongValuesAreCutBetweenCharactersSoJsonOutputStaysValid) {
    std::string long_text;
    for (int i = 0; i < 100; ++i) long_text += "\u00e9";  // two bytes each in UTF-8
    Json before = {{"data", {{"k", "a"}}}};
    Json after = {{"data", {{"k", "a" + long_text}}}};
    auto changes = compare(before, after);
    ASSERT_EQ(changes.size(), 1U);
    EXPECT_TRUE(changes[0].after.ends_with("..."));
    EXPECT_NO_THROW((void)Json(changes[0].after).dump()) << "a split character makes dump() throw";
}

}  // namespace
}  // namespace minicd::diff
