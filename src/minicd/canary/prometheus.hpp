#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/http/http_client.hpp"
#include "minicd/model/canary.hpp"
#include "minicd/util/result.hpp"

// Asking Prometheus how a canary is doing: the query text and the HTTP API.
namespace minicd::canary {

// What fills a query's placeholders.
struct QueryScope {
    std::string namespace_;
    std::string workload;     // the stable Deployment's name, e.g. "web"
    std::string canary_pods;  // a regex matching exactly the canary's pods (pod_regex)
    std::string stable_pods;  // the same for the stable's pods
};

// Replaces {{namespace}} {{workload}} {{canary_pods}} {{stable_pods}}; spaces inside the braces are
// allowed ("{{ namespace }}"). Values are inserted as they are and never expanded again. Any other
// {{...}}, or a "{{" that is never closed, is an input error naming it and listing the known ones.
Result<std::string> fill_query(std::string_view query, const QueryScope& scope);

// The value pod_regex gives for no pods: '<', '>' and ' ' cannot occur in a pod name (a DNS
// subdomain), so no pod ever matches it, although Prometheus anchors the regex.
inline constexpr std::string_view k_no_pods_regex = "<no pods>";

// A Prometheus label regex (anchored by Prometheus) matching exactly these pod names: the names
// sorted, without duplicates, joined by '|'. A regex metacharacter is escaped as a one-character
// class ("web.x" -> "web[.]x") rather than with a backslash, because PromQL strings in quotes
// treat a backslash as a Go escape ("\." is a syntax error there): so the result goes unchanged
// into "...", '...' or `...`. Only '^' and '\' need a backslash; no Kubernetes name has them.
// No names: k_no_pods_regex.
std::string pod_regex(std::vector<std::string> names);

// One measurement's raw answer.
struct Sample {
    std::optional<double> value;  // nullopt: no data (an empty vector, or NaN as 0/0 gives without traffic)
};

// Sends instant queries to Prometheus's HTTP API: GET <address>/api/v1/query?query=<percent-encoded>.
// query may be called from several threads at once.
class Prometheus {
public:
    // `timeout` bounds each request. The token in the environment variable endpoint.token_env (when
    // set) goes as "Authorization: Bearer ..."; endpoint.headers go as given. The address is http(s)
    // with an optional path prefix and trailing '/'. Plain http may go to any host, except that a
    // credential (the token, or an Authorization header) goes over plain http to loopback hosts only.
    // The address, token and headers are checked here; a problem makes every query fail with it.
    Prometheus(http::HttpClient& client, model::PrometheusEndpoint endpoint, std::chrono::milliseconds timeout);

    // Whether queries can be sent at all: the error each query would return otherwise, so that a
    // canary can stop before it starts.
    Result<void> ready() const;

    // A scalar, or a vector of exactly one sample: its value. An empty vector or NaN: no data.
    // Errors: the transport failing, a non-2xx status, "status":"error" (with Prometheus's errorType
    // and error text, shortened), a vector of several series, a matrix or string result, an answer
    // that is not Prometheus JSON. An error never quotes the whole response body nor the token.
    Result<Sample> query(const std::string& promql);

    // Requests sent so far (for benchmarks and tests).
    int queries_sent() const;

private:
    // What every query reuses, prepared once by the constructor.
    struct Setup {
        std::string query_url;  // "<address>/api/v1/query?query=": the encoded query is appended
        std::vector<http::Header> headers;
        http::PlainHttp plain_http = http::PlainHttp::allowed;
        std::string token;  // "" when none; kept only to scrub it from error texts
    };
    static Result<Setup> prepare(const model::PrometheusEndpoint& endpoint, const std::string& subject);
    Result<Sample> read_answer(const http::Response& response) const;
    // An error about this Prometheus, with the token (should any text ever hold it) masked.
    util::Error error(util::ErrorCode code, std::string_view message) const;

    http::HttpClient* m_client;
    std::chrono::milliseconds m_timeout;
    std::string m_subject;  // "Prometheus http://host:9090": what errors name; no path, no userinfo
    Result<Setup> m_setup;
    std::atomic<int> m_sent{0};
};

}  // namespace minicd::canary
