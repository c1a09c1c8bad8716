#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "minicd/http/http_client.hpp"
#include "minicd/kube/credentials.hpp"
#include "minicd/kube/kubeconfig.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::kube {

// Whether a request may be sent again when its outcome is unknown (connection dropped, 5xx).
enum class Replay {
    safe,    // reads, and writes that are idempotent by construction (server-side apply of the same body)
    unsafe,  // the caller re-reads state instead of repeating blindly (create, delete)
};

struct ClientOptions {
    std::chrono::milliseconds request_timeout{30'000};
    int max_attempts = 5;  // for retryable failures: 429, 5xx (safe only), dropped connections (safe only)
    std::chrono::milliseconds initial_backoff{200};
    std::chrono::milliseconds max_backoff{5'000};
};

// A request as the API server answered it, after retries.
struct ApiResponse {
    long status = 0;
    std::string body;
    http::Response raw;
    int attempts = 1;
};

// Talks to one API server as one user over one pooled HTTP/2 connection: adds credentials,
// retries with backoff and jitter (honouring Retry-After), and refreshes credentials once on 401.
// Thread-safe.
class Client {
public:
    static Result<std::unique_ptr<Client>> create(RestConfig config, ClientOptions options = {});

    const RestConfig& config() const { return m_config; }

    // `path` is absolute on the server ("/api/v1/namespaces"), query string included. Any HTTP
    // status is a response; only failing to get one (after retries) is an error.
    Result<ApiResponse> request(http::Method method, std::string_view path, std::string_view body = {},
                                std::string_view content_type = {}, Replay replay = Replay::safe,
                                std::chrono::milliseconds timeout = std::chrono::milliseconds{0});

    // GET returning parsed JSON; a non-2xx status becomes an error rendered from the Status object.
    Result<model::Json> get_json(std::string_view path);

    // Requests sent so far (each attempt counts), for tests and benchmarks.
    long requests_sent() const;

private:
    Client(RestConfig config, ClientOptions options, std::shared_ptr<CredentialSource> credentials);
    Result<http::HttpClient*> http_for(const AuthMaterial& material);

    RestConfig m_config;
    ClientOptions m_options;
    std::shared_ptr<CredentialSource> m_credentials;
    mutable std::mutex m_mutex;
    std::unique_ptr<http::HttpClient> m_http;  // rebuilt when exec-plugin client certificates change
    std::uint64_t m_http_generation = ~std::uint64_t{0};
    long m_requests = 0;
};

// Renders a failed API response as an Error: "<subject>: <Status.message> (reason, HTTP code)".
// The Status object's message already names the object; `subject` adds our own identity for it.
util::Error api_error(const ApiResponse& response, std::string subject = {});

}  // namespace minicd::kube
