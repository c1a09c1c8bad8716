#include "minicd/util/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace minicd::util {

namespace {
std::atomic<LogLevel> g_level{LogLevel::info};
std::mutex g_write_mutex;
}  // namespace

void set_log_level(LogLevel level) { g_level.store(level); }

LogLevel log_level() { return g_level.load(); }

void log_line(LogLevel level, std::string_view text) {
    if (level < log_level()) return;
    std::string_view prefix;
    switch (level) {
    case LogLevel::warn: prefix = "warning: "; break;
    case LogLevel::error: prefix = "error: "; break;
    default: break;
    }
    // One write per line so lines from parallel workers never interleave.
    std::lock_guard lock(g_write_mutex);
    fmt::print(stderr, "{}{}\n", prefix, text);
}

}  // namespace minicd::util
