#include <cstdio>
#include <exception>
#include <span>

#include "minicd/cli/app.hpp"
#include "minicd/util/interrupt.hpp"

namespace {

int run(int argc, char** argv) {
    try {
        return minicd::cli::run(std::span<char*>(argv, static_cast<std::size_t>(argc)));
    } catch (const std::exception& error) {
        // Expected failures are values; reaching this is a bug, reported as such.
        std::fprintf(stderr, "minicd: internal error: %s\n", error.what());
        return minicd::cli::k_exit_failed;
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Before any thread starts, so that every thread inherits SIGTERM and SIGINT blocked.
    minicd::util::install_interrupt_handling();
    const int status = run(argc, argv);
    // A signal that arrived meanwhile decides the exit status (143, 130) once its cleanup is done.
    minicd::util::wait_if_interrupted();
    return status;
}
