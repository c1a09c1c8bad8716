#pragma once

#include <cstddef>
#include <optional>

#include "minicd/http/http_client.hpp"

namespace minicd::http {

// What a client made by make_curl_client has done so far; tests and benchmarks read it to prove
// that requests share connections and that streams stay within their buffer.
struct CurlStatistics {
    long transfers = 0;                  // requests finished, streams included
    long connections_opened = 0;         // new connections, summed over transfers (CURLINFO_NUM_CONNECTS)
    std::size_t peak_stream_buffer = 0;  // most body bytes one stream held for its consumer at once
};

// nullopt when `client` is not the libcurl implementation.
std::optional<CurlStatistics> curl_statistics(const HttpClient& client);

}  // namespace minicd::http
