#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace minicd::util {

// Calls work(i) for every i in [0, count) on at most `concurrency` threads; returns when all are done.
// work must not throw (failures are values). Should it throw anyway (a bug), the first exception
// is rethrown here once every thread has ended, rather than terminating the process from a thread;
// items not yet started are then skipped.
template <typename Work>
void parallel_for(std::size_t count, int concurrency, Work&& work) {
    if (count == 0) return;
    std::size_t threads = std::min<std::size_t>(count, static_cast<std::size_t>(std::max(1, concurrency)));
    if (threads == 1) {
        for (std::size_t i = 0; i < count; ++i) work(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::mutex failure_mutex;
    std::exception_ptr failure;
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            try {
                for (std::size_t i; (i = next.fetch_add(1)) < count;) work(i);
            } catch (...) {
                next.store(count);
                std::lock_guard lock(failure_mutex);
                if (!failure) failure = std::current_exception();
            }
        });
    }
    for (auto& thread : pool) thread.join();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace minicd::util
