#include "minicd/canary/prometheus.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "support/local_http_server.hpp"

namespace minicd::canary {
namespace {

using namespace std::chrono_literals;
using minicd::testing::LocalHttpServer;
using util::ErrorCode;

constexpr const char* k_token_env = "MINICD_TEST_PROMETHEUS_TOKEN";
constexpr const char* k_token = "s3cr3t-t0ken";

// Sets an environment variable for one test and removes it afterwards.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : m_name(name) { ::setenv(name, value, 1); }
    ~ScopedEnv() { ::unsetenv(m_name); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* m_name;
};

std::unique_ptr<http::HttpClient> make_client() {
    auto made = http::make_curl_client({});
    EXPECT_TRUE(made) << made.error().describe();
    return std::move(*made);
}

// The decoded value of a percent-encoded query parameter (the server sees the raw target).
std::string decoded_parameter(const std::string& target, const std::string& name) {
    const auto start = target.find(name + "=");
    if (start == std::string::npos) return "<missing>";
    std::string out;
    for (std::size_t i = start + name.size() + 1; i < target.size() && target[i] != '&'; ++i) {
        if (target[i] == '%' && i + 2 < target.size()) {
            out += static_cast<char>(std::stoi(target.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += target[i] == '+' ? ' ' : target[i];
        }
    }
    return out;
}

// A Prometheus double that answers every query with one reply and remembers what it was asked.
class FakePrometheus {
public:
    explicit FakePrometheus(LocalHttpServer::Reply reply)
        : m_reply(std::move(reply)), m_server([this](const LocalHttpServer::Request& request) {
              std::lock_guard lock(m_mutex);
              m_requests.push_back(request);
              return m_reply;
          }) {}

    static FakePrometheus answering(std::string body, int status = 200) {
        return FakePrometheus(LocalHttpServer::Reply{
            .status = status, .headers = {{"Content-Type", "application/json"}}, .body = std::move(body)});
    }

    std::string address(const std::string& prefix = "") const { return m_server.url(prefix); }

    std::vector<LocalHttpServer::Request> requests() {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }

private:
    LocalHttpServer::Reply m_reply;
    std::mutex m_mutex;
    std::vector<LocalHttpServer::Request> m_requests;
    LocalHttpServer m_server;
};

std::string vector_of(const std::vector<std::string>& values) {
    std::string series;
    for (const auto& value : values) {
        if (!series.empty()) series += ",";
        series += R"({"metric":{"pod":"web-1"},"value":[1700000000.123,")" + value + R"("]})";
    }
    return R"({"status":"success","data":{"resultType":"vector","result":[)" + series + "]}}";
}

model::PrometheusEndpoint endpoint(std::string address) { return model::PrometheusEndpoint{.address = std::move(address)}; }

// ---- fill_query and pod_regex ----

const QueryScope k_scope{
    .namespace_ = "shop", .workload = "web", .canary_pods = "web-canary-1", .stable_pods = "web-1|web-2"};

TEST(FillQuery, ReplacesEveryPlaceholderAllowingSpacesInsideTheBraces) {
    auto filled = fill_query(R"(sum(rate(x{namespace="{{namespace}}",pod=~"{{ canary_pods }}"}[1m])) / )"
                             R"(sum(rate(x{namespace="{{namespace}}",pod=~"{{stable_pods}}",app="{{  workload}}"}[1m])))",
                             k_scope);
    ASSERT_TRUE(filled) << filled.error().describe();
    EXPECT_EQ(*filled, R"(sum(rate(x{namespace="shop",pod=~"web-canary-1"}[1m])) / )"
                       R"(sum(rate(x{namespace="shop",pod=~"web-1|web-2",app="web"}[1m])))");
}

TEST(FillQuery, InsertedValuesAreNotExpandedAgain) {
    QueryScope scope = k_scope;
    scope.workload = "{{namespace}}";
    EXPECT_EQ(fill_query("a {{workload}} b", scope).value(), "a {{namespace}} b");
}

TEST(FillQuery, AnUnknownPlaceholderIsAnInputErrorNamingItAndTheKnownOnes) {
    auto filled = fill_query(R"(up{job="{{ job }}"})", k_scope);
    ASSERT_FALSE(filled);
    EXPECT_EQ(filled.error().code, ErrorCode::input);
    EXPECT_EQ(filled.error().message, "unknown placeholder {{ job }} in the query; known placeholders: {{namespace}}, "
                                      "{{workload}}, {{canary_pods}}, {{stable_pods}}");
}

TEST(FillQuery, AnUnclosedPlaceholderIsAnInputError) {
    auto filled = fill_query("up{{namespace", k_scope);
    ASSERT_FALSE(filled);
    EXPECT_EQ(filled.error().code, ErrorCode::input);
    EXPECT_NE(filled.error().message.find("without closing"), std::string::npos);
}

TEST(PodRegex, IsTheSortedNamesWithoutDuplicatesJoinedByBars) {
    EXPECT_EQ(pod_regex({"web-canary-7d9f-fghij", "web-canary-7d9f-abcde", "web-canary-7d9f-fghij"}),
              "web-canary-7d9f-abcde|web-canary-7d9f-fghij");
}

TEST(PodRegex, EscapesMetacharactersWithoutBackslashesSoAnyPromQLQuotesKeepThem) {
    EXPECT_EQ(pod_regex({"web.v2-abc"}), "web[.]v2-abc");
    EXPECT_EQ(pod_regex({"a+b*c?(d)|{e}$[f]"}), "a[+]b[*]c[?][(]d[)][|][{]e[}][$][[]f[]]");
    EXPECT_EQ(pod_regex({"^\\"}), "\\^\\\\");
}

TEST(PodRegex, MatchesExactlyTheNamesWhenAnchoredLikePrometheus) {
    const std::regex regex(pod_regex({"web.v2-abc", "a+b", "x(1)"}));
    for (const char* name : {"web.v2-abc", "a+b", "x(1)"}) EXPECT_TRUE(std::regex_match(name, regex)) << name;
    for (const char* name : {"webXv2-abc", "aab", "x1", "web.v2-abcd", ""}) {
        EXPECT_FALSE(std::regex_match(name, regex)) << name;
    }
}

TEST(PodRegex, NoPodsGivesARegexNoPodNameCanMatch) {
    EXPECT_EQ(pod_regex({}), k_no_pods_regex);
    const std::regex regex(pod_regex({}));
    for (const char* name : {"", "web-1", "no-pods", "nopods"}) EXPECT_FALSE(std::regex_match(name, regex)) << name;
    // Pod names are lowercase DNS subdomains: letters, digits, '-' and '.' only.
    EXPECT_NE(k_no_pods_regex.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-."), std::string_view::npos);
    EXPECT_EQ(k_no_pods_regex.find('\\'), std::string_view::npos);  // fits any PromQL quotes
}

// ---- answers ----

TEST(Prometheus, AScalarIsItsValue) {
    auto prometheus_double = FakePrometheus::answering(
        R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"0.99"]}})");
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("scalar(up)");
    ASSERT_TRUE(sample) << sample.error().describe();
    EXPECT_EQ(sample->value, 0.99);
}

TEST(Prometheus, AVectorOfOneSampleIsItsValue) {
    auto prometheus_double = FakePrometheus::answering(vector_of({"0.42"}));
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("up");
    ASSERT_TRUE(sample) << sample.error().describe();
    EXPECT_EQ(sample->value, 0.42);
}

TEST(Prometheus, AnEmptyVectorIsNoData) {
    auto prometheus_double = FakePrometheus::answering(vector_of({}));
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("up");
    ASSERT_TRUE(sample) << sample.error().describe();
    EXPECT_FALSE(sample->value);
}

TEST(Prometheus, NaNIsNoData) {
    auto prometheus_double = FakePrometheus::answering(vector_of({"NaN"}));
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("a / b");
    ASSERT_TRUE(sample) << sample.error().describe();
    EXPECT_FALSE(sample->value);
}

TEST(Prometheus, PlusAndMinusInfAreInfinities) {
    for (const auto& [text, expected] : std::vector<std::pair<std::string, double>>{
             {"+Inf", std::numeric_limits<double>::infinity()}, {"-Inf", -std::numeric_limits<double>::infinity()}}) {
        auto prometheus_double = FakePrometheus::answering(vector_of({text}));
        auto client = make_client();
        Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
        auto sample = prometheus.query("histogram_quantile(0.99, x)");
        ASSERT_TRUE(sample) << sample.error().describe();
        EXPECT_EQ(sample->value, expected) << text;
    }
}

TEST(Prometheus, VectorOfSeveralSeriesIsAnErrorSayingToAggregate) {
    auto prometheus_double = FakePrometheus::answering(vector_of({"1", "2", "3"}));
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().code, ErrorCode::input);
    EXPECT_NE(sample.error().message.find("returned 3 series; aggregate them to one, e.g. with sum() or avg()"),
              std::string::npos)
        << sample.error().message;
}

TEST(Prometheus, AMatrixOrStringResultIsAnError) {
    for (const char* type : {"matrix", "string"}) {
        auto prometheus_double = FakePrometheus::answering(
            fmt::format(R"({{"status":"success","data":{{"resultType":"{}","result":[]}}}})", type));
        auto client = make_client();
        Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
        auto sample = prometheus.query("up[5m]");
        ASSERT_FALSE(sample) << type;
        EXPECT_EQ(sample.error().code, ErrorCode::input) << type;
        EXPECT_NE(sample.error().message.find(type == std::string("matrix") ? "range vector" : "a string"),
                  std::string::npos)
            << sample.error().message;
    }
}

TEST(Prometheus, StatusErrorNamesErrorTypeAndQuotesAShortenedText) {
    const std::string long_text = "parse error: unexpected character '}' " + std::string(1000, 'x');
    auto prometheus_double = FakePrometheus::answering(
        R"({"status":"error","errorType":"bad_data","error":")" + long_text + R"("})", 400);
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("up{");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().code, ErrorCode::input);
    EXPECT_NE(sample.error().message.find("HTTP 400, bad_data"), std::string::npos) << sample.error().message;
    EXPECT_NE(sample.error().message.find("parse error: unexpected character '}'"), std::string::npos);
    EXPECT_LT(sample.error().message.size(), 300U);
}

TEST(Prometheus, AnExecutionErrorIsAnHttpError) {
    auto prometheus_double = FakePrometheus::answering(
        R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})", 503);
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().code, ErrorCode::http);
    EXPECT_NE(sample.error().message.find("timeout): query timed out"), std::string::npos) << sample.error().message;
}

TEST(Prometheus, AServerErrorWithAnHtmlBodyNamesTheStatusWithoutEchoingTheBody) {
    auto prometheus_double = FakePrometheus(LocalHttpServer::Reply{
        .status = 500, .headers = {{"Content-Type", "text/html"}}, .body = "<html><body>internal-detail</body></html>"});
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().code, ErrorCode::http);
    EXPECT_NE(sample.error().message.find("HTTP 500"), std::string::npos);
    EXPECT_EQ(sample.error().describe().find("internal-detail"), std::string::npos);
    EXPECT_EQ(sample.error().describe().find("html"), std::string::npos);
}

TEST(Prometheus, AnAnswerThatIsNotJsonIsAnErrorWithoutTheBody) {
    auto prometheus_double = FakePrometheus::answering("Welcome to nginx! not-json-body");
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().code, ErrorCode::http);
    EXPECT_EQ(sample.error().describe().find("not-json-body"), std::string::npos);
}

TEST(Prometheus, AnUnreachableServerIsATransportError) {
    auto client = make_client();
    Prometheus prometheus(*client, endpoint("http://127.0.0.1:1"), 5s);
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().code, ErrorCode::network) << sample.error().describe();
    EXPECT_EQ(sample.error().subject, "Prometheus http://127.0.0.1:1");
}

TEST(Prometheus, ASlowAnswerRunsIntoTheTimeout) {
    auto prometheus_double = FakePrometheus(LocalHttpServer::Reply{.status = 200, .body = vector_of({"1"}), .delay_ms = 3000});
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 200ms);
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().code, ErrorCode::timeout) << sample.error().describe();
}

// ---- requests ----

TEST(Prometheus, TheQueryIsPercentEncodedAndArrivesIntact) {
    auto prometheus_double = FakePrometheus::answering(vector_of({"1"}));
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address()), 5s);
    const std::string promql =
        R"(sum(rate(http_requests_total{pod=~"web[.]1|web-2",code!~"5.."}[1m])) / 2 + 1 > bool 0.5 # ä&x=y)";
    ASSERT_TRUE(prometheus.query(promql));
    const auto requests = prometheus_double.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].method, "GET");
    EXPECT_TRUE(requests[0].target.starts_with("/api/v1/query?query=")) << requests[0].target;
    EXPECT_EQ(requests[0].target.find_first_of(" \"{}[]|+&#", std::string("/api/v1/query?query=").size()),
              std::string::npos)
        << requests[0].target;
    EXPECT_EQ(decoded_parameter(requests[0].target, "query"), promql);
    EXPECT_EQ(prometheus.queries_sent(), 1);
}

TEST(Prometheus, AnAddressWithAPathPrefixAndTrailingSlashIsUsedAsTheBase) {
    auto prometheus_double = FakePrometheus::answering(vector_of({"1"}));
    auto client = make_client();
    Prometheus prometheus(*client, endpoint(prometheus_double.address("/prometheus/")), 5s);
    ASSERT_TRUE(prometheus.query("up"));
    const auto requests = prometheus_double.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].target, "/prometheus/api/v1/query?query=up");
}

TEST(Prometheus, SendsTheConfiguredHeaders) {
    auto prometheus_double = FakePrometheus::answering(vector_of({"1"}));
    auto client = make_client();
    auto configured = endpoint(prometheus_double.address());
    configured.headers = {{"X-Scope-OrgID", "tenant-1"}};
    Prometheus prometheus(*client, configured, 5s);
    ASSERT_TRUE(prometheus.query("up"));
    const auto requests = prometheus_double.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].headers.at("x-scope-orgid"), "tenant-1");
    EXPECT_EQ(requests[0].headers.count("authorization"), 0U);
}

TEST(Prometheus, SendsTheBearerTokenAndNeverPutsItInErrors) {
    ScopedEnv token(k_token_env, k_token);
    // A server that quotes the credential back in its error text.
    auto prometheus_double = FakePrometheus::answering(
        std::string(R"({"status":"error","errorType":"bad_data","error":"bad token )") + k_token + R"("})", 400);
    auto client = make_client();
    auto configured = endpoint(prometheus_double.address());
    configured.token_env = k_token_env;
    Prometheus prometheus(*client, configured, 5s);
    ASSERT_TRUE(prometheus.ready());
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().describe().find(k_token), std::string::npos) << sample.error().describe();
    EXPECT_NE(sample.error().message.find("bad token ***"), std::string::npos) << sample.error().message;
    const auto requests = prometheus_double.requests();
    ASSERT_EQ(requests.size(), 1U);
    EXPECT_EQ(requests[0].headers.at("authorization"), std::string("Bearer ") + k_token);
}

TEST(Prometheus, ATokenOverPlainHttpToAnotherHostIsRefusedBeforeAnythingIsSent) {
    ScopedEnv token(k_token_env, k_token);
    auto client = make_client();
    auto configured = endpoint("http://prometheus.example:9090");
    configured.token_env = k_token_env;
    Prometheus prometheus(*client, configured, 5s);
    auto ready = prometheus.ready();
    ASSERT_FALSE(ready);
    EXPECT_EQ(ready.error().code, ErrorCode::input);
    EXPECT_NE(ready.error().message.find("would travel unencrypted"), std::string::npos) << ready.error().message;
    EXPECT_EQ(ready.error().describe().find(k_token), std::string::npos);
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().message, ready.error().message);
    EXPECT_EQ(prometheus.queries_sent(), 0);
}

TEST(Prometheus, ATokenMayGoOverHttpsAnywhere) {
    ScopedEnv token(k_token_env, k_token);
    auto client = make_client();
    auto configured = endpoint("https://prometheus.example:9090/");
    configured.token_env = k_token_env;
    Prometheus prometheus(*client, configured, 5s);
    EXPECT_TRUE(prometheus.ready());
}

TEST(Prometheus, PlainHttpWithoutCredentialsMayGoToAnyHost) {
    auto client = make_client();
    Prometheus prometheus(*client, endpoint("http://prometheus.monitoring.svc:9090"), 5s);
    EXPECT_TRUE(prometheus.ready());
}

TEST(Prometheus, AnAuthorizationHeaderIsACredentialToo) {
    auto client = make_client();
    auto configured = endpoint("http://prometheus.example:9090");
    configured.headers = {{"authorization", "Basic dXNlcjpwYXNz"}};
    Prometheus prometheus(*client, configured, 5s);
    auto ready = prometheus.ready();
    ASSERT_FALSE(ready);
    EXPECT_NE(ready.error().message.find("would travel unencrypted"), std::string::npos) << ready.error().message;
    EXPECT_EQ(ready.error().describe().find("dXNlcjpwYXNz"), std::string::npos);
}

TEST(Prometheus, AMissingTokenVariableIsAnInputErrorNamingIt) {
    ::unsetenv(k_token_env);
    auto client = make_client();
    auto configured = endpoint("https://prometheus.example:9090");
    configured.token_env = k_token_env;
    Prometheus prometheus(*client, configured, 5s);
    auto sample = prometheus.query("up");
    ASSERT_FALSE(sample);
    EXPECT_EQ(sample.error().code, ErrorCode::input);
    EXPECT_NE(sample.error().message.find(k_token_env), std::string::npos) << sample.error().message;

    ScopedEnv empty(k_token_env, "");
    Prometheus with_empty(*client, configured, 5s);
    EXPECT_FALSE(with_empty.ready());
}

TEST(Prometheus, AnAddressThatIsNotHttpOrHttpsIsRefused) {
    auto client = make_client();
    for (const char* address : {"file:///etc/passwd", "ftp://prometheus.example", "prometheus:9090/x y",
                                "http://prometheus.example:9090/?x=1"}) {
        Prometheus prometheus(*client, endpoint(address), 5s);
        auto ready = prometheus.ready();
        ASSERT_FALSE(ready) << address;
        EXPECT_EQ(ready.error().code, ErrorCode::input) << address;
    }
}

}  // namespace
}  // namespace minicd::canary
