#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/http/url_policy.hpp"
#include "minicd/util/result.hpp"

namespace minicd::http {

enum class Method { get, head, post, put, patch, delete_ };

std::string_view to_string(Method method);

struct Header {
    std::string name;  // lowercase in responses
    std::string value;
};

// The largest response body send() keeps, counted after any Content-Encoding (gzip) is undone, so
// a small compressed answer cannot expand without bound: far above real answers (the largest
// objects are about 1 MiB; a full LIST of them, or a registry manifest, stays well below), far below
// harm. stream() hands the body over as it arrives and has no such limit; its callers bound what
// they keep (watch lines: kube::k_max_watch_line_bytes).
inline constexpr std::size_t k_max_response_body_bytes = std::size_t{64} << 20;

struct Request {
    Method method = Method::get;
    std::string url;
    std::vector<Header> headers;
    std::string body;
    // Zero: the client's default request timeout. Watches pass a long one.
    std::chrono::milliseconds timeout{0};
    // Where plain http:// may go; https is always allowed and any other scheme never is. A URL the
    // policy refuses is an input error and is never sent (redirects libcurl follows included).
    PlainHttp plain_http = PlainHttp::loopback_only;
    // send() only: a longer body (decompressed) ends the transfer with an ErrorCode::api error.
    std::size_t max_body_bytes = k_max_response_body_bytes;
};

struct Response {
    long status = 0;
    std::vector<Header> headers;
    std::string body;
    int http_version = 0;  // 11 for HTTP/1.1, 20 for HTTP/2

    // The first header with this name (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const;
};

// Trust and identity for TLS. PEM given inline wins over the file of the same role.
struct TlsOptions {
    std::string ca_file;  // empty with ca_pem empty: the system trust store
    std::string ca_pem;
    std::string client_cert_file;
    std::string client_cert_pem;
    std::string client_key_file;
    std::string client_key_pem;  // a secret: never logged
    // Only when the user's configuration says so explicitly (kubeconfig insecure-skip-tls-verify).
    bool insecure_skip_verify = false;
    // Name to send as SNI and to verify the server certificate against, instead of the URL's host
    // (kubeconfig tls-server-name); the connection still goes to the URL's host.
    std::string server_name;
};

struct ClientOptions {
    TlsOptions tls;
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds request_timeout{60'000};
    std::string user_agent;  // empty: "minicd/<version>"
    // Proxy for every request (http://, https://, socks5://); empty: the usual *_PROXY variables apply.
    std::string proxy;
};

// Sends HTTP requests. send and stream may be called from any number of threads at once; each
// blocks its caller until done. Implementations keep connections alive between calls.
class HttpClient {
public:
    virtual ~HttpClient() = default;
    // An error means no HTTP status was received (connection, TLS, timeout, or an input error for a
    // URL that request.plain_http refuses), or the body was longer than request.max_body_bytes (an
    // api error; asking again gets the same); any status, including 4xx and 5xx, is a Response for
    // the caller to judge.
    virtual Result<Response> send(const Request& request) = 0;

    // Like send, but the body is handed to `on_data` as it arrives instead of being kept (watches,
    // large downloads). Returning false from `on_data`, or `cancelled` (polled several times a second,
    // also while no data arrives) returning true, ends the transfer early; that is not an error.
    // Both run on the calling thread and may use this client (send a chunk upstream, for example);
    // while `on_data` is busy the transfer pauses rather than buffering the body without bound.
    virtual Result<Response> stream(const Request& request, const std::function<bool(std::string_view)>& on_data,
                                    const std::function<bool()>& cancelled = {}) = 0;
};

// The libcurl implementation: HTTP/2 over TLS when the server offers it, with all concurrent
// requests to one server multiplexed over one connection; HTTP/1.1 otherwise, with a few parallel
// connections per host. Statistics for tests: curl_client.hpp.
Result<std::unique_ptr<HttpClient>> make_curl_client(ClientOptions options);

// "Basic <base64(user:password)>", for an Authorization header.
std::string basic_authorization(std::string_view user, std::string_view password);

}  // namespace minicd::http
