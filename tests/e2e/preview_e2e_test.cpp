// Cluster identity guards, `minicd env pin`, and preview garbage collection against real
// namespaces, a real bare Git "remote" and a clone of it.
#include <fmt/format.h>
#include <stdlib.h>

#include <fstream>
#include <random>
#include <set>

#include "../support/git_repo.hpp"
#include "minicd/pipeline/guard.hpp"
#include "minicd/pipeline/naming.hpp"
#include "minicd/pipeline/preview.hpp"
#include "minicd/pipeline/preview_gc.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/subprocess.hpp"
#include "minicd/util/text.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

constexpr const char* k_env = "preview";
constexpr const char* k_wrong_uid = "00000000-0000-4000-8000-000000000000";

struct Cli {
    int exit_code = -1;
    std::string out;
    std::string err;
};

// A preview environment of a fresh app (so runs and tests never see each other's namespaces), a
// bare remote with main and the given branches, and a clone of it.
class Previews : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(TestCluster::get().ready()) << "the test cluster did not start";
        std::mt19937 random(std::random_device{}());
        m_app = fmt::format("gc{:06x}", random() & 0xffffff);
        m_client = TestCluster::get().admin_kube_client();
        ASSERT_NE(m_client, nullptr);
        auto system = api(TestCluster::get().admin(), Method::get, "/api/v1/namespaces/kube-system");
        ASSERT_EQ(system.status, 200);
        m_uid = system.body["metadata"]["uid"].get<std::string>();

        testing::GitRepo work(m_dir.path("work"));
        work.commit("first");
        for (const char* branch : {"feature/kept", "feature/gone", "fix-1", "fix-2", "fix-3"}) work.run({"branch", branch});
        testing::git(m_dir.path(), {"clone", "--quiet", "--bare", work.path(), remote()});
        testing::git(m_dir.path(), {"clone", "--quiet", remote(), clone()});
    }

    void TearDown() override {
        for (const std::string& name : m_created) api(TestCluster::get().admin(), Method::delete_, "/api/v1/namespaces/" + name);
    }

    std::string remote() const { return m_dir.path("remote.git"); }
    std::string clone() const { return m_dir.path("clone"); }
    void delete_remote_branch(const std::string& branch) const { testing::git(remote(), {"branch", "-D", branch}); }

    config::Environment environment() const {
        config::Environment env;
        env.name = k_env;
        env.cluster = {.context = "admin", .server = TestCluster::get().apiserver(), .uid = m_uid, .kubeconfig = {}};
        env.namespace_ = "{app}-{branch}";
        env.ttl = 7 * 24h;
        env.gc = {.enabled = true, .max_deletions = 5, .branches = config::BranchSource::remote, .remote = "origin", .token_env = {}};
        return env;
    }

    config::Config config(const config::Environment& env) const {
        config::Config config;
        config.app = m_app;
        config.registry = "127.0.0.1:5000/acme";
        config.environments = {env};
        return config;
    }

    pipeline::PreviewOwner owner() const { return {.app = m_app, .env = k_env}; }

    std::string namespace_for(const std::string& branch) const {
        auto name = pipeline::namespace_name("{app}-{branch}", {.app = m_app, .env = k_env, .branch = branch});
        EXPECT_TRUE(name) << name.error().describe();
        return name.value_or("");
    }

    // Creates a namespace as `minicd ci` does for a branch, last deployed `idle` ago.
    std::string create_preview(const std::string& branch, std::chrono::seconds idle = 1h) {
        const std::string name = namespace_for(branch);
        create(pipeline::preview_namespace_object(owner(), name, branch, pipeline::Clock::now() - idle));
        return name;
    }

    void create(const Json& object) {
        const std::string name = object["metadata"]["name"];
        auto created = api(TestCluster::get().admin(), Method::post, "/api/v1/namespaces", object);
        ASSERT_EQ(created.status, 201) << created.body.dump();
        m_created.push_back(name);
    }

    // Present and not being deleted.
    bool alive(const std::string& name) {
        auto reply = api(TestCluster::get().admin(), Method::get, "/api/v1/namespaces/" + name);
        return reply.status == 200 && !reply.body["metadata"].contains("deletionTimestamp");
    }

    bool gone(const std::string& name) {
        return eventually([&] { return api(TestCluster::get().admin(), Method::get, "/api/v1/namespaces/" + name).status == 404; },
                          60s);
    }

    Result<pipeline::GcOutcome> collect(const config::Environment& env, std::optional<int> budget = std::nullopt) {
        return pipeline::run_preview_gc(*m_client, config(env), env,
                                        {.repository = clone(), .dry_run = false, .max_deletions = budget, .wait = true,
                                         .wait_timeout = 60s});
    }

    // Writes minicd.yaml into the clone (so gc lists branches there) and returns its path.
    std::string write_config(const std::string& cluster) const {
        const std::string path = clone() + "/minicd.yaml";
        std::ofstream(path) << fmt::format(
            "# written by the test\n"
            "app: {}\n"
            "registry: 127.0.0.1:5000/acme\n"
            "environments:\n"
            "  preview:\n"
            "    cluster:\n"
            "{}"
            "    on: {{branch: \"!main\"}}\n"
            "    namespace: \"{{app}}-{{branch}}\"\n"
            "    host: \"{{branch}}.preview.example.com\"\n"
            "    ttl: 7d\n"
            "    gc: {{maxDeletions: 5, branches: remote, remote: origin}}\n",
            m_app, cluster);
        return path;
    }

    std::string pinned_cluster(const std::string& server, const std::string& uid) const {
        return fmt::format("      context: admin\n      server: \"{}\"\n      uid: \"{}\"\n", server, uid);
    }

    Cli minicd(std::vector<std::string> args) const {
        args.insert(args.begin(), MINICD_BINARY);
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .env = {{"XDG_CACHE_HOME", m_dir.path("cache")}}, .timeout = 120s});
        if (!result) {
            ADD_FAILURE() << result.error().describe();
            return {};
        }
        return {.exit_code = result->exit_code, .out = result->out, .err = result->err};
    }

    testing::TempDir m_dir;
    std::string m_app;
    std::string m_uid;
    std::unique_ptr<kube::Client> m_client;
    std::vector<std::string> m_created;
};

// --- guards ---

TEST_F(Previews, GuardPassesTheTestClustersRealIdentity) {
    auto guarded = pipeline::connect_guarded(environment());
    ASSERT_TRUE(guarded) << guarded.error().describe();
    EXPECT_EQ(guarded->report.found.uid, m_uid);
    EXPECT_EQ(guarded->report.found.server, TestCluster::get().apiserver());
    EXPECT_TRUE(guarded->report.warning.empty());
}

TEST_F(Previews, GuardRefusesAnotherUidOrServer) {
    config::Environment wrong_uid = environment();
    wrong_uid.cluster.uid = k_wrong_uid;
    auto refused = pipeline::connect_guarded(wrong_uid);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find(fmt::format("expected {}, found {}", k_wrong_uid, m_uid)), std::string::npos)
        << refused.error().message;

    config::Environment wrong_server = environment();
    wrong_server.cluster.server = "https://10.0.0.1:6443";
    refused = pipeline::connect_guarded(wrong_server);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("expected https://10.0.0.1:6443, found " + TestCluster::get().apiserver()),
              std::string::npos)
        << refused.error().message;
}

TEST_F(Previews, GuardRefusesAPinnedUidAUserCannotRead) {
    // The testenv's limited user may not read kube-system: a uid pin cannot be checked, a server pin can.
    config::Environment env = environment();
    env.cluster.context = "limited";
    auto refused = pipeline::connect_guarded(env);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("could not be read"), std::string::npos) << refused.error().message;
    env.cluster.uid.clear();
    auto passed = pipeline::connect_guarded(env);
    ASSERT_TRUE(passed) << passed.error().describe();
    EXPECT_EQ(passed->report.found.uid, "");
}

TEST_F(Previews, WrongClusterIsRefusedBeforeAnyWrite) {
    const std::string doomed = create_preview("feature/gone");
    delete_remote_branch("feature/gone");
    const std::string file = write_config(pinned_cluster(TestCluster::get().apiserver(), k_wrong_uid));

    Cli down = minicd({"preview", "down", "feature/gone", "-f", file});
    EXPECT_EQ(down.exit_code, 2) << down.err;
    EXPECT_NE(down.err.find(fmt::format("kube-system uid: expected {}, found {}", k_wrong_uid, m_uid)), std::string::npos)
        << down.err;
    EXPECT_NE(down.err.find("minicd env pin preview"), std::string::npos) << down.err;

    write_config(pinned_cluster("https://10.0.0.1:6443", m_uid));
    Cli gc = minicd({"preview", "gc", "-f", file});
    EXPECT_EQ(gc.exit_code, 2) << gc.err;
    EXPECT_NE(gc.err.find("server: expected https://10.0.0.1:6443"), std::string::npos) << gc.err;

    EXPECT_TRUE(alive(doomed));
    // The same commands pass once the pin is right, so it was the guard that stopped them.
    write_config(pinned_cluster(TestCluster::get().apiserver(), m_uid));
    Cli fixed = minicd({"preview", "down", "feature/gone", "-f", file, "--wait"});
    EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
    EXPECT_TRUE(gone(doomed));
}

// --- env pin ---

TEST_F(Previews, EnvPinWritesTheIdentityIntoMinicdYaml) {
    const std::string file = write_config("      context: admin   # the testenv admin\n");
    Cli pin = minicd({"env", "pin", "preview", "-f", file});
    ASSERT_EQ(pin.exit_code, 0) << pin.err;
    auto text = util::read_file(file);
    ASSERT_TRUE(text);
    EXPECT_NE(text->find(fmt::format("    cluster:\n      context: admin   # the testenv admin\n      server: \"{}\"\n"
                                     "      uid: \"{}\"\n    on:",
                                     TestCluster::get().apiserver(), m_uid)),
              std::string::npos)
        << *text;
    EXPECT_TRUE(text->starts_with("# written by the test\n")) << *text;

    Cli show = minicd({"env", "show", "preview", "-f", file});
    EXPECT_EQ(show.exit_code, 0) << show.err;
    EXPECT_NE(show.out.find("matches the pin"), std::string::npos) << show.out;

    Cli again = minicd({"env", "pin", "preview", "-f", file});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("already pinned"), std::string::npos) << again.out;
}

TEST_F(Previews, EnvPinPrintsTheLinesWhenTheLayoutIsNotEditable) {
    const std::string file = write_config("      context: admin\n");
    std::string text = util::read_file(file).value_or("");
    // A flow mapping over two lines: valid YAML, not a layout the pin writer edits.
    const std::string block = "    cluster:\n      context: admin\n";
    text.replace(text.find(block), block.size(),
                 fmt::format("    cluster: {{context: admin,\n               kubeconfig: \"{}\"}}\n",
                             TestCluster::get().var("KUBECONFIG")));
    std::ofstream(file) << text;
    Cli pin = minicd({"env", "pin", "preview", "-f", file});
    EXPECT_EQ(pin.exit_code, 1) << pin.err;
    EXPECT_NE(pin.out.find(fmt::format("server: \"{}\"", TestCluster::get().apiserver())), std::string::npos) << pin.out;
    EXPECT_NE(pin.out.find(fmt::format("uid: \"{}\"", m_uid)), std::string::npos) << pin.out;
    EXPECT_EQ(util::read_file(file).value_or(""), text);
}

// --- garbage collection ---

TEST_F(Previews, GcRemovesThePreviewOfADeletedBranchAndKeepsTheRest) {
    const std::string kept = create_preview("feature/kept");
    const std::string doomed = create_preview("feature/gone");
    delete_remote_branch("feature/gone");

    auto outcome = collect(environment());
    ASSERT_TRUE(outcome) << outcome.error().describe();
    EXPECT_EQ(outcome->deleted, std::vector<std::string>{doomed});
    EXPECT_TRUE(outcome->succeeded());
    EXPECT_EQ(api(TestCluster::get().admin(), Method::get, "/api/v1/namespaces/" + doomed).status, 404);
    EXPECT_TRUE(alive(kept));
}

TEST_F(Previews, GcWithRefsSeesADeletedBranchOnlyAfterAFetch) {
    config::Environment env = environment();
    env.gc.branches = config::BranchSource::refs;
    const std::string doomed = create_preview("feature/gone");
    delete_remote_branch("feature/gone");

    auto before = collect(env);
    ASSERT_TRUE(before) << before.error().describe();
    EXPECT_TRUE(before->deleted.empty());
    EXPECT_TRUE(alive(doomed));

    testing::git(clone(), {"fetch", "--quiet", "--prune", "origin"});
    auto after = collect(env);
    ASSERT_TRUE(after) << after.error().describe();
    EXPECT_EQ(after->deleted, std::vector<std::string>{doomed});
}

TEST_F(Previews, GcRemovesPreviewsIdlePastTheirTtl) {
    const std::string stale = create_preview("fix-1", 8 * 24h);
    const std::string fresh = create_preview("fix-2", 6 * 24h);
    auto outcome = collect(environment());
    ASSERT_TRUE(outcome) << outcome.error().describe();
    EXPECT_EQ(outcome->deleted, std::vector<std::string>{stale});
    EXPECT_TRUE(alive(fresh));
}

TEST_F(Previews, AFailingBranchListingDeletesNothing) {
    const std::string doomed = create_preview("feature/gone");
    const std::string stale = create_preview("fix-1", 30 * 24h);
    delete_remote_branch("feature/gone");
    config::Environment env = environment();
    env.gc.remote = m_dir.path("no-such-remote.git");

    auto outcome = collect(env);
    ASSERT_FALSE(outcome);
    EXPECT_NE(outcome.error().describe().find("listing branches"), std::string::npos) << outcome.error().describe();
    EXPECT_TRUE(alive(doomed));
    EXPECT_TRUE(alive(stale));

    // Through the CLI too: a bad remote is a failure (exit 1) and nothing goes.
    const std::string file = write_config(pinned_cluster(TestCluster::get().apiserver(), m_uid));
    std::string text = util::read_file(file).value_or("");
    text.replace(text.find("remote: origin"), std::string("remote: origin").size(), "remote: " + env.gc.remote);
    std::ofstream(file) << text;
    Cli gc = minicd({"preview", "gc", "-f", file});
    EXPECT_EQ(gc.exit_code, 1) << gc.err;
    EXPECT_TRUE(alive(doomed));
    EXPECT_TRUE(alive(stale));
}

TEST_F(Previews, GcDeletesNoMoreThanTheBudgetAndReportsTheRest) {
    std::vector<std::string> names;
    for (const char* branch : {"fix-1", "fix-2", "fix-3"}) {
        names.push_back(create_preview(branch));
        delete_remote_branch(branch);
    }
    auto outcome = collect(environment(), 1);
    ASSERT_TRUE(outcome) << outcome.error().describe();
    EXPECT_EQ(outcome->deleted.size(), 1u);
    EXPECT_EQ(outcome->count(pipeline::GcAction::over_budget), 2);
    int alive_count = 0;
    for (const auto& name : names) alive_count += alive(name) ? 1 : 0;
    EXPECT_EQ(alive_count, 2);
}

TEST_F(Previews, GcNeverTouchesNamespacesWithoutEveryPreviewLabelOfThisApp) {
    delete_remote_branch("feature/gone");
    // Another app's preview of the same (deleted) branch.
    pipeline::PreviewOwner other{.app = m_app + "x", .env = k_env};
    const std::string foreign = m_app + "x-feature-gone";
    create(pipeline::preview_namespace_object(other, foreign, "feature/gone", pipeline::Clock::now() - 30 * 24h));
    // This app's labels, but not marked as a preview.
    Json unmarked = pipeline::preview_namespace_object(owner(), namespace_for("feature/gone"), "feature/gone",
                                                       pipeline::Clock::now() - 30 * 24h);
    unmarked["metadata"]["labels"].erase(std::string(render::k_preview_label));
    create(unmarked);
    // Marked, but managed by someone else.
    Json helm = pipeline::preview_namespace_object(owner(), m_app + "-helm", "feature/gone", pipeline::Clock::now() - 30 * 24h);
    helm["metadata"]["labels"][std::string(render::k_managed_by_label)] = "helm";
    create(helm);

    auto outcome = collect(environment());
    ASSERT_TRUE(outcome) << outcome.error().describe();
    EXPECT_TRUE(outcome->deleted.empty());
    EXPECT_TRUE(outcome->decisions.empty());
    EXPECT_TRUE(alive(foreign));
    EXPECT_TRUE(alive(namespace_for("feature/gone")));
    EXPECT_TRUE(alive(m_app + "-helm"));

    // Tearing one down by branch checks the labels too.
    const std::string file = write_config(pinned_cluster(TestCluster::get().apiserver(), m_uid));
    Cli down = minicd({"preview", "down", "feature/gone", "-f", file});
    EXPECT_EQ(down.exit_code, 2) << down.err;
    EXPECT_NE(down.err.find("label minicd.io/preview is missing"), std::string::npos) << down.err;
    EXPECT_TRUE(alive(namespace_for("feature/gone")));
}

TEST_F(Previews, CliListsCollectsAndReports) {
    const std::string kept = create_preview("feature/kept");
    const std::string doomed = create_preview("feature/gone");
    delete_remote_branch("feature/gone");
    const std::string file = write_config(pinned_cluster(TestCluster::get().apiserver(), m_uid));

    Cli list = minicd({"preview", "list", "-f", file});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("NAMESPACE"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find(kept), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("feature/gone"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("http://feature-kept-"), std::string::npos) << list.out;

    Cli dry = minicd({"preview", "gc", "--dry-run", "-f", file});
    ASSERT_EQ(dry.exit_code, 0) << dry.err;
    EXPECT_NE(dry.out.find("would remove " + doomed), std::string::npos) << dry.out;
    EXPECT_TRUE(alive(doomed));

    Cli gc = minicd({"preview", "gc", "--wait", "-o", "json", "-f", file});
    ASSERT_EQ(gc.exit_code, 0) << gc.err;
    const Json report = Json::parse(gc.out, nullptr, false);
    ASSERT_TRUE(report.is_object()) << gc.out;
    EXPECT_EQ(report["deleted"], Json::array({doomed}));
    EXPECT_EQ(api(TestCluster::get().admin(), Method::get, "/api/v1/namespaces/" + doomed).status, 404);
    EXPECT_TRUE(alive(kept));

    Cli url = minicd({"preview", "url", "feature/kept", "-f", file});
    EXPECT_EQ(url.exit_code, 0) << url.err;
    EXPECT_TRUE(util::trim(url.out).ends_with(".preview.example.com")) << url.out;
}

TEST_F(Previews, PortForwardFindsTheAppsOnlyService) {
    const std::string name = create_preview("feature/kept");
    const Json service = {{"apiVersion", "v1"},
                          {"kind", "Service"},
                          {"metadata", {{"name", "web"}, {"labels", {{std::string(render::k_app_label), m_app}}}}},
                          {"spec", {{"ports", Json::array({{{"port", 8080}}})}, {"selector", {{"app", "web"}}}}}};
    auto created = api(TestCluster::get().admin(), Method::post, "/api/v1/namespaces/" + name + "/services", service);
    ASSERT_EQ(created.status, 201) << created.body.dump();
    const pipeline::PortForwardRequest request{.namespace_ = name, .service = {}, .ports = {}, .context = "admin", .kubeconfig = {}};

    auto forward = pipeline::plan_port_forward(*m_client, request, owner());
    ASSERT_TRUE(forward) << forward.error().describe();
    EXPECT_EQ(forward->argv,
              (std::vector<std::string>{"kubectl", "--context", "admin", "-n", name, "port-forward", "svc/web", "8080"}));

    Json second = service;
    second["metadata"]["name"] = "worker";
    ASSERT_EQ(api(TestCluster::get().admin(), Method::post, "/api/v1/namespaces/" + name + "/services", second).status, 201);
    auto ambiguous = pipeline::plan_port_forward(*m_client, request, owner());
    ASSERT_FALSE(ambiguous);
    EXPECT_NE(ambiguous.error().message.find("web, worker"), std::string::npos) << ambiguous.error().message;
    auto chosen = pipeline::plan_port_forward(*m_client, {.namespace_ = name, .service = "worker", .ports = "9000:8080",
                                                          .context = "admin", .kubeconfig = {}},
                                              owner());
    ASSERT_TRUE(chosen) << chosen.error().describe();
    EXPECT_EQ(chosen->argv.back(), "9000:8080");
}

}  // namespace
}  // namespace minicd::e2e
