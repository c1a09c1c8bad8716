#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "minicd/http/http_client.hpp"
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

void global_init_once() {
    // curl_global_init is not thread-safe; do it once before any handle exists.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
}

// Body sink for streaming transfers; remembers whether the consumer asked to stop.
struct StreamSink {
    const std::function<bool(std::string_view)>* consumer;
    const std::function<bool()>* cancelled;
    bool stopped = false;
};

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* sink = static_cast<StreamSink*>(user);
    if (*sink->cancelled && (*sink->cancelled)()) {
        sink->stopped = true;
        return 1;  // makes curl abort the transfer with CURLE_ABORTED_BY_CALLBACK
    }
    return 0;
}

std::size_t on_stream(char* data, std::size_t size, std::size_t count, void* user) {
    auto* sink = static_cast<StreamSink*>(user);
    if (!(*sink->consumer)(std::string_view(data, size * count))) {
        sink->stopped = true;
        return 0;  // makes curl abort the transfer with CURLE_WRITE_ERROR
    }
    return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
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

// Locks for the state shared between easy handles (connections, TLS sessions, DNS).
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

class CurlClient final : public HttpClient {
public:
    explicit CurlClient(ClientOptions options) : m_options(std::move(options)) {
        if (m_options.user_agent.empty()) m_options.user_agent = "minicd/" MINICD_VERSION;
        m_share = curl_share_init();
        curl_share_setopt(m_share, CURLSHOPT_LOCKFUNC, &ShareLocks::lock);
        curl_share_setopt(m_share, CURLSHOPT_UNLOCKFUNC, &ShareLocks::unlock);
        curl_share_setopt(m_share, CURLSHOPT_USERDATA, &m_locks);
        curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(m_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }

    ~CurlClient() override {
        for (CURL* handle : m_idle) curl_easy_cleanup(handle);
        curl_share_cleanup(m_share);
    }

    CurlClient(const CurlClient&) = delete;
    CurlClient& operator=(const CurlClient&) = delete;

    Result<Response> send(const Request& request) override {
        CURL* handle = acquire();
        if (handle == nullptr) return fail(ErrorCode::internal, "curl_easy_init failed");
        auto result = perform(handle, request, nullptr);
        release(handle);
        return result;
    }

    Result<Response> stream(const Request& request, const std::function<bool(std::string_view)>& on_data,
                            const std::function<bool()>& cancelled) override {
        CURL* handle = acquire();
        if (handle == nullptr) return fail(ErrorCode::internal, "curl_easy_init failed");
        StreamSink sink{&on_data, &cancelled};
        auto result = perform(handle, request, &sink);
        release(handle);
        return result;
    }

private:
    CURL* acquire() {
        {
            std::lock_guard lock(m_pool_mutex);
            if (!m_idle.empty()) {
                CURL* handle = m_idle.back();
                m_idle.pop_back();
                return handle;
            }
        }
        return curl_easy_init();
    }

    void release(CURL* handle) {
        std::lock_guard lock(m_pool_mutex);
        m_idle.push_back(handle);
    }

    static void set_blob(CURL* handle, CURLoption option, const std::string& pem) {
        curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
        curl_easy_setopt(handle, option, &blob);
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

    // With a sink the body goes to it; otherwise it is collected into the Response.
    Result<Response> perform(CURL* handle, const Request& request, StreamSink* sink) const {
        curl_easy_reset(handle);
        Response response;
        char error_buffer[CURL_ERROR_SIZE] = {};

        curl_easy_setopt(handle, CURLOPT_SHARE, m_share);
        // With a server name override the URL carries that name (so SNI and verification use it)
        // and CONNECT_TO sends the connection to the real host.
        auto target = server_name_override(request.url);
        curl_easy_setopt(handle, CURLOPT_URL, target ? target->url.c_str() : request.url.c_str());
        curl_slist* connect_to = nullptr;
        if (target) {
            connect_to = curl_slist_append(nullptr, target->connect_to.c_str());
            curl_easy_setopt(handle, CURLOPT_CONNECT_TO, connect_to);
        }
        if (!m_options.proxy.empty()) curl_easy_setopt(handle, CURLOPT_PROXY, m_options.proxy.c_str());
        curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
        curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(handle, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
        curl_easy_setopt(handle, CURLOPT_USERAGENT, m_options.user_agent.c_str());
        curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(m_options.connect_timeout.count()));
        auto timeout = request.timeout.count() > 0 ? request.timeout : m_options.request_timeout;
        curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
        // The cache is shared by all threads; curl's default of 5 would close connections still wanted.
        curl_easy_setopt(handle, CURLOPT_MAXCONNECTS, k_max_idle_connections);
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
                curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
                curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
            }
            break;
        }

        curl_slist* header_list = nullptr;
        for (const auto& h : request.headers) {
            std::string line = h.name + ": " + h.value;
            header_list = curl_slist_append(header_list, line.c_str());
        }
        // curl would otherwise send "Expect: 100-continue" on large bodies and wait for it.
        header_list = curl_slist_append(header_list, "Expect:");
        curl_easy_setopt(handle, CURLOPT_HTTPHEADER, header_list);

        if (sink != nullptr) {
            curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_stream);
            curl_easy_setopt(handle, CURLOPT_WRITEDATA, sink);
            curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &on_progress);
            curl_easy_setopt(handle, CURLOPT_XFERINFODATA, sink);
        } else {
            curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_body);
            curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response.body);
        }
        curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &on_header);
        curl_easy_setopt(handle, CURLOPT_HEADERDATA, &response.headers);

        CURLcode code = curl_easy_perform(handle);
        curl_slist_free_all(header_list);
        curl_slist_free_all(connect_to);
        std::string subject = fmt::format("{} {}", to_string(request.method), redact_url(request.url));
        bool stopped_by_consumer =
            sink != nullptr && sink->stopped && (code == CURLE_WRITE_ERROR || code == CURLE_ABORTED_BY_CALLBACK);
        if (code != CURLE_OK && !stopped_by_consumer) {
            std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
            auto error_code = code == CURLE_OPERATION_TIMEDOUT ? ErrorCode::timeout : ErrorCode::network;
            return fail(error_code, detail, std::move(subject));
        }
        curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
        long version = 0;
        curl_easy_getinfo(handle, CURLINFO_HTTP_VERSION, &version);
        response.http_version = version == CURL_HTTP_VERSION_2_0 ? 20 : version == CURL_HTTP_VERSION_1_0 ? 10 : 11;
        return response;
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

    static constexpr long k_max_idle_connections = 64;

    ClientOptions m_options;
    ShareLocks m_locks;
    CURLSH* m_share = nullptr;
    std::mutex m_pool_mutex;
    std::vector<CURL*> m_idle;  // handles not in use; their connections live in m_share
};

}  // namespace

Result<std::unique_ptr<HttpClient>> make_curl_client(ClientOptions options) {
    global_init_once();
    const auto* info = curl_version_info(CURLVERSION_NOW);
    if ((info->features & CURL_VERSION_SSL) == 0) {
        return fail(ErrorCode::internal, "libcurl was built without TLS support");
    }
    return std::unique_ptr<HttpClient>(new CurlClient(std::move(options)));
}

}  // namespace minicd::http
