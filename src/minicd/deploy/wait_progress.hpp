#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "minicd/deploy/wait.hpp"

// What a wait says while it waits, in one place for every wait_for_health: nothing in its first
// two seconds, then on a terminal one line rewritten as things change, in a CI log a line now and
// then naming everything still not ready. Only what is shown; the wait decides nothing here.
namespace minicd::deploy {

enum class ProgressStyle {
    terminal,  // stderr is a terminal: "\r" and erase-line rewrite one line; cleared at the end
    log,       // a CI log or a file: whole lines, at most one per k_log_interval
};

inline constexpr std::chrono::seconds k_quiet_start{2};    // a wait shorter than this shows nothing
inline constexpr std::chrono::seconds k_log_interval{10};  // between two lines in a log

// terminal when stderr is a terminal and $CI is not "true"; log otherwise.
ProgressStyle stderr_progress_style();

// "2/5 ready after 12s; slowest: deploy/web (apps/v1 Deployment) in ns shop: 0 of 1 replicas
// available": the terminal line, before it is cut to the terminal's width. The slowest object is
// the first not ready in the order waited for (they have all waited as long; that one was applied
// first).
std::string terminal_progress(const WaitProgress& progress);

// "still waiting after 20s: 2/5 ready; not ready: deploy/web (...): why; cm/late (...): not found";
// at most five objects are named, then "and N more".
std::string log_progress(const WaitProgress& progress);

class WaitReporter {
public:
    using Write = std::function<void(std::string_view)>;  // raw text, as it goes to the stream

    // `width`: the terminal's columns (a terminal line is cut to one less); unused for a log.
    WaitReporter(ProgressStyle style, Write write, std::size_t width);
    // On stderr, in the style stderr_progress_style() says, at the terminal's width.
    static WaitReporter on_stderr();
    ~WaitReporter();
    WaitReporter(const WaitReporter&) = delete;
    WaitReporter& operator=(const WaitReporter&) = delete;
    WaitReporter(WaitReporter&&) = delete;
    WaitReporter& operator=(WaitReporter&&) = delete;

    // The wait's state now; shown when the style says it is time.
    void update(const WaitProgress& progress);
    // The wait is over: a terminal line is erased (the caller reports the outcome).
    void finish();

private:
    ProgressStyle m_style;
    Write m_write;
    std::size_t m_width;
    std::string m_shown;  // the terminal line on screen; "" when none
    std::chrono::milliseconds m_next_log{k_quiet_start};
};

}  // namespace minicd::deploy
