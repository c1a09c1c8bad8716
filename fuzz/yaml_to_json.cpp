// Feeds bytes to source::parse_yaml as the text of a manifest file (a YAML stream or a JSON one).
// Checks that recording positions changes nothing else, that errors are input errors about the
// file, and that a document read as an array or object reads back the same from its JSON text.

#include "fuzz_support.hpp"
#include "minicd/source/yaml.hpp"

namespace {

using minicd::fuzz::require;
using minicd::source::parse_yaml;

constexpr std::string_view k_file = "fuzz.yaml";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = minicd::fuzz::as_text(data, size);
    auto plain = parse_yaml(text, k_file);
    auto positioned = parse_yaml(text, k_file, {.record_positions = true});
    require(plain.has_value() == positioned.has_value(), "recording positions does not change success");
    if (!plain) {
        require(plain.error().code == minicd::util::ErrorCode::input, "a parse error is an input error");
        require(plain.error().subject.starts_with(k_file), "a parse error names the file");
        require(plain.error().describe() == positioned.error().describe(), "both readings fail the same way");
        return 0;
    }
    require(plain->size() == positioned->size(), "recording positions keeps the documents");
    for (std::size_t i = 0; i < plain->size(); ++i) {
        const auto& document = (*plain)[i];
        require(document.value == (*positioned)[i].value, "recording positions keeps the values");
        require(document.line == (*positioned)[i].line, "recording positions keeps the lines");
        if (!document.value.is_object() && !document.value.is_array()) continue;
        // JSON is YAML: the value's own text is a one-document stream of the same value.
        auto again = parse_yaml(document.value.dump(), k_file);
        require(again.has_value(), "a document's JSON text parses");
        require(again->size() == 1, "a document's JSON text is one document");
        require(again->front().value == document.value, "a document's JSON text reads back the same");
    }
    return 0;
}
