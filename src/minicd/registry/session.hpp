#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/http/http_client.hpp"
#include "minicd/registry/credentials.hpp"
#include "minicd/registry/retry.hpp"
#include "minicd/registry/www_authenticate.hpp"
#include "minicd/util/result.hpp"

namespace minicd::registry {

// Whether a request may be sent again when its outcome is unknown (dropped connection, 5xx).
// 429 is always repeated: the registry refused before doing anything.
enum class Replay { safe, unsafe };

// Finds credentials for a registry host; nullopt means anonymous.
using CredentialLookup = std::function<Result<std::optional<Credentials>>(std::string_view registry)>;

// How to reach a registry host. It also bounds where the URLs a registry names (token realms,
// Location headers) may point: plain HTTP to any host for `http`, to loopback hosts only for
// `http_or_https`, nowhere for `https`; schemes other than http and https are never followed.
enum class Transport {
    https,           // verified TLS only
    http_or_https,   // plain HTTP when a registry answers /v2/ there, else verified TLS (loopback)
    http,            // plain HTTP only (hosts listed as insecure)
};

struct SessionOptions {
    Transport transport = Transport::https;
    RetryPolicy retry;
    CredentialLookup credentials;  // empty: always anonymous
    std::chrono::milliseconds request_timeout{0};  // 0: the HTTP client's default
};

// One request to a registry.
struct Call {
    http::Method method = http::Method::get;
    std::string target;  // "/v2/..." on this registry, or an absolute URL taken from a Location header
    std::vector<http::Header> headers;
    std::string body;
    // Token scopes this request needs, e.g. "repository:apps/shop:pull,push"; empty: whatever the
    // registry's challenge asks for.
    std::vector<std::string> scopes;
    Replay replay = Replay::safe;
    std::chrono::milliseconds timeout{0};  // 0: SessionOptions::request_timeout
};

// Talks to one registry host: picks http or https once, authenticates (anonymous first; Basic or
// Bearer tokens per scope set as the registry's challenge asks, tokens cached until they expire),
// and repeats requests after 429, 5xx and connection failures. Thread-safe.
class Session {
public:
    Session(std::string registry, std::shared_ptr<http::HttpClient> http, SessionOptions options);

    const std::string& registry() const { return m_registry; }

    // Any HTTP status is a Response for the caller to judge, except a 401 that survives one fresh
    // authentication, which becomes an error naming the credentials' source (never the secret).
    Result<http::Response> send(const Call& call);

    // One streamed attempt with the authentication known so far: the body goes to `on_data`
    // whatever the status, so the caller repeats after judging it (see prepare_retry).
    Result<http::Response> stream(const Call& call, const std::function<bool(std::string_view)>& on_data);

    // After a streamed response the caller could not use: true (having waited or re-authenticated)
    // when another attempt may help, false when the response is final.
    Result<bool> prepare_retry(const Call& call, const http::Response& response, int attempt);

    // The absolute URL for a target ("/v2/..." or already absolute; relative Location values too).
    Result<std::string> url(std::string_view target);

    const RetryPolicy& retry() const { return m_options.retry; }

private:
    enum class AuthScheme { unknown, none, basic, bearer };
    struct Token {
        std::string value;
        std::chrono::steady_clock::time_point expires;
    };

    Result<void> connect();
    Result<std::string> authorization(const std::vector<std::string>& scopes);
    Result<void> authenticate(const http::Response& unauthorized, const std::vector<std::string>& scopes);
    Result<std::optional<Credentials>> credentials();
    Result<Token> fetch_token(const std::vector<std::string>& scopes);
    // The realm's parts when it may be fetched; an error naming its scheme and host otherwise.
    Result<http::UrlParts> token_realm(const std::string& realm) const;
    // A token endpoint's refusal: its status and the realm's host, never its body.
    util::Error token_error(long status, std::string_view what, const std::optional<Credentials>& creds) const;
    Result<http::Response> send_with_retries(const http::Request& request, Replay replay, std::string_view what);
    http::Request build(const Call& call, const std::string& url, const std::string& authorization) const;
    bool same_host(std::string_view url) const;

    std::string m_registry;  // as in image references: "docker.io", "127.0.0.1:5000"
    std::string m_api_host;  // where requests go: "registry-1.docker.io" for docker.io
    std::shared_ptr<http::HttpClient> m_http;
    SessionOptions m_options;
    http::PlainHttp m_plain_http;  // where plain HTTP may go, from m_options.transport

    std::mutex m_mutex;  // guards everything below
    std::string m_base;  // "https://host" once connect() succeeded
    AuthScheme m_scheme = AuthScheme::unknown;
    Challenge m_challenge;  // the registry's last Bearer challenge (realm, service)
    bool m_credentials_looked_up = false;
    std::optional<Credentials> m_credentials;
    std::map<std::string, Token> m_tokens;  // by space-joined sorted scopes
};

// True for localhost, 127.0.0.0/8 (written as a dotted quad) and [::1], with or without a port; a
// name such as "127.example.com" or "127.0.0.1.nip.io" is not loopback, whatever it resolves to.
bool is_loopback_registry(std::string_view registry);

// "HTTP 404 MANIFEST_UNKNOWN: manifest unknown" from a registry's answer, for error messages.
std::string describe_response(const http::Response& response);

// An error for an unexpected answer: subject "registry <host>, repository <repo>", message
// "<what>: HTTP <status> <CODE>: <message>"; 5xx is ErrorCode::http, other statuses ErrorCode::api.
util::Error response_error(const http::Response& response, std::string_view registry, std::string_view repository,
                           std::string_view what);

}  // namespace minicd::registry
