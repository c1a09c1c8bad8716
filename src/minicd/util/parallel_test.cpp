#include "minicd/util/parallel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace minicd::util {
namespace {

TEST(ParallelFor, CallsWorkOnceForEveryIndex) {
    std::vector<std::atomic<int>> calls(100);
    parallel_for(calls.size(), 8, [&](std::size_t i) { ++calls[i]; });
    for (const auto& count : calls) EXPECT_EQ(count.load(), 1);
}

TEST(ParallelFor, AnExceptionFromAWorkerThreadReachesTheCallerInsteadOfTerminating) {
    // A bug (say, nlohmann throwing on a field of an unexpected type) must end the command with an
    // internal error, not abort the process from a thread.
    std::atomic<int> calls{0};
    EXPECT_THROW(parallel_for(50, 4,
                              [&](std::size_t i) {
                                  ++calls;
                                  if (i == 3) throw std::runtime_error("bug");
                              }),
                 std::runtime_error);
    EXPECT_LE(calls.load(), 50);
    EXPECT_THROW(parallel_for(3, 1, [](std::size_t) { throw std::logic_error("bug"); }), std::logic_error);
}

}  // namespace
}  // namespace minicd::util
