#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/child_env.hpp"
#include "minicd/util/result.hpp"

namespace minicd::util {

enum class OutputStream { out, err };

// One external program to run. No shell is involved: argv is passed as is.
struct SubprocessSpec {
    // Which of our variables the child inherits (see child_env.hpp); `everything` is for running
    // minicd itself or test tools, never for what minicd runs.
    Inherit inherit = Inherit::common;
    std::vector<std::string> argv;  // argv[0] is searched in PATH when it has no '/'
    // Variables set for the child, whatever `inherit` says (added, or replacing inherited ones).
    std::map<std::string, std::string> env;
    // Names inherited whatever the kind, unless withheld: a builder's bare build arguments.
    std::vector<std::string> env_keep;
    // Names removed from what would be inherited.
    std::vector<std::string> env_remove;
    std::optional<std::string> working_dir;  // nullopt: the current directory
    std::string stdin_data;                  // written to the child's stdin, then closed
    // Zero means no limit. On expiry the child's process group gets SIGTERM, then SIGKILL after kill_grace;
    // the run then ends at once, even when a process outside the group (one that called setsid) still
    // holds the output pipes: they are closed, not waited on. Once the child itself has exited, such
    // pipes are read for at most 2 s more, whatever the timeout.
    std::chrono::milliseconds timeout{0};
    std::chrono::milliseconds kill_grace{2000};
    // Output past this many bytes per stream is dropped (the child keeps running); guards memory.
    std::size_t max_output_bytes = std::size_t{64} << 20;
    // Called on the calling thread with every chunk read, as it arrives, whether or not it still
    // fits in the captured output; chunks are not aligned to lines.
    std::function<void(OutputStream, std::string_view)> on_output;
};

// Cuts streamed output into whole lines per stream (without the '\n'), for on_output users that
// print lines; flush() hands over what is left of unterminated lines.
class LineSplitter {
public:
    explicit LineSplitter(std::function<void(OutputStream, std::string_view)> on_line) : m_on_line(std::move(on_line)) {}
    void feed(OutputStream stream, std::string_view chunk);
    void flush();

private:
    std::function<void(OutputStream, std::string_view)> m_on_line;
    std::string m_pending[2];
};

struct SubprocessResult {
    int exit_code = -1;  // -1 when the child was ended by a signal
    int signal = 0;      // the signal that ended it, 0 if it exited
    bool timed_out = false;
    bool output_truncated = false;
    std::string out;
    std::string err;
    std::chrono::milliseconds elapsed{0};

    bool succeeded() const { return exit_code == 0 && !timed_out; }
    // "exited with status 3", "killed by signal 9", "timed out after 5000 ms".
    std::string outcome() const;
};

// Runs the program to completion and captures its output. The Result is an error only when the
// program could not be started; a non-zero exit is reported in SubprocessResult.
Result<SubprocessResult> run_subprocess(const SubprocessSpec& spec);

// Like run_subprocess, but a non-zero exit or a timeout is also an error, whose message
// carries the outcome and the last lines of stderr.
Result<SubprocessResult> run_checked(const SubprocessSpec& spec);

}  // namespace minicd::util
