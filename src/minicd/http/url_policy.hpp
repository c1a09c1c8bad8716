#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::http {

// Which URLs a request may fetch. https is always allowed. Every other scheme libcurl speaks
// (file://, gopher://, dict://, ftp://, ...) never is: a URL handed to us by a server (a token
// realm, a Location) must not read local files or reach internal services.
enum class PlainHttp {
    refused,        // https only
    loopback_only,  // http too, when the URL's host is localhost, 127.0.0.0/8 or ::1
    allowed,        // http to any host: the user configured this server as plain HTTP
};

// A URL's parts as libcurl reads them, so that what is checked is what curl would connect to
// (userinfo, percent-encoding and odd spellings included).
struct UrlParts {
    std::string scheme;  // lowercase: "https"
    std::string host;    // as curl reads it, IPv6 in brackets; empty when the URL has none (file:///...)
    std::string port;    // empty when the URL names none
};

// An input error when libcurl cannot read `url` as an absolute URL (a scheme is required).
Result<UrlParts> parse_url(std::string_view url);

// "https://host:port", "file:// (no host)": what error messages name instead of the whole URL.
std::string describe_origin(const UrlParts& url);

// True for "localhost", a dotted-quad IPv4 address in 127.0.0.0/8 and ::1, bracketed or not; never
// asks DNS. "127.example.com" and "127.0.0.1.nip.io" are names, not loopback addresses.
bool is_loopback_host(std::string_view host);

// Why `policy` forbids fetching `url` ("plain HTTP is ..."), or nullopt when it may be fetched.
std::optional<std::string> refusal(const UrlParts& url, PlainHttp policy);

// The URL's parts when `policy` lets it be fetched; otherwise an input error whose subject is the
// URL's scheme and host (never its path or credentials) and whose message says why.
Result<UrlParts> check_url(std::string_view url, PlainHttp policy);

}  // namespace minicd::http
