// Auth, retries and digest checks against canned registry answers on loopback. The real registry
// behaviour (uploads, mounts, retags) is covered by tests/e2e/registry_client_e2e_test.cpp.
#include "minicd/registry/session.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "minicd/registry/client.hpp"
#include "support/local_http_server.hpp"

namespace minicd::registry {
namespace {

using namespace std::chrono_literals;
using minicd::testing::LocalHttpServer;
using Reply = LocalHttpServer::Reply;

const std::string k_manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                               R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
                               std::string(64, 'a') + R"(","size":2},"layers":[]})";

std::string host_of(const LocalHttpServer& server) { return server.url("").substr(std::string("http://").size()); }

// Records the waits instead of sleeping, so retry tests take no time.
struct SleepLog {
    std::mutex mutex;
    std::vector<std::chrono::milliseconds> waits;
    RetryPolicy policy(int attempts = 4) {
        return {.max_attempts = attempts,
                .initial_backoff = 10ms,
                .max_backoff = 100ms,
                .max_retry_after = 60s,
                .sleep = [this](std::chrono::milliseconds d) {
                    std::lock_guard lock(mutex);
                    waits.push_back(d);
                }};
    }
};

std::unique_ptr<Client> client_for(const LocalHttpServer& server, RetryPolicy retry,
                                   std::optional<Credentials> credentials = std::nullopt) {
    auto client = Client::create({.insecure_registries = {host_of(server)},
                                  .retry = std::move(retry),
                                  .credential_lookup = [credentials](std::string_view) -> Result<std::optional<Credentials>> {
                                      return credentials;
                                  }});
    EXPECT_TRUE(client) << client.error().describe();
    return std::move(*client);
}

model::ImageRef ref(const LocalHttpServer& server, const std::string& rest) {
    return model::parse_image_ref(host_of(server) + "/" + rest).value();
}

Reply manifest_reply(const std::string& body, const std::string& digest) {
    return {.status = 200,
            .headers = {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}, {"Docker-Content-Digest", digest}},
            .body = body};
}

TEST(RegistrySession, BearerTokenIsFetchedWithCredentialsAndCachedPerScope) {
    std::atomic<int> token_requests{0};
    std::mutex mutex;
    std::vector<std::string> token_targets;
    std::string token_authorization;
    std::string realm;
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        if (request.target.starts_with("/token")) {
            ++token_requests;
            std::lock_guard lock(mutex);
            token_targets.push_back(request.target);
            token_authorization = request.headers.count("authorization") ? request.headers.at("authorization") : "";
            return {.status = 200, .body = R"({"token":"tok-1","expires_in":300})"};
        }
        auto auth = request.headers.find("authorization");
        if (auth == request.headers.end() || auth->second != "Bearer tok-1") {
            return {.status = 401,
                    .headers = {{"WWW-Authenticate",
                                 "Bearer realm=\"" + realm + "\",service=\"test-registry\",scope=\"repository:app:pull\""}},
                    .body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})"};
        }
        return manifest_reply(k_manifest, sha256_digest(k_manifest));
    });
    realm = server.url("/token");
    SleepLog sleeps;
    auto client = client_for(server, sleeps.policy(),
                             Credentials{.username = "robot", .password = Secret("pw"), .identity_token = {}, .source = "test"});

    auto first = client->get_manifest(ref(server, "app:v1"));
    ASSERT_TRUE(first) << first.error().describe();
    EXPECT_EQ(first->digest, sha256_digest(k_manifest));
    auto second = client->resolve(ref(server, "app:v2"));
    ASSERT_TRUE(second) << second.error().describe();
    EXPECT_EQ(token_requests.load(), 1) << "one token serves every request with the same scopes";
    std::lock_guard lock(mutex);
    ASSERT_FALSE(token_targets.empty());
    EXPECT_EQ(token_targets[0], "/token?service=test-registry&scope=repository%3Aapp%3Apull");
    EXPECT_EQ(token_authorization, http::basic_authorization("robot", "pw"));
}

TEST(RegistrySession, OneTokenCarriesEveryScopeOfACall) {
    std::mutex mutex;
    std::string token_target;
    std::string realm;
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        if (request.target.starts_with("/token")) {
            std::lock_guard lock(mutex);
            token_target = request.target;
            return {.status = 200, .body = R"({"access_token":"tok-2"})"};
        }
        if (request.headers.count("authorization") == 0) {
            return {.status = 401, .headers = {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"s\""}}};
        }
        return {.status = 201, .headers = {{"Location", "/v2/dst/blobs/sha256:x"}}};
    });
    realm = server.url("/token");
    SleepLog sleeps;
    Session session(host_of(server), std::shared_ptr<http::HttpClient>(http::make_curl_client({}).value()),
                    {.transport = Transport::http, .retry = sleeps.policy(), .credentials = {}});
    auto answer = session.send({.method = http::Method::post,
                                .target = "/v2/dst/blobs/uploads/?mount=sha256:x&from=src",
                                .scopes = {"repository:dst:pull,push", "repository:src:pull"}});
    ASSERT_TRUE(answer) << answer.error().describe();
    EXPECT_EQ(answer->status, 201);
    std::lock_guard lock(mutex);
    EXPECT_EQ(token_target, "/token?service=s&scope=repository%3Adst%3Apull%2Cpush&scope=repository%3Asrc%3Apull");
}

TEST(RegistrySession, ExpiredTokensAreFetchedAgain) {
    std::atomic<int> token_requests{0};
    std::string realm;
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        if (request.target.starts_with("/token")) {
            ++token_requests;
            return {.status = 200, .body = R"({"token":"short","expires_in":1})"};
        }
        if (request.headers.count("authorization") == 0) {
            return {.status = 401, .headers = {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\""}}};
        }
        return manifest_reply(k_manifest, sha256_digest(k_manifest));
    });
    realm = server.url("/token");
    SleepLog sleeps;
    auto client = client_for(server, sleeps.policy());
    ASSERT_TRUE(client->get_manifest(ref(server, "app:v1")));
    ASSERT_TRUE(client->get_manifest(ref(server, "app:v1")));
    EXPECT_EQ(token_requests.load(), 1);
    std::this_thread::sleep_for(1100ms);
    ASSERT_TRUE(client->get_manifest(ref(server, "app:v1")));
    EXPECT_EQ(token_requests.load(), 2) << "expires_in was honoured";
}

TEST(RegistrySession, ExpiresInOfAnySizeOrTypeGivesAUsableToken) {
    // Beyond long long, negative, or not a number: clamped or ignored, never undefined behaviour.
    for (const char* expires : {"1e300", "9223372036854775807", "18446744073709551615", "-5", "\"300\"", "null", "{}"}) {
        std::atomic<int> token_requests{0};
        std::string realm;
        LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
            if (request.target.starts_with("/token")) {
                ++token_requests;
                return {.status = 200, .body = std::string(R"({"token":"t","expires_in":)") + expires + "}"};
            }
            if (request.headers.count("authorization") == 0) {
                return {.status = 401, .headers = {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\""}}};
            }
            return manifest_reply(k_manifest, sha256_digest(k_manifest));
        });
        realm = server.url("/token");
        SleepLog sleeps;
        auto client = client_for(server, sleeps.policy());
        ASSERT_TRUE(client->get_manifest(ref(server, "app:v1"))) << expires;
        ASSERT_TRUE(client->get_manifest(ref(server, "app:v1"))) << expires;
        EXPECT_EQ(token_requests.load(), 1) << expires;
    }
}

TEST(RegistrySession, IdentityTokenIsExchangedAsRefreshToken) {
    std::mutex mutex;
    LocalHttpServer::Request token_request;
    std::string realm;
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        if (request.target.starts_with("/token")) {
            std::lock_guard lock(mutex);
            token_request = request;
            return {.status = 200, .body = R"({"access_token":"from-refresh"})"};
        }
        if (request.headers.count("authorization") == 0) {
            return {.status = 401, .headers = {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"svc\""}}};
        }
        return manifest_reply(k_manifest, sha256_digest(k_manifest));
    });
    realm = server.url("/token");
    SleepLog sleeps;
    auto client = client_for(server, sleeps.policy(),
                             Credentials{.username = {}, .password = {}, .identity_token = Secret("refresh+me"), .source = "t"});
    ASSERT_TRUE(client->get_manifest(ref(server, "app:v1")));
    std::lock_guard lock(mutex);
    EXPECT_EQ(token_request.method, "POST");
    EXPECT_NE(token_request.body.find("grant_type=refresh_token"), std::string::npos);
    EXPECT_NE(token_request.body.find("refresh_token=refresh%2Bme"), std::string::npos);
    EXPECT_NE(token_request.body.find("scope=repository%3Aapp%3Apull"), std::string::npos);
}

TEST(RegistrySession, BasicChallengeIsAnsweredAndWrongPasswordsNeverShow) {
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        auto auth = request.headers.find("authorization");
        if (auth == request.headers.end() || auth->second != http::basic_authorization("u", "right")) {
            return {.status = 401,
                    .headers = {{"WWW-Authenticate", "Basic realm=\"test\""}},
                    .body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})"};
        }
        return manifest_reply(k_manifest, sha256_digest(k_manifest));
    });
    SleepLog sleeps;
    auto good = client_for(server, sleeps.policy(), Credentials{.username = "u", .password = Secret("right"), .source = "s"});
    EXPECT_TRUE(good->get_manifest(ref(server, "app:v1")));

    auto bad = client_for(server, sleeps.policy(),
                          Credentials{.username = "u", .password = Secret("wrong-hunter2"), .source = "MINICD_REGISTRY_PASSWORD"});
    auto refused = bad->get_manifest(ref(server, "app:v1"));
    ASSERT_FALSE(refused);
    std::string text = refused.error().describe();
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
    EXPECT_NE(text.find("UNAUTHORIZED"), std::string::npos) << text;
    EXPECT_NE(text.find("MINICD_REGISTRY_PASSWORD"), std::string::npos) << text;
    EXPECT_NE(text.find(host_of(server)), std::string::npos) << text;

    auto anonymous = client_for(server, sleeps.policy());
    auto needs = anonymous->get_manifest(ref(server, "app:v1"));
    ASSERT_FALSE(needs);
    EXPECT_NE(needs.error().describe().find("no credentials were found"), std::string::npos) << needs.error().describe();
}

TEST(RegistrySession, TooManyRequestsHonoursRetryAfter) {
    std::atomic<int> calls{0};
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        if (request.target == "/v2/") return {.status = 200};
        if (++calls < 3) return {.status = 429, .headers = {{"Retry-After", "7"}}, .body = R"({"errors":[{"code":"TOOMANYREQUESTS"}]})"};
        return manifest_reply(k_manifest, sha256_digest(k_manifest));
    });
    SleepLog sleeps;
    auto client = client_for(server, sleeps.policy());
    auto got = client->get_manifest(ref(server, "app:v1"));
    ASSERT_TRUE(got) << got.error().describe();
    std::lock_guard lock(sleeps.mutex);
    EXPECT_EQ(sleeps.waits, (std::vector<std::chrono::milliseconds>{7s, 7s}));
}

TEST(RegistrySession, ServerErrorsAreRetriedThenReportedWithTheRegistrysWords) {
    std::atomic<int> calls{0};
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        if (request.target == "/v2/") return {.status = 200};
        ++calls;
        if (request.target.find("/flaky/") != std::string::npos && calls == 1) return {.status = 500, .body = "oops"};
        if (request.target.find("/flaky/") != std::string::npos) return manifest_reply(k_manifest, sha256_digest(k_manifest));
        return {.status = 503, .body = R"({"errors":[{"code":"UNAVAILABLE","message":"storage is down"}]})"};
    });
    SleepLog sleeps;
    auto client = client_for(server, sleeps.policy(3));
    EXPECT_TRUE(client->get_manifest(ref(server, "flaky/app:v1")));

    calls = 0;
    auto broken = client->get_manifest(ref(server, "broken/app:v1"));
    ASSERT_FALSE(broken);
    EXPECT_EQ(calls.load(), 3);
    EXPECT_EQ(broken.error().code, util::ErrorCode::http);
    EXPECT_EQ(broken.error().describe(),
              "registry " + host_of(server) + ", repository broken/app: GET manifest v1: HTTP 503 UNAVAILABLE: storage is down");
}

TEST(RegistrySession, ClosedPortIsRetriedThenNamed) {
    int port = 0;
    {
        LocalHttpServer gone([](const LocalHttpServer::Request&) { return Reply{}; });
        port = std::stoi(gone.url("").substr(std::string("http://127.0.0.1:").size()));
    }
    SleepLog sleeps;
    auto client = Client::create({.retry = sleeps.policy(3)});
    ASSERT_TRUE(client);
    auto ref = model::parse_image_ref("127.0.0.1:" + std::to_string(port) + "/app:v1").value();
    auto resolved = (*client)->resolve(ref);
    ASSERT_FALSE(resolved);
    EXPECT_EQ(resolved.error().code, util::ErrorCode::network);
    EXPECT_NE(resolved.error().describe().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
    EXPECT_NE(resolved.error().describe().find("http or https after 3 attempts"), std::string::npos)
        << resolved.error().describe();
    std::lock_guard lock(sleeps.mutex);
    EXPECT_EQ(sleeps.waits.size(), 2u);
}

// A registry on loopback whose every request but /v2/ and the token path asks for a Bearer token
// from `realm`; it records the targets it sees, proxied ones ("http://host/...") included.
struct ChallengingRegistry {
    std::mutex mutex;  // guards the three below, which the server thread reads
    std::vector<std::string> targets;
    std::string realm;
    Reply token_reply{.status = 200, .headers = {}, .body = R"({"token":"t"})"};
    LocalHttpServer server{[this](const LocalHttpServer::Request& request) -> Reply {
        std::lock_guard lock(mutex);
        targets.push_back(request.target);
        if (request.target.find("/token") != std::string::npos) return token_reply;
        if (request.target.ends_with("/v2/")) return {.status = 200};
        if (request.headers.count("authorization") == 0) {
            return {.status = 401, .headers = {{"WWW-Authenticate", "Bearer realm=\"" + realm + "\",service=\"s\""}}};
        }
        return manifest_reply(k_manifest, sha256_digest(k_manifest));
    }};

    void set_realm(std::string url) {
        std::lock_guard lock(mutex);
        realm = std::move(url);
    }
    void set_token_reply(Reply reply) {
        std::lock_guard lock(mutex);
        token_reply = std::move(reply);
    }
    bool saw(std::string_view part) {
        std::lock_guard lock(mutex);
        return std::any_of(targets.begin(), targets.end(),
                           [&](const std::string& target) { return target.find(part) != std::string::npos; });
    }
};

Credentials robot_credentials() {
    return Credentials{.username = "robot", .password = Secret("pw-hunter2"), .identity_token = {}, .source = "test"};
}

TEST(RegistryTokenRealm, FileRealmIsNeverReadAndTheErrorNamesItsScheme) {
    char path[] = "/tmp/minicd-realm-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "{\"auths\":\"ci-secret-hunter2\"}", 29), 29);
    ::close(fd);
    ChallengingRegistry registry;
    registry.set_realm(std::string("file://") + path);
    SleepLog sleeps;
    auto client = client_for(registry.server, sleeps.policy(), robot_credentials());

    auto got = client->get_manifest(ref(registry.server, "app:v1"));
    ::unlink(path);
    ASSERT_FALSE(got);
    std::string text = got.error().describe();
    EXPECT_EQ(text.find("ci-secret-hunter2"), std::string::npos) << text;
    EXPECT_NE(text.find("scheme \"file\" and no host"), std::string::npos) << text;
    EXPECT_NE(text.find("registry " + host_of(registry.server)), std::string::npos) << text;
}

TEST(RegistryTokenRealm, GopherAndDictRealmsAreNeverContacted) {
    LocalHttpServer internal([](const LocalHttpServer::Request&) { return Reply{}; });
    const std::string internal_host = host_of(internal);
    for (const std::string scheme : {"gopher", "dict"}) {
        ChallengingRegistry registry;
        registry.set_realm(scheme + "://" + internal_host + "/_GET%20/admin");
        SleepLog sleeps;
        auto client = client_for(registry.server, sleeps.policy(), robot_credentials());
        auto got = client->get_manifest(ref(registry.server, "app:v1"));
        ASSERT_FALSE(got) << scheme;
        EXPECT_EQ(got.error().code, util::ErrorCode::api) << got.error().describe();
        EXPECT_NE(got.error().message.find("scheme \"" + scheme + "\" and host \"" + internal_host + "\""),
                  std::string::npos)
            << got.error().describe();
        EXPECT_TRUE(sleeps.waits.empty()) << "a refused realm is not retried";
    }
    EXPECT_EQ(internal.connections_accepted(), 0);
}

TEST(RegistryTokenRealm, LoopbackRegistryGetsPlainHttpRealmsOnLoopbackOnly) {
    ChallengingRegistry registry;
    registry.set_realm("http://auth.example.invalid/token");
    // Everything goes through the registry as proxy: a realm fetched by mistake shows up there, and
    // nothing leaves this machine.
    auto http = http::make_curl_client({.proxy = registry.server.url("")});
    ASSERT_TRUE(http);
    SleepLog sleeps;
    Session session(host_of(registry.server), std::shared_ptr<http::HttpClient>(std::move(*http)),
                    {.transport = Transport::http_or_https, .retry = sleeps.policy(), .credentials = {}});
    auto answer = session.send({.target = "/v2/app/manifests/v1", .scopes = {"repository:app:pull"}});
    ASSERT_FALSE(answer);
    EXPECT_NE(answer.error().message.find("scheme \"http\" and host \"auth.example.invalid\""), std::string::npos)
        << answer.error().describe();
    EXPECT_FALSE(registry.saw("auth.example.invalid"));

    registry.set_realm(registry.server.url("/token"));  // plain HTTP on loopback is fine
    Session local(host_of(registry.server), std::shared_ptr<http::HttpClient>(http::make_curl_client({}).value()),
                  {.transport = Transport::http_or_https, .retry = sleeps.policy(), .credentials = {}});
    auto fetched = local.send({.target = "/v2/app/manifests/v1", .scopes = {"repository:app:pull"}});
    ASSERT_TRUE(fetched) << fetched.error().describe();
    EXPECT_EQ(fetched->status, 200);
}

TEST(RegistryTransport, LoopbackRegistryDoesNotFollowLocationsToPlainHttpElsewhere) {
    ChallengingRegistry registry;
    auto http = http::make_curl_client({.proxy = registry.server.url("")});
    ASSERT_TRUE(http);
    SleepLog sleeps;
    Session session(host_of(registry.server), std::shared_ptr<http::HttpClient>(std::move(*http)),
                    {.transport = Transport::http_or_https, .retry = sleeps.policy(), .credentials = {}});
    auto answer = session.send({.target = "http://storage.example.invalid/blobs/sha256:x"});
    ASSERT_FALSE(answer);
    EXPECT_EQ(answer.error().code, util::ErrorCode::input);
    EXPECT_NE(answer.error().describe().find("http://storage.example.invalid"), std::string::npos)
        << answer.error().describe();
    EXPECT_FALSE(registry.saw("storage.example.invalid"));
    EXPECT_TRUE(sleeps.waits.empty()) << "a refused URL is not retried";
}

TEST(RegistryTokenRealm, TokenEndpointBodiesNeverReachTheError) {
    for (const Reply& refusal :
         {Reply{.status = 401, .headers = {}, .body = "root:x:0:0 ci-secret-hunter2"},
          Reply{.status = 403, .headers = {}, .body = R"({"errors":[{"code":"DENIED","message":"ci-secret-hunter2"}]})"},
          Reply{.status = 500, .headers = {}, .body = "ci-secret-hunter2 in a stack trace"}}) {
        ChallengingRegistry registry;
        registry.set_realm(registry.server.url("/token?from=realm-path-detail"));
        registry.set_token_reply(refusal);
        SleepLog sleeps;
        auto client = client_for(registry.server, sleeps.policy(2), robot_credentials());
        auto got = client->get_manifest(ref(registry.server, "app:v1"));
        ASSERT_FALSE(got) << refusal.status;
        std::string text = got.error().describe();
        EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
        EXPECT_EQ(text.find("realm-path-detail"), std::string::npos) << "the realm's host only: " << text;
        EXPECT_NE(text.find("token request to " + host_of(registry.server)), std::string::npos) << text;
        EXPECT_NE(text.find("HTTP " + std::to_string(refusal.status)), std::string::npos) << text;
        if (refusal.status != 500) {
            EXPECT_NE(text.find("the credentials from test were refused"), std::string::npos) << text;
        }
    }
}

TEST(RegistryDigests, BytesThatDoNotMatchTheDigestAreRefused) {
    const std::string tampered = k_manifest + " ";
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        if (request.target == "/v2/") return {.status = 200};
        // Claims the digest of the original bytes but sends other bytes.
        return manifest_reply(tampered, sha256_digest(k_manifest));
    });
    SleepLog sleeps;
    auto client = client_for(server, sleeps.policy());
    auto by_tag = client->get_manifest(ref(server, "app:v1"));
    ASSERT_FALSE(by_tag);
    EXPECT_NE(by_tag.error().message.find(sha256_digest(tampered)), std::string::npos) << by_tag.error().describe();
    auto by_digest = client->get_manifest(ref(server, "app@" + sha256_digest(k_manifest)));
    ASSERT_FALSE(by_digest);
}

TEST(RegistryDigests, PutManifestChecksTheStoredDigest) {
    LocalHttpServer server([&](const LocalHttpServer::Request& request) -> Reply {
        if (request.target == "/v2/") return {.status = 200};
        return {.status = 201, .headers = {{"Docker-Content-Digest", "sha256:" + std::string(64, 'f')}}};
    });
    SleepLog sleeps;
    auto client = client_for(server, sleeps.policy());
    auto put = client->put_manifest(ref(server, "app:v1"), k_manifest, k_oci_manifest);
    ASSERT_FALSE(put);
    EXPECT_NE(put.error().message.find("although its bytes hash to"), std::string::npos);
}

TEST(RegistryTransport, LoopbackHostsAreRecognised) {
    EXPECT_TRUE(is_loopback_registry("localhost:5000"));
    EXPECT_TRUE(is_loopback_registry("127.0.0.1:5000"));
    EXPECT_TRUE(is_loopback_registry("127.1.2.3"));
    EXPECT_TRUE(is_loopback_registry("[::1]:5000"));
    EXPECT_TRUE(is_loopback_registry("[::1]"));
    EXPECT_FALSE(is_loopback_registry("registry.example.com"));
    EXPECT_FALSE(is_loopback_registry("10.0.0.1:5000"));
}

TEST(RegistryTransport, NamesThatMerelyStartLikeLoopbackAreNotLoopback) {
    for (auto registry : {"127.example.com", "127.0.0.1.nip.io:5000", "127.0.0.1.nip.io", "localhost.example.com:5000",
                          "127.0.0.1:5000x", "[::1]x", "[::1]:", "[::2]:5000", "[::1"}) {
        EXPECT_FALSE(is_loopback_registry(registry)) << registry;
    }
}

TEST(RegistryTransport, LookalikeLoopbackNamesGetVerifiedTlsOnly) {
    // The registry doubles as proxy: a plain HTTP probe that wrongly went out would arrive here, and
    // the TLS attempt's CONNECT gets a 401 there, so it fails at once.
    ChallengingRegistry proxy;
    auto http = http::make_curl_client({.proxy = proxy.server.url("")});
    ASSERT_TRUE(http);
    SleepLog sleeps;
    auto client = Client::create({.retry = sleeps.policy(1), .http = std::shared_ptr<http::HttpClient>(std::move(*http))});
    ASSERT_TRUE(client);
    auto resolved = (*client)->resolve(model::parse_image_ref("127.0.0.1.nip.invalid:5000/app:v1").value());
    ASSERT_FALSE(resolved);
    EXPECT_NE(resolved.error().describe().find("over https"), std::string::npos) << resolved.error().describe();
    EXPECT_FALSE(proxy.saw("http://127.0.0.1.nip.invalid")) << "no plain HTTP probe";
}

}  // namespace
}  // namespace minicd::registry
