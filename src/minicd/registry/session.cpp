#include "minicd/registry/session.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "minicd/model/json_read.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/text.hpp"

namespace minicd::registry {
namespace {

using Json = nlohmann::json;
using util::ErrorCode;
using Clock = std::chrono::steady_clock;

// Tokens without expires_in live this long (distribution token spec).
constexpr std::chrono::seconds k_default_token_life{60};
// Longer lives are believed only up to this: a day is far past any registry's tokens, and the
// clock arithmetic of a larger (or absurd) expires_in could overflow.
constexpr std::chrono::seconds k_max_token_life{24 * 3600};
constexpr std::size_t k_max_error_body = 300;
// The plain HTTP probe of a loopback registry; a TLS server answers it at once with 400.
constexpr std::chrono::milliseconds k_http_probe_timeout{3'000};

std::vector<std::string> split_spaces(std::string_view text) {
    std::vector<std::string> words;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t space = text.find(' ', start);
        if (space == std::string_view::npos) space = text.size();
        if (space > start) words.emplace_back(text.substr(start, space - start));
        start = space + 1;
    }
    return words;
}

std::string scope_key(std::vector<std::string> scopes) {
    std::sort(scopes.begin(), scopes.end());
    scopes.erase(std::unique(scopes.begin(), scopes.end()), scopes.end());
    return fmt::format("{}", fmt::join(scopes, " "));
}

// The path of a target without its query, which for upload URLs is long opaque state.
std::string_view without_query(std::string_view target) { return target.substr(0, target.find('?')); }

// "https://host:port" of a URL.
std::string_view origin_of(std::string_view url) {
    std::size_t scheme = url.find("://");
    if (scheme == std::string_view::npos) return {};
    std::size_t slash = url.find('/', scheme + 3);
    return url.substr(0, slash);
}

// "host:port" of a parsed URL, or the host alone; what token errors name instead of the whole realm.
std::string host_and_port(const http::UrlParts& url) {
    return url.port.empty() ? url.host : url.host + ":" + url.port;
}

std::string no_credentials_hint(std::string_view registry) {
    auto prefix = environment_prefix(registry);
    if (!prefix) {
        return fmt::format("no credentials were found for it (docker login, a credential helper, or "
                           "MINICD_REGISTRY_USERNAME and MINICD_REGISTRY_PASSWORD with {} in MINICD_REGISTRY_HOSTS)",
                           registry);
    }
    return fmt::format("no credentials were found for it (docker login, a credential helper, or {0}_USERNAME and "
                       "{0}_PASSWORD; {1})",
                       *prefix, k_environment_naming_rule);
}

// Where plain HTTP may go for a registry: a registry the user listed as insecure has accepted it for
// every URL it names (its realm, its redirects); a loopback registry only to loopback hosts.
http::PlainHttp plain_http_for(Transport transport) {
    switch (transport) {
    case Transport::https: return http::PlainHttp::refused;
    case Transport::http_or_https: return http::PlainHttp::loopback_only;
    case Transport::http: return http::PlainHttp::allowed;
    }
    return http::PlainHttp::refused;
}

// ":5000" and the like: a colon followed by at least one digit and nothing else.
bool is_port_suffix(std::string_view text) {
    if (text.size() < 2 || text.front() != ':') return false;
    return std::all_of(text.begin() + 1, text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// "localhost" of "localhost:5000", "[::1]" of "[::1]:5000"; nullopt when what follows the host is not a port.
std::optional<std::string_view> registry_host(std::string_view registry) {
    std::size_t host_end = registry.starts_with('[') ? registry.find(']') : registry.find(':');
    if (host_end == std::string_view::npos) return registry.starts_with('[') ? std::nullopt : std::optional(registry);
    if (registry.starts_with('[')) ++host_end;  // the bracket belongs to the host
    std::string_view rest = registry.substr(host_end);
    if (!rest.empty() && !is_port_suffix(rest)) return std::nullopt;
    return registry.substr(0, host_end);
}

}  // namespace

bool is_loopback_registry(std::string_view registry) {
    auto host = registry_host(registry);
    return host && http::is_loopback_host(*host);
}

// A string member of a JSON object; "" when absent or of another type (registries' JSON is untrusted).
std::string string_member(const Json& object, std::string_view key) { return model::string_at(object, {key}); }

std::string describe_response(const http::Response& response) {
    std::string text = fmt::format("HTTP {}", response.status);
    auto body = model::parse_json(response.body);
    std::vector<std::string> parts;
    if (body.is_object() && body.contains("errors") && body["errors"].is_array()) {
        for (const Json& error : body["errors"]) {
            if (!error.is_object()) continue;
            std::string code = string_member(error, "code");
            std::string message = string_member(error, "message");
            parts.push_back(message.empty() ? code : code.empty() ? message : code + ": " + message);
        }
    }
    if (!parts.empty()) return text + " " + fmt::format("{}", fmt::join(parts, "; "));
    std::string_view raw = response.body;
    while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back()))) raw.remove_suffix(1);
    if (raw.empty() || raw.front() == '<') return text;  // an HTML error page says nothing useful
    return fmt::format("{}: {}", text, util::shorten_utf8(raw, k_max_error_body));
}

util::Error response_error(const http::Response& response, std::string_view registry, std::string_view repository,
                           std::string_view what) {
    ErrorCode code = response.status >= 500 ? ErrorCode::http : ErrorCode::api;
    std::string subject = repository.empty() ? fmt::format("registry {}", registry)
                                             : fmt::format("registry {}, repository {}", registry, repository);
    return util::make_error(code, fmt::format("{}: {}", what, describe_response(response)), std::move(subject));
}

Session::Session(std::string registry, std::shared_ptr<http::HttpClient> http, SessionOptions options)
    : m_registry(std::move(registry)),
      m_api_host(m_registry),
      m_http(std::move(http)),
      m_options(std::move(options)),
      m_plain_http(plain_http_for(m_options.transport)) {
    // Docker Hub's API lives on another host than the name images use.
    if (m_registry == "docker.io" || m_registry == "index.docker.io") m_api_host = "registry-1.docker.io";
}

Result<void> Session::connect() {
    std::lock_guard lock(m_mutex);
    if (!m_base.empty()) return {};
    // Loopback tries plain HTTP first: a local registry usually speaks it, and a failed TLS hello to
    // a plain server costs far more than a 400 from a TLS server. The probe carries no credentials.
    std::vector<std::string> schemes;
    if (m_options.transport != Transport::https) schemes.push_back("http");
    if (m_options.transport != Transport::http) schemes.push_back("https");

    std::optional<util::Error> first_error;
    const RetryPolicy& retry = m_options.retry;
    for (int attempt = 1;; ++attempt) {
        for (const std::string& scheme : schemes) {
            std::string base = scheme + "://" + m_api_host;
            const bool probe = scheme == "http" && schemes.size() > 1;
            auto timeout = probe ? k_http_probe_timeout : m_options.request_timeout;
            auto answer = m_http->send(
                {.method = http::Method::get, .url = base + "/v2/", .timeout = timeout, .plain_http = m_plain_http});
            if (!answer) {
                if (!first_error || scheme == "https") first_error = answer.error();
                continue;
            }
            // A TLS server answering plain HTTP with 400 is not a registry speaking HTTP.
            if (probe && answer->status != 200 && answer->status != 401) continue;
            if (is_retryable_status(answer->status) && attempt < retry.max_attempts) {
                first_error = response_error(*answer, m_registry, "", "GET /v2/");
                continue;
            }
            m_base = base;
            if (probe) util::log_debug("registry {} answers plain HTTP; using it (loopback)", m_registry);
            m_scheme = AuthScheme::none;
            if (answer->status == 401) {
                std::vector<Challenge> challenges;
                for (const http::Header& header : answer->headers) {
                    if (header.name != "www-authenticate") continue;
                    auto parsed = parse_www_authenticate(header.value);
                    if (parsed) challenges.insert(challenges.end(), parsed->begin(), parsed->end());
                }
                for (const Challenge& challenge : challenges) {
                    if (challenge.scheme == "bearer") {
                        m_scheme = AuthScheme::bearer;
                        m_challenge = challenge;
                        break;
                    }
                    if (challenge.scheme == "basic") m_scheme = AuthScheme::basic;
                }
            }
            return {};
        }
        if (attempt >= retry.max_attempts) break;
        auto delay = retry_delay(retry, attempt, std::nullopt, random_jitter());
        util::log_debug("registry {} unreachable ({}); retrying in {} ms", m_registry,
                        first_error ? first_error->message : "no answer", delay.count());
        wait(retry, delay);
    }
    std::string over = schemes.size() > 1 ? "http or https" : schemes.front();
    std::string detail = first_error ? first_error->message : "no answer";
    return fail(first_error && first_error->code == ErrorCode::http ? ErrorCode::http : ErrorCode::network,
                fmt::format("cannot reach the registry over {} after {} attempts: {}", over, retry.max_attempts, detail),
                fmt::format("registry {}", m_registry));
}

Result<std::string> Session::url(std::string_view target) {
    if (target.starts_with("https://") || target.starts_with("http://")) return std::string(target);
    if (auto connected = connect(); !connected) return fail(connected.error());
    std::lock_guard lock(m_mutex);
    if (target.starts_with('/')) return m_base + std::string(target);
    return m_base + "/" + std::string(target);
}

bool Session::same_host(std::string_view url) const { return origin_of(url) == std::string_view(m_base); }

Result<std::optional<Credentials>> Session::credentials() {
    if (!m_credentials_looked_up) {
        if (m_options.credentials) {
            auto found = m_options.credentials(m_registry);
            if (!found) return fail(found.error());
            m_credentials = std::move(*found);
        }
        m_credentials_looked_up = true;
    }
    return m_credentials;
}

Result<http::UrlParts> Session::token_realm(const std::string& realm) const {
    const std::string subject = fmt::format("registry {}", m_registry);
    if (realm.empty()) return fail(ErrorCode::api, "the registry asked for a Bearer token but named no realm", subject);
    auto parts = http::parse_url(realm);
    if (!parts) {
        return fail(ErrorCode::api, "the registry's Bearer challenge names a token realm that is not an absolute URL",
                    subject);
    }
    if (auto why = http::refusal(*parts, m_plain_http)) {
        std::string host = parts->host.empty() ? "no host" : fmt::format("host \"{}\"", host_and_port(*parts));
        return fail(ErrorCode::api,
                    fmt::format("the registry's Bearer challenge names a token realm with scheme \"{}\" and {}, which "
                                "is not contacted: {} (plain HTTP realms are used only for registries listed as "
                                "insecure, and for loopback registries only on loopback hosts)",
                                parts->scheme, host, *why),
                    subject);
    }
    return parts;
}

util::Error Session::token_error(long status, std::string_view what, const std::optional<Credentials>& creds) const {
    // The body is left out on purpose: the registry chose the realm, and whatever answers there
    // (another service, a page echoing our request) must not reach CI logs through us.
    ErrorCode code = status >= 500 ? ErrorCode::http : ErrorCode::api;
    std::string message = fmt::format("{}: HTTP {}", what, status);
    if (status == 401 || status == 403) {
        message += creds ? fmt::format("; the credentials from {} were refused", creds->source)
                         : "; " + no_credentials_hint(m_registry);
    }
    return util::make_error(code, std::move(message), fmt::format("registry {}", m_registry));
}

Result<Session::Token> Session::fetch_token(const std::vector<std::string>& scopes) {
    const std::string realm = m_challenge.param("realm");
    // Checked before credentials are looked up or anything is sent: the realm comes from the registry.
    auto realm_url = token_realm(realm);
    if (!realm_url) return fail(realm_url.error());
    std::vector<std::string> wanted = scopes.empty() ? split_spaces(m_challenge.param("scope")) : scopes;
    std::string service = m_challenge.param("service");
    auto found = credentials();
    if (!found) return fail(found.error());
    // token_realm let through only https, or plain HTTP the user accepted for this registry (listed as
    // insecure) or that stays on this machine (loopback registry and realm), so credentials may go.
    const std::optional<Credentials>& creds = *found;

    http::Request request{
        .method = http::Method::get, .url = realm, .timeout = m_options.request_timeout, .plain_http = m_plain_http};
    if (creds && !creds->identity_token.empty()) {
        // An identity token is an OAuth2 refresh token: exchanged with a form POST.
        request.method = http::Method::post;
        request.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
        request.body = fmt::format("grant_type=refresh_token&client_id=minicd&service={}&scope={}&refresh_token={}",
                                   util::percent_encode(service), util::percent_encode(fmt::format("{}", fmt::join(wanted, " "))),
                                   util::percent_encode(creds->identity_token.reveal()));
    } else {
        std::string query;
        if (!service.empty()) query += "service=" + util::percent_encode(service);
        for (const std::string& scope : wanted) query += (query.empty() ? "" : "&") + ("scope=" + util::percent_encode(scope));
        if (!query.empty()) request.url += (realm.find('?') == std::string::npos ? "?" : "&") + query;
        if (creds && !creds->password.empty()) {
            request.headers.push_back({"Authorization", http::basic_authorization(creds->username, creds->password.reveal())});
        }
    }
    std::string what = fmt::format("token request to {} for {}", host_and_port(*realm_url),
                                   wanted.empty() ? "no scope" : fmt::format("{}", fmt::join(wanted, " ")));
    auto answer = send_with_retries(request, Replay::safe, what);
    if (!answer) return fail(answer.error());
    if (answer->status != 200) return fail(token_error(answer->status, what, creds));
    auto body = model::parse_json(answer->body);
    std::string token;
    if (body.is_object()) {
        token = string_member(body, "token");
        if (token.empty()) token = string_member(body, "access_token");
    }
    if (token.empty()) return fail(ErrorCode::api, what + ": the answer has no token", fmt::format("registry {}", m_registry));
    std::chrono::seconds life = k_default_token_life;
    if (auto expires = body.is_object() ? body.find("expires_in") : body.end();
        expires != body.end() && expires->is_number() && expires->get<double>() > 0) {
        // Clamped before the conversion: a double beyond long long's range converts to undefined behaviour.
        const double seconds = std::min(expires->get<double>(), static_cast<double>(k_max_token_life.count()));
        life = std::chrono::seconds(static_cast<long long>(seconds));
    }
    // Renew a little early so a token does not expire between our check and the registry's.
    return Token{.value = std::move(token), .expires = Clock::now() + life - life / 10};
}

Result<std::string> Session::authorization(const std::vector<std::string>& scopes) {
    std::lock_guard lock(m_mutex);
    switch (m_scheme) {
    case AuthScheme::unknown:
    case AuthScheme::none: return std::string();
    case AuthScheme::basic: {
        auto found = credentials();
        if (!found) return fail(found.error());
        if (!*found || (*found)->password.empty()) return std::string();
        return http::basic_authorization((*found)->username, (*found)->password.reveal());
    }
    case AuthScheme::bearer: {
        std::string key = scope_key(scopes);
        auto cached = m_tokens.find(key);
        if (cached != m_tokens.end() && cached->second.expires > Clock::now()) return "Bearer " + cached->second.value;
        auto token = fetch_token(scopes);
        if (!token) return fail(token.error());
        std::string header = "Bearer " + token->value;
        m_tokens[key] = std::move(*token);
        return header;
    }
    }
    return std::string();
}

Result<void> Session::authenticate(const http::Response& unauthorized, const std::vector<std::string>& scopes) {
    std::vector<Challenge> challenges;
    for (const http::Header& header : unauthorized.headers) {
        if (header.name != "www-authenticate") continue;
        auto parsed = parse_www_authenticate(header.value);
        if (!parsed) return fail(parsed.error().context(fmt::format("registry {}", m_registry)));
        challenges.insert(challenges.end(), parsed->begin(), parsed->end());
    }
    std::lock_guard lock(m_mutex);
    auto bearer = std::find_if(challenges.begin(), challenges.end(), [](const Challenge& c) { return c.scheme == "bearer"; });
    auto basic = std::find_if(challenges.begin(), challenges.end(), [](const Challenge& c) { return c.scheme == "basic"; });
    if (bearer != challenges.end()) {
        m_scheme = AuthScheme::bearer;
        m_challenge = *bearer;
        m_tokens.erase(scope_key(scopes));
        return {};
    }
    if (basic != challenges.end()) {
        m_scheme = AuthScheme::basic;
        auto found = credentials();
        if (!found) return fail(found.error());
        if (!*found) {
            return fail(ErrorCode::api, "the registry requires authentication and " + no_credentials_hint(m_registry),
                        fmt::format("registry {}", m_registry));
        }
        return {};
    }
    return fail(ErrorCode::api, "the registry answered 401 without a Basic or Bearer challenge",
                fmt::format("registry {}", m_registry));
}

http::Request Session::build(const Call& call, const std::string& url, const std::string& authorization) const {
    http::Request request{.method = call.method,
                          .url = url,
                          .headers = call.headers,
                          .body = call.body,
                          .timeout = call.timeout.count() > 0 ? call.timeout : m_options.request_timeout,
                          .plain_http = m_plain_http};
    if (!authorization.empty()) request.headers.push_back({"Authorization", authorization});
    return request;
}

Result<http::Response> Session::send_with_retries(const http::Request& request, Replay replay, std::string_view what) {
    const RetryPolicy& retry = m_options.retry;
    for (int attempt = 1;; ++attempt) {
        auto answer = m_http->send(request);
        bool last = attempt >= retry.max_attempts;
        if (!answer && answer.error().code == ErrorCode::input) {
            // The HTTP client refused the URL (a scheme or plain HTTP host this registry may not use)
            // and sent nothing; asking again cannot change that.
            return fail(ErrorCode::input, fmt::format("{}: {}: {}", what, answer.error().subject, answer.error().message),
                        fmt::format("registry {}", m_registry));
        }
        if (!answer) {
            // An api error (an answer too large to keep) would only come again.
            if (last || replay == Replay::unsafe || answer.error().code == ErrorCode::api) {
                return fail(answer.error().code, fmt::format("{}: {} (after {} attempts)", what, answer.error().message, attempt),
                            fmt::format("registry {}", m_registry));
            }
            wait(retry, retry_delay(retry, attempt, std::nullopt, random_jitter()));
            continue;
        }
        bool repeatable = answer->status == 429 || (replay == Replay::safe && is_retryable_status(answer->status));
        if (!repeatable || last) return answer;
        std::optional<std::chrono::milliseconds> after;
        if (auto header = answer->header("retry-after")) after = parse_retry_after(*header, std::chrono::system_clock::now());
        auto delay = retry_delay(retry, attempt, after, random_jitter());
        util::log_debug("{}: HTTP {}; retrying in {} ms", what, answer->status, delay.count());
        wait(retry, delay);
    }
}

Result<http::Response> Session::send(const Call& call) {
    auto target = url(call.target);
    if (!target) return fail(target.error());
    const bool own = same_host(*target);
    const std::string what = fmt::format("{} {}", http::to_string(call.method), without_query(call.target));
    bool reauthenticated = false;
    while (true) {
        std::string header;
        if (own) {
            auto auth = authorization(call.scopes);
            if (!auth) return fail(auth.error());
            header = std::move(*auth);
        }
        auto answer = send_with_retries(build(call, *target, header), call.replay, what);
        if (!answer) return answer;
        if (answer->status != 401 || !own) return answer;
        if (reauthenticated) {
            std::lock_guard lock(m_mutex);
            util::Error error = response_error(*answer, m_registry, "", what);
            error.message += m_credentials ? fmt::format("; the credentials from {} were refused", m_credentials->source)
                                           : "; " + no_credentials_hint(m_registry);
            return fail(error);
        }
        if (auto done = authenticate(*answer, call.scopes); !done) return fail(done.error());
        reauthenticated = true;
    }
}

Result<http::Response> Session::stream(const Call& call, const std::function<bool(std::string_view)>& on_data) {
    auto target = url(call.target);
    if (!target) return fail(target.error());
    std::string header;
    if (same_host(*target)) {
        auto auth = authorization(call.scopes);
        if (!auth) return fail(auth.error());
        header = std::move(*auth);
    }
    return m_http->stream(build(call, *target, header), on_data);
}

Result<bool> Session::prepare_retry(const Call& call, const http::Response& response, int attempt) {
    const RetryPolicy& retry = m_options.retry;
    if (attempt >= retry.max_attempts) return false;
    if (response.status == 401) {
        if (auto done = authenticate(response, call.scopes); !done) return fail(done.error());
        return true;
    }
    if (!is_retryable_status(response.status)) return false;
    std::optional<std::chrono::milliseconds> after;
    if (auto header = response.header("retry-after")) after = parse_retry_after(*header, std::chrono::system_clock::now());
    wait(retry, retry_delay(retry, attempt, after, random_jitter()));
    return true;
}

}  // namespace minicd::registry
