#include "minicd/source/yaml.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>

namespace minicd::source {
namespace {

using model::Json;

constexpr std::string_view k_file = "test.yaml";

// One document in, one JSON value out. Expected values are compared through dump(), so
// 1000 and 1000.5 (an integer and a float) are told apart.
struct ConversionCase {
    std::string_view name;  // the behaviour, used as the test name
    std::string_view yaml;
    std::string_view json;
};

const ConversionCase k_conversions[] = {
    {"PlainYesIsTrueButQuotedYesIsString", "a: yes\nb: \"yes\"\nc: 'yes'\n", R"({"a":true,"b":"yes","c":"yes"})"},
    {"EveryYaml11TrueSpellingIsTrue", "v: [y, Y, yes, Yes, YES, true, True, TRUE, on, On, ON]",
     R"({"v":[true,true,true,true,true,true,true,true,true,true,true]})"},
    {"EveryYaml11FalseSpellingIsFalse", "v: [n, N, no, No, NO, false, False, FALSE, off, Off, OFF]",
     R"({"v":[false,false,false,false,false,false,false,false,false,false,false]})"},
    {"QuotedOnAndOffStayStrings", "a: 'on'\nb: \"off\"\nc: 'n'\n", R"({"a":"on","b":"off","c":"n"})"},
    {"OddlyCasedBooleansStayStrings", "v: [yEs, tRUE, oN, nO]", R"({"v":["yEs","tRUE","oN","nO"]})"},
    {"NullSpellingsAndEmptyValuesAreNull", "a: ~\nb: null\nc: Null\nd: NULL\ne:\n",
     R"({"a":null,"b":null,"c":null,"d":null,"e":null})"},
    {"QuotedNullStaysString", "a: \"null\"\nb: '~'\nc: ''\n", R"({"a":"null","b":"~","c":""})"},
    {"LeadingZeroIsOctal", "mode: 0755\n", R"({"mode":493})"},
    {"QuotedOctalStaysString", "mode: \"0755\"\n", R"({"mode":"0755"})"},
    // go-yaml v2 hands the text to Go's base-0 ParseInt, which has read 0o since Go 1.13.
    {"GoOctalPrefixIsOctal", "a: 0o17\nb: 0O17\n", R"({"a":15,"b":15})"},
    {"HexAndBinaryPrefixesAreIntegers", "v: [0x1F, 0X1f, 0b101, -0x1F, -0b101]", R"({"v":[31,31,5,-31,-5]})"},
    {"UnderscoresInNumbersAreIgnored", "v: [1_000, 0x_1F, 1__0, 1_0.5]", R"({"v":[1000,31,10,10.5]})"},
    {"SignedIntegers", "v: [-42, +42, -0, 0]", R"({"v":[-42,42,0,0]})"},
    {"Int64MaxIsAnInteger", "v: 9223372036854775807\n", R"({"v":9223372036854775807})"},
    {"Int64MinIsAnInteger", "v: -9223372036854775808\n", R"({"v":-9223372036854775808})"},
    {"BeyondInt64IsUnsigned", "v: 9223372036854775808\n", R"({"v":9223372036854775808})"},
    {"BeyondUint64IsFloat", "v: 18446744073709551616\n", R"({"v":1.8446744073709552e+19})"},
    {"BelowInt64MinIsWrittenWhole", "v: -9223372036854775809\n", R"({"v":-9223372036854775808})"},
    {"WholeFloatIsWrittenAsGoWritesIt", "v: [1e3, 2.0, 1.5e3, 1e19, 1e30]\n",
     R"({"v":[1000,2,1500,10000000000000000000,1e+30]})"},
    {"FractionalFloatStaysFloat", "v: [1.5, 1e-3]\n", R"({"v":[1.5,0.001]})"},
    {"FloatSpellings", "v: [1.5, .5, -.5, 1., 6.02e+23, 1e-400]", R"({"v":[1.5,0.5,-0.5,1,6.02e+23,0]})"},
    {"InvalidOctalDigitsFallBackToDecimalFloat", "v: 08\n", R"({"v":8})"},
    {"FloatTooLargeForDoubleStaysString", "v: 1e400\n", R"({"v":"1e400"})"},
    {"TimestampsStayStrings", "a: 2001-12-14\nb: 2001-12-14T21:59:43.10-05:00\nc: 1:20\n",
     R"({"a":"2001-12-14","b":"2001-12-14T21:59:43.10-05:00","c":"1:20"})"},
    {"NumberLookalikesStayStrings", "a: 1.2.3\nb: 0x\nc: 0b2\nd: 12abc\ne: 0o\nf: ._5\n",
     R"({"a":"1.2.3","b":"0x","c":"0b2","d":"12abc","e":"0o","f":"._5"})"},
    {"ExplicitCoreTagsAreRespected",
     "a: !!str 42\nb: !!int \"42\"\nc: !!float 1\nd: !!bool \"yes\"\ne: !!null ''\nf: !!str yes\n",
     R"({"a":"42","b":42,"c":1,"d":true,"e":null,"f":"yes"})"},
    {"UnknownAndNonSpecificTagsKeepTheText", "a: !custom 12\nb: ! yes\n", R"({"a":"12","b":"yes"})"},
    {"BlockScalarsAreStrings", "a: |\n  yes\nb: >-\n  0755\n  on\nc: |-\n  ~\n",
     R"({"a":"yes\n","b":"0755 on","c":"~"})"},
    {"PlainBooleanAndNumberKeysBecomeStrings", "on: a\nyes2: b\n1: c\n0x10: d\nfalse: e\n\"on\": f\n",
     R"({"1":"c","16":"d","false":"e","on":"f","true":"a","yes2":"b"})"},
    {"FloatKeysUseGoFloat32Formatting", "1.5: a\n1e3: b\n0.1: c\n1234567.0: d\n0.00001: e\n.inf: f\n-.inf: g\n",
     R"({"-.inf":"g",".inf":"f","0.1":"c","1.234567e+06":"d","1.5":"a","1000":"b","1e-05":"e"})"},
    {"AnchorsAndAliasesCopyValues", "base: &b {x: 1}\ncopy: *b\nlist: [&s text, *s]\n",
     R"({"base":{"x":1},"copy":{"x":1},"list":["text","text"]})"},
    {"AliasUsedAsKeyConvertsLikeAKey", "a: &k on\n*k : 1\n", R"({"a":true,"true":1})"},
    {"MergeKeyAddsMapAndLaterKeysOverride", "base: &b {a: 1, b: 2}\nchild:\n  <<: *b\n  b: 3\n",
     R"({"base":{"a":1,"b":2},"child":{"a":1,"b":3}})"},
    {"MergeSequenceLetsEarlierMapsWin", "one: &one {a: 1}\ntwo: &two {a: 2, b: 2}\nchild:\n  <<: [*one, *two]\n",
     R"({"child":{"a":1,"b":2},"one":{"a":1},"two":{"a":2,"b":2}})"},
    // go-yaml v2 applies << where it stands, so it overrides keys written before it.
    {"MergeOverridesKeysWrittenBeforeIt", "base: &b {a: 1}\nchild:\n  a: 0\n  <<: *b\n",
     R"({"base":{"a":1},"child":{"a":1}})"},
    {"QuotedMergeKeyIsAnOrdinaryKey", "\"<<\": x\n", R"({"<<":"x"})"},
    {"EmptyFlowCollections", "a: {}\nb: []\n", R"({"a":{},"b":[]})"},
    {"WindowsLineEndings", "a: yes\r\nb: \"x\"\r\n", R"({"a":true,"b":"x"})"},
    {"ByteOrderMarkIsSkipped", "\xEF\xBB\xBF" "a: 1\n", R"({"a":1})"},
};

void PrintTo(const ConversionCase& c, std::ostream* out) { *out << c.name; }

class YamlConversion : public testing::TestWithParam<ConversionCase> {};

TEST_P(YamlConversion, MatchesKubernetes) {
    const ConversionCase& c = GetParam();
    auto documents = parse_yaml(c.yaml, k_file);
    ASSERT_TRUE(documents) << documents.error().describe();
    ASSERT_EQ(documents->size(), 1u);
    EXPECT_EQ(documents->front().value.dump(), Json::parse(c.json).dump());
}

INSTANTIATE_TEST_SUITE_P(Yaml, YamlConversion, testing::ValuesIn(k_conversions),
                         [](const testing::TestParamInfo<ConversionCase>& info) {
                             return std::string(info.param.name);
                         });

// Input that Kubernetes cannot take: an input error naming "test.yaml:LINE" and the problem.
struct ErrorCase {
    std::string_view name;
    std::string_view yaml;
    int line;
    std::string_view message;  // a part of the expected message
};

const ErrorCase k_errors[] = {
    {"DuplicateKeyNamesKeyAndLine", "metadata:\n  name: a\n  labels: {}\n  name: b\n", 4, "duplicate key \"name\""},
    {"KeysResolvingToTheSameStringAreDuplicates", "on: 1\ntrue: 2\n", 2, "duplicate key \"true\""},
    {"DuplicateKeyAfterMergeIsStillAnError", "b: &b {x: 1}\nc:\n  <<: *b\n  k: 1\n  k: 2\n", 5,
     "duplicate key \"k\""},
    {"DuplicateKeyLineCountsFromTheWholeFile", "a: 1\n---\nb: 1\nb: 2\n", 4, "duplicate key \"b\""},
    {"InfinityHasNoJsonForm", "a: 1\nb: .inf\n", 2, ".inf"},
    {"NegativeInfinityHasNoJsonForm", "b: -.Inf\n", 1, "-.Inf"},
    {"NanHasNoJsonForm", "a: .NaN\n", 1, ".NaN"},
    {"AliasedInfinityHasNoJsonForm", "&i .inf: 1\nb: *i\n", 2, "*i"},
    {"BinaryTagIsRejected", "a: !!binary aGk=\n", 1, "!!binary"},
    {"TagThatDoesNotFitTheTextIsRejected", "a: !!int abc\n", 1, "cannot decode !!str `abc` as a !!int"},
    {"UnsignedOnlyIntegerIsNotAFloat", "a: !!float 9223372036854775808\n", 1, "as a !!float"},
    {"NullKeyIsRejected", "~: x\n", 1, "unsupported map key null"},
    {"KeyBeyondInt64IsRejected", "9223372036854775808: x\n", 1, "unsupported map key"},
    {"CollectionKeyIsRejected", "a: 1\n? [a]\n: 1\n", 2, "mapping keys must be scalars"},
    {"UnknownAliasIsRejected", "a: 1\nb: *nope\n", 2, "unknown anchor \"nope\""},
    {"AliasInsideItsOwnAnchorIsRejected", "a: &x [1, *x]\n", 1, "contains itself"},
    {"MergeOfAScalarIsRejected", "a:\n  <<: 1\n", 2, "map merge requires map or sequence of maps"},
    {"SeparatorFollowedByContentIsRejected", "a: 1\n--- b: 2\n", 2, "invalid document separator"},
    {"ContentAfterDocumentEndMarkerIsRejected", "a: 1\n...\nb: 2\n", 2, "without a --- line"},
    {"SyntaxErrorGivesTheParsersLine", "a: 1\nb: 2\nc: d: e\n", 3, "invalid YAML"},
    {"UnclosedFlowSequenceIsReportedWhereInputEnds", "a: 1\nb: [1, 2\nc: 3\n", 4, "invalid YAML"},
    // libfyaml 0.7.12 corrupts its heap on this input, so it is refused before parsing.
    {"TabAfterColonInsideExplicitKeyIsRefused", "a: 1\n? b: \t|\n  x\n", 2, "tab after ':'"},
    {"UnclosedQuoteGivesItsLine", "a: 1\n---\nb: \"open\nc: 2\n", 3, "invalid YAML"},
    // libfyaml places the end of such a text on a line after the last one.
    {"UnclosedFlowMappingAtAnEndWithoutNewlineIsOnTheLastLine", "a: 1\nn: {clusters", 2, "invalid YAML"},
    // libfyaml used to drop the byte and read the value as null.
    {"ByteThatIsNotUtf8IsRefused", "a: 1\nb: \x98\n", 2, "not UTF-8"},
    // libfyaml 0.7.12 loops for ever on this input, so it is refused before parsing.
    {"ByteThatIsNotUtf8InADirectiveIsRefused", "%- a\x98\n bb\n", 1, "not UTF-8"},
    {"OverlongUtf8IsRefused", "a: 1\n\n# \xC0\xAF\n", 3, "not UTF-8"},
    // libfyaml 0.7.12 returned bytes that were never in the text for this one.
    {"NulAfterABlockScalarIndicatorIsRefused", std::string_view("mode: >\0+0755\n", 14), 1, "control character 0x00"},
    {"ControlCharacterIsRefused", "a: 1\nb: x\x7F\n", 2, "control character 0x7F"},
};

void PrintTo(const ErrorCase& c, std::ostream* out) { *out << c.name; }

class YamlError : public testing::TestWithParam<ErrorCase> {};

TEST_P(YamlError, NamesFileAndLine) {
    const ErrorCase& c = GetParam();
    auto documents = parse_yaml(c.yaml, k_file);
    ASSERT_FALSE(documents) << "parsed as " << documents->front().value.dump();
    EXPECT_EQ(documents.error().code, util::ErrorCode::input);
    EXPECT_EQ(documents.error().subject, "test.yaml:" + std::to_string(c.line)) << documents.error().message;
    EXPECT_NE(documents.error().message.find(c.message), std::string::npos) << documents.error().message;
}

INSTANTIATE_TEST_SUITE_P(Yaml, YamlError, testing::ValuesIn(k_errors),
                         [](const testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

TEST(Yaml, SplitsAtDashLinesAndKeepsBlankDocumentsAsNull) {
    auto documents = parse_yaml("a: 1\n---\n\n---\n# only a comment\n---\n---\nb: 2\n", k_file);
    ASSERT_TRUE(documents) << documents.error().describe();
    ASSERT_EQ(documents->size(), 4u);
    EXPECT_EQ((*documents)[0].value, Json({{"a", 1}}));
    EXPECT_EQ((*documents)[0].line, 1);
    EXPECT_TRUE((*documents)[1].value.is_null());
    EXPECT_EQ((*documents)[1].line, 3);
    EXPECT_TRUE((*documents)[2].value.is_null());
    EXPECT_EQ((*documents)[2].line, 5);
    EXPECT_EQ((*documents)[3].value, Json({{"b", 2}}));
    EXPECT_EQ((*documents)[3].line, 8);
}

TEST(Yaml, DocumentLineIsItsFirstContentLine) {
    auto documents = parse_yaml("---\n# Deployment\n\nkind: X\n--- # next\nkind: Y\n", k_file);
    ASSERT_TRUE(documents) << documents.error().describe();
    ASSERT_EQ(documents->size(), 2u);
    EXPECT_EQ((*documents)[0].line, 4);
    EXPECT_EQ((*documents)[1].line, 6);
}

TEST(Yaml, ExplicitNullDocumentIsNull) {
    auto documents = parse_yaml("null\n---\n~\n", k_file);
    ASSERT_TRUE(documents) << documents.error().describe();
    ASSERT_EQ(documents->size(), 2u);
    EXPECT_TRUE((*documents)[0].value.is_null());
    EXPECT_TRUE((*documents)[1].value.is_null());
}

TEST(Yaml, DashLineEndsABlockScalarLikeKubectl) {
    auto documents = parse_yaml("a: |\n  text\n---\nb: 1\n", k_file);
    ASSERT_TRUE(documents) << documents.error().describe();
    ASSERT_EQ(documents->size(), 2u);
    EXPECT_EQ((*documents)[0].value, Json({{"a", "text\n"}}));
    EXPECT_EQ((*documents)[1].value, Json({{"b", 1}}));
}

TEST(Yaml, EmptyInputHasNoDocuments) {
    auto documents = parse_yaml("", k_file);
    ASSERT_TRUE(documents);
    EXPECT_TRUE(documents->empty());
}

TEST(Yaml, JsonStreamIsReadAsJsonValueAfterValue) {
    auto documents = parse_yaml("\n{\"a\": \"yes\", \"n\": 1e3, \"on\": 7}\n{\"b\":\n 2}[1]\nnull\n", k_file);
    ASSERT_TRUE(documents) << documents.error().describe();
    ASSERT_EQ(documents->size(), 4u);
    EXPECT_EQ((*documents)[0].value.dump(), R"({"a":"yes","n":1000,"on":7})");
    EXPECT_EQ((*documents)[0].line, 2);
    EXPECT_EQ((*documents)[1].value, Json({{"b", 2}}));
    EXPECT_EQ((*documents)[1].line, 3);
    EXPECT_EQ((*documents)[2].value, Json::array({1}));
    EXPECT_EQ((*documents)[2].line, 4);
    EXPECT_TRUE((*documents)[3].value.is_null());
    EXPECT_EQ((*documents)[3].line, 5);
}

TEST(Yaml, JsonDuplicateKeyNamesItsLine) {
    auto documents = parse_yaml("{\"a\": 1}\n{\"b\": {\"c\": 1,\n  \"c\": 2}}\n", k_file);
    ASSERT_FALSE(documents);
    EXPECT_EQ(documents.error().code, util::ErrorCode::input);
    EXPECT_EQ(documents.error().subject, "test.yaml:3");
    EXPECT_NE(documents.error().message.find("duplicate key \"c\""), std::string::npos);
}

TEST(Yaml, JsonSyntaxErrorNamesItsLine) {
    auto documents = parse_yaml("[\n1,\n2,\n]\n", k_file);
    ASSERT_FALSE(documents);
    EXPECT_EQ(documents.error().code, util::ErrorCode::input);
    EXPECT_EQ(documents.error().subject, "test.yaml:4");
}

TEST(Yaml, BillionLaughsIsRefused) {
    std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x]\n";
    std::string previous = "a";
    for (const char name : std::string_view("bcdefghi")) {
        yaml += std::string(1, name) + ": &" + name + " [";
        for (int i = 0; i < 9; ++i) {
            yaml += (i > 0 ? ", *" : "*") + previous;
        }
        yaml += "]\n";
        previous = std::string(1, name);
    }
    auto documents = parse_yaml(yaml, k_file);
    ASSERT_FALSE(documents);
    EXPECT_NE(documents.error().message.find("excessive aliasing"), std::string::npos);
}

// Recursive code (dump, copies, diff) walks what the parser builds: nesting is capped, with an
// error naming file and line, in YAML flow and block style, in JSON, and through aliases.
TEST(Yaml, NestingDeeperThanTheLimitIsAnErrorNamingFileAndLine) {
    const std::size_t deep = 100000;
    const std::string flow = "a: 1\nb: " + std::string(deep, '[') + std::string(deep, ']') + "\n";
    const std::string json = "\n" + std::string(deep, '[') + std::string(deep, ']');
    std::string block = "a: 1\n";
    for (int level = 0; level < 600; ++level) block += std::string(static_cast<std::size_t>(level) * 2, ' ') + "k:\n";
    for (const auto& [text, line] : {std::pair{flow, 2}, std::pair{json, 2}, std::pair{block, 514}}) {
        auto documents = parse_yaml(text, k_file);
        ASSERT_FALSE(documents) << "parsed";
        EXPECT_EQ(documents.error().code, util::ErrorCode::input);
        EXPECT_EQ(documents.error().subject, "test.yaml:" + std::to_string(line)) << documents.error().message;
        EXPECT_NE(documents.error().message.find("nesting deeper than 512 levels"), std::string::npos)
            << documents.error().message;
    }
}

TEST(Yaml, NestingUpToTheLimitIsRead) {
    const std::string flow = std::string(511, '[') + "1" + std::string(511, ']');
    for (const std::string& text : {"a: " + flow + "\n", "[" + flow + "]"}) {
        auto documents = parse_yaml(text, k_file);
        ASSERT_TRUE(documents) << documents.error().describe();
        EXPECT_EQ(documents->front().value.dump().size(), text.starts_with("a") ? 1029U : 1025U);
    }
}

TEST(Yaml, AliasesCannotNestAnAnchorDeeperThanTheLimit) {
    // Each alias stays within the limit where it is written, but *b places a 400-deep anchor 300 deep.
    const std::string deep_anchor = "a: &a " + std::string(400, '[') + std::string(400, ']') + "\n";
    auto documents = parse_yaml(deep_anchor + "b: " + std::string(300, '[') + "*a" + std::string(300, ']') + "\n", k_file);
    ASSERT_FALSE(documents);
    EXPECT_EQ(documents.error().subject, "test.yaml:2");
    EXPECT_NE(documents.error().message.find("nesting deeper than 512 levels (through alias *a)"), std::string::npos)
        << documents.error().message;
    // Anchors built of aliases carry their whole depth along.
    auto chained = parse_yaml(deep_anchor + "c: &c [[*a]]\nd: " + std::string(150, '[') + "*c" + std::string(150, ']') + "\n",
                              k_file);
    ASSERT_FALSE(chained);
    EXPECT_EQ(chained.error().subject, "test.yaml:3");
    EXPECT_TRUE(parse_yaml(deep_anchor + "b: " + std::string(100, '[') + "*a" + std::string(100, ']') + "\n", k_file));
}

TEST(Yaml, ParsesThousandsOfDocumentsInOnePass) {
    std::string yaml;
    for (int i = 0; i < 3000; ++i) {
        yaml += "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-" + std::to_string(i) +
                "\ndata:\n  a: \"1\"\n---\n";
    }
    auto documents = parse_yaml(yaml, k_file);
    ASSERT_TRUE(documents) << documents.error().describe();
    ASSERT_EQ(documents->size(), 3000u);
    EXPECT_EQ(documents->back().line, 2999 * 7 + 1);
    EXPECT_EQ(documents->back().value["metadata"]["name"], "cm-2999");
}

}  // namespace
}  // namespace minicd::source
