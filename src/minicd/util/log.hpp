#pragma once

#include <fmt/core.h>

#include <string_view>

namespace minicd::util {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

// Messages below this level are dropped. Default: info.
void set_log_level(LogLevel level);
LogLevel log_level();

// Writes one line to stderr, prefixed with the level for warnings and errors; thread-safe.
void log_line(LogLevel level, std::string_view text);

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
    if (level < log_level()) return;
    log_line(level, fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
void log_debug(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::debug, format, std::forward<Args>(args)...);
}

template <typename... Args>
void log_info(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::info, format, std::forward<Args>(args)...);
}

template <typename... Args>
void log_warn(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::warn, format, std::forward<Args>(args)...);
}

template <typename... Args>
void log_error(fmt::format_string<Args...> format, Args&&... args) {
    log(LogLevel::error, format, std::forward<Args>(args)...);
}

}  // namespace minicd::util
