#include "minicd/source/yaml_scalar.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include <fmt/format.h>

namespace minicd::source {

namespace {

using Kind = ScalarValue::Kind;

constexpr std::string_view k_core_tag_prefix = "tag:yaml.org,2002:";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

ScalarValue make_null() { return ScalarValue{.kind = Kind::null}; }
ScalarValue make_string() { return ScalarValue{.kind = Kind::string}; }
ScalarValue make_bool(bool value) { return ScalarValue{.kind = Kind::boolean, .boolean = value}; }
ScalarValue make_int(std::int64_t value) { return ScalarValue{.kind = Kind::integer, .integer = value}; }
ScalarValue make_uint(std::uint64_t value) {
    return ScalarValue{.kind = Kind::unsigned_integer, .unsigned_integer = value};
}
ScalarValue make_float(double value) { return ScalarValue{.kind = Kind::floating, .floating = value}; }

// go-yaml v2's resolve table: the only texts whose meaning comes from a lookup.
bool lookup_table(std::string_view text, ScalarValue& out) {
    struct Entry {
        std::string_view text;
        ScalarValue value;
    };
    constexpr double inf = std::numeric_limits<double>::infinity();
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    static const std::array<Entry, 39> k_table = {{
        {"y", make_bool(true)},        {"Y", make_bool(true)},        {"yes", make_bool(true)},
        {"Yes", make_bool(true)},      {"YES", make_bool(true)},      {"true", make_bool(true)},
        {"True", make_bool(true)},     {"TRUE", make_bool(true)},     {"on", make_bool(true)},
        {"On", make_bool(true)},       {"ON", make_bool(true)},       {"n", make_bool(false)},
        {"N", make_bool(false)},       {"no", make_bool(false)},      {"No", make_bool(false)},
        {"NO", make_bool(false)},      {"false", make_bool(false)},   {"False", make_bool(false)},
        {"FALSE", make_bool(false)},   {"off", make_bool(false)},     {"Off", make_bool(false)},
        {"OFF", make_bool(false)},     {"", make_null()},             {"~", make_null()},
        {"null", make_null()},         {"Null", make_null()},         {"NULL", make_null()},
        {".nan", make_float(nan)},     {".NaN", make_float(nan)},     {".NAN", make_float(nan)},
        {".inf", make_float(inf)},     {".Inf", make_float(inf)},     {".INF", make_float(inf)},
        {"+.inf", make_float(inf)},    {"+.Inf", make_float(inf)},    {"+.INF", make_float(inf)},
        {"-.inf", make_float(-inf)},   {"-.Inf", make_float(-inf)},   {"-.INF", make_float(-inf)},
    }};
    if (text.size() > 5) {
        return false;
    }
    for (const Entry& entry : k_table) {
        if (entry.text == text) {
            out = entry.value;
            return true;
        }
    }
    return false;
}

// strconv.ParseUint(s, 0, 64) of Go 1.13+: 0x/0o/0b prefixes (either case), a bare leading 0 is octal.
bool go_parse_uint(std::string_view s, std::uint64_t& out) {
    if (s.empty()) {
        return false;
    }
    unsigned base = 10;
    if (s[0] == '0') {
        const char prefix = s.size() >= 3 ? static_cast<char>(s[1] | 0x20) : '\0';
        if (prefix == 'b' || prefix == 'o' || prefix == 'x') {
            base = prefix == 'b' ? 2 : prefix == 'o' ? 8 : 16;
            s.remove_prefix(2);
        } else {
            base = 8;
            s.remove_prefix(1);
        }
    }
    std::uint64_t value = 0;
    for (const char c : s) {
        unsigned digit = 0;
        if (is_digit(c)) {
            digit = static_cast<unsigned>(c - '0');
        } else if (const char lower = static_cast<char>(c | 0x20); lower >= 'a' && lower <= 'z') {
            digit = static_cast<unsigned>(lower - 'a') + 10;
        } else {
            return false;
        }
        if (digit >= base) {
            return false;
        }
        if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / base) {
            return false;
        }
        value = value * base + digit;
    }
    out = value;
    return true;
}

// strconv.ParseInt(s, 0, 64): an optional sign, then ParseUint's syntax, within int64.
bool go_parse_int(std::string_view s, std::int64_t& out) {
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    std::uint64_t magnitude = 0;
    if (!go_parse_uint(s, magnitude)) {
        return false;
    }
    constexpr std::uint64_t k_limit = std::uint64_t{1} << 63;
    if (negative) {
        if (magnitude > k_limit) {
            return false;
        }
        out = magnitude == k_limit ? std::numeric_limits<std::int64_t>::min()
                                   : -static_cast<std::int64_t>(magnitude);
    } else {
        if (magnitude >= k_limit) {
            return false;
        }
        out = static_cast<std::int64_t>(magnitude);
    }
    return true;
}

// go-yaml v2's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool is_yaml_style_float(std::string_view s) {
    std::size_t i = 0;
    const auto digits = [&] {
        const std::size_t start = i;
        while (i < s.size() && is_digit(s[i])) {
            ++i;
        }
        return i - start;
    };
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        ++i;
    }
    if (i < s.size() && s[i] == '.') {
        ++i;
        if (digits() == 0) {
            return false;
        }
    } else {
        if (digits() == 0) {
            return false;
        }
        if (i < s.size() && s[i] == '.') {
            ++i;
            digits();
        }
    }
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
            ++i;
        }
        if (digits() == 0) {
            return false;
        }
    }
    return i == s.size();
}

// The decimal exponent of the leading significant digit of a float literal; only its sign is
// used, to tell an overflow (Go: error) from an underflow (Go: zero) when from_chars gives up.
long leading_exponent(std::string_view s) {
    long exponent = 0;
    if (const std::size_t e = s.find_first_of("eE"); e != std::string_view::npos) {
        std::string_view digits = s.substr(e + 1);
        const bool negative = !digits.empty() && digits[0] == '-';
        if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
            digits.remove_prefix(1);
        }
        long value = 0;
        for (const char c : digits) {
            value = std::min(value * 10 + (c - '0'), 100000L);
        }
        exponent = negative ? -value : value;
        s = s.substr(0, e);
    }
    const std::size_t dot = s.find('.');
    const std::string_view integer_part = s.substr(0, dot);
    if (const std::size_t first = integer_part.find_first_not_of('0'); first != std::string_view::npos) {
        return exponent + static_cast<long>(integer_part.size() - first) - 1;
    }
    if (dot == std::string_view::npos) {
        return exponent - 1;
    }
    const std::string_view fraction = s.substr(dot + 1);
    const std::size_t first = fraction.find_first_not_of('0');
    return exponent - static_cast<long>(first == std::string_view::npos ? fraction.size() : first) - 1;
}

// strconv.ParseFloat(s, 64) for text that already matched a decimal float syntax.
bool go_parse_float(std::string_view s, double& out) {
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    double value = 0.0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc::result_out_of_range) {
        if (leading_exponent(s) > 0) {
            return false;
        }
        value = 0.0;
    } else if (ec != std::errc() || end != s.data() + s.size()) {
        return false;
    }
    out = negative ? -value : value;
    return true;
}

// A float written as ".5", ".5e3" (the '.' branch of go-yaml, which keeps Go's digit separators).
bool parse_dot_float(std::string_view text, double& out) {
    std::string plain;
    plain.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '_') {
            if (i == 0 || i + 1 == text.size() || !is_digit(text[i - 1]) || !is_digit(text[i + 1])) {
                return false;
            }
            continue;
        }
        plain.push_back(text[i]);
    }
    if (plain.size() < 2 || plain[0] != '.' || !is_yaml_style_float(plain)) {
        return false;
    }
    return go_parse_float(plain, out);
}

// Numbers (and everything else) starting with a digit or a sign.
ScalarValue resolve_number(std::string_view text) {
    std::string plain;
    plain.reserve(text.size());
    for (const char c : text) {
        if (c != '_') {
            plain.push_back(c);
        }
    }
    if (std::int64_t value = 0; go_parse_int(plain, value)) {
        return make_int(value);
    }
    if (std::uint64_t value = 0; go_parse_uint(plain, value)) {
        return make_uint(value);
    }
    if (double value = 0.0; is_yaml_style_float(plain) && go_parse_float(plain, value)) {
        return make_float(value);
    }
    return make_string();
}

// go-yaml v2 `resolve` for an untagged plain scalar, keyed on its first byte as v2 does.
ScalarValue resolve_implicit(std::string_view text) {
    if (text.empty()) {
        return make_null();
    }
    const char first = text[0];
    const bool number_like = is_digit(first) || first == '+' || first == '-';
    if (!number_like && first != '.' && std::string_view("yYnNtTfFoO~").find(first) == std::string_view::npos) {
        return make_string();
    }
    if (ScalarValue value; lookup_table(text, value)) {
        return value;
    }
    if (number_like) {
        return resolve_number(text);
    }
    if (first == '.') {
        if (double value = 0.0; parse_dot_float(text, value)) {
            return make_float(value);
        }
    }
    return make_string();
}

std::string_view kind_tag(Kind kind) {
    switch (kind) {
        case Kind::null: return "!!null";
        case Kind::boolean: return "!!bool";
        case Kind::integer:
        case Kind::unsigned_integer: return "!!int";
        case Kind::floating: return "!!float";
        case Kind::string: return "!!str";
    }
    return "!!str";
}

}  // namespace

ScalarTag classify_tag(std::string_view tag) {
    if (!tag.starts_with(k_core_tag_prefix)) {
        return ScalarTag::other;
    }
    const std::string_view name = tag.substr(k_core_tag_prefix.size());
    if (name == "str") return ScalarTag::str;
    if (name == "bool") return ScalarTag::boolean;
    if (name == "int") return ScalarTag::integer;
    if (name == "float") return ScalarTag::floating;
    if (name == "null") return ScalarTag::null;
    if (name == "timestamp") return ScalarTag::timestamp;
    if (name == "binary") return ScalarTag::binary;
    if (name == "merge") return ScalarTag::merge;
    return ScalarTag::other;
}

tl::expected<ScalarValue, std::string> resolve_scalar(std::string_view text, ScalarTag tag) {
    switch (tag) {
        case ScalarTag::implicit:
            return resolve_implicit(text);
        case ScalarTag::str:
        case ScalarTag::merge:
        case ScalarTag::other:
        // Timestamps decode to their original text when the target is untyped (go-yaml v2 decode.go).
        case ScalarTag::timestamp:
            return make_string();
        case ScalarTag::binary:
            return tl::unexpected(
                std::string("!!binary values are not supported (write the base64 text without the tag)"));
        case ScalarTag::boolean:
        case ScalarTag::integer:
        case ScalarTag::floating:
        case ScalarTag::null:
            break;
    }
    ScalarValue value = resolve_implicit(text);
    const bool matches = (tag == ScalarTag::boolean && value.kind == Kind::boolean) ||
                         (tag == ScalarTag::integer &&
                          (value.kind == Kind::integer || value.kind == Kind::unsigned_integer)) ||
                         (tag == ScalarTag::floating && value.kind == Kind::floating) ||
                         (tag == ScalarTag::null && value.kind == Kind::null);
    if (matches) {
        return value;
    }
    // go-yaml widens a signed integer to !!float, but not one that only fits in uint64.
    if (tag == ScalarTag::floating && value.kind == Kind::integer) {
        return make_float(static_cast<double>(value.integer));
    }
    const std::string_view wanted = tag == ScalarTag::boolean   ? "!!bool"
                                    : tag == ScalarTag::integer ? "!!int"
                                    : tag == ScalarTag::null    ? "!!null"
                                                                : "!!float";
    return tl::unexpected(fmt::format("cannot decode {} `{}` as a {}", kind_tag(value.kind), text, wanted));
}

tl::expected<std::string, std::string> scalar_key(const ScalarValue& value, std::string_view text) {
    switch (value.kind) {
        case Kind::string: return std::string(text);
        case Kind::boolean: return std::string(value.boolean ? "true" : "false");
        case Kind::integer: return std::to_string(value.integer);
        case Kind::floating: return format_float32_key(value.floating);
        case Kind::unsigned_integer:
            return tl::unexpected(fmt::format("unsupported map key {} (beyond int64)", text));
        case Kind::null:
            return tl::unexpected(fmt::format("unsupported map key null (`{}`)", text));
    }
    return std::string(text);
}

std::string format_float32_key(double value) {
    if (std::isnan(value)) {
        return ".nan";
    }
    const float narrow = static_cast<float>(value);
    if (std::isinf(narrow)) {
        return narrow > 0 ? ".inf" : "-.inf";
    }
    std::string out = std::signbit(narrow) ? "-" : "";
    if (narrow == 0.0f) {
        return out + "0";
    }
    // Shortest round-trip digits of the float32, then Go's %g layout of them.
    std::array<char, 64> buffer{};
    const auto result =
        std::to_chars(buffer.data(), buffer.data() + buffer.size(), std::fabs(narrow), std::chars_format::scientific);
    const std::string_view scientific(buffer.data(), static_cast<std::size_t>(result.ptr - buffer.data()));
    const std::size_t e = scientific.find('e');
    std::string digits;
    for (const char c : scientific.substr(0, e)) {
        if (c != '.') {
            digits.push_back(c);
        }
    }
    int exponent = 0;
    const std::string_view exponent_text = scientific.substr(e + 1);
    std::from_chars(exponent_text.data() + (exponent_text[0] == '+' ? 1 : 0),
                    exponent_text.data() + exponent_text.size(), exponent);
    const int count = static_cast<int>(digits.size());
    if (exponent < -4 || exponent >= 6) {
        out += digits[0];
        if (count > 1) {
            out += '.';
            out.append(digits, 1);
        }
        return out + fmt::format("e{}{:02}", exponent < 0 ? '-' : '+', std::abs(exponent));
    }
    const int point = exponent + 1;  // digits before the decimal point
    if (point <= 0) {
        return out + "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
    }
    if (point >= count) {
        return out + digits + std::string(static_cast<std::size_t>(point - count), '0');
    }
    const auto split = static_cast<std::size_t>(point);
    return out + digits.substr(0, split) + "." + digits.substr(split);
}

}  // namespace minicd::source
