#pragma once

#include <cstddef>
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

// Lowercase hex HMAC-SHA256 (RFC 2104) of the bytes under `key`: a digest only the key's holders can
// compute or check, so guesses at the bytes cannot be tested against it. An internal error only if
// OpenSSL fails.
Result<std::string> hmac_sha256_hex(std::string_view key, std::string_view bytes);

// `count` bytes from the operating system's cryptographic random number generator (through
// OpenSSL), for keys and salts; an internal error when it cannot deliver.
Result<std::string> random_bytes(std::size_t count);

}  // namespace minicd::util
