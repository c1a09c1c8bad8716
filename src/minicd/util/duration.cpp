#include "minicd/util/duration.hpp"

#include <fmt/format.h>

#include <cctype>
#include <optional>
#include <string>

namespace minicd::util {

namespace {

using Millis = std::chrono::milliseconds::rep;

constexpr Millis k_max_ms = k_max_duration.count();

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Milliseconds per unit; nullopt for a unit we do not know.
std::optional<Millis> unit_ms(std::string_view unit) {
    if (unit == "ms") return 1;
    if (unit == "s") return 1'000;
    if (unit == "m") return 60'000;
    if (unit == "h") return 3'600'000;
    if (unit == "d") return 86'400'000;
    return std::nullopt;
}

// The digits as a number, or nullopt once it passes `limit`: checked before each step, so a string
// of any length can neither overflow nor be mistaken for a small value.
std::optional<Millis> read_number(std::string_view digits, Millis limit) {
    Millis value = 0;
    for (char c : digits) {
        const Millis digit = c - '0';
        if (value > (limit - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    return value;
}

// `count` units added to `total`, or nullopt when the sum would pass k_max_ms. Dividing instead of
// multiplying keeps the check itself from overflowing.
std::optional<Millis> add_units(Millis total, Millis count, Millis per_unit) {
    const Millis room = k_max_ms - total;
    if (count > room / per_unit) return std::nullopt;
    return total + count * per_unit;
}

util::Error invalid(std::string_view text) {
    return make_error(ErrorCode::usage,
                      fmt::format("invalid duration \"{}\" (examples: 90s, 5m, 1h30m, 7d)", text));
}

util::Error out_of_range(std::string_view text) {
    return make_error(ErrorCode::usage,
                      fmt::format("duration \"{}\" is out of range: the maximum is {}d (about 100 years)", text,
                                  std::chrono::duration_cast<std::chrono::days>(k_max_duration).count()));
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) return fail(invalid(text));
    Millis total = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        const std::size_t number_start = i;
        while (i < text.size() && is_digit(text[i])) ++i;
        if (i == number_start) return fail(invalid(text));
        const std::string_view digits = text.substr(number_start, i - number_start);
        const std::size_t unit_start = i;
        while (i < text.size() && is_letter(text[i])) ++i;
        // A bare number is seconds, and only when it is all there is (kubectl's --timeout=42).
        const bool bare = unit_start == text.size() && number_start == 0;
        const auto per_unit = bare ? std::optional<Millis>(1'000) : unit_ms(text.substr(unit_start, i - unit_start));
        if (!per_unit) return fail(invalid(text));
        const auto count = read_number(digits, k_max_ms);
        if (!count) return fail(out_of_range(text));
        const auto sum = add_units(total, *count, *per_unit);
        if (!sum) return fail(out_of_range(text));
        total = *sum;
    }
    return std::chrono::milliseconds(total);
}

}  // namespace minicd::util
