#pragma once

#include <string>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::util {

// The text without leading and trailing whitespace.
std::string trim(std::string_view text);

// The whole file as bytes; an io error naming the path otherwise.
Result<std::string> read_file(const std::string& path);

}  // namespace minicd::util
