#include "minicd/util/text.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace minicd::util {

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

}  // namespace minicd::util
