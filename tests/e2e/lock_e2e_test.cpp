// The deploy lock against the real kube-apiserver: the first deploy creates the Lease, a second one
// is refused (or waits) naming the holder, a dead holder's Lease is taken over once we watched it stay
// unchanged for its lease duration (never by trusting the holder's clock against ours), renewals
// keep it alive, and release (explicit or by destructor) deletes only a Lease that is still ours.
#include <fmt/format.h>
#include <time.h>

#include <atomic>
#include <ctime>
#include <functional>
#include <thread>

#include "minicd/deploy/lock.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

const std::string k_lease = "minicd-lock-shop-staging";
const std::string k_first = "ci-runner-7/pid 4242";
const std::string k_second = "ci-runner-8/pid 99";
const std::string k_other = "other-runner";

// MicroTime as the API server stores it, for Leases written by hand.
std::string micro_time(std::chrono::system_clock::time_point time) {
    const auto micros = std::chrono::floor<std::chrono::microseconds>(time);
    const auto seconds = std::chrono::floor<std::chrono::seconds>(micros);
    const std::time_t whole = std::chrono::system_clock::to_time_t(seconds);
    std::tm utc{};
    gmtime_r(&whole, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    return fmt::format("{}.{:06}Z", text, (micros - seconds).count());
}

// A client of the test cluster as kubeconfig loading would produce it; `token` empty means the
// admin's client certificate.
std::unique_ptr<kube::Client> make_client(const std::string& token = {}) {
    const std::string pki = TestCluster::get().var("MINICD_TEST_PKI");
    kube::RestConfig config{.server = TestCluster::get().apiserver(), .tls = {.ca_file = pki + "/ca.crt"}};
    if (token.empty()) {
        config.tls.client_cert_file = pki + "/admin.crt";
        config.tls.client_key_file = pki + "/admin.key";
    } else {
        config.token = token;
    }
    auto client = kube::Client::create(std::move(config));
    if (!client) {
        ADD_FAILURE() << client.error().describe();
        return nullptr;
    }
    return std::move(*client);
}

// Another runner keeping its Lease alive from a thread of its own: every 500 ms it writes the
// renewTime its clock gives (`renew_time`), which changes the resourceVersion as a real renewal does.
class LiveHolder {
public:
    LiveHolder(std::string lease_path, std::function<std::string()> renew_time)
        : m_lease_path(std::move(lease_path)), m_renew_time(std::move(renew_time)), m_thread([this] { run(); }) {}
    ~LiveHolder() { stop(); }
    LiveHolder(const LiveHolder&) = delete;
    LiveHolder& operator=(const LiveHolder&) = delete;

    void stop() {
        m_stopping = true;
        if (m_thread.joinable()) m_thread.join();
    }
    int renewals() const { return m_renewals.load(); }

private:
    void run() {
        while (!m_stopping) {
            for (int slice = 0; slice < 5 && !m_stopping; ++slice) std::this_thread::sleep_for(100ms);
            if (m_stopping) return;
            // api() throws on a transport failure; a holder that misses one renewal just tries the next.
            try {
                auto lease = api(TestCluster::get().admin(), Method::get, m_lease_path);
                if (lease.status != 200) continue;
                lease.body["spec"]["renewTime"] = m_renew_time();
                if (api(TestCluster::get().admin(), Method::put, m_lease_path, lease.body).status == 200) ++m_renewals;
            } catch (const std::exception&) {
            }
        }
    }

    std::string m_lease_path;
    std::function<std::string()> m_renew_time;
    std::atomic<bool> m_stopping{false};
    std::atomic<int> m_renewals{0};
    std::thread m_thread;  // last: starts once the members it uses exist
};

class DeployLock : public ClusterTest {
protected:
    void SetUp() override {
        ClusterTest::SetUp();
        if (HasFatalFailure()) return;
        m_client = make_client();
        ASSERT_NE(m_client, nullptr);
    }

    // Short enough that renewals are visible in a test, long enough that a slow machine never lets it lapse.
    deploy::LockOptions options(const std::string& holder, std::chrono::seconds wait = 0s) const {
        return {.namespace_ = ns(), .name = k_lease, .holder = holder, .lease_duration = 15s, .wait = wait};
    }

    std::unique_ptr<deploy::DeployLock> take(deploy::LockOptions options) {
        auto lock = deploy::DeployLock::acquire(*m_client, std::move(options));
        if (!lock) {
            ADD_FAILURE() << lock.error().describe();
            return nullptr;
        }
        return std::move(*lock);
    }

    std::string leases_path() const { return "/apis/coordination.k8s.io/v1/namespaces/" + ns() + "/leases"; }
    std::string lease_path() const { return leases_path() + "/" + k_lease; }
    ApiReply read_lease() { return api(cluster().admin(), Method::get, lease_path()); }
    // Writes another runner's Lease by hand; an empty `holder` is a Lease given up.
    ApiReply create_lease(const std::string& holder, int duration_seconds, const std::string& renew_time) {
        Json spec = {{"leaseDurationSeconds", duration_seconds},
                     {"acquireTime", renew_time},
                     {"renewTime", renew_time},
                     {"leaseTransitions", 0}};
        if (!holder.empty()) spec["holderIdentity"] = holder;
        const Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                            {"kind", "Lease"},
                            {"metadata", {{"name", k_lease}}},
                            {"spec", spec}};
        return api(cluster().admin(), Method::post, leases_path(), lease);
    }
    std::string holder_now() {
        auto lease = read_lease();
        return lease.status == 200 ? lease.body["spec"].value("holderIdentity", "") : "";
    }

    std::unique_ptr<kube::Client> m_client;
};

TEST_F(DeployLock, FirstAcquireCreatesTheLeaseWithOurHolder) {
    auto lock = take(options(k_first));
    ASSERT_NE(lock, nullptr);
    EXPECT_TRUE(lock->still_held());

    auto lease = read_lease();
    ASSERT_EQ(lease.status, 200) << lease.body.dump();
    const Json& spec = lease.body["spec"];
    EXPECT_EQ(spec.value("holderIdentity", ""), k_first);
    EXPECT_EQ(spec.value("leaseDurationSeconds", 0), 15);
    EXPECT_EQ(spec.value("leaseTransitions", -1), 0);
    EXPECT_EQ(lease.body["metadata"]["labels"].value("app.kubernetes.io/managed-by", ""), "minicd");
    // MicroTime keeps six fraction digits: "2026-01-02T03:04:05.000000Z".
    const std::string renewed = spec.value("renewTime", "");
    EXPECT_EQ(renewed.size(), 27u) << renewed;
    EXPECT_FALSE(spec.value("acquireTime", "").empty());

    auto released = lock->release();
    EXPECT_TRUE(released) << released.error().describe();
}

TEST_F(DeployLock, SecondAcquireWithoutWaitFailsNamingTheHolder) {
    auto first = take(options(k_first));
    ASSERT_NE(first, nullptr);

    auto second = deploy::DeployLock::acquire(*m_client, options(k_second));
    ASSERT_FALSE(second) << "a second deploy got the lock while the first held it";
    const util::Error& error = second.error();
    EXPECT_EQ(error.code, util::ErrorCode::api);
    EXPECT_EQ(error.subject, "lease " + ns() + "/" + k_lease);
    EXPECT_NE(error.message.find("locked by \"" + k_first + "\""), std::string::npos) << error.describe();
    EXPECT_NE(error.message.find("expires in"), std::string::npos) << error.describe();

    // The refused deploy left the holder's Lease alone.
    EXPECT_EQ(holder_now(), k_first);
    EXPECT_TRUE(first->still_held());
}

TEST_F(DeployLock, SecondAcquireWaitsUntilTheFirstReleases) {
    auto first = take(options(k_first));
    ASSERT_NE(first, nullptr);

    Result<void> released;
    std::thread releaser([&] {
        std::this_thread::sleep_for(1s);
        released = first->release();
    });
    auto second = deploy::DeployLock::acquire(*m_client, options(k_second, 5s));
    releaser.join();

    EXPECT_TRUE(released) << released.error().describe();
    ASSERT_TRUE(second) << second.error().describe();
    EXPECT_TRUE((*second)->still_held());
    EXPECT_EQ(holder_now(), k_second);
}

TEST_F(DeployLock, TakesOverTheExpiredLeaseOfADeadHolder) {
    // Never renewed again: unchanged for its 2s lease duration while we watch, even though we do not wait.
    const std::string long_ago = micro_time(std::chrono::system_clock::now() - 10min);
    auto created = create_lease("ci-runner-3/pid 17", 2, long_ago);
    ASSERT_EQ(created.status, 201) << created.body.dump();

    const auto started = std::chrono::steady_clock::now();
    auto lock = take(options(k_first));
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_NE(lock, nullptr);
    // Its old renewTime alone proves nothing (its clock may be behind ours): we watched it first.
    EXPECT_GE(took, 2s);
    EXPECT_LT(took, 10s);

    auto lease = read_lease();
    ASSERT_EQ(lease.status, 200) << lease.body.dump();
    EXPECT_EQ(lease.body["spec"].value("holderIdentity", ""), k_first);
    EXPECT_EQ(lease.body["spec"].value("leaseTransitions", 0), 1);
    EXPECT_GT(lease.body["spec"].value("renewTime", ""), long_ago);
    // Taken over in place (an update), not deleted and re-created.
    EXPECT_EQ(lease.body["metadata"].value("uid", ""), created.body["metadata"].value("uid", "?"));
}

TEST_F(DeployLock, TakesOverALeaseGivenUpAtOnce) {
    auto created = create_lease("", 15, micro_time(std::chrono::system_clock::now()));
    ASSERT_EQ(created.status, 201) << created.body.dump();

    const auto started = std::chrono::steady_clock::now();
    auto lock = take(options(k_first));
    const auto took = std::chrono::steady_clock::now() - started;
    ASSERT_NE(lock, nullptr);
    // No holder to watch for: well under the 15s lease duration.
    EXPECT_LT(took, 5s);
    EXPECT_EQ(holder_now(), k_first);
}

TEST_F(DeployLock, ARunnerWhoseClockIsAheadDoesNotTakeOverALiveLease) {
    // Our clock is 2 minutes ahead of the holder's, so each of its renewals looks 2 minutes old to us.
    const auto behind_ours = [] { return micro_time(std::chrono::system_clock::now() - 2min); };
    auto created = create_lease(k_other, 3, behind_ours());
    ASSERT_EQ(created.status, 201) << created.body.dump();
    LiveHolder other(lease_path(), behind_ours);

    auto lock = deploy::DeployLock::acquire(*m_client, options(k_second));
    const int renewals = other.renewals();
    other.stop();

    ASSERT_FALSE(lock) << "took over a Lease its holder kept renewing";
    EXPECT_EQ(lock.error().code, util::ErrorCode::api);
    EXPECT_NE(lock.error().message.find("locked by \"" + k_other + "\""), std::string::npos) << lock.error().describe();
    EXPECT_NE(lock.error().message.find("renewed"), std::string::npos) << lock.error().describe();
    EXPECT_GT(renewals, 0);
    auto lease = read_lease();
    ASSERT_EQ(lease.status, 200) << lease.body.dump();
    EXPECT_EQ(lease.body["spec"].value("holderIdentity", ""), k_other);
    EXPECT_EQ(lease.body["spec"].value("leaseTransitions", -1), 0);
}

TEST_F(DeployLock, ALeaseWithRenewTimeInTheFutureIsNotTakenOver) {
    // The holder's clock is 10 minutes ahead of ours; it keeps renewing its 2s lease all along.
    const auto ahead_of_ours = [] { return micro_time(std::chrono::system_clock::now() + 10min); };
    auto created = create_lease(k_other, 2, ahead_of_ours());
    ASSERT_EQ(created.status, 201) << created.body.dump();
    LiveHolder other(lease_path(), ahead_of_ours);

    auto lock = deploy::DeployLock::acquire(*m_client, options(k_second, 4s));
    const int renewals = other.renewals();
    other.stop();

    ASSERT_FALSE(lock) << "took over a Lease its holder kept renewing";
    EXPECT_NE(lock.error().message.find("locked by \"" + k_other + "\""), std::string::npos) << lock.error().describe();
    EXPECT_NE(lock.error().message.find("gave up after waiting 4s"), std::string::npos) << lock.error().describe();
    EXPECT_GT(renewals, 0);
    auto lease = read_lease();
    ASSERT_EQ(lease.status, 200) << lease.body.dump();
    EXPECT_EQ(lease.body["spec"].value("holderIdentity", ""), k_other);
    EXPECT_EQ(lease.body["spec"].value("leaseTransitions", -1), 0);
}

TEST_F(DeployLock, ReleaseDeletesTheLease) {
    auto lock = take(options(k_first));
    ASSERT_NE(lock, nullptr);
    ASSERT_EQ(read_lease().status, 200);

    auto released = lock->release();
    EXPECT_TRUE(released) << released.error().describe();
    EXPECT_FALSE(lock->still_held());
    EXPECT_EQ(read_lease().status, 404);

    // Releasing again (as the destructor will) does nothing and does not fail.
    auto again = lock->release();
    EXPECT_TRUE(again) << again.error().describe();
}

TEST_F(DeployLock, RenewalKeepsRenewTimeMoving) {
    auto short_lease = options(k_first);
    short_lease.lease_duration = 3s;  // renewed about every second
    auto lock = take(short_lease);
    ASSERT_NE(lock, nullptr);
    const std::string first_renewal = read_lease().body["spec"].value("renewTime", "");
    ASSERT_FALSE(first_renewal.empty());

    std::this_thread::sleep_for(2s);
    // Fixed-width UTC MicroTime strings compare in time order.
    bool moved = eventually([&] { return read_lease().body["spec"].value("renewTime", "") > first_renewal; }, 15s);
    EXPECT_TRUE(moved) << "renewTime stayed at " << first_renewal;
    EXPECT_TRUE(lock->still_held());
    EXPECT_EQ(holder_now(), k_first);
}

TEST_F(DeployLock, DestructorReleases) {
    {
        auto lock = take(options(k_first));
        ASSERT_NE(lock, nullptr);
        ASSERT_EQ(read_lease().status, 200);
    }
    EXPECT_EQ(read_lease().status, 404);
}

TEST_F(DeployLock, RenewalNoticesAnotherHolderAndReleaseLeavesTheirLease) {
    auto short_lease = options(k_first);
    short_lease.lease_duration = 3s;
    auto lock = take(short_lease);
    ASSERT_NE(lock, nullptr);

    // Someone else writes themselves in (retried, since our renewals race with this update).
    bool replaced = eventually(
        [&] {
            Json lease = read_lease().body;
            lease["spec"]["holderIdentity"] = "intruder/pid 1";
            lease["spec"]["renewTime"] = micro_time(std::chrono::system_clock::now());
            lease["spec"]["leaseDurationSeconds"] = 60;
            return api(cluster().admin(), Method::put, lease_path(), lease).status == 200;
        },
        15s);
    ASSERT_TRUE(replaced);

    EXPECT_TRUE(eventually([&] { return !lock->still_held(); }, 15s)) << "the renewer did not notice the new holder";
    auto released = lock->release();
    EXPECT_TRUE(released) << released.error().describe();
    EXPECT_EQ(holder_now(), "intruder/pid 1");
}

TEST_F(DeployLock, MissingNamespaceIsAClearError) {
    auto nowhere = options(k_first);
    nowhere.namespace_ = ns() + "-missing";
    auto lock = deploy::DeployLock::acquire(*m_client, nowhere);
    ASSERT_FALSE(lock);
    EXPECT_NE(lock.error().message.find("namespace \"" + nowhere.namespace_ + "\" does not exist"), std::string::npos)
        << lock.error().describe();
}

TEST_F(DeployLock, ForbiddenShowsTheServersMessage) {
    // The limited user may edit only its own namespace, not this test's.
    const std::string bearer = cluster().limited().authorization;
    auto limited = make_client(bearer.substr(std::string("Bearer ").size()));
    ASSERT_NE(limited, nullptr);
    auto lock = deploy::DeployLock::acquire(*limited, options(k_first));
    ASSERT_FALSE(lock);
    EXPECT_EQ(lock.error().code, util::ErrorCode::api);
    EXPECT_NE(lock.error().message.find("forbidden"), std::string::npos) << lock.error().describe();
    EXPECT_NE(lock.error().message.find("Forbidden, HTTP 403"), std::string::npos) << lock.error().describe();
}

}  // namespace
}  // namespace minicd::e2e
