#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace minicd::util {

// Stopping cleanly when the CI job is cancelled (SIGTERM) or the user presses Ctrl-C (SIGINT).
//
// install_interrupt_handling() blocks both signals in the calling thread, which every thread started
// later inherits, and starts one thread that waits for them. On the first one it runs the registered
// cleanups (see InterruptCleanup), newest first, each for at most k_interrupt_cleanup_limit and all
// of them within k_interrupt_total_limit, printing "minicd: interrupted (SIGTERM): <line>" to stderr
// for each (what it did, or that it was given up on), then exits with 128 + the signal (143, 130).
// A second signal while cleaning up exits at once. Without the call (unit tests) nothing waits for
// signals, and registering a cleanup only records it.
constexpr std::chrono::seconds k_interrupt_cleanup_limit{4};
constexpr std::chrono::seconds k_interrupt_total_limit{10};

// Call first thing in main, before any thread is started; later calls do nothing.
void install_interrupt_handling();

// True once SIGTERM or SIGINT arrived and the cleanups started; they end the process.
bool interrupted();

// Returns at once unless a signal is being handled; then blocks until the handler ends the process,
// so that a main() finishing meanwhile (its step failed because a cleanup stopped it) does not exit
// with its own status, or run static destructors, before the cleanups are done.
void wait_if_interrupted();

// One cleanup registered for as long as this object lives, e.g. "release the deploy lock" while it
// is held. `cleanup` runs at most once, only if a signal arrives while it is registered, on a thread
// of the signal's cleanup run or on the thread deregistering it (below); it returns the line to
// print ("released the deploy lock ..."), or "" to print nothing.
//
// Concurrency: registrations live in one registry under one mutex. The signal's cleanup run claims
// the newest unclaimed entry, marks it running and calls a copy of its function on a thread of its
// own, outside the mutex, then claims the next; a claimed entry never runs again, and one registered
// during the run is claimed too. Deregistering (the destructor, dismiss()):
// - waits while the entry's cleanup is running, so once it returns the cleanup has ended and never
//   runs again: whatever it uses may be destroyed. The cleanup must therefore never wait for the
//   thread that owns this object.
// - during a run, when the run has not claimed the entry yet, takes the entry out and runs its
//   cleanup right there, on the owner's thread, before returning: the owner is about to go on
//   without it (remove a directory, release a lock) and the process exits once the run is done,
//   so the work is done now, and its line printed. The run ends only after such cleanups return.
class InterruptCleanup {
public:
    InterruptCleanup() = default;  // registers nothing
    // `what` says what the cleanup does, for the lines it cannot print itself: a verb phrase such as
    // "release the deploy lock L in namespace N" ("gave up trying to <what> after 4000 ms").
    InterruptCleanup(std::string what, std::function<std::string()> cleanup);
    ~InterruptCleanup() { dismiss(); }
    InterruptCleanup(InterruptCleanup&& other) noexcept : m_id(other.m_id) { other.m_id = 0; }
    InterruptCleanup& operator=(InterruptCleanup&& other) noexcept;
    InterruptCleanup(const InterruptCleanup&) = delete;
    InterruptCleanup& operator=(const InterruptCleanup&) = delete;

    // Deregisters now (see above: may wait for, or run, the cleanup); then the object registers nothing.
    void dismiss();

private:
    std::uint64_t m_id = 0;  // the registry's key; 0 = nothing registered (default, moved from, dismissed)
};

namespace detail {
// What the signal thread does before exiting, without a signal and without exiting, for unit tests:
// claims and runs the cleanups not yet claimed, newest first, each for at most `each`, all within
// `total`, and hands each line (without the "minicd: interrupted" prefix) to on_line as it comes,
// from one thread at a time; returns once none is left and no owner is running one it took over.
void run_interrupt_cleanups(std::chrono::milliseconds each, std::chrono::milliseconds total,
                            const std::function<void(const std::string&)>& on_line);
}  // namespace detail

}  // namespace minicd::util
