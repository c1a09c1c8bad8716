#include "minicd/util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace minicd::util {

namespace {

constexpr std::string_view k_ellipsis = "...";
// A UTF-8 sequence is a lead byte and at most three continuation bytes.
constexpr std::size_t k_max_continuation_bytes = 3;

// 10xxxxxx: the byte belongs to the sequence started before it.
bool is_continuation(char byte) { return (static_cast<unsigned char>(byte) & 0xC0U) == 0x80U; }

}  // namespace

std::string trim(std::string_view text) {
    const auto* space = " \t\r\n\f\v";
    auto begin = text.find_first_not_of(space);
    if (begin == std::string_view::npos) return {};
    auto end = text.find_last_not_of(space);
    return std::string(text.substr(begin, end - begin + 1));
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(ErrorCode::io, fmt::format("cannot read: {}", std::strerror(errno)), path);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return fail(ErrorCode::io, "read failed", path);
    return text.str();
}

TextPosition position_at(std::string_view text, std::size_t offset) {
    TextPosition position;
    const std::size_t end = std::min(offset, text.size());
    for (std::size_t i = 0; i < end; ++i) {
        if (text[i] == '\n') {
            ++position.line;
            position.column = 1;
        } else if (!is_continuation(text[i])) {
            ++position.column;
        }
    }
    return position;
}

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        if (lead < 0x80U) {
            ++i;
            continue;
        }
        // The sequence's length, the bits its lead byte carries, and the least code point that needs it.
        std::size_t length = 0;
        char32_t code = 0;
        char32_t least = 0;
        if ((lead & 0xE0U) == 0xC0U) {
            length = 2;
            code = lead & 0x1FU;
            least = 0x80;
        } else if ((lead & 0xF0U) == 0xE0U) {
            length = 3;
            code = lead & 0x0FU;
            least = 0x800;
        } else if ((lead & 0xF8U) == 0xF0U) {
            length = 4;
            code = lead & 0x07U;
            least = 0x10000;
        } else {
            return i;
        }
        if (text.size() - i < length) return i;
        for (std::size_t k = 1; k < length; ++k) {
            if (!is_continuation(text[i + k])) return i;
            code = (code << 6U) | (static_cast<unsigned char>(text[i + k]) & 0x3FU);
        }
        if (code < least || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
        i += length;
    }
    return std::nullopt;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return text;
    // text[cut] is the first byte left out; while it continues a sequence, that sequence began
    // inside the prefix and has to go as well.
    std::size_t cut = max_bytes;
    for (std::size_t back = 0; back < k_max_continuation_bytes && cut > 0 && is_continuation(text[cut]); ++back) {
        --cut;
    }
    // Still inside a sequence after three steps: not UTF-8, so no boundary to look for.
    if (is_continuation(text[cut])) return text.substr(0, max_bytes);
    return text.substr(0, cut);
}

std::string_view utf8_suffix(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return text;
    // text[start] is the first byte kept; while it continues a sequence, that sequence began in the
    // part left out and has to go too.
    std::size_t start = text.size() - max_bytes;
    for (std::size_t ahead = 0; ahead < k_max_continuation_bytes && start < text.size() && is_continuation(text[start]);
         ++ahead) {
        ++start;
    }
    if (start < text.size() && is_continuation(text[start])) return text.substr(text.size() - max_bytes);
    return text.substr(start);
}

std::string shorten_utf8(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return std::string(text);
    if (max_bytes <= k_ellipsis.size()) return std::string(utf8_prefix(text, max_bytes));
    std::string out(utf8_prefix(text, max_bytes - k_ellipsis.size()));
    out += k_ellipsis;
    return out;
}

}  // namespace minicd::util
