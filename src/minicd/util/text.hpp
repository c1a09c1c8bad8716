#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::util {

// The text without leading and trailing whitespace.
std::string trim(std::string_view text);

// The whole file as bytes; an io error naming the path otherwise.
Result<std::string> read_file(const std::string& path);

// A 1-based place in a text, for errors that point into a file without quoting it.
struct TextPosition {
    std::size_t line = 1;
    std::size_t column = 1;  // counted in characters (UTF-8 sequences), as editors count
};

// Where the byte at `offset` sits in `text`; an offset at or past the end is just after the last byte.
TextPosition position_at(std::string_view text, std::size_t offset);

// The offset of the first byte of `text` that does not begin a well-formed UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing past U+10FFFF); nullopt when all of it is UTF-8.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not split a UTF-8 sequence, so
// a cut value stays valid UTF-8 (nlohmann's dump() throws on a split one). Text that is not UTF-8 to
// begin with is cut at `max_bytes`.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

// The longest suffix of `text` of at most `max_bytes` bytes that does not start inside a UTF-8
// sequence: the tail of a long output, still valid UTF-8. Text that is not UTF-8 is cut at the size.
std::string_view utf8_suffix(std::string_view text, std::size_t max_bytes);

// `text` cut for display: unchanged when it fits in `max_bytes`, else its utf8_prefix followed by
// "...", the whole at most `max_bytes` bytes (below 4 there is no room for the dots: prefix only).
std::string shorten_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace minicd::util
