#include "minicd/canary/prometheus.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "minicd/model/json_read.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/text.hpp"

namespace minicd::canary {
namespace {

using nlohmann::json;
using util::ErrorCode;

// ---- query text ----

struct Placeholder {
    std::string_view name;
    std::string QueryScope::*value;
};

constexpr std::array<Placeholder, 4> k_placeholders{{
    {model::k_query_placeholders[0], &QueryScope::namespace_},
    {model::k_query_placeholders[1], &QueryScope::workload},
    {model::k_query_placeholders[2], &QueryScope::canary_pods},
    {model::k_query_placeholders[3], &QueryScope::stable_pods},
}};

// How much of an unknown placeholder an error quotes.
constexpr std::size_t k_max_quoted_placeholder = 60;

std::string known_placeholders() {
    std::string out;
    for (const auto& placeholder : k_placeholders) {
        if (!out.empty()) out += ", ";
        out += fmt::format("{{{{{}}}}}", placeholder.name);
    }
    return out;
}

std::string_view trim_spaces(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

const std::string* placeholder_value(std::string_view name, const QueryScope& scope) {
    for (const auto& placeholder : k_placeholders) {
        if (placeholder.name == name) return &(scope.*placeholder.value);
    }
    return nullptr;
}

// A character Prometheus's regex engine (Go's RE2 syntax) would not read literally.
bool is_regex_meta(char c) {
    return std::string_view(R"(\.+*?()|[]{}^$)").find(c) != std::string_view::npos;
}

void append_literal(std::string& out, char c) {
    if (!is_regex_meta(c)) {
        out += c;
    } else if (c == '^' || c == '\\') {
        // A class cannot hold these alone without a backslash ("[^]" negates, "[\]" escapes).
        out += '\\';
        out += c;
    } else {
        // "[.]", "[[]", "[]]": literal in RE2, and free of backslashes that PromQL quotes would eat.
        out += '[';
        out += c;
        out += ']';
    }
}

// ---- answers ----

// Error texts from Prometheus are quoted up to this many bytes.
constexpr std::size_t k_max_error_text = 200;
constexpr std::string_view k_token_mask = "***";

// Prometheus writes sample values as Go's strconv does: "0.99", "1e+06", "NaN", "+Inf", "-Inf".
std::optional<double> sample_value(const json& pair) {
    if (!pair.is_array() || pair.size() != 2) return std::nullopt;
    const json& value = pair[1];
    if (value.is_number()) return value.get<double>();
    if (!value.is_string()) return std::nullopt;
    std::string_view text = value.get_ref<const std::string&>();
    if (text.starts_with('+')) text.remove_prefix(1);  // from_chars takes "-Inf" but not "+Inf"
    double number = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, number);
    if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
    return number;
}

// NaN is what a ratio gives without traffic (0/0): no data, like an empty vector.
Sample sample_of(double value) {
    if (std::isnan(value)) return Sample{};
    return Sample{.value = value};
}

std::string string_field(const json& object, const char* name) {
    auto found = object.find(name);
    if (found == object.end() || !found->is_string()) return {};
    return found->get<std::string>();
}

bool is_success_status(long status) { return status >= 200 && status < 300; }

// A non-empty header name without separators or line breaks; a value without line breaks.
bool is_header_name(std::string_view name) {
    return !name.empty() && name.find_first_of(":\r\n \t") == std::string_view::npos;
}

bool is_authorization(std::string_view name) {
    constexpr std::string_view k_name = "authorization";
    return std::equal(name.begin(), name.end(), k_name.begin(), k_name.end(),
                      [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

std::string replace_all(std::string text, std::string_view what, std::string_view with) {
    if (what.empty()) return text;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
        text.replace(at, what.size(), with);
    }
    return text;
}

}  // namespace

Result<std::string> fill_query(std::string_view query, const QueryScope& scope) {
    std::string out;
    std::size_t done = 0;
    while (true) {
        const auto open = query.find("{{", done);
        if (open == std::string_view::npos) break;
        out.append(query.substr(done, open - done));
        const auto close = query.find("}}", open + 2);
        if (close == std::string_view::npos) {
            return fail(ErrorCode::input, fmt::format("the query opens \"{{{{\" without closing it; known placeholders: {}",
                                                      known_placeholders()));
        }
        const std::string_view inside = query.substr(open + 2, close - open - 2);
        const std::string* value = placeholder_value(trim_spaces(inside), scope);
        if (value == nullptr) {
            return fail(ErrorCode::input,
                        fmt::format("unknown placeholder {{{{{}}}}} in the query; known placeholders: {}",
                                    util::shorten_utf8(inside, k_max_quoted_placeholder), known_placeholders()));
        }
        out += *value;
        done = close + 2;
    }
    out.append(query.substr(done));
    return out;
}

std::string pod_regex(std::vector<std::string> names) {
    if (names.empty()) return std::string(k_no_pods_regex);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    std::string out;
    for (const auto& name : names) {
        if (!out.empty()) out += '|';
        for (const char c : name) append_literal(out, c);
    }
    return out;
}

Prometheus::Prometheus(http::HttpClient& client, model::PrometheusEndpoint endpoint, std::chrono::milliseconds timeout)
    : m_client(&client),
      m_timeout(timeout),
      m_subject([&] {
          auto parts = http::parse_url(endpoint.address);
          return parts ? "Prometheus " + http::describe_origin(*parts) : std::string("Prometheus");
      }()),
      m_setup(prepare(endpoint, m_subject)) {}

Result<Prometheus::Setup> Prometheus::prepare(const model::PrometheusEndpoint& endpoint, const std::string& subject) {
    auto url = http::check_url(endpoint.address, http::PlainHttp::allowed);
    if (!url) return fail(ErrorCode::input, "address: " + url.error().message, subject);
    // The query string is ours to write.
    if (endpoint.address.find_first_of("?#") != std::string::npos) {
        return fail(ErrorCode::input, "address: a path prefix is allowed, a query or fragment is not", subject);
    }

    Setup setup;
    std::string base = endpoint.address;
    while (base.ends_with('/')) base.pop_back();
    setup.query_url = base + "/api/v1/query?query=";

    bool authorization_header = false;
    for (const auto& [name, value] : endpoint.headers) {
        // Values are never quoted: a header may carry a secret.
        if (!is_header_name(name) || value.find_first_of("\r\n") != std::string::npos) {
            return fail(ErrorCode::input, fmt::format("header \"{}\": not a valid header name and value", name), subject);
        }
        authorization_header = authorization_header || is_authorization(name);
        setup.headers.push_back({name, value});
    }

    if (!endpoint.token_env.empty()) {
        const char* token = std::getenv(endpoint.token_env.c_str());
        if (token == nullptr || *token == '\0') {
            return fail(ErrorCode::input, fmt::format("tokenEnv names {}, which is not set or empty", endpoint.token_env),
                        subject);
        }
        if (authorization_header) {
            return fail(ErrorCode::input, "both tokenEnv and an Authorization header are set; use one", subject);
        }
        setup.token = token;
        setup.headers.push_back({"Authorization", "Bearer " + setup.token});
    }

    // A credential goes in clear text over plain HTTP, so only to this machine; https anywhere.
    if (!setup.token.empty() || authorization_header) {
        if (!http::check_url(endpoint.address, http::PlainHttp::loopback_only)) {
            const std::string what = setup.token.empty() ? std::string("the Authorization header")
                                                         : fmt::format("the token from {}", endpoint.token_env);
            return fail(ErrorCode::input,
                        fmt::format("{} would travel unencrypted over plain HTTP to a host that is not loopback; "
                                    "use https",
                                    what),
                        subject);
        }
        setup.plain_http = http::PlainHttp::loopback_only;
    }
    return setup;
}

Result<void> Prometheus::ready() const {
    if (!m_setup) return fail(m_setup.error());
    return {};
}

int Prometheus::queries_sent() const { return m_sent.load(); }

util::Error Prometheus::error(util::ErrorCode code, std::string_view message) const {
    const std::string token = m_setup ? m_setup->token : std::string();
    return util::make_error(code, replace_all(std::string(message), token, k_token_mask), m_subject);
}

Result<Sample> Prometheus::query(const std::string& promql) {
    if (!m_setup) return fail(m_setup.error());
    util::log_debug("{}: query {}", m_subject, promql);
    const http::Request request{.method = http::Method::get,
                                .url = m_setup->query_url + util::percent_encode(promql),
                                .headers = m_setup->headers,
                                .body = {},
                                .timeout = m_timeout,
                                .plain_http = m_setup->plain_http};
    m_sent.fetch_add(1);
    auto response = m_client->send(request);
    if (!response) return fail(error(response.error().code, "no answer: " + response.error().message));
    return read_answer(*response);
}

Result<Sample> Prometheus::read_answer(const http::Response& response) const {
    const json answer = model::parse_json(response.body);
    const bool is_object = !answer.is_discarded() && answer.is_object();

    // Prometheus explains a refusal in JSON, with 400, 422 or 503 and sometimes with 200.
    if (is_object && string_field(answer, "status") == "error") {
        const std::string type = string_field(answer, "errorType");
        const std::string text = util::shorten_utf8(string_field(answer, "error"), k_max_error_text);
        // bad_data: the query itself is wrong, which only the user can fix.
        const ErrorCode code = type == "bad_data" ? ErrorCode::input : ErrorCode::http;
        return fail(error(code, fmt::format("query failed (HTTP {}, {}): {}", response.status, type, text)));
    }
    // Proxies answer with HTML: the status says enough, and a body may hold anything.
    if (!is_success_status(response.status)) {
        return fail(error(ErrorCode::http, fmt::format("query failed: HTTP {}", response.status)));
    }
    if (!is_object || string_field(answer, "status") != "success") {
        return fail(error(ErrorCode::http, "the answer is not a Prometheus query result"));
    }

    auto data = answer.find("data");
    if (data == answer.end() || !data->is_object()) {
        return fail(error(ErrorCode::http, "the answer has no data"));
    }
    const std::string type = string_field(*data, "resultType");
    auto result = data->find("result");
    if (result == data->end()) return fail(error(ErrorCode::http, "the answer has no result"));

    if (type == "scalar") {
        auto value = sample_value(*result);
        if (!value) return fail(error(ErrorCode::http, "the scalar result has no readable value"));
        return sample_of(*value);
    }
    if (type == "vector") {
        if (!result->is_array()) return fail(error(ErrorCode::http, "the vector result is not a list"));
        if (result->empty()) return Sample{};
        if (result->size() > 1) {
            return fail(error(ErrorCode::input, fmt::format("the query returned {} series; aggregate them to one, "
                                                            "e.g. with sum() or avg()",
                                                            result->size())));
        }
        const json& series = result->front();
        if (series.is_object() && series.contains("histogram")) {
            return fail(error(ErrorCode::input, "the query returned a native histogram; query a number, e.g. "
                                                "with histogram_quantile()"));
        }
        auto pair = series.is_object() ? series.find("value") : series.end();
        auto value = pair != series.end() ? sample_value(*pair) : std::nullopt;
        if (!value) return fail(error(ErrorCode::http, "the vector's sample has no readable value"));
        return sample_of(*value);
    }
    if (type == "matrix") {
        return fail(error(ErrorCode::input, "the query returned a range vector (matrix); it needs one value now, "
                                            "e.g. rate(x[5m]) rather than x[5m]"));
    }
    if (type == "string") {
        return fail(error(ErrorCode::input, "the query returned a string; it needs a number"));
    }
    return fail(error(ErrorCode::http, fmt::format("unknown resultType \"{}\"",
                                                   util::shorten_utf8(type, k_max_error_text))));
}

}  // namespace minicd::canary
