#include "minicd/http/url_policy.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fmt/format.h>

#include <cctype>
#include <memory>

namespace minicd::http {
namespace {

using util::ErrorCode;

constexpr std::string_view k_loopback_name = "localhost";

struct UrlHandleDeleter {
    void operator()(CURLU* handle) const { curl_url_cleanup(handle); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlHandleDeleter>;

// One part of a parsed URL; empty when the URL has no such part (curl reports that as an error).
std::string url_part(CURLU* handle, CURLUPart part) {
    char* value = nullptr;
    if (curl_url_get(handle, part, &value, 0) != CURLUE_OK || value == nullptr) return {};
    std::string copy(value);
    curl_free(value);
    return copy;
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// "[::1]" -> "::1"; other hosts unchanged.
std::string_view without_brackets(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
    return host;
}

bool is_loopback_ipv4(const std::string& host) {
    in_addr address{};
    // inet_pton takes dotted-quad decimal only, unlike inet_aton ("127.1", "0x7f.1"), so what we
    // call loopback is exactly the 127.0.0.0/8 address written out.
    if (inet_pton(AF_INET, host.c_str(), &address) != 1) return false;
    return (ntohl(address.s_addr) >> 24) == 127;
}

bool is_loopback_ipv6(const std::string& host) {
    in6_addr address{};
    if (inet_pton(AF_INET6, host.c_str(), &address) != 1) return false;
    return IN6_IS_ADDR_LOOPBACK(&address);
}

}  // namespace

Result<UrlParts> parse_url(std::string_view url) {
    UrlHandle handle(curl_url());
    if (!handle) return fail(ErrorCode::internal, "curl_url failed");
    // Unknown schemes are parsed too, so that a refusal can name them.
    CURLUcode parsed = curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(), CURLU_NON_SUPPORT_SCHEME);
    if (parsed != CURLUE_OK) {
        return fail(ErrorCode::input, fmt::format("not an absolute URL ({})", curl_url_strerror(parsed)));
    }
    return UrlParts{.scheme = lowercase(url_part(handle.get(), CURLUPART_SCHEME)),
                    .host = url_part(handle.get(), CURLUPART_HOST),
                    .port = url_part(handle.get(), CURLUPART_PORT)};
}

std::string describe_origin(const UrlParts& url) {
    if (url.host.empty()) return url.scheme + ":// (no host)";
    return url.port.empty() ? fmt::format("{}://{}", url.scheme, url.host)
                            : fmt::format("{}://{}:{}", url.scheme, url.host, url.port);
}

bool is_loopback_host(std::string_view host) {
    std::string bare = lowercase(without_brackets(host));
    return bare == k_loopback_name || is_loopback_ipv4(bare) || is_loopback_ipv6(bare);
}

std::optional<std::string> refusal(const UrlParts& url, PlainHttp policy) {
    if (url.scheme == "https") return std::nullopt;
    if (url.scheme != "http") {
        return fmt::format("the {} scheme is never fetched, only https (and http where plain HTTP is allowed)",
                           url.scheme);
    }
    switch (policy) {
    case PlainHttp::allowed: return std::nullopt;
    case PlainHttp::loopback_only:
        if (is_loopback_host(url.host)) return std::nullopt;
        return std::string("plain HTTP is allowed only to localhost, 127.0.0.0/8 and ::1 here; use https");
    case PlainHttp::refused: break;
    }
    return std::string("plain HTTP is not allowed here; use https");
}

Result<UrlParts> check_url(std::string_view url, PlainHttp policy) {
    auto parts = parse_url(url);
    if (!parts) return fail(parts.error());
    if (auto why = refusal(*parts, policy)) {
        return fail(ErrorCode::input, "refused: " + *why, describe_origin(*parts));
    }
    return parts;
}

}  // namespace minicd::http
