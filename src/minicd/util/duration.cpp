#include "minicd/util/duration.hpp"

#include <cctype>
#include <string>

namespace minicd::util {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    auto bad = [&] {
        return fail(ErrorCode::usage, "invalid duration \"" + std::string(text) + "\" (examples: 90s, 5m, 1h30m, 7d)");
    };
    if (text.empty()) return bad();
    bool all_digits = std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
    if (all_digits) return std::chrono::milliseconds(std::stoll(std::string(text)) * 1000);
    long long total_ms = 0;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t start = i;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
        if (i == start || i - start > 9) return bad();
        long long value = std::stoll(std::string(text.substr(start, i - start)));
        std::size_t unit_start = i;
        while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
        std::string_view unit = text.substr(unit_start, i - unit_start);
        if (unit == "ms") total_ms += value;
        else if (unit == "s") total_ms += value * 1000;
        else if (unit == "m") total_ms += value * 60'000;
        else if (unit == "h") total_ms += value * 3'600'000;
        else if (unit == "d") total_ms += value * 86'400'000;
        else return bad();
    }
    return std::chrono::milliseconds(total_ms);
}

}  // namespace minicd::util
