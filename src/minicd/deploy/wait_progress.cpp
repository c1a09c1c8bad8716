#include "minicd/deploy/wait_progress.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "minicd/util/log.hpp"
#include "minicd/util/text.hpp"

namespace minicd::deploy {

namespace {

constexpr std::size_t k_named = 5;             // objects a log line names before "and N more"
constexpr std::size_t k_default_width = 80;    // when the terminal does not say
constexpr const char* k_erase = "\r\033[K";  // to the line's start, then erase it

long whole_seconds(std::chrono::milliseconds elapsed) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count());
}

std::string why(const ObjectHealth& object) {
    return object.health.message.empty() ? object.health.reason : object.health.message;
}

std::size_t stderr_width() {
    winsize size{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
    return k_default_width;
}

}  // namespace

ProgressStyle stderr_progress_style() {
    const char* ci = std::getenv("CI");
    const bool in_ci = ci != nullptr && std::strcmp(ci, "true") == 0;
    return ::isatty(STDERR_FILENO) == 1 && !in_ci ? ProgressStyle::terminal : ProgressStyle::log;
}

std::string terminal_progress(const WaitProgress& progress) {
    std::string line = fmt::format("{}/{} ready after {}s", progress.ready, progress.total, whole_seconds(progress.elapsed));
    if (progress.not_ready.empty()) return line;
    const ObjectHealth& slowest = progress.not_ready.front();
    return line + fmt::format("; slowest: {}: {}", slowest.id.describe(), why(slowest));
}

std::string log_progress(const WaitProgress& progress) {
    std::string line =
        fmt::format("still waiting after {}s: {}/{} ready", whole_seconds(progress.elapsed), progress.ready, progress.total);
    for (std::size_t i = 0; i < progress.not_ready.size() && i < k_named; ++i) {
        const ObjectHealth& object = progress.not_ready[i];
        line += fmt::format("{}{}: {}", i == 0 ? "; not ready: " : "; ", object.id.describe(), why(object));
    }
    if (progress.not_ready.size() > k_named) line += fmt::format("; and {} more", progress.not_ready.size() - k_named);
    return line;
}

WaitReporter::WaitReporter(ProgressStyle style, Write write, std::size_t width)
    : m_style(style), m_write(std::move(write)), m_width(width) {}

WaitReporter WaitReporter::on_stderr() {
    const ProgressStyle style = stderr_progress_style();
    Write write = [style](std::string_view text) {
        // Quiet runs show no progress; a log line goes through the log (one writer at a time).
        if (util::log_level() > util::LogLevel::info) return;
        if (style == ProgressStyle::log) {
            util::log_line(util::LogLevel::info, text);
            return;
        }
        std::fwrite(text.data(), 1, text.size(), stderr);
        std::fflush(stderr);
    };
    return WaitReporter(style, std::move(write), style == ProgressStyle::terminal ? stderr_width() : k_default_width);
}

WaitReporter::~WaitReporter() { finish(); }

void WaitReporter::update(const WaitProgress& progress) {
    if (!m_write || progress.elapsed < k_quiet_start) return;
    if (m_style == ProgressStyle::log) {
        if (progress.elapsed < m_next_log) return;
        m_write(log_progress(progress));
        while (m_next_log <= progress.elapsed) m_next_log += k_log_interval;
        return;
    }
    const std::string line = util::shorten_utf8(terminal_progress(progress), m_width > 1 ? m_width - 1 : m_width);
    if (line == m_shown) return;
    m_write(k_erase + line);
    m_shown = line;
}

void WaitReporter::finish() {
    if (!m_write || m_shown.empty()) return;
    m_write(k_erase);
    m_shown.clear();
}

}  // namespace minicd::deploy
