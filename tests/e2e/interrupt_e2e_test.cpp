// A cancelled CI job end to end: SIGTERM to the real minicd binary while it holds the deploy lock
// (a canary in its pause) releases the Lease on the way out and exits 143, so the next command of
// the environment gets the lock at once instead of waiting for the Lease to expire.
// kwok makes every registry.test image other than registry.test/crashloop:1 ready at once.
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

#include "../support/git_repo.hpp"
#include "../support/temp_dir.hpp"
#include "minicd/util/subprocess.hpp"
#include "cli_run.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

const std::string k_app = "shop";
const std::string k_env = "test";
const std::string k_lease = "minicd-lock-shop-test";

// Deployment `web` running `image`, four replicas (so a 25% canary has one pod).
std::string web_app(const std::string& image) {
    return fmt::format(R"(---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 4
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: main, image: "{}"}}]
)",
                       image);
}

class Interrupt : public ClusterTest {
protected:
    std::string manifests(const std::string& name, const std::string& yaml) {
        testing::write_file(m_tmp.path(name + "/objects.yaml"), yaml);
        return m_tmp.path(name);
    }

    util::SubprocessSpec minicd_spec(std::vector<std::string> args, std::chrono::seconds limit) {
        return e2e::minicd_spec(cluster(), m_tmp.path("cache"), std::move(args), limit);
    }
    Invocation minicd(std::vector<std::string> args, std::chrono::seconds limit = 300s) {
        return run_minicd(cluster(), m_tmp.path("cache"), std::move(args), limit);
    }

    std::vector<std::string> apply_args(const std::string& folder, std::vector<std::string> extra = {}) const {
        std::vector<std::string> args = {"apply", "-f", folder, "--timeout", "60s", "--prune", "-o", "json",
                                         "-n", ns(), "--app", k_app, "--env", k_env};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }

    ApiReply get(const std::string& path) { return api(cluster().admin(), Method::get, path); }
    std::string lease_path() const {
        return fmt::format("/apis/coordination.k8s.io/v1/namespaces/{}/leases/{}", ns(), k_lease);
    }
    std::string web_image() {
        return pick_text(get("/apis/apps/v1/namespaces/" + ns() + "/deployments/web").body,
                         "/spec/template/spec/containers/0/image");
    }

    testing::TempDir m_tmp;
};

TEST_F(Interrupt, SigtermReleasesTheDeployLockSoTheNextCommandNeedNotWait) {
    auto v1 = minicd(apply_args(manifests("v1", web_app("registry.test/web:1"))));
    ASSERT_EQ(v1.exit_code, 0) << v1.all();

    // The canary pauses ten minutes under the lock; the timeout's SIGTERM comes during the pause
    // (as when a CI job is cancelled). The grace before SIGKILL leaves minicd room to clean up.
    const std::string v2 = manifests("v2", web_app("registry.test/web:2"));
    auto spec = minicd_spec(apply_args(v2, {"--canary-steps", "25:10m"}), 20s);
    spec.kill_grace = 30s;
    const auto killed = util::run_subprocess(spec);
    ASSERT_TRUE(killed) << killed.error().describe();
    const std::string said = "stdout:\n" + killed->out + "\nstderr:\n" + killed->err;
    EXPECT_TRUE(killed->timed_out) << said;
    // It exits by itself with 128 + SIGTERM rather than being killed by the signal.
    EXPECT_EQ(killed->exit_code, 143) << killed->outcome() << "\n" << said;
    EXPECT_EQ(killed->signal, 0) << killed->outcome() << "\n" << said;
    EXPECT_LT(killed->elapsed, 35s) << said;
    EXPECT_NE(killed->err.find(fmt::format(
                  "minicd: interrupted (SIGTERM): released the deploy lock {} in namespace {}", k_lease, ns())),
              std::string::npos)
        << said;

    // The Lease is gone at once, not left to expire.
    const auto lease = get(lease_path());
    EXPECT_EQ(lease.status, 404) << lease.body.dump();

    // So the next command gets the lock without waiting out the lease duration (60 s).
    const auto started = std::chrono::steady_clock::now();
    auto aborted = minicd({"canary", "abort", "-n", ns(), "--app", k_app, "--env", k_env, "--lock-wait", "5s"}, 120s);
    EXPECT_EQ(aborted.exit_code, 0) << aborted.all();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 30s) << aborted.all();
    EXPECT_EQ(web_image(), "registry.test/web:1");
}

}  // namespace
}  // namespace minicd::e2e
