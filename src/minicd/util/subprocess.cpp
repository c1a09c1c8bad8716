#include "minicd/util/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fmt/format.h>
#include <mutex>
#include <optional>

#include "minicd/util/interrupt.hpp"

extern char** environ;

namespace minicd::util {

namespace {

using Clock = std::chrono::steady_clock;

// Owns a file descriptor; closes it once.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : m_fd(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        reset(other.release());
        return *this;
    }
    ~Fd() { reset(); }

    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }
    int release() {
        int fd = m_fd;
        m_fd = -1;
        return fd;
    }
    void reset(int fd = -1) {
        if (m_fd >= 0) ::close(m_fd);
        m_fd = fd;
    }

private:
    int m_fd = -1;
};

struct Pipe {
    Fd read;
    Fd write;
};

Result<Pipe> make_pipe() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        return fail(ErrorCode::io, fmt::format("pipe: {}", std::strerror(errno)));
    }
    return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// The child's environment: what its kind inherits of ours, minus removals, with the spec's own set.
std::vector<std::string> build_environment(const SubprocessSpec& spec) {
    std::vector<std::string> result;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        std::string_view item(*entry);
        std::string_view name = item.substr(0, item.find('='));
        if (!child_inherits(spec.inherit, name, spec.env_keep)) continue;
        if (spec.env.contains(std::string(name))) continue;
        if (std::find(spec.env_remove.begin(), spec.env_remove.end(), name) != spec.env_remove.end()) continue;
        result.emplace_back(item);
    }
    for (const auto& [name, value] : spec.env) result.push_back(name + "=" + value);
    return result;
}

std::vector<char*> as_c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (auto& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
}

void ignore_sigpipe_once() {
    // A child that exits without reading its stdin must not kill us with SIGPIPE.
    static std::once_flag once;
    std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// After the child exited, pipes still open are held by what it left behind; one that moved to a
// session of its own (setsid) is out of reach of any signal to the group and may hold them for good.
// They are read this much longer, then closed.
constexpr std::chrono::milliseconds k_output_linger{2000};
// Reads per drain() call: a child that writes as fast as we read must not keep us from the deadline.
constexpr int k_reads_per_drain = 16;

// Appends what can be read now (at most k_reads_per_drain buffers); returns false at end of stream
// or on a hard error.
bool drain(int fd, std::string& sink, std::size_t limit, bool& truncated,
           const std::function<void(std::string_view)>& on_chunk) {
    std::array<char, 65536> buffer{};
    for (int reads = 0; reads < k_reads_per_drain; ++reads) {
        ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n > 0) {
            if (on_chunk) on_chunk(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            std::size_t room = sink.size() < limit ? limit - sink.size() : 0;
            std::size_t take = std::min(room, static_cast<std::size_t>(n));
            sink.append(buffer.data(), take);
            if (take < static_cast<std::size_t>(n)) truncated = true;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        return false;
    }
    return true;  // more may be waiting; poll() says so again
}

// True once `pid` has exited; WNOWAIT leaves it a zombie for waitpid(), so its id (the group's)
// is not reused while signals may still go to the group.
bool has_exited(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

std::string last_lines(const std::string& text, std::size_t count) {
    std::size_t end = text.size();
    while (end > 0 && text[end - 1] == '\n') --end;
    std::size_t begin = end;
    for (std::size_t lines = 0; begin > 0; --begin) {
        if (text[begin - 1] == '\n' && ++lines == count) break;
    }
    return text.substr(begin, end - begin);
}

// Ends a process group the way a timeout does: SIGTERM first, SIGKILL once the grace is over.
class GroupStop {
public:
    GroupStop(pid_t group, std::chrono::milliseconds grace) : m_group(group), m_grace(grace) {}

    void terminate(Clock::time_point now) {
        ::kill(-m_group, SIGTERM);
        m_kill_at = now + m_grace;
        m_kill_pending = true;
    }
    // Sends SIGKILL once it is due; true when it did.
    bool escalate(Clock::time_point now) {
        if (!m_kill_pending || now < m_kill_at) return false;
        ::kill(-m_group, SIGKILL);
        m_kill_pending = false;
        return true;
    }
    bool kill_pending() const { return m_kill_pending; }
    Clock::time_point kill_at() const { return m_kill_at; }

private:
    pid_t m_group;
    std::chrono::milliseconds m_grace;
    bool m_kill_pending = false;
    Clock::time_point m_kill_at{};
};

// Enforces the deadline on a process group: SIGTERM when it passes, SIGKILL once the grace is over.
class Deadline {
public:
    Deadline(pid_t group, const SubprocessSpec& spec, Clock::time_point started)
        : m_stop(group, spec.kill_grace), m_limited(spec.timeout.count() > 0), m_deadline(started + spec.timeout) {}

    // Sends whatever signal is due now; returns true once the deadline has passed.
    bool enforce(Clock::time_point now) {
        if (m_limited && !m_expired && now >= m_deadline) {
            m_expired = true;
            m_stop.terminate(now);
        }
        m_stop.escalate(now);
        return m_expired;
    }

    // True while a signal may still have to be sent, so waiting must not block.
    bool pending() const { return (m_limited && !m_expired) || m_stop.kill_pending(); }

    // True once the deadline passed and the group got its SIGKILL: nothing left to wait for.
    bool killed() const { return m_expired && !m_stop.kill_pending(); }

    // Milliseconds until the next thing to do, at most `cap`.
    int wait_ms(Clock::time_point now, int cap) const {
        if (!m_limited || m_expired) return cap;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(m_deadline - now).count();
        return static_cast<int>(std::clamp<long long>(left, 0, cap));
    }

private:
    GroupStop m_stop;
    bool m_limited;
    Clock::time_point m_deadline;
    bool m_expired = false;
};

// Whether run_subprocess has reaped the child, for the interrupt cleanup that may be stopping it
// on the signal thread meanwhile.
struct Reaping {
    std::mutex mutex;
    std::condition_variable done;
    bool reaped = false;  // set right after waitpid() returned the child; the group may be gone
};

// On SIGTERM/SIGINT to minicd: stops the child's process group as a timeout would, and waits for
// run_subprocess to reap it; SIGKILL after the grace (kept short: the whole cleanup is bounded).
InterruptCleanup stop_on_interrupt(const std::string& program, pid_t group, std::chrono::milliseconds grace,
                                   Reaping& reaping) {
    constexpr std::chrono::milliseconds k_longest_grace{2000};
    grace = std::min(grace, k_longest_grace);
    return InterruptCleanup(fmt::format("stop {} (process group {})", program, group), [=, &reaping] {
        // Under the mutex, so no signal goes to the group once run_subprocess has said it reaped the
        // child (the id could in theory be reused afterwards).
        std::unique_lock lock(reaping.mutex);
        if (reaping.reaped) return std::string();
        GroupStop stop(group, grace);
        stop.terminate(Clock::now());
        if (reaping.done.wait_until(lock, stop.kill_at(), [&] { return reaping.reaped; })) {
            return fmt::format("stopped {} (process group {})", program, group);
        }
        stop.escalate(stop.kill_at());
        return fmt::format("killed {} (process group {}) with SIGKILL: SIGTERM did not stop it within {} ms", program,
                           group, grace.count());
    });
}

}  // namespace

std::string SubprocessResult::outcome() const {
    if (timed_out) return fmt::format("timed out after {} ms", elapsed.count());
    if (signal != 0) return fmt::format("killed by signal {} ({})", signal, ::strsignal(signal));
    return fmt::format("exited with status {}", exit_code);
}

Result<SubprocessResult> run_subprocess(const SubprocessSpec& spec) {
    if (spec.argv.empty() || spec.argv.front().empty()) {
        return fail(ErrorCode::internal, "run_subprocess: empty argv");
    }
    ignore_sigpipe_once();
    const std::string& program = spec.argv.front();

    auto in = make_pipe();
    auto out = make_pipe();
    auto err = make_pipe();
    if (!in) return fail(in.error());
    if (!out) return fail(out.error());
    if (!err) return fail(err.error());

    std::vector<std::string> argv_storage = spec.argv;
    std::vector<std::string> env_storage = build_environment(spec);
    std::vector<char*> argv = as_c_strings(argv_storage);
    std::vector<char*> envp = as_c_strings(env_storage);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in->read.get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out->write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err->write.get(), STDERR_FILENO);
    if (spec.working_dir) posix_spawn_file_actions_addchdir_np(&actions, spec.working_dir->c_str());

    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    // Own process group, so a timeout also ends the grandchildren the program started.
    posix_spawnattr_setpgroup(&attributes, 0);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    // Nothing blocked: minicd's threads block SIGTERM and SIGINT (see interrupt.hpp), and a child
    // inheriting that would outlive its timeout's SIGTERM.
    sigset_t unblocked;
    sigemptyset(&unblocked);
    posix_spawnattr_setsigmask(&attributes, &unblocked);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    const auto started = Clock::now();
    pid_t pid = -1;
    int spawn_error = program.find('/') == std::string::npos
                          ? ::posix_spawnp(&pid, program.c_str(), &actions, &attributes, argv.data(), envp.data())
                          : ::posix_spawn(&pid, program.c_str(), &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (spawn_error != 0) {
        return fail(ErrorCode::subprocess, fmt::format("cannot start: {}", std::strerror(spawn_error)), program);
    }

    // Declared before `interrupt`, whose deregistration waits for a running cleanup that uses it.
    Reaping reaping;
    InterruptCleanup interrupt = stop_on_interrupt(program, pid, spec.kill_grace, reaping);

    // Close the child's ends here so end-of-stream arrives when the child exits.
    in->read.reset();
    out->write.reset();
    err->write.reset();
    Fd stdin_fd = std::move(in->write);
    Fd stdout_fd = std::move(out->read);
    Fd stderr_fd = std::move(err->read);
    set_nonblocking(stdin_fd.get());
    set_nonblocking(stdout_fd.get());
    set_nonblocking(stderr_fd.get());
    if (spec.stdin_data.empty()) stdin_fd.reset();

    SubprocessResult result;
    std::size_t stdin_written = 0;
    Deadline deadline(pid, spec, started);
    std::function<void(std::string_view)> on_stdout, on_stderr;
    if (spec.on_output) {
        on_stdout = [&spec](std::string_view chunk) { spec.on_output(OutputStream::out, chunk); };
        on_stderr = [&spec](std::string_view chunk) { spec.on_output(OutputStream::err, chunk); };
    }

    std::optional<Clock::time_point> exited_at;
    while (stdout_fd.valid() || stderr_fd.valid()) {
        auto now = Clock::now();
        result.timed_out = deadline.enforce(now);
        if (!exited_at && has_exited(pid)) exited_at = now;
        // Past the SIGKILL, or a while after the child itself exited: what still holds the pipes is
        // something it left behind, maybe in a session of its own that no signal to the group reaches.
        // What was written so far is read; then the pipes are closed rather than waited on.
        if (deadline.killed() || (exited_at && now - *exited_at >= k_output_linger)) {
            if (stdout_fd.valid()) drain(stdout_fd.get(), result.out, spec.max_output_bytes, result.output_truncated, on_stdout);
            if (stderr_fd.valid()) drain(stderr_fd.get(), result.err, spec.max_output_bytes, result.output_truncated, on_stderr);
            stdout_fd.reset();
            stderr_fd.reset();
            break;
        }
        std::array<pollfd, 3> fds{};
        nfds_t count = 0;
        auto watch = [&](const Fd& fd, short events) {
            if (fd.valid()) fds[count++] = pollfd{fd.get(), events, 0};
        };
        watch(stdout_fd, POLLIN);
        watch(stderr_fd, POLLIN);
        watch(stdin_fd, POLLOUT);

        int wait_ms = deadline.wait_ms(now, 200);
        int ready = ::poll(fds.data(), count, wait_ms);
        if (ready < 0 && errno != EINTR) break;

        for (nfds_t i = 0; i < count; ++i) {
            if (fds[i].revents == 0) continue;
            int fd = fds[i].fd;
            if (fd == stdin_fd.get()) {
                ssize_t n = ::write(fd, spec.stdin_data.data() + stdin_written, spec.stdin_data.size() - stdin_written);
                if (n > 0) stdin_written += static_cast<std::size_t>(n);
                if ((n < 0 && errno != EAGAIN && errno != EINTR) || stdin_written == spec.stdin_data.size()) {
                    stdin_fd.reset();
                }
            } else if (fd == stdout_fd.get()) {
                if (!drain(fd, result.out, spec.max_output_bytes, result.output_truncated, on_stdout)) stdout_fd.reset();
            } else if (fd == stderr_fd.get()) {
                if (!drain(fd, result.err, spec.max_output_bytes, result.output_truncated, on_stderr)) stderr_fd.reset();
            }
        }
    }
    stdin_fd.reset();

    // Output is closed; the child may still linger (it closed its streams). Respect the deadline here too.
    int status = 0;
    for (;;) {
        // Block when no signal can be due; otherwise poll so the deadline and the grace period are kept.
        bool pending = deadline.pending();
        pid_t done = ::waitpid(pid, &status, pending ? WNOHANG : 0);
        if (done == pid) break;
        if (done < 0 && errno != EINTR) break;
        result.timed_out = deadline.enforce(Clock::now());
        if (pending) ::usleep(2000);
    }
    {
        std::lock_guard lock(reaping.mutex);
        reaping.reaped = true;
    }
    reaping.done.notify_all();
    interrupt.dismiss();
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    }
    return result;
}

void LineSplitter::feed(OutputStream stream, std::string_view chunk) {
    // A line that never ends (progress bars) is handed over in pieces rather than held forever.
    constexpr std::size_t k_longest_line = 16384;
    std::string& pending = m_pending[stream == OutputStream::out ? 0 : 1];
    while (!chunk.empty()) {
        std::size_t newline = chunk.find('\n');
        if (newline == std::string_view::npos) {
            pending.append(chunk);
            if (pending.size() >= k_longest_line) {
                m_on_line(stream, pending);
                pending.clear();
            }
            return;
        }
        if (pending.empty()) {
            m_on_line(stream, chunk.substr(0, newline));
        } else {
            pending.append(chunk.substr(0, newline));
            m_on_line(stream, pending);
            pending.clear();
        }
        chunk.remove_prefix(newline + 1);
    }
}

void LineSplitter::flush() {
    for (OutputStream stream : {OutputStream::out, OutputStream::err}) {
        std::string& pending = m_pending[stream == OutputStream::out ? 0 : 1];
        if (!pending.empty()) m_on_line(stream, pending);
        pending.clear();
    }
}

Result<SubprocessResult> run_checked(const SubprocessSpec& spec) {
    auto result = run_subprocess(spec);
    if (!result) return result;
    if (result->succeeded()) return result;
    std::string message = result->outcome();
    std::string tail = last_lines(result->err, 5);
    if (!tail.empty()) message += ": " + tail;
    return fail(ErrorCode::subprocess, std::move(message), spec.argv.front());
}

}  // namespace minicd::util
