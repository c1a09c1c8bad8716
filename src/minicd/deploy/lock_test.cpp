#include "minicd/deploy/lock.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/local_http_server.hpp"

namespace minicd::deploy {
namespace {

using model::Json;
using minicd::testing::LocalHttpServer;

constexpr std::string_view k_lease_path = "/apis/coordination.k8s.io/v1/namespaces/shop/leases/minicd-lock";

// An API server whose create always meets an existing Lease: `stored` is what a GET returns; a PUT
// stores what it was sent (and answers with it); a DELETE forgets it. Methods are recorded.
class LeaseServer {
public:
    explicit LeaseServer(std::string stored) : m_stored(std::move(stored)) {}

    std::unique_ptr<kube::Client> client() const {
        auto made =
            kube::Client::create(kube::RestConfig{.server = m_server.url("")}, kube::ClientOptions{.max_attempts = 1});
        EXPECT_TRUE(made) << made.error().describe();
        return std::move(*made);
    }

    std::vector<std::string> methods() const {
        std::lock_guard lock(m_mutex);
        return m_methods;
    }
    std::string stored() const {
        std::lock_guard lock(m_mutex);
        return m_stored;
    }

private:
    LocalHttpServer::Reply answer(const LocalHttpServer::Request& request) {
        std::lock_guard lock(m_mutex);
        m_methods.push_back(request.method);
        const std::vector<std::pair<std::string, std::string>> json{{"Content-Type", "application/json"}};
        if (request.method == "POST") return {.status = 409, .headers = json, .body = R"({"kind":"Status","code":409})"};
        if (request.target != k_lease_path) return {.status = 404, .headers = json, .body = "{}"};
        if (request.method == "GET") return {.status = 200, .headers = json, .body = m_stored};
        if (request.method == "PUT") {
            m_stored = request.body;
            return {.status = 200, .headers = json, .body = m_stored};
        }
        return {.status = 200, .headers = json, .body = "{}"};
    }

    mutable std::mutex m_mutex;
    std::string m_stored;
    std::vector<std::string> m_methods;
    LocalHttpServer m_server{[this](const LocalHttpServer::Request& request) { return answer(request); }};
};

LockOptions options() {
    return {.namespace_ = "shop", .name = "minicd-lock", .holder = "us", .lease_duration = std::chrono::seconds(30)};
}

TEST(DeployLock, ALeaseWithFieldsOfTheWrongTypeIsStillSomeoneElses) {
    // A live holder (renewed "far ahead") whose metadata and spec hold odd types: reading it must not throw.
    LeaseServer server(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
        "metadata":{"name":"minicd-lock","namespace":"shop","uid":7,"resourceVersion":{"v":1}},
        "spec":{"holderIdentity":"other-runner","renewTime":"2199-01-01T00:00:00.000000Z",
                "leaseDurationSeconds":"sixty","acquireTime":12,"leaseTransitions":1e300}})");
    auto client = server.client();
    std::optional<Result<std::unique_ptr<DeployLock>>> lock;
    ASSERT_NO_THROW(lock = DeployLock::acquire(*client, options()));
    ASSERT_FALSE(*lock);
    const std::string& message = (*lock).error().message;
    EXPECT_NE(message.find("locked by \"other-runner\" since 2199-01-01T00:00:00.000000Z"), std::string::npos) << message;
}

TEST(DeployLock, AHolderThatIsNotTextCountsAsGivenUpAndIsTakenOver) {
    LeaseServer server(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
        "metadata":{"name":"minicd-lock","namespace":"shop","uid":"u-1","resourceVersion":"5"},
        "spec":{"holderIdentity":{"name":"other-runner"},"leaseDurationSeconds":9223372036854775807,
                "leaseTransitions":9223372036854775807}})");
    auto client = server.client();
    std::optional<Result<std::unique_ptr<DeployLock>>> lock;
    ASSERT_NO_THROW(lock = DeployLock::acquire(*client, options()));
    ASSERT_TRUE(*lock) << (*lock).error().describe();
    const Json written = Json::parse(server.stored());
    EXPECT_EQ(written["spec"]["holderIdentity"], "us");
    EXPECT_EQ(written["spec"]["leaseTransitions"], 1) << "a count beyond int32 reads as none";
    EXPECT_EQ(written["metadata"]["resourceVersion"], "5") << "the takeover is conditional on what we read";
}

TEST(DeployLock, ALeaseWeCannotWriteBackIsAnErrorNotAnException) {
    // Taking over writes spec and metadata.labels: a Lease where they are not objects is refused up front.
    for (const char* lease : {R"({"metadata":{"name":"minicd-lock","labels":["a"]},"spec":{}})",
                              R"({"metadata":{"name":"minicd-lock"},"spec":"free"})",
                              R"({"metadata":[],"spec":{}})"}) {
        LeaseServer server(lease);
        auto client = server.client();
        std::optional<Result<std::unique_ptr<DeployLock>>> lock;
        ASSERT_NO_THROW(lock = DeployLock::acquire(*client, options())) << lease;
        ASSERT_FALSE(*lock) << lease;
        EXPECT_NE((*lock).error().message.find("the server answered with a Lease whose"), std::string::npos)
            << (*lock).error().message;
        for (const auto& method : server.methods()) EXPECT_NE(method, "PUT") << lease;
    }
}

}  // namespace
}  // namespace minicd::deploy
