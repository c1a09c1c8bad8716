#include "minicd/model/credential_json.hpp"

#include <fmt/format.h>

#include <string>

#include "minicd/model/json_read.hpp"
#include "minicd/util/text.hpp"

namespace minicd::model {

namespace {

using util::ErrorCode;

// nlohmann's description of a JSON syntax error, reduced to fixed words. Only the part before
// "; last read: '...'" is looked at, so the quoted bytes (a secret, here) cannot steer the choice.
std::string_view json_mistake(std::string_view what) {
    what = what.substr(0, what.find("; last read:"));
    struct Mistake {
        std::string_view marker;  // a fragment of nlohmann's message; the first one found wins
        std::string_view says;
    };
    static constexpr Mistake k_mistakes[] = {
        {"control character", "a string holds a raw control character such as a line break; it must be escaped"},
        {"ill-formed UTF-8", "a string holds bytes that are not UTF-8"},
        {"missing closing quote", "a string has no closing quote"},
        {"invalid string", "a string holds an invalid escape sequence"},
        {"unexpected end of input", "the text ends before the JSON value does"},
        {"expected end of input", "more text follows the JSON value"},
        {"number overflow", "a number is too large"},
        {"invalid number", "a number is malformed"},
        {"invalid literal", "a bare word that is not true, false or null (text needs quotes)"},
    };
    for (const auto& mistake : k_mistakes) {
        if (what.find(mistake.marker) != std::string_view::npos) return mistake.says;
    }
    return "syntax error";
}

// Reads JSON only to find its first syntax error, where it is and what kind. nlohmann reports every
// error here, number overflow included, which Json::parse would throw as out_of_range: no exception.
class SyntaxCheck final : public nlohmann::json_sax<Json> {
public:
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    // `last_token` is the content around the error: deliberately unused.
    bool parse_error(std::size_t position, const std::string& /*last_token*/, const Json::exception& error) override {
        m_offset = position > 0 ? position - 1 : 0;
        m_mistake = json_mistake(error.what());
        return false;
    }

    std::size_t offset() const { return m_offset; }  // 0-based, of the byte where reading failed
    std::string_view mistake() const { return m_mistake; }

private:
    std::size_t m_offset = 0;
    std::string_view m_mistake = "syntax error";  // points into json_mistake's table
};

}  // namespace

Result<Json> parse_credential_json(std::string_view text) {
    // A first pass finds syntax errors without exceptions and without keeping any of the text.
    SyntaxCheck check;
    if (!Json::sax_parse(text, &check)) {
        const util::TextPosition at = util::position_at(text, check.offset());
        return fail(ErrorCode::input, fmt::format("line {}, column {}: {}", at.line, at.column, check.mistake()));
    }
    // The text passed the check; what is left to refuse is nesting deeper than minicd reads.
    auto document = read_json(text);
    if (!document) return fail(ErrorCode::input, document.error().message);
    return document;
}

}  // namespace minicd::model
