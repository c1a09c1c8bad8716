#pragma once

// The Pushgateway and Prometheus that testenv/cluster starts (MINICD_TEST_PUSHGATEWAY,
// MINICD_TEST_PROMETHEUS), for e2e tests of metric-driven behaviour: a test pushes per-pod gauges,
// Prometheus scrapes them every second, and the test waits until a query sees what it expects.
// Failures throw std::runtime_error: these are set-up steps, and the message names the request.
#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "minicd/http/http_client.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::testing {

namespace pushgateway_detail {

// A fresh client per call keeps the helpers free of shared state; they send a few loopback requests.
inline http::Response send(http::Method method, const std::string& url, std::string body = {}) {
    auto client = http::make_curl_client({.connect_timeout = std::chrono::seconds(5),
                                          .request_timeout = std::chrono::seconds(10)});
    if (!client) {
        throw std::runtime_error("creating an HTTP client: " + client.error().describe());
    }
    http::Request request{.method = method, .url = url, .body = std::move(body),
                          .plain_http = http::PlainHttp::loopback_only};
    if (!request.body.empty()) {
        request.headers.push_back({"Content-Type", "text/plain; version=0.0.4"});
    }
    auto response = (*client)->send(request);
    if (!response) {
        throw std::runtime_error(std::string(http::to_string(method)) + " " + url + ": " + response.error().describe());
    }
    return std::move(*response);
}

// Throws unless the status is 2xx (the Pushgateway answers 200 or 202 depending on the call).
inline http::Response expect_success(http::Method method, const std::string& url, std::string body = {}) {
    http::Response response = send(method, url, std::move(body));
    if (response.status < 200 || response.status > 299) {
        throw std::runtime_error(std::string(http::to_string(method)) + " " + url + ": HTTP " +
                                 std::to_string(response.status) + ": " + response.body);
    }
    return response;
}

// A label value in the text exposition format: backslash, double quote and newline are escaped.
inline std::string label_value(std::string_view value) {
    std::string out;
    for (const char c : value) {
        if (c == '\\' || c == '"') {
            out.push_back('\\');
            out.push_back(c);
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// The shortest text that reads back as the same double, so a pushed value and a queried one compare equal.
inline std::string sample_value(double value) {
    char buffer[64];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    if (error != std::errc{}) {
        throw std::runtime_error("cannot format a sample value");
    }
    return std::string(buffer, end);
}

inline std::string group_url(const std::string& pushgateway, const std::string& job) {
    return pushgateway + "/metrics/job/" + util::percent_encode(job);
}

}  // namespace pushgateway_detail

// Replaces the group of `job` with one gauge `metric{pod="<pod>", <labels>}` per entry; PUT drops any
// series an earlier push left in the group, so pods that are gone disappear from Prometheus too.
inline void push_gauge(const std::string& pushgateway, const std::string& job, const std::string& metric,
                       const std::vector<std::pair<std::string, double>>& pod_values,
                       const std::vector<std::pair<std::string, std::string>>& labels = {}) {
    std::string more;
    for (const auto& [name, value] : labels) more += "," + name + "=\"" + pushgateway_detail::label_value(value) + "\"";
    std::string body = "# TYPE " + metric + " gauge\n";
    for (const auto& [pod, value] : pod_values) {
        body += metric + "{pod=\"" + pushgateway_detail::label_value(pod) + "\"" + more + "} " +
                pushgateway_detail::sample_value(value) + "\n";
    }
    pushgateway_detail::expect_success(http::Method::put, pushgateway_detail::group_url(pushgateway, job),
                                       std::move(body));
}

// Removes the group of `job`; Prometheus marks its series stale at the next scrape (about a second).
inline void delete_group(const std::string& pushgateway, const std::string& job) {
    pushgateway_detail::expect_success(http::Method::delete_, pushgateway_detail::group_url(pushgateway, job));
}

// Removes every group, so a test starts without series that an earlier test pushed.
inline void wipe(const std::string& pushgateway) {
    pushgateway_detail::expect_success(http::Method::put, pushgateway + "/api/v1/admin/wipe");
}

// The value of an instant query that yields a scalar or at most one sample; nullopt when the result
// vector is empty (nothing pushed yet, or the series went stale). More than one sample is a test bug.
inline std::optional<double> query_value(const std::string& prometheus, const std::string& promql) {
    const std::string url = prometheus + "/api/v1/query?query=" + util::percent_encode(promql);
    const http::Response response = pushgateway_detail::expect_success(http::Method::get, url);
    const auto json = nlohmann::json::parse(response.body, nullptr, false);
    if (!json.is_object() || json.value("status", "") != "success" || !json.contains("data")) {
        throw std::runtime_error("GET " + url + ": unexpected answer: " + response.body);
    }
    const auto& data = json["data"];
    const std::string type = data.value("resultType", "");
    const auto& result = data.at("result");
    // A sample is [time, "value"]; Prometheus sends the value as a string so NaN and Inf survive JSON.
    auto value_of = [](const nlohmann::json& sample) { return std::stod(sample.at(1).get<std::string>()); };
    if (type == "scalar") {
        return value_of(result);
    }
    if (type != "vector" || result.size() > 1) {
        throw std::runtime_error("query " + promql + " did not yield a scalar or at most one sample: " + response.body);
    }
    if (result.empty()) {
        return std::nullopt;
    }
    return value_of(result[0].at("value"));
}

// Polls the query every 250ms until `ok` accepts its value; false if `timeout` passes first. Scrapes
// happen every second, so a pushed value usually shows within one or two.
inline bool wait_for_value(const std::string& prometheus, const std::string& promql,
                           const std::function<bool(std::optional<double>)>& ok, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (ok(query_value(prometheus, promql))) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

}  // namespace minicd::testing
