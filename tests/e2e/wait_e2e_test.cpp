// deploy::wait_for_health against the test cluster: rollouts that finish are healthy, crash loops
// fail fast, pods that never become ready time out naming the object, and the API's refusals are
// errors rather than endless waits.
#include <fmt/format.h>

#include <atomic>
#include <memory>

#include "minicd/deploy/wait.hpp"
#include "minicd/kube/client.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

const kube::ResourceInfo k_deployments{
    .group = "apps", .version = "v1", .kind = "Deployment", .resource = "deployments", .namespaced = true};
const kube::ResourceInfo k_config_maps{
    .group = "", .version = "v1", .kind = "ConfigMap", .resource = "configmaps", .namespaced = true};
const kube::ResourceInfo k_jobs{
    .group = "batch", .version = "v1", .kind = "Job", .resource = "jobs", .namespaced = true};

Json pod_template(const std::string& app, const std::string& image) {
    return {{"metadata", {{"labels", {{"app", app}}}}},
            {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", image}}})}}}};
}

Json deployment(const std::string& name, const std::string& image, int replicas) {
    return {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"replicas", replicas},
              {"selector", {{"matchLabels", {{"app", name}}}}},
              {"template", pod_template(name, image)}}}};
}

Json config_map(const std::string& name) {
    return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"key", "value"}}}};
}

Json job(const std::string& name, const std::string& image) {
    Json pod = pod_template(name, image);
    pod["spec"]["restartPolicy"] = "Never";
    return {{"apiVersion", "batch/v1"},
            {"kind", "Job"},
            {"metadata", {{"name", name}}},
            {"spec", {{"backoffLimit", 0}, {"template", pod}}}};
}

// Who the client under test authenticates as.
enum class As {
    admin,    // client certificate, may do anything
    limited,  // bearer token, may only touch the namespace "limited"
};

class Wait : public ClusterTest {
protected:
    std::unique_ptr<kube::Client> client(As user = As::admin) {
        const std::string pki = cluster().var("MINICD_TEST_PKI");
        kube::RestConfig config{.server = cluster().apiserver(), .tls = {.ca_file = pki + "/ca.crt"}};
        if (user == As::limited) {
            config.token_file = pki + "/limited.token";
        } else {
            config.tls.client_cert_file = pki + "/admin.crt";
            config.tls.client_key_file = pki + "/admin.key";
        }
        auto made = kube::Client::create(std::move(config));
        if (!made) throw std::runtime_error(made.error().describe());
        return std::move(*made);
    }

    void create(const std::string& collection, const Json& body) {
        auto created = api(cluster().admin(), Method::post, collection, body);
        ASSERT_EQ(created.status, 201) << created.body.dump();
    }

    std::string apps(const std::string& resource) const { return "/apis/apps/v1/namespaces/" + ns() + "/" + resource; }

    deploy::WaitTarget target(const kube::ResourceInfo& resource, const std::string& name) const {
        return {.id = {.group = resource.group, .version = resource.version, .kind = resource.kind,
                       .namespace_ = ns(), .name = name},
                .resource = resource};
    }
};

std::string describe(const deploy::WaitResult& result) {
    std::string text = fmt::format("healthy={} timed_out={} elapsed={}ms", result.healthy, result.timed_out,
                                   result.elapsed.count());
    for (const auto& object : result.objects) {
        text += fmt::format("\n  {}: {} {} {}", object.id.describe(), health::to_string(object.health.state),
                            object.health.reason, object.health.message);
    }
    return text;
}

TEST_F(Wait, DeploymentWithTwoReplicasBecomesHealthy) {
    create(apps("deployments"), deployment("web", "registry.test/web:1", 2));
    auto kube = client();

    auto result = deploy::wait_for_health(*kube, {target(k_deployments, "web")}, {.timeout = 60s});

    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_TRUE(result->healthy) << describe(*result);
    EXPECT_FALSE(result->timed_out);
    ASSERT_EQ(result->objects.size(), 1u);
    EXPECT_EQ(result->objects[0].id.name, "web");
    EXPECT_EQ(result->objects[0].health.state, health::State::current);
}

TEST_F(Wait, CrashLoopingDeploymentFailsFast) {
    create(apps("deployments"), deployment("broken", "registry.test/crashloop:1", 1));
    auto kube = client();

    auto result = deploy::wait_for_health(*kube, {target(k_deployments, "broken")}, {.timeout = 60s});

    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_FALSE(result->healthy) << describe(*result);
    EXPECT_FALSE(result->timed_out) << "fails on the crash loop, long before the timeout: " << describe(*result);
    ASSERT_EQ(result->objects.size(), 1u);
    const auto& health = result->objects[0].health;
    EXPECT_EQ(health.state, health::State::failed) << describe(*result);
    EXPECT_NE((health.reason + " " + health.message).find("CrashLoopBackOff"), std::string::npos) << describe(*result);
}

// Only the pods of the Deployment's current ReplicaSet count: the old one's crash loop, still
// around while the fix rolls out, must not fail the fix.
TEST_F(Wait, RolloutReplacingACrashLoopBecomesHealthy) {
    create(apps("deployments"), deployment("web", "registry.test/crashloop:1", 1));
    auto kube = client();
    auto broken = deploy::wait_for_health(*kube, {target(k_deployments, "web")}, {.timeout = 60s});
    ASSERT_TRUE(broken) << broken.error().describe();
    ASSERT_EQ(broken->objects.at(0).health.state, health::State::failed) << describe(*broken);

    Json live = api(cluster().admin(), Method::get, apps("deployments/web")).body;
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.test/web:2";
    auto replaced = api(cluster().admin(), Method::put, apps("deployments/web"), live);
    ASSERT_EQ(replaced.status, 200) << replaced.body.dump();

    auto fixed = deploy::wait_for_health(*kube, {target(k_deployments, "web")}, {.timeout = 60s});

    ASSERT_TRUE(fixed) << fixed.error().describe();
    EXPECT_TRUE(fixed->healthy) << describe(*fixed);
}

TEST_F(Wait, NeverReadyDeploymentTimesOutNamingIt) {
    create(apps("deployments"), deployment("stuck", "registry.test/neverready:1", 1));
    create(ns_path("/configmaps"), config_map("settings"));
    auto kube = client();

    auto result = deploy::wait_for_health(
        *kube, {target(k_config_maps, "settings"), target(k_deployments, "stuck")}, {.timeout = 3s});

    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_FALSE(result->healthy) << describe(*result);
    EXPECT_TRUE(result->timed_out) << describe(*result);
    ASSERT_EQ(result->objects.size(), 2u);
    EXPECT_EQ(result->objects[0].health.state, health::State::current) << describe(*result);
    EXPECT_EQ(result->objects[1].id.name, "stuck");
    EXPECT_EQ(result->objects[1].health.state, health::State::in_progress) << describe(*result);
    EXPECT_FALSE(result->objects[1].health.message.empty()) << "says why it is not ready: " << describe(*result);
}

TEST_F(Wait, ConfigMapIsHealthyAtOnce) {
    create(ns_path("/configmaps"), config_map("settings"));
    auto kube = client();

    auto result = deploy::wait_for_health(*kube, {target(k_config_maps, "settings")}, {.timeout = 30s});

    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_TRUE(result->healthy) << describe(*result);
}

TEST_F(Wait, SeveralObjectsOfOneKindAreWatchedTogether) {
    for (const char* name : {"one", "two", "three"}) create(ns_path("/configmaps"), config_map(name));
    create(apps("deployments"), deployment("web", "registry.test/web:1", 1));
    auto kube = client();

    auto result = deploy::wait_for_health(*kube,
                                          {target(k_config_maps, "one"), target(k_config_maps, "two"),
                                           target(k_config_maps, "three"), target(k_deployments, "web")},
                                          {.timeout = 60s});

    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_TRUE(result->healthy) << describe(*result);
    EXPECT_EQ(result->objects.size(), 4u);
}

TEST_F(Wait, JobCompletes) {
    create("/apis/batch/v1/namespaces/" + ns() + "/jobs", job("migrate", "registry.test/migrate:1"));
    auto kube = client();

    auto result = deploy::wait_for_health(*kube, {target(k_jobs, "migrate")}, {.timeout = 60s});

    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_TRUE(result->healthy) << describe(*result);
    auto live = api(cluster().admin(), Method::get, "/apis/batch/v1/namespaces/" + ns() + "/jobs/migrate").body;
    EXPECT_EQ(live["status"].value("succeeded", 0), 1) << live["status"].dump();
}

// The object is missing at first; the progress callback reports it and then creates it, which the
// watch must pick up.
TEST_F(Wait, ReportsProgressAndSeesObjectsCreatedWhileWaiting) {
    auto kube = client();
    int calls = 0;
    std::vector<deploy::ObjectHealth> first_pending;
    deploy::WaitOptions options{.timeout = 60s,
                                .on_progress =
                                    [&](const deploy::WaitProgress& progress) {
                                        if (calls++ > 0) return;
                                        first_pending = progress.not_ready;
                                        create(ns_path("/configmaps"), config_map("late"));
                                    },
                                .progress_interval = 1s};

    auto result = deploy::wait_for_health(*kube, {target(k_config_maps, "late")}, options);

    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_TRUE(result->healthy) << describe(*result);
    EXPECT_GE(calls, 1);
    ASSERT_EQ(first_pending.size(), 1u);
    EXPECT_EQ(first_pending[0].id.name, "late");
    EXPECT_EQ(first_pending[0].health.reason, "NotFound");
}

TEST_F(Wait, ForbiddenWatchIsAnErrorNamingTheResource) {
    create(ns_path("/configmaps"), config_map("settings"));
    auto kube = client(As::limited);

    auto result = deploy::wait_for_health(*kube, {target(k_config_maps, "settings")}, {.timeout = 60s});

    ASSERT_FALSE(result) << describe(*result);
    std::string text = result.error().describe();
    EXPECT_NE(text.find("configmaps in ns " + ns()), std::string::npos) << text;
    EXPECT_NE(text.find("Forbidden"), std::string::npos) << text;
}

TEST_F(Wait, NoTargetsIsHealthy) {
    auto kube = client();
    auto result = deploy::wait_for_health(*kube, {}, {.timeout = 1s});
    ASSERT_TRUE(result) << result.error().describe();
    EXPECT_TRUE(result->healthy);
}

}  // namespace
}  // namespace minicd::e2e
