#include "test_cluster.hpp"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <thread>

#include "minicd/util/subprocess.hpp"

namespace minicd::e2e {

namespace {

TestCluster* g_cluster = nullptr;

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Undoes bash's printf %q for the plain values the env file holds (backslash escapes only).
std::string unquote(const std::string& value) {
    std::string out;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        out.push_back(value[i]);
    }
    return out;
}

std::unique_ptr<http::HttpClient> make_client(http::ClientOptions options) {
    auto client = http::make_curl_client(std::move(options));
    if (!client) throw std::runtime_error(client.error().describe());
    return std::move(*client);
}

}  // namespace

TestCluster& TestCluster::get() {
    if (g_cluster == nullptr) throw std::logic_error("TestCluster environment is not registered");
    return *g_cluster;
}

void TestCluster::SetUp() {
    g_cluster = this;
    try {
        start();
    } catch (const std::exception& error) {
        FAIL() << error.what();
    }
}

void TestCluster::start() {
    std::string env_file;
    if (const char* given = ::getenv("MINICD_TEST_ENV_FILE"); given != nullptr && *given != '\0') {
        env_file = given;
    } else {
        char pattern[] = "/tmp/minicd-e2e-XXXXXX";
        if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
        m_own_dir = pattern;
        // stderr passes through so the first (slow) build of the control plane shows progress.
        auto up = util::run_subprocess({.inherit = util::Inherit::everything, .argv = {MINICD_SOURCE_DIR "/testenv/cluster", "up", "--dir", m_own_dir},
                                        .timeout = std::chrono::minutes(60)});
        if (!up || !up->succeeded()) {
            std::string why = up ? up->outcome() + "\n" + up->err : up.error().describe();
            throw std::runtime_error("testenv/cluster up failed: " + why);
        }
        env_file = m_own_dir + "/env";
    }
    load_env(env_file);
    m_apiserver = var("MINICD_TEST_APISERVER");
    const std::string pki = var("MINICD_TEST_PKI");
    m_admin = make_client({.tls = {.ca_file = pki + "/ca.crt",
                                   .client_cert_file = pki + "/admin.crt",
                                   .client_key_file = pki + "/admin.key"}});
    m_limited = make_client({.tls = {.ca_file = pki + "/ca.crt"}});
    m_limited_token = read_file(pki + "/limited.token");
    while (!m_limited_token.empty() && std::isspace(static_cast<unsigned char>(m_limited_token.back()))) {
        m_limited_token.pop_back();
    }
}

void TestCluster::TearDown() {
    m_admin.reset();
    m_limited.reset();
    if (!m_own_dir.empty()) {
        auto down = util::run_subprocess({.inherit = util::Inherit::everything, .argv = {MINICD_SOURCE_DIR "/testenv/cluster", "down", "--dir", m_own_dir},
                                          .timeout = std::chrono::minutes(2)});
        if (!down || !down->succeeded()) fmt::print(stderr, "warning: testenv/cluster down failed\n");
    }
    g_cluster = nullptr;
}

void TestCluster::load_env(const std::string& path) {
    std::string text = read_file(path);
    if (text.empty()) throw std::runtime_error("cannot read testenv env file " + path);
    std::size_t position = 0;
    while (position < text.size()) {
        std::size_t end = text.find('\n', position);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(position, end - position);
        position = end + 1;
        const std::string prefix = "export ";
        auto equals = line.find('=');
        if (!line.starts_with(prefix) || equals == std::string::npos) continue;
        std::string name = line.substr(prefix.size(), equals - prefix.size());
        std::string value = unquote(line.substr(equals + 1));
        m_vars[name] = value;
        // Child processes (kubectl, buildah) see the same cluster and registries.
        ::setenv(name.c_str(), value.c_str(), 1);
    }
}

std::string TestCluster::var(const std::string& name) const {
    auto it = m_vars.find(name);
    if (it == m_vars.end()) throw std::runtime_error("testenv env file has no " + name);
    return it->second;
}

std::unique_ptr<kube::Client> TestCluster::admin_kube_client() const {
    const std::string pki = var("MINICD_TEST_PKI");
    kube::RestConfig config{.server = m_apiserver,
                            .tls = {.ca_file = pki + "/ca.crt",
                                    .client_cert_file = pki + "/admin.crt",
                                    .client_key_file = pki + "/admin.key"}};
    auto client = kube::Client::create(std::move(config));
    if (!client) {
        ADD_FAILURE() << client.error().describe();
        return nullptr;
    }
    return std::move(*client);
}

ApiReply api(const TestCluster::User& user, http::Method method, const std::string& path, const Json& body) {
    http::Request request{.method = method, .url = TestCluster::get().apiserver() + path};
    request.headers.push_back({"Accept", "application/json"});
    if (!user.authorization.empty()) request.headers.push_back({"Authorization", user.authorization});
    if (!body.is_null()) {
        request.headers.push_back({"Content-Type", "application/json"});
        request.body = body.dump();
    }
    auto response = user.client->send(request);
    if (!response) throw std::runtime_error(response.error().describe());
    ApiReply reply{.status = response->status, .http_version = response->http_version, .body = nullptr};
    if (!response->body.empty()) reply.body = Json::parse(response->body, nullptr, false);
    return reply;
}

bool eventually(const std::function<bool()>& probe, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (probe()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

void ClusterTest::SetUp() {
    ASSERT_TRUE(cluster().ready()) << "the test cluster did not start";
    // DNS-1123 name from the test's name plus a random suffix, so reruns never collide.
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string base = std::string(info->test_suite_name()) + "-" + info->name();
    std::transform(base.begin(), base.end(), base.begin(), [](unsigned char c) {
        return std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '-';
    });
    base = base.substr(0, 50);
    std::mt19937 random(std::random_device{}());
    m_namespace = fmt::format("{}-{:06x}", base, random() & 0xffffff);
    auto created = api(cluster().admin(), http::Method::post, "/api/v1/namespaces",
                       {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", m_namespace}}}});
    ASSERT_EQ(created.status, 201) << created.body.dump();
}

void ClusterTest::TearDown() {
    // Deletion completes in the background; nothing waits on it.
    if (!m_namespace.empty()) api(cluster().admin(), http::Method::delete_, "/api/v1/namespaces/" + m_namespace);
}

std::string ClusterTest::ns_path(const std::string& rest) const { return "/api/v1/namespaces/" + m_namespace + rest; }

}  // namespace minicd::e2e

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new minicd::e2e::TestCluster);
    return RUN_ALL_TESTS();
}
