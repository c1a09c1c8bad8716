#include <cstdio>
#include <exception>
#include <span>

#include "minicd/cli/app.hpp"

int main(int argc, char** argv) {
    try {
        return minicd::cli::run(std::span<char*>(argv, static_cast<std::size_t>(argc)));
    } catch (const std::exception& error) {
        // Expected failures are values; reaching this is a bug, reported as such.
        std::fprintf(stderr, "minicd: internal error: %s\n", error.what());
        return minicd::cli::k_exit_failed;
    }
}
