#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <atomic>
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

// The longest line of a watch stream (one event, with its whole object) minicd holds: far above the
// largest real objects (the API server stores at most about 1.5 MiB), far below harm. A longer line
// ends the watch with an api error.
inline constexpr std::size_t k_max_watch_line_bytes = std::size_t{16} << 20;

// One request to the API server.
struct Call {
    http::Method method = http::Method::get;
    std::string path;  // absolute on the server, query included: "/api/v1/namespaces?limit=500"
    std::string body;
    std::string content_type;               // "" when there is no body
    std::string accept = "application/json";
    Replay replay = Replay::safe;
    std::chrono::milliseconds timeout{0};  // 0: ClientOptions::request_timeout
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

    // Any HTTP status is a response; only failing to get one (after retries) is an error.
    Result<ApiResponse> send(const Call& call);

    // Streams a watch (`path` without the watch parameter; it is added), calling `on_event` with each
    // event object ({"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}) until it returns
    // false, `cancelled` returns true (checked about every second), the server ends the watch, or
    // `timeout` passes. A non-2xx answer (e.g. 410 Gone) is an error with the Status rendered; so is a
    // line that is not a JSON object or is longer than k_max_watch_line_bytes.
    Result<void> watch(std::string_view path, const std::function<bool(const model::Json&)>& on_event,
                       std::chrono::seconds timeout, const std::function<bool()>& cancelled = {});

    // GET returning parsed JSON; a non-2xx status becomes an error rendered from the Status object.
    Result<model::Json> get_json(std::string_view path);

    // Requests sent so far (each attempt counts), for tests and benchmarks.
    long requests_sent() const;

private:
    Client(RestConfig config, ClientOptions options, std::shared_ptr<CredentialSource> credentials);
    Result<std::shared_ptr<http::HttpClient>> http_for(const AuthMaterial& material);
    http::Request build(const Call& call, const AuthMaterial& material) const;

    RestConfig m_config;
    ClientOptions m_options;
    std::shared_ptr<CredentialSource> m_credentials;
    mutable std::mutex m_mutex;
    std::shared_ptr<http::HttpClient> m_http;  // rebuilt when exec-plugin client certificates change
    std::string m_http_client_cert;            // the certificate m_http was built with
    std::atomic<long> m_requests{0};
};

// Renders a failed API response as an Error: "<subject>: <Status.message> (reason, HTTP code)".
// The Status object's message already names the object; `subject` adds our own identity for it.
util::Error api_error(const ApiResponse& response, std::string subject = {});

}  // namespace minicd::kube
