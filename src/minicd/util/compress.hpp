#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::util {

// gzip (RFC 1952) of `bytes` at the default level.
std::string gzip(std::string_view bytes);

// The bytes of a gzip stream; an input error when it is damaged, truncated, followed by anything
// else, or would expand beyond `limit` bytes (a small stream may claim gigabytes).
Result<std::string> gunzip(std::string_view compressed, std::size_t limit);

}  // namespace minicd::util
