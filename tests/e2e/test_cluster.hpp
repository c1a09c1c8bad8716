#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "minicd/http/http_client.hpp"
#include "minicd/kube/client.hpp"

namespace minicd::e2e {

using Json = nlohmann::json;

// The local cluster and registries every e2e test runs against. When MINICD_TEST_ENV_FILE names the
// env file of a running testenv (the ctest fixture starts one), that one is used; otherwise the
// environment starts its own with testenv/cluster and stops it at the end.
class TestCluster : public ::testing::Environment {
public:
    void SetUp() override;
    void TearDown() override;

    static TestCluster& get();
    bool ready() const { return m_admin != nullptr; }

    // A variable from the testenv env file (KUBECONFIG, MINICD_TEST_REGISTRY, ...); fails the test if missing.
    std::string var(const std::string& name) const;
    const std::string& apiserver() const { return m_apiserver; }

    // Who calls the API server: the admin (client certificate) or the limited user (bearer token).
    struct User {
        http::HttpClient* client = nullptr;
        std::string authorization;  // Authorization header value; empty for certificate auth
    };
    User admin() const { return {m_admin.get(), ""}; }
    // minicd's own API client, authenticated as the admin (client certificate); fails the test on error.
    std::unique_ptr<kube::Client> admin_kube_client() const;
    User limited() const { return {m_limited.get(), "Bearer " + m_limited_token}; }

private:
    void start();
    void load_env(const std::string& path);

    std::string m_own_dir;  // set when this process started the cluster and must stop it
    std::map<std::string, std::string> m_vars;
    std::string m_apiserver;
    std::unique_ptr<http::HttpClient> m_admin;
    std::unique_ptr<http::HttpClient> m_limited;
    std::string m_limited_token;
};

// Sends a request to the API server and parses the JSON answer (null when the body is empty).
struct ApiReply {
    long status = 0;
    int http_version = 0;
    Json body;
};
ApiReply api(const TestCluster::User& user, http::Method method, const std::string& path, const Json& body = nullptr);

// Polls `probe` every 200 ms until it returns true or `limit` passes; returns the last result.
bool eventually(const std::function<bool()>& probe, std::chrono::seconds limit);

// Base for tests that need a namespace of their own, created before and deleted after each test.
class ClusterTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    TestCluster& cluster() { return TestCluster::get(); }
    const std::string& ns() const { return m_namespace; }
    std::string ns_path(const std::string& rest) const;  // "/api/v1/namespaces/<ns>" + rest

private:
    std::string m_namespace;
};

}  // namespace minicd::e2e
