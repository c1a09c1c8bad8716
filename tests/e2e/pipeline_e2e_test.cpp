// minicd ci end to end: a bare "remote" and a clone made by the test, buildah pushing to the test
// registry, and the test control plane. One cluster serves every environment here (different
// namespaces, same kube context); a real setup names one context per cluster.
#include <fmt/format.h>

#include <random>

#include "../support/git_repo.hpp"
#include "cli_run.hpp"
#include "minicd/util/subprocess.hpp"
#include "minicd/util/text.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;
using http::Method;

struct Outcome {
    int exit_code = -1;
    std::string out;
    std::string err;
};

class Pipeline : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(TestCluster::get().ready()) << "the test environment did not start";
        std::mt19937 random(std::random_device{}());
        m_app = fmt::format("ci{:06x}", random() & 0xffffff);
        m_repository = fmt::format("{}/minicd-e2e/{}", var("MINICD_TEST_REGISTRY"), m_app);
        testing::git(m_dir.path(), {"init", "--quiet", "--bare", "--initial-branch=main", m_dir.path("remote.git")});
        m_clone.run({"remote", "add", "origin", m_dir.path("remote.git")});
        m_clone.write("Dockerfile", fmt::format("FROM {}\nCOPY index.html /index.html\n", var("MINICD_TEST_BASE_IMAGE")));
        m_clone.write("index.html", "hello\n");
        m_clone.write(".gitignore", "cache/\n");
        m_clone.write("k8s/app.yaml", fmt::format(R"(apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: {0}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web}}
spec:
  rules:
  - host: www.example.com
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}
)",
                                                  m_app));
        write_config("");
        m_clone.commit("Add the app");
        m_clone.run({"push", "--quiet", "origin", "main"});
    }

    void TearDown() override {
        const std::vector<std::vector<std::string>> deletions = {
            {"-l", "minicd.io/app=" + m_app}, {m_app + "-staging", m_app + "-production"}};
        for (const auto& which : deletions) {
            std::vector<std::string> argv = {"kubectl", "delete", "namespace", "--wait=false", "--ignore-not-found"};
            argv.insert(argv.end(), which.begin(), which.end());
            util::run_subprocess({.inherit = util::Inherit::everything, .argv = argv, .env = {{"KUBECONFIG", var("KUBECONFIG")}}, .timeout = 30s});
        }
    }

    std::string var(const std::string& name) const { return TestCluster::get().var(name); }

    // staging_cluster: extra keys for the staging cluster pin, e.g. ", server: https://..."
    void write_config(const std::string& staging_cluster) {
        m_clone.write("minicd.yaml", fmt::format(R"(app: {0}
registry: {1}/minicd-e2e
images: [{{name: {0}}}]
environments:
  preview:
    cluster: {{context: admin}}
    on: {{branch: "!main"}}
    namespace: "{0}-{{branch}}"
    host: "{{branch}}.preview.example.com"
    tls: {{clusterIssuer: letsencrypt}}
    timeout: 60s
    gc: {{branches: refs}}
  staging:
    cluster: {{context: admin{2}}}
    on: {{branch: main}}
    namespace: "{0}-staging"
    timeout: 60s
  production:
    cluster: {{context: admin}}
    on: {{tag: "v*"}}
    namespace: "{0}-production"
    promoteFrom: staging
    timeout: 60s
)",
                                                 m_app, var("MINICD_TEST_REGISTRY"), staging_cluster));
    }

    // One CI job as GitHub Actions runs it for `event` at `ref`, on whatever the clone has checked out.
    Outcome ci(const std::string& event, const std::string& ref, std::vector<std::string> extra = {},
               const std::map<std::string, std::string>& more_env = {}) {
        CiVariables variables = github_variables(m_clone, event, ref);
        for (const auto& [key, value] : more_env) variables[key] = value;
        auto run = run_ci(TestCluster::get(), m_clone, m_dir.path("cache"), std::move(variables), extra);
        return {run.exit_code, run.out, run.err};
    }

    Json get(const std::string& path) { return api(TestCluster::get().admin(), Method::get, path).body; }
    long status(const std::string& path) { return api(TestCluster::get().admin(), Method::get, path).status; }

    // Pushes a new branch from the current commit, runs its CI job, returns its preview namespace ("" on failure).
    std::string preview_of_new_branch(const std::string& branch) {
        m_clone.run({"checkout", "--quiet", "-b", branch});
        m_clone.run({"push", "--quiet", "origin", branch});
        auto run = ci("push", "refs/heads/" + branch);
        EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
        auto previews = get(fmt::format("/api/v1/namespaces?labelSelector=minicd.io/preview=true,minicd.io/app={}", m_app));
        EXPECT_EQ(previews["items"].size(), 1U) << previews.dump();
        if (run.exit_code != 0 || previews["items"].size() != 1) return {};
        return previews["items"][0]["metadata"]["name"];
    }

    // The namespace is gone or being deleted within 30 s.
    bool goes_away(const std::string& name) {
        return eventually(
            [&] {
                auto reply = api(TestCluster::get().admin(), Method::get, "/api/v1/namespaces/" + name);
                return reply.status == 404 || reply.body["metadata"].contains("deletionTimestamp");
            },
            30s);
    }

    std::string image_of(const std::string& ns) {
        return get("/apis/apps/v1/namespaces/" + ns + "/deployments/web")["spec"]["template"]["spec"]["containers"][0]["image"];
    }

    Json newest_release(const std::string& ns, const std::string& env) {
        auto map = get(fmt::format("/api/v1/namespaces/{}/configmaps/minicd-{}-{}-releases", ns, m_app, env));
        auto releases = Json::parse(map["data"]["releases"].get<std::string>());
        return releases.at(0);
    }

    // What the registry's tag points at: the Docker-Content-Digest of a HEAD.
    std::string registry_digest(const std::string& tag) {
        auto client = http::make_curl_client({});
        EXPECT_TRUE(client);
        if (!client) return {};
        auto response = (*client)->send(
            {.method = Method::head,
             .url = fmt::format("http://{}/v2/minicd-e2e/{}/manifests/{}", var("MINICD_TEST_REGISTRY"), m_app, tag),
             .headers = {{"Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"}}});
        if (!response || response->status != 200) return {};
        return std::string(response->header("docker-content-digest").value_or(""));
    }

    void tag_and_check_out(const std::string& tag) {
        m_clone.run({"tag", "-a", tag, "-m", tag});
        m_clone.run({"push", "--quiet", "origin", tag});
        m_clone.run({"checkout", "--quiet", "--detach", tag});
    }

    testing::TempDir m_dir;
    testing::GitRepo m_clone{m_dir.path("clone")};
    std::string m_app;
    std::string m_repository;
};

std::string digest_of(const std::string& image) { return image.substr(image.find('@') + 1); }

TEST_F(Pipeline, FeatureBranchGetsAPreviewThatGoesWhenTheBranchIsDeleted) {
    m_clone.run({"checkout", "--quiet", "-b", "feature/a"});
    m_clone.write("index.html", "feature\n");
    m_clone.commit("Change the page");
    m_clone.run({"push", "--quiet", "origin", "feature/a"});

    auto run = ci("push", "refs/heads/feature/a");
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    auto namespaces = get(fmt::format("/api/v1/namespaces?labelSelector=minicd.io/preview=true,minicd.io/app={}", m_app));
    ASSERT_EQ(namespaces["items"].size(), 1U) << namespaces.dump();
    const Json& ns = namespaces["items"][0];
    const std::string name = ns["metadata"]["name"];
    const std::string hash = name.substr(name.rfind('-') + 1);
    EXPECT_EQ(ns["metadata"]["annotations"]["minicd.io/branch"], "feature/a");
    EXPECT_TRUE(ns["metadata"]["annotations"].contains("minicd.io/last-deployed"));

    auto ingress = get("/apis/networking.k8s.io/v1/namespaces/" + name + "/ingresses/web");
    const std::string host = "feature-a-" + hash + ".preview.example.com";
    EXPECT_EQ(ingress["spec"]["rules"][0]["host"], host);
    EXPECT_EQ(ingress["spec"]["tls"][0]["hosts"][0], host);
    EXPECT_EQ(ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"], "letsencrypt");
    const std::string image = image_of(name);
    const std::string short_sha = m_clone.run({"rev-parse", "--short=7", "HEAD"});
    EXPECT_EQ(image, fmt::format("{}:{}@{}", m_repository, short_sha, registry_digest(short_sha)));
    EXPECT_NE(run.out.find("https://" + host), std::string::npos) << run.out;

    // The branch goes; the next scheduled job collects its preview.
    m_clone.run({"checkout", "--quiet", "main"});
    m_clone.run({"push", "--quiet", "origin", "--delete", "feature/a"});
    m_clone.run({"branch", "--quiet", "-D", "feature/a"});
    m_clone.run({"fetch", "--quiet", "--prune", "origin"});
    auto gc = ci("schedule", "refs/heads/main");
    ASSERT_EQ(gc.exit_code, 0) << gc.out << gc.err;
    EXPECT_TRUE(goes_away(name));
}

TEST_F(Pipeline, GitHubDeleteEventTearsThePreviewDownAtOnce) {
    const std::string name = preview_of_new_branch("feature/gone");
    ASSERT_FALSE(name.empty());

    // GitHub runs `delete` workflows on the default branch; the payload names the deleted ref.
    m_clone.run({"checkout", "--quiet", "main"});
    m_clone.run({"push", "--quiet", "origin", "--delete", "feature/gone"});
    testing::write_file(m_dir.path("event.json"), R"({"ref": "feature/gone", "ref_type": "branch"})");
    auto run = ci("delete", "refs/heads/main", {}, {{"GITHUB_EVENT_PATH", m_dir.path("event.json")}});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.out.find("teardown"), std::string::npos) << run.out;
    EXPECT_TRUE(goes_away(name));
}

TEST_F(Pipeline, MainPushCollectsPreviewsOfDeletedBranchesToo) {
    const std::string name = preview_of_new_branch("feature/old");
    ASSERT_FALSE(name.empty());

    // The CI never ran a job for the deletion; the next push to main notices.
    m_clone.run({"checkout", "--quiet", "main"});
    m_clone.run({"push", "--quiet", "origin", "--delete", "feature/old"});
    m_clone.run({"branch", "--quiet", "-D", "feature/old"});
    m_clone.run({"fetch", "--quiet", "--prune", "origin"});
    auto run = ci("push", "refs/heads/main");
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_EQ(image_of(m_app + "-staging").find(m_repository), 0U);
    EXPECT_TRUE(goes_away(name));
}

TEST_F(Pipeline, MainGoesToStagingAndATagPromotesTheSameDigestToProduction) {
    auto staging = ci("push", "refs/heads/main");
    ASSERT_EQ(staging.exit_code, 0) << staging.out << staging.err;
    const std::string staged = image_of(m_app + "-staging");
    const std::string sha = m_clone.run({"rev-parse", "HEAD"});
    auto release = newest_release(m_app + "-staging", "staging");
    EXPECT_EQ(release["gitSha"], sha);
    EXPECT_EQ(release["images"][m_app], staged);

    tag_and_check_out("v0.1.0");
    auto production = ci("push", "refs/tags/v0.1.0");
    ASSERT_EQ(production.exit_code, 0) << production.out << production.err;
    const std::string produced = image_of(m_app + "-production");
    EXPECT_EQ(digest_of(produced), digest_of(staged));
    EXPECT_EQ(produced, fmt::format("{}:v0.1.0@{}", m_repository, digest_of(staged)));
    EXPECT_EQ(registry_digest("v0.1.0"), digest_of(staged));
}

TEST_F(Pipeline, TagOffMainThatNeverRanOnStagingIsRefusedUnlessForcedWithAReason) {
    // Staging runs main's commit; the tag goes on a branch commit that only ever had a preview.
    ASSERT_EQ(ci("push", "refs/heads/main").exit_code, 0);
    m_clone.run({"checkout", "--quiet", "-b", "feature/a"});
    m_clone.write("index.html", "side\n");
    m_clone.commit("Side change");
    m_clone.run({"push", "--quiet", "origin", "feature/a"});
    ASSERT_EQ(ci("push", "refs/heads/feature/a").exit_code, 0);
    tag_and_check_out("v0.2.0");

    auto refused = ci("push", "refs/tags/v0.2.0");
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("which is not on the main branch"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("was never deployed healthy to staging"), std::string::npos) << refused.err;
    EXPECT_EQ(status(fmt::format("/apis/apps/v1/namespaces/{}-production/deployments/web", m_app)), 404);
    EXPECT_EQ(registry_digest("v0.2.0"), "");

    auto forced = ci("push", "refs/tags/v0.2.0", {"--force", "--reason", "hotfix approved by the on-call"});
    ASSERT_EQ(forced.exit_code, 0) << forced.out << forced.err;
    auto release = newest_release(m_app + "-production", "production");
    EXPECT_NE(release["message"].get<std::string>().find("hotfix approved by the on-call"), std::string::npos) << release.dump();
    EXPECT_EQ(digest_of(image_of(m_app + "-production")), registry_digest("v0.2.0"));
}

TEST_F(Pipeline, TagOffMainIsRefusedEvenWhenItsCommitRanHealthyOnStaging) {
    // Git Flow with staging on develop: the commit runs on staging, but the tag must be on the main branch.
    m_clone.run({"checkout", "--quiet", "-b", "develop"});
    m_clone.write("index.html", "developed\n");
    m_clone.commit("Develop a change");
    m_clone.run({"push", "--quiet", "origin", "develop"});
    auto config = util::read_file(m_clone.path("minicd.yaml")).value_or("");
    const std::string from = "on: {branch: main}", to = "on: {branch: [main, develop]}";
    ASSERT_NE(config.find(from), std::string::npos);
    m_clone.write("minicd.yaml", config.replace(config.find(from), from.size(), to));
    m_clone.commit("Develop goes to staging too");
    m_clone.run({"push", "--quiet", "origin", "develop"});
    ASSERT_EQ(ci("push", "refs/heads/develop").exit_code, 0);
    tag_and_check_out("v0.4.0");

    auto refused = ci("push", "refs/tags/v0.4.0");
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("which is not on the main branch"), std::string::npos) << refused.err;
    EXPECT_EQ(refused.err.find("never deployed healthy"), std::string::npos) << refused.err;
    EXPECT_EQ(registry_digest("v0.4.0"), "");

    // Naming develop as the main branch in minicd.yaml is how such a flow promotes from it.
    m_clone.run({"checkout", "--quiet", "develop"});
    m_clone.write("minicd.yaml", "mainBranch: develop\n" + util::read_file(m_clone.path("minicd.yaml")).value_or(""));
    m_clone.commit("Release from develop");
    m_clone.run({"push", "--quiet", "origin", "develop"});
    ASSERT_EQ(ci("push", "refs/heads/develop").exit_code, 0);
    tag_and_check_out("v0.4.1");
    auto promoted = ci("push", "refs/tags/v0.4.1");
    ASSERT_EQ(promoted.exit_code, 0) << promoted.out << promoted.err;
    EXPECT_EQ(digest_of(image_of(m_app + "-production")), registry_digest("v0.4.1"));
}

TEST_F(Pipeline, TagOnMainWhoseCommitNeverRanOnStagingIsRefused) {
    ASSERT_EQ(ci("push", "refs/heads/main").exit_code, 0);
    // A second commit reaches main, but its staging deploy never happened.
    m_clone.write("index.html", "untested\n");
    m_clone.commit("Untested change");
    m_clone.run({"push", "--quiet", "origin", "main"});
    tag_and_check_out("v0.3.0");
    auto refused = ci("push", "refs/tags/v0.3.0");
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("was never deployed healthy to staging"), std::string::npos) << refused.err;
    EXPECT_EQ(refused.err.find("not on the main branch"), std::string::npos) << refused.err;
    EXPECT_EQ(registry_digest("v0.3.0"), "");
}

TEST_F(Pipeline, ExplainPrintsTheEventAndPlanAndChangesNothing) {
    m_clone.run({"checkout", "--quiet", "-b", "feature/explain"});
    m_clone.write("index.html", "explained\n");
    m_clone.commit("Change the page");
    m_clone.run({"push", "--quiet", "origin", "feature/explain"});
    const std::string short_sha = m_clone.run({"rev-parse", "--short=7", "HEAD"});

    auto run = ci("push", "refs/heads/feature/explain", {"--explain"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
    EXPECT_NE(run.out.find("feature/explain"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("(images tagged " + short_sha + ")"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find(". build"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find(". deploy preview"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find("--explain: nothing was done"), std::string::npos) << run.out;

    EXPECT_EQ(registry_digest(short_sha), "") << "--explain pushed an image";
    auto namespaces = get(fmt::format("/api/v1/namespaces?labelSelector=minicd.io/app={}", m_app));
    EXPECT_EQ(namespaces["items"].size(), 0U) << namespaces.dump();
}

TEST_F(Pipeline, APreviewNeverTakesOverAnotherEnvironmentsNamespace) {
    // Staging lives in <app>-staging, which is also what a branch named "staging" expands to.
    ASSERT_EQ(ci("push", "refs/heads/main").exit_code, 0);
    const std::string staged = image_of(m_app + "-staging");
    m_clone.run({"checkout", "--quiet", "-b", "staging"});
    m_clone.write("index.html", "not staging\n");
    m_clone.commit("A branch named like an environment");
    m_clone.run({"push", "--quiet", "origin", "staging"});

    auto refused = ci("push", "refs/heads/staging");
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("is not a preview of"), std::string::npos) << refused.err;
    EXPECT_EQ(registry_digest(m_clone.run({"rev-parse", "--short=7", "HEAD"})), "") << "refused before the build";
    auto ns = get("/api/v1/namespaces/" + m_app + "-staging");
    EXPECT_FALSE(ns["metadata"]["labels"].contains("minicd.io/preview")) << ns.dump();
    EXPECT_FALSE(ns["metadata"].contains("annotations") && ns["metadata"]["annotations"].contains("minicd.io/branch"));
    EXPECT_EQ(image_of(m_app + "-staging"), staged);
}

TEST_F(Pipeline, AFixedEnvironmentNeverDeploysIntoAPreviewNamespace) {
    // The branch "staging" comes first and gets <app>-staging as its preview.
    m_clone.run({"checkout", "--quiet", "-b", "staging"});
    m_clone.run({"push", "--quiet", "origin", "staging"});
    ASSERT_EQ(ci("push", "refs/heads/staging").exit_code, 0);
    m_clone.run({"checkout", "--quiet", "main"});

    auto refused = ci("push", "refs/heads/main");
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("is the preview namespace of branch \"staging\""), std::string::npos) << refused.err;
    EXPECT_EQ(status(fmt::format("/api/v1/namespaces/{0}-staging/configmaps/minicd-{0}-staging-releases", m_app)), 404);
}

TEST_F(Pipeline, WrongClusterIsRefusedBeforeAnyWrite) {
    write_config(", server: \"https://127.0.0.1:1\"");
    m_clone.commit("Pin staging to another cluster");
    auto refused = ci("push", "refs/heads/main");
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("staging"), std::string::npos) << refused.err;
    const std::string short_sha = m_clone.run({"rev-parse", "--short=7", "HEAD"});
    EXPECT_EQ(registry_digest(short_sha), "") << "nothing may be pushed before the guard passed";
    EXPECT_EQ(status("/api/v1/namespaces/" + m_app + "-staging"), 404);
}

// The host of `branch`'s preview, as its Ingress says; "" when there is none.
std::string preview_host(const std::string& app, const std::string& branch) {
    auto namespaces = api(TestCluster::get().admin(), Method::get,
                          fmt::format("/api/v1/namespaces?labelSelector=minicd.io/preview=true,minicd.io/app={}", app))
                          .body;
    for (const auto& ns : namespaces["items"]) {
        if (ns["metadata"]["annotations"].value("minicd.io/branch", "") != branch) continue;
        const std::string name = ns["metadata"]["name"];
        auto ingress = api(TestCluster::get().admin(), Method::get, "/apis/networking.k8s.io/v1/namespaces/" + name + "/ingresses/web");
        return ingress.body["spec"]["rules"][0].value("host", "");
    }
    return "";
}

std::string read_text(const std::string& path) { return util::read_file(path).value_or("(no file " + path + ")"); }

// What each CI shows beside its log, from the variables each CI documents: GitHub's step summary
// and step outputs, CircleCI's summary file (kept by store_artifacts), GitLab's dotenv report.
TEST_F(Pipeline, CiWritesItsResultWhereEachCiShowsIt) {
    const std::string short_sha = m_clone.run({"rev-parse", "--short=7", "HEAD"});
    const std::string pinned_prefix = fmt::format("{}:{}@", m_repository, short_sha);

    // GitHub Actions, a push of feature/a: its preview's URL is the deploy job's environment URL.
    m_clone.run({"checkout", "--quiet", "-b", "feature/a"});
    m_clone.run({"push", "--quiet", "origin", "feature/a"});
    testing::write_file(m_dir.path("github/summary.md"), "earlier step\n");
    auto github = ci("push", "refs/heads/feature/a", {},
                     {{"GITHUB_STEP_SUMMARY", m_dir.path("github/summary.md")}, {"GITHUB_OUTPUT", m_dir.path("github/output")}});
    ASSERT_EQ(github.exit_code, 0) << github.out << github.err;
    std::string digest = registry_digest(short_sha);
    const std::string host_a = preview_host(m_app, "feature/a");
    ASSERT_FALSE(digest.empty());
    ASSERT_FALSE(host_a.empty());
    EXPECT_EQ(read_text(m_dir.path("github/output")),
              fmt::format("url=https://{}\nenvironment=preview\nrelease=1\ndigest={}\n", host_a, digest));
    const std::string summary = read_text(m_dir.path("github/summary.md"));
    EXPECT_TRUE(summary.starts_with("earlier step\n### minicd ci: succeeded\n\nEvent: branch push of feature/a at " + short_sha +
                                    " (github: push)."))
        << summary;
    EXPECT_NE(summary.find("| deploy | preview | done |"), std::string::npos) << summary;
    EXPECT_NE(summary.find(fmt::format("release 1: <https://{}>", host_a)), std::string::npos) << summary;
    EXPECT_NE(summary.find(fmt::format("| `{}` | `{}{}` |", m_app, pinned_prefix, digest)), std::string::npos) << summary;

    // CircleCI, a push of main: staging has no host, so no URL; the summary goes where it is told.
    m_clone.run({"checkout", "--quiet", "main"});
    auto circleci = run_ci(TestCluster::get(), m_clone, m_dir.path("cache"),
                           {{"CIRCLECI", "true"},
                            {"CIRCLE_BRANCH", "main"},
                            {"CIRCLE_SHA1", m_clone.run({"rev-parse", "HEAD"})},
                            {"MINICD_CI_REPORT", m_dir.path("circleci/summary.md")}});
    ASSERT_EQ(circleci.exit_code, 0) << circleci.all();
    digest = registry_digest(short_sha);
    const std::string stored = read_text(m_dir.path("circleci/summary.md"));
    EXPECT_TRUE(stored.starts_with("### minicd ci: succeeded\n\nEvent: branch push of main at " + short_sha + " (circleci).")) << stored;
    EXPECT_NE(stored.find(fmt::format("#### staging: healthy\n\nNamespace `{}-staging`, release 1.\n\n", m_app)), std::string::npos)
        << stored;
    EXPECT_NE(stored.find(fmt::format("| `{}` | `{}{}` |", m_app, pinned_prefix, digest)), std::string::npos) << stored;

    // GitLab CI, a push of feature/b: the dotenv report (minicd.env in the project directory by
    // default) gives the review environment its URL.
    m_clone.run({"checkout", "--quiet", "-b", "feature/b"});
    m_clone.run({"push", "--quiet", "origin", "feature/b"});
    auto gitlab = run_ci(TestCluster::get(), m_clone, m_dir.path("cache"),
                         {{"GITLAB_CI", "true"},
                          {"CI_PIPELINE_SOURCE", "push"},
                          {"CI_COMMIT_BRANCH", "feature/b"},
                          {"CI_COMMIT_REF_NAME", "feature/b"},
                          {"CI_COMMIT_REF_SLUG", "feature-b"},
                          {"CI_COMMIT_SHA", m_clone.run({"rev-parse", "HEAD"})},
                          {"CI_PROJECT_DIR", m_clone.path()}});
    ASSERT_EQ(gitlab.exit_code, 0) << gitlab.all();
    digest = registry_digest(short_sha);
    const std::string host_b = preview_host(m_app, "feature/b");
    ASSERT_FALSE(host_b.empty());
    EXPECT_EQ(read_text(m_clone.path() + "/minicd.env"),
              fmt::format("DYNAMIC_ENVIRONMENT_URL=https://{}\nMINICD_ENVIRONMENT=preview\nMINICD_RELEASE=1\nMINICD_DIGEST={}\n",
                          host_b, digest));
}

}  // namespace
}  // namespace minicd::e2e
