#include "minicd/kube/client.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <thread>

#include "minicd/model/json_read.hpp"
#include "minicd/util/log.hpp"

namespace minicd::kube {

using util::ErrorCode;

namespace {


// 429 is always safe to repeat: the server refused before doing anything. 5xx may have been
// partly applied, so only replay-safe requests repeat it.
bool retryable_status(long status, Replay replay) {
    if (status == 429) return true;
    return replay == Replay::safe && (status == 500 || status == 502 || status == 503 || status == 504);
}

std::chrono::milliseconds backoff(const ClientOptions& options, int attempt, std::optional<std::string_view> retry_after) {
    if (retry_after) {
        // Retry-After in seconds (the API server never sends the HTTP-date form); capped so a bad value can't stall us.
        try {
            long seconds = std::stol(std::string(*retry_after));
            if (seconds >= 0) return std::chrono::milliseconds(std::min<long>(seconds, 30) * 1000);
        } catch (const std::exception&) {
        }
    }
    std::chrono::milliseconds base = options.initial_backoff * (1L << std::min(attempt - 1, 10));
    base = std::min(base, options.max_backoff);
    // Full jitter between half and all of the step keeps parallel workers from retrying in lockstep.
    thread_local std::mt19937 random(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(base.count()) * jitter(random)));
}

}  // namespace

Client::Client(RestConfig config, ClientOptions options, std::shared_ptr<CredentialSource> credentials)
    : m_config(std::move(config)), m_options(options), m_credentials(std::move(credentials)) {}

Result<std::unique_ptr<Client>> Client::create(RestConfig config, ClientOptions options) {
    if (!config.server.starts_with("https://") && !config.server.starts_with("http://")) {
        return fail(ErrorCode::input, fmt::format("server \"{}\" is not an http(s) URL", config.server),
                    config.context.empty() ? "in-cluster configuration" : "context " + config.context);
    }
    while (config.server.ends_with("/")) config.server.pop_back();
    auto credentials = std::make_shared<CredentialSource>(config);
    return std::unique_ptr<Client>(new Client(std::move(config), options, std::move(credentials)));
}

long Client::requests_sent() const { return m_requests.load(); }

Result<std::shared_ptr<http::HttpClient>> Client::http_for(const AuthMaterial& material) {
    std::lock_guard lock(m_mutex);
    if (m_http && m_http_client_cert == material.client_cert_pem) return m_http;
    http::ClientOptions options{.tls = m_config.tls, .request_timeout = m_options.request_timeout, .proxy = m_config.proxy_url};
    options.tls.server_name = m_config.tls_server_name;
    if (!material.client_cert_pem.empty()) {
        options.tls.client_cert_pem = material.client_cert_pem;
        options.tls.client_key_pem = material.client_key_pem;
    }
    auto made = http::make_curl_client(std::move(options));
    if (!made) return fail(made.error());
    m_http = std::shared_ptr<http::HttpClient>(std::move(*made));
    m_http_client_cert = material.client_cert_pem;
    return m_http;
}

http::Request Client::build(const Call& call, const AuthMaterial& material) const {
    http::Request request{.method = call.method, .url = m_config.server + call.path, .body = call.body,
                          .timeout = call.timeout};
    // A kubeconfig that names an http:// server asked for plain HTTP to that very server.
    if (m_config.server.starts_with("http://")) request.plain_http = http::PlainHttp::allowed;
    request.headers.push_back({"Accept", call.accept});
    if (!call.content_type.empty()) request.headers.push_back({"Content-Type", call.content_type});
    if (!material.bearer_token.empty()) request.headers.push_back({"Authorization", "Bearer " + material.bearer_token});
    return request;
}

Result<ApiResponse> Client::send(const Call& call) {
    bool refreshed = false;
    auto material = m_credentials->current();
    for (int attempt = 1;; ++attempt) {
        if (!material) return fail(material.error());
        auto http = http_for(*material);
        if (!http) return fail(http.error());
        auto response = (*http)->send(build(call, *material));
        ++m_requests;

        if (!response) {
            // The request may or may not have reached the server; only replay-safe calls go again. An
            // api error (an answer too large to keep) would only come again.
            bool can_retry = call.replay == Replay::safe && attempt < m_options.max_attempts &&
                             response.error().code != ErrorCode::api;
            if (!can_retry) return fail(response.error());
            util::log_debug("{} {}: {}; retrying", http::to_string(call.method), call.path, response.error().message);
            std::this_thread::sleep_for(backoff(m_options, attempt, std::nullopt));
            continue;
        }
        if (response->status == 401 && !refreshed) {
            // Expired token or rotated plugin credentials: refresh once, then believe the server.
            refreshed = true;
            material = m_credentials->refresh_after_unauthorized(material->generation);
            continue;
        }
        if (retryable_status(response->status, call.replay) && attempt < m_options.max_attempts) {
            auto wait = backoff(m_options, attempt, response->header("retry-after"));
            util::log_debug("{} {}: HTTP {}; retrying in {} ms", http::to_string(call.method), call.path,
                            response->status, wait.count());
            std::this_thread::sleep_for(wait);
            continue;
        }
        ApiResponse reply{.status = response->status, .body = std::move(response->body), .raw = {}, .attempts = attempt};
        response->body.clear();
        reply.raw = std::move(*response);
        return reply;
    }
}

Result<model::Json> Client::get_json(std::string_view path) {
    auto response = send({.path = std::string(path)});
    if (!response) return fail(response.error());
    if (!ok(response->status)) return fail(api_error(*response, "GET " + std::string(path)));
    auto parsed = model::read_json(response->body);
    if (!parsed) {
        return fail(ErrorCode::api, "the server's answer is " + parsed.error().message, "GET " + std::string(path));
    }
    return parsed;
}

Result<void> Client::watch(std::string_view path, const std::function<bool(const model::Json&)>& on_event,
                           std::chrono::seconds timeout, const std::function<bool()>& cancelled) {
    auto material = m_credentials->current();
    if (!material) return fail(material.error());
    auto http = http_for(*material);
    if (!http) return fail(http.error());

    std::string full(path);
    full += full.find('?') == std::string::npos ? "?" : "&";
    // The server ends the watch a little before our own deadline, so a clean end is the normal case.
    full += fmt::format("watch=1&allowWatchBookmarks=true&timeoutSeconds={}", std::max<long long>(1, timeout.count()));
    Call call{.path = full, .timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout) + std::chrono::seconds(5)};

    std::string pending;
    std::size_t scanned = 0;  // the first bytes of `pending` hold no newline: never searched again
    bool stopped = false;
    std::optional<util::Error> bad_event;
    auto too_long = [&] {
        bad_event = util::make_error(ErrorCode::api,
                                     fmt::format("watch sent a line longer than {} MiB, more than any object holds",
                                                 k_max_watch_line_bytes >> 20),
                                     full);
        return false;
    };
    auto on_data = [&](std::string_view chunk) {
        pending.append(chunk);
        std::size_t start = 0;
        for (std::size_t newline; (newline = pending.find('\n', std::max(start, scanned))) != std::string::npos;
             start = newline + 1) {
            std::string_view line(pending.data() + start, newline - start);
            if (line.empty()) continue;
            if (line.size() > k_max_watch_line_bytes) return too_long();
            auto event = model::parse_json(line);
            if (event.is_discarded() || !event.is_object()) {
                bad_event = util::make_error(ErrorCode::api, "watch sent a line that is not a JSON event", full);
                return false;
            }
            if (!on_event(event)) {
                stopped = true;
                return false;
            }
        }
        pending.erase(0, start);
        scanned = pending.size();
        // The rest of a line still to come: held only up to the limit, never without bound.
        if (pending.size() > k_max_watch_line_bytes) return too_long();
        return true;
    };
    auto response = (*http)->stream(build(call, *material), on_data, cancelled);
    ++m_requests;
    if (bad_event) return fail(*bad_event);
    if (!response) {
        // A watch that times out on our side simply ended; the caller decides what is next.
        if (response.error().code == ErrorCode::timeout) return {};
        return fail(response.error());
    }
    if (!stopped && !ok(response->status)) {
        ApiResponse reply{.status = response->status, .body = pending, .raw = {}, .attempts = 1};
        return fail(api_error(reply, "WATCH " + std::string(path)));
    }
    return {};
}

util::Error api_error(const ApiResponse& response, std::string subject) {
    auto status = model::parse_json(response.body);
    std::string message;
    std::string reason;
    // A Status of the wrong shape is read as no Status at all, never thrown on.
    auto text = [&](const char* key) {
        auto found = status.find(key);
        return found != status.end() && found->is_string() ? found->get<std::string>() : std::string{};
    };
    if (status.is_object() && text("kind") == "Status") {
        message = text("message");
        reason = text("reason");
    }
    if (message.empty()) {
        message = util::shorten_utf8(response.body, 200);
        if (message.empty()) message = "no details given";
    }
    std::string detail = reason.empty() ? fmt::format("HTTP {}", response.status)
                                        : fmt::format("{}, HTTP {}", reason, response.status);
    return util::make_error(ErrorCode::api, fmt::format("{} ({})", message, detail), std::move(subject));
}

}  // namespace minicd::kube
