#include "minicd/http/curl_client.hpp"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "minicd/util/encoding.hpp"

#ifndef MINICD_VERSION
#error "MINICD_VERSION must be defined by the build"
#endif

namespace minicd::http {

using util::ErrorCode;

std::string_view to_string(Method method) {
    switch (method) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::delete_: return "DELETE";
    }
    return "GET";
}

std::optional<std::string_view> Response::header(std::string_view name) const {
    for (const auto& h : headers) {
        if (h.name.size() == name.size() &&
            std::equal(h.name.begin(), h.name.end(), name.begin(),
                       [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                                   std::tolower(static_cast<unsigned char>(b)); })) {
            return std::string_view(h.value);
        }
    }
    return std::nullopt;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
    std::string credentials;
    credentials.reserve(user.size() + 1 + password.size());
    credentials.append(user).append(":").append(password);
    return "Basic " + util::base64_encode(credentials);
}

namespace {

// Body bytes a stream holds for a slow consumer before its transfer is paused; the peak is this
// plus one write from curl (at most CURL_MAX_WRITE_SIZE).
constexpr std::size_t k_stream_buffer_limit = 1024 * 1024;
// HTTP/1.1 servers get parallel connections up to this; an HTTP/2 server gets one, shared.
constexpr long k_max_host_connections = 16;
// Streams in flight on one HTTP/2 connection; above what apply (64 writers at most) and its
// watches use. The server's own limit wins when lower.
constexpr long k_max_concurrent_streams = 100;
// Idle connections kept for the next request.
constexpr long k_max_cached_connections = 32;
// How often stream() asks `cancelled` while nothing arrives.
constexpr std::chrono::milliseconds k_cancel_poll{200};
// The event thread sleeps at most this long when curl has no timer due; commands wake it at once.
constexpr int k_idle_wait_ms = 1000;

void global_init_once() {
    // curl_global_init is not thread-safe; do it once before any handle exists.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// "64 MiB" for whole mebibytes, else "1000 bytes".
std::string size_text(std::size_t bytes) {
    constexpr std::size_t k_mebibyte = std::size_t{1} << 20;
    return bytes % k_mebibyte == 0 ? fmt::format("{} MiB", bytes / k_mebibyte) : fmt::format("{} bytes", bytes);
}

// Keeps the maximum of `value` and everything stored before.
void raise_to(std::atomic<std::size_t>& peak, std::size_t value) {
    std::size_t seen = peak.load(std::memory_order_relaxed);
    while (value > seen && !peak.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
    }
}

// One request in flight. The calling thread owns it and waits until `finished`; until then the
// event thread writes into it from curl's callbacks.
struct Transfer {
    std::uint64_t id = 0;
    CURL* handle = nullptr;
    curl_slist* headers = nullptr;
    curl_slist* connect_to = nullptr;
    char error[CURL_ERROR_SIZE] = {};
    Response response;  // headers, and the body unless streaming; the event thread's until finished
    std::size_t max_body = k_max_response_body_bytes;  // send() only
    bool body_too_large = false;                        // set by the event thread; read once finished
    std::atomic<std::size_t>* peak_buffer = nullptr;

    std::mutex mutex;
    std::condition_variable changed;
    // Guarded by mutex:
    std::string pending;        // streamed body not yet handed to the consumer
    bool paused = false;        // the event thread paused the transfer because `pending` was full
    bool resume_asked = false;  // a resume command is on its way to the event thread
    bool finished = false;      // the event thread has let go of the transfer
    CURLcode result = CURLE_OK;

    Transfer() = default;
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;
    ~Transfer() {
        curl_slist_free_all(headers);
        curl_slist_free_all(connect_to);
    }
};

std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t bytes = size * count;
    if (bytes > transfer->max_body - std::min(transfer->max_body, transfer->response.body.size())) {
        // Taking less than offered makes curl end the transfer (CURLE_WRITE_ERROR); conclude() says why.
        transfer->body_too_large = true;
        return 0;
    }
    transfer->response.body.append(data, bytes);
    return bytes;
}

// Runs on the event thread: hands the data to the consumer's thread, or pauses while it is behind.
std::size_t buffer_stream(char* data, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    std::size_t bytes = size * count;
    {
        std::lock_guard lock(transfer->mutex);
        if (transfer->pending.size() >= k_stream_buffer_limit) {
            // curl keeps this chunk and offers it again when the consumer has caught up.
            transfer->paused = true;
            return CURL_WRITEFUNC_PAUSE;
        }
        transfer->pending.append(data, bytes);
        raise_to(*transfer->peak_buffer, transfer->pending.size());
    }
    transfer->changed.notify_all();
    return bytes;
}

std::size_t collect_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* headers = static_cast<std::vector<Header>*>(user);
    std::string_view line(data, size * count);
    // A new status line (after 100 Continue, for example) starts a fresh header block.
    if (line.starts_with("HTTP/")) {
        headers->clear();
        return size * count;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return size * count;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
    }
    headers->push_back(Header{std::move(name), std::string(value)});
    return size * count;
}

// Locks for the TLS session cache, which every handle shares whatever thread configures it.
class ShareLocks {
public:
    static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
        static_cast<ShareLocks*>(user)->m_mutexes[index(data)].lock();
    }
    static void unlock(CURL*, curl_lock_data data, void* user) {
        static_cast<ShareLocks*>(user)->m_mutexes[index(data)].unlock();
    }

private:
    static std::size_t index(curl_lock_data data) {
        auto i = static_cast<std::size_t>(data);
        return i < k_slots ? i : 0;
    }
    static constexpr std::size_t k_slots = CURL_LOCK_DATA_LAST;
    std::mutex m_mutexes[k_slots];
};

// All transfers run in one curl multi handle driven by one event thread, so concurrent requests to
// an HTTP/2 server become streams of one connection. Callers prepare an easy handle on their own
// thread, hand it over with a command and wait; stream bodies come back through a bounded buffer so
// that consumers run on their own thread.
class CurlClient final : public HttpClient {
public:
    explicit CurlClient(ClientOptions options) : m_options(std::move(options)) {
        if (m_options.user_agent.empty()) m_options.user_agent = "minicd/" MINICD_VERSION;
        m_share = curl_share_init();
        curl_share_setopt(m_share, CURLSHOPT_LOCKFUNC, &ShareLocks::lock);
        curl_share_setopt(m_share, CURLSHOPT_UNLOCKFUNC, &ShareLocks::unlock);
        curl_share_setopt(m_share, CURLSHOPT_USERDATA, &m_locks);
        curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

        m_multi = curl_multi_init();
        curl_multi_setopt(m_multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
        curl_multi_setopt(m_multi, CURLMOPT_MAX_HOST_CONNECTIONS, k_max_host_connections);
        curl_multi_setopt(m_multi, CURLMOPT_MAX_CONCURRENT_STREAMS, k_max_concurrent_streams);
        curl_multi_setopt(m_multi, CURLMOPT_MAXCONNECTS, k_max_cached_connections);
        if (usable()) m_events = std::thread([this] { run_events(); });
    }

    // False when libcurl could not allocate its handles; make_curl_client then reports an error.
    bool usable() const { return m_share != nullptr && m_multi != nullptr; }

    ~CurlClient() override {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        if (m_events.joinable()) {
            curl_multi_wakeup(m_multi);
            m_events.join();
        }
        curl_multi_cleanup(m_multi);
        for (CURL* handle : m_idle) curl_easy_cleanup(handle);
        curl_share_cleanup(m_share);
    }

    CurlClient(const CurlClient&) = delete;
    CurlClient& operator=(const CurlClient&) = delete;

    Result<Response> send(const Request& request) override {
        Transfer transfer;
        if (auto prepared = prepare(transfer, request, false); !prepared) return fail(prepared.error());
        start(transfer);
        std::unique_lock lock(transfer.mutex);
        transfer.changed.wait(lock, [&] { return transfer.finished; });
        lock.unlock();
        return conclude(transfer, request, false);
    }

    Result<Response> stream(const Request& request, const std::function<bool(std::string_view)>& on_data,
                            const std::function<bool()>& cancelled) override {
        Transfer transfer;
        if (auto prepared = prepare(transfer, request, true); !prepared) return fail(prepared.error());
        start(transfer);
        bool stopped = consume(transfer, on_data, cancelled);
        if (stopped) {
            post({Command::Kind::abort, transfer.id, nullptr});
        }
        std::unique_lock lock(transfer.mutex);
        transfer.changed.wait(lock, [&] { return transfer.finished; });
        lock.unlock();
        return conclude(transfer, request, stopped);
    }

    CurlStatistics statistics() const {
        return {.transfers = m_transfers.load(),
                .connections_opened = m_connections.load(),
                .peak_stream_buffer = m_peak_buffer.load()};
    }

private:
    struct Command {
        enum class Kind { start, resume, abort } kind;
        std::uint64_t id;
        Transfer* transfer;  // start only; the others find theirs by id, as it may be gone already
    };

    // Hands the body to `on_data` on this thread until the transfer ends or the consumer stops it;
    // true when the consumer stopped it.
    bool consume(Transfer& transfer, const std::function<bool(std::string_view)>& on_data,
                 const std::function<bool()>& cancelled) {
        std::string chunk;
        auto last_poll = std::chrono::steady_clock::now();
        for (;;) {
            bool finished = false;
            bool resume = false;
            {
                std::unique_lock lock(transfer.mutex);
                transfer.changed.wait_for(lock, k_cancel_poll,
                                          [&] { return transfer.finished || !transfer.pending.empty(); });
                chunk.clear();
                chunk.swap(transfer.pending);
                finished = transfer.finished;
                if (transfer.paused && !transfer.resume_asked) resume = transfer.resume_asked = true;
            }
            // Resumed before the chunk is handled, so the network keeps flowing while the consumer works.
            if (resume) post({Command::Kind::resume, transfer.id, nullptr});
            if (!chunk.empty() && !on_data(chunk)) return true;
            if (finished) return false;
            auto now = std::chrono::steady_clock::now();
            if (cancelled && now - last_poll >= k_cancel_poll) {
                last_poll = now;
                if (cancelled()) return true;
            }
        }
    }

    CURL* acquire() {
        {
            std::lock_guard lock(m_mutex);
            if (!m_idle.empty()) {
                CURL* handle = m_idle.back();
                m_idle.pop_back();
                curl_easy_reset(handle);
                return handle;
            }
        }
        return curl_easy_init();
    }

    void release(CURL* handle) {
        std::lock_guard lock(m_mutex);
        m_idle.push_back(handle);
    }

    void post(Command command) {
        {
            std::lock_guard lock(m_mutex);
            m_commands.push_back(command);
        }
        curl_multi_wakeup(m_multi);
    }

    void start(Transfer& transfer) {
        transfer.id = ++m_last_id;
        post({Command::Kind::start, transfer.id, &transfer});
    }

    static void set_blob(CURL* handle, CURLoption option, const std::string& pem) {
        curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(handle, option, &blob);
    }

    // libcurl's own guard behind check_url: the transfer may use only the scheme just checked, and a
    // redirect libcurl follows only https, or http as well where any host may be plain HTTP (libcurl
    // cannot tell whether a redirect's host is loopback).
    static void restrict_protocols(CURL* handle, const UrlParts& url, PlainHttp policy) {
        const char* own = url.scheme == "http" ? "http" : "https";
        const char* redirects = policy == PlainHttp::allowed ? "http,https" : "https";
        curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, own);
        curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR, redirects);
    }

    void configure_tls(CURL* handle) const {
        const TlsOptions& tls = m_options.tls;
        if (tls.insecure_skip_verify) {
            curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (!tls.ca_pem.empty()) {
            set_blob(handle, CURLOPT_CAINFO_BLOB, tls.ca_pem);
        } else if (!tls.ca_file.empty()) {
            curl_easy_setopt(handle, CURLOPT_CAINFO, tls.ca_file.c_str());
        }
        if (!tls.client_cert_pem.empty()) {
            set_blob(handle, CURLOPT_SSLCERT_BLOB, tls.client_cert_pem);
        } else if (!tls.client_cert_file.empty()) {
            curl_easy_setopt(handle, CURLOPT_SSLCERT, tls.client_cert_file.c_str());
        }
        if (!tls.client_key_pem.empty()) {
            set_blob(handle, CURLOPT_SSLKEY_BLOB, tls.client_key_pem);
        } else if (!tls.client_key_file.empty()) {
            curl_easy_setopt(handle, CURLOPT_SSLKEY, tls.client_key_file.c_str());
        }
    }

    // Sets up an easy handle for `request` on the calling thread; the event thread only runs it.
    Result<void> prepare(Transfer& transfer, const Request& request, bool streaming) {
        // Checked before a handle is taken: a refused URL is never handed to libcurl.
        auto allowed = check_url(request.url, request.plain_http);
        if (!allowed) {
            return fail(allowed.error().code, allowed.error().message,
                        fmt::format("{} {}", to_string(request.method), allowed.error().subject));
        }
        CURL* handle = acquire();
        if (handle == nullptr) return fail(ErrorCode::internal, "curl_easy_init failed");
        transfer.handle = handle;
        transfer.peak_buffer = &m_peak_buffer;
        transfer.max_body = request.max_body_bytes;

        restrict_protocols(handle, *allowed, request.plain_http);
        curl_easy_setopt(handle, CURLOPT_SHARE, m_share);
        curl_easy_setopt(handle, CURLOPT_PRIVATE, &transfer);
        // With a server name override the URL carries that name (so SNI and verification use it)
        // and CONNECT_TO sends the connection to the real host.
        auto target = server_name_override(request.url);
        curl_easy_setopt(handle, CURLOPT_URL, target ? target->url.c_str() : request.url.c_str());
        if (target) {
            transfer.connect_to = curl_slist_append(nullptr, target->connect_to.c_str());
            curl_easy_setopt(handle, CURLOPT_CONNECT_TO, transfer.connect_to);
        }
        if (!m_options.proxy.empty()) curl_easy_setopt(handle, CURLOPT_PROXY, m_options.proxy.c_str());
        curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, transfer.error);
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(handle, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
        // Requests started while the first connection is still being set up wait to share it
        // instead of opening their own; on HTTP/1.1 they then get connections of their own.
        curl_easy_setopt(handle, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(handle, CURLOPT_USERAGENT, m_options.user_agent.c_str());
        curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(m_options.connect_timeout.count()));
        auto timeout = request.timeout.count() > 0 ? request.timeout : m_options.request_timeout;
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
        configure_tls(handle);

        switch (request.method) {
        case Method::get: curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L); break;
        case Method::head: curl_easy_setopt(handle, CURLOPT_NOBODY, 1L); break;
        case Method::post:
        case Method::put:
        case Method::patch:
        case Method::delete_:
            curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, std::string(to_string(request.method)).c_str());
            if (!request.body.empty() || request.method != Method::delete_) {
                // Not copied: the request outlives the transfer, its caller waits for the end.
                curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
                curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
            }
            break;
        }

        for (const auto& h : request.headers) {
            std::string line = h.name + ": " + h.value;
            transfer.headers = curl_slist_append(transfer.headers, line.c_str());
        }
        // curl would otherwise send "Expect: 100-continue" on large bodies and wait for it.
        transfer.headers = curl_slist_append(transfer.headers, "Expect:");
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, transfer.headers);

        curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, streaming ? &buffer_stream : &collect_body);
        curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
        curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &collect_header);
        curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer.response.headers);
        return {};
    }

    // Turns a finished transfer into the caller's answer and gives its handle back to the pool.
    Result<Response> conclude(Transfer& transfer, const Request& request, bool stopped) {
        CURL* handle = transfer.handle;
        CURLcode code = transfer.result;
        if (transfer.body_too_large) {
            release(handle);
            return fail(ErrorCode::api,
                        fmt::format("the response body is larger than the {} minicd accepts", size_text(request.max_body_bytes)),
                        fmt::format("{} {}", to_string(request.method), redact_url(request.url)));
        }
        // A consumer that stopped the transfer asked for its end; whatever happened after is no error.
        if (code != CURLE_OK && !stopped) {
            std::string detail = transfer.error[0] != '\0' ? transfer.error : curl_easy_strerror(code);
            release(handle);
            auto error_code = code == CURLE_OPERATION_TIMEDOUT ? ErrorCode::timeout : ErrorCode::network;
            return fail(error_code, detail, fmt::format("{} {}", to_string(request.method), redact_url(request.url)));
        }
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &transfer.response.status);
        long version = 0;
        curl_easy_getinfo(handle, CURLINFO_HTTP_VERSION, &version);
        release(handle);
        transfer.response.http_version = version == CURL_HTTP_VERSION_3   ? 30
                                         : version == CURL_HTTP_VERSION_2_0 ? 20
                                         : version == CURL_HTTP_VERSION_1_0 ? 10
                                                                            : 11;
        return std::move(transfer.response);
    }

    // The event thread: the only one that touches m_multi (besides curl_multi_wakeup) while it runs.
    void run_events() {
        std::vector<Command> commands;
        for (;;) {
            bool stopping = false;
            {
                std::lock_guard lock(m_mutex);
                commands.swap(m_commands);
                stopping = m_stopping;
            }
            for (const Command& command : commands) execute(command);
            commands.clear();
            if (stopping) break;
            int running = 0;
            curl_multi_perform(m_multi, &running);
            collect_finished();
            curl_multi_poll(m_multi, nullptr, 0, k_idle_wait_ms, nullptr);
        }
        // Destroying the client with requests in flight is a bug of the caller; end them rather than hang.
        for (auto& [id, transfer] : m_active) {
            curl_multi_remove_handle(m_multi, transfer->handle);
            finish(*transfer, CURLE_ABORTED_BY_CALLBACK);
        }
        m_active.clear();
    }

    void execute(const Command& command) {
        if (command.kind == Command::Kind::start) {
            CURLMcode added = curl_multi_add_handle(m_multi, command.transfer->handle);
            if (added != CURLM_OK) {
                fmt::format_to_n(command.transfer->error, CURL_ERROR_SIZE - 1, "{}", curl_multi_strerror(added));
                finish(*command.transfer, CURLE_FAILED_INIT);
                return;
            }
            m_active.emplace(command.id, command.transfer);
            return;
        }
        auto found = m_active.find(command.id);
        if (found == m_active.end()) return;  // finished before the command arrived
        Transfer& transfer = *found->second;
        if (command.kind == Command::Kind::resume) {
            {
                std::lock_guard lock(transfer.mutex);
                transfer.paused = false;
                transfer.resume_asked = false;
            }
            // May deliver the held chunk at once, through buffer_stream.
            curl_easy_pause(transfer.handle, CURLPAUSE_CONT);
            return;
        }
        // Removing the handle ends the transfer: an HTTP/2 stream is reset, an HTTP/1.1 connection closed.
        curl_multi_remove_handle(m_multi, transfer.handle);
        m_active.erase(found);
        finish(transfer, CURLE_ABORTED_BY_CALLBACK);
    }

    void collect_finished() {
        int queued = 0;
        while (CURLMsg* message = curl_multi_info_read(m_multi, &queued)) {
            if (message->msg != CURLMSG_DONE) continue;
            // The message is freed by remove_handle; keep what it says first.
            CURL* handle = message->easy_handle;
            CURLcode result = message->data.result;
            Transfer* transfer = nullptr;
            curl_easy_getinfo(handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&transfer));
            curl_multi_remove_handle(m_multi, handle);
            m_active.erase(transfer->id);
            finish(*transfer, result);
        }
    }

    // Hands the transfer back to its caller, who may destroy it as soon as `finished` is seen.
    void finish(Transfer& transfer, CURLcode result) {
        long connects = 0;
        curl_easy_getinfo(transfer.handle, CURLINFO_NUM_CONNECTS, &connects);
        m_connections += connects;
        ++m_transfers;
        std::lock_guard lock(transfer.mutex);
        transfer.result = result;
        transfer.finished = true;
        // Under the lock: once it is released the caller may return and the condition variable is gone.
        transfer.changed.notify_all();
    }

    struct Retarget {
        std::string url;         // the request URL with the host replaced by the server name
        std::string connect_to;  // "name:port:host:port" for CURLOPT_CONNECT_TO
    };

    std::optional<Retarget> server_name_override(const std::string& url) const {
        const std::string& name = m_options.tls.server_name;
        if (name.empty() || !url.starts_with("https://")) return std::nullopt;
        std::size_t host_begin = 8;
        std::size_t authority_end = url.find_first_of("/?#", host_begin);
        if (authority_end == std::string::npos) authority_end = url.size();
        std::string authority = url.substr(host_begin, authority_end - host_begin);
        // IPv6 literals are bracketed; the port follows the last ':' outside the brackets.
        std::size_t colon = authority.rfind(':');
        bool has_port = colon != std::string::npos && authority.find(']', colon) == std::string::npos;
        std::string host = has_port ? authority.substr(0, colon) : authority;  // IPv6 keeps its brackets
        std::string port = has_port ? authority.substr(colon + 1) : "443";
        return Retarget{"https://" + name + ":" + port + url.substr(authority_end), name + ":" + port + ":" + host + ":" + port};
    }

    // URLs may carry credentials (user:password@host); errors must not.
    static std::string redact_url(const std::string& url) {
        auto scheme_end = url.find("://");
        if (scheme_end == std::string::npos) return url;
        auto authority_begin = scheme_end + 3;
        auto authority_end = url.find_first_of("/?#", authority_begin);
        auto at = url.rfind('@', authority_end == std::string::npos ? url.size() : authority_end);
        if (at == std::string::npos || at < authority_begin) return url;
        return url.substr(0, authority_begin) + "***@" + url.substr(at + 1);
    }

    ClientOptions m_options;
    ShareLocks m_locks;
    CURLSH* m_share = nullptr;
    CURLM* m_multi = nullptr;

    std::mutex m_mutex;                // guards the three below
    std::vector<Command> m_commands;   // for the event thread, in order
    bool m_stopping = false;
    std::vector<CURL*> m_idle;         // easy handles not in use

    std::atomic<std::uint64_t> m_last_id{0};
    std::atomic<long> m_transfers{0};
    std::atomic<long> m_connections{0};
    std::atomic<std::size_t> m_peak_buffer{0};
    std::unordered_map<std::uint64_t, Transfer*> m_active;  // in the multi handle; event thread only
    std::thread m_events;  // runs run_events() from the end of the constructor until the destructor
};

}  // namespace

Result<std::unique_ptr<HttpClient>> make_curl_client(ClientOptions options) {
    global_init_once();
    const auto* info = curl_version_info(CURLVERSION_NOW);
    if ((info->features & CURL_VERSION_SSL) == 0) {
        return fail(ErrorCode::internal, "libcurl was built without TLS support");
    }
    auto client = std::make_unique<CurlClient>(std::move(options));
    if (!client->usable()) return fail(ErrorCode::internal, "libcurl could not create its handles");
    return std::unique_ptr<HttpClient>(std::move(client));
}

std::optional<CurlStatistics> curl_statistics(const HttpClient& client) {
    const auto* curl = dynamic_cast<const CurlClient*>(&client);
    if (curl == nullptr) return std::nullopt;
    return curl->statistics();
}

}  // namespace minicd::http
