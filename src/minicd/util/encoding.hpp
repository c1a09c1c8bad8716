#pragma once

#include <string>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::util {

// Standard base64 (RFC 4648 section 4) with padding.
std::string base64_encode(std::string_view bytes);

// Accepts padded or unpadded standard base64; anything else is an input error.
Result<std::string> base64_decode(std::string_view text);

// Every byte but RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) as %XX: for query values
// such as label selectors and continue tokens.
std::string percent_encode(std::string_view text);

// Lowercase hex SHA-256 of the bytes, as registries print digests (without "sha256:").
std::string sha256_hex(std::string_view bytes);

}  // namespace minicd::util
