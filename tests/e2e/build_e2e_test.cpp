// Image builds end to end: real buildah builds from a real Git checkout and pushes to the test
// registries; the digest minicd records is the one the registry serves, and through the binary
// `minicd apply --build-artifacts` makes the cluster run exactly that digest.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "../support/git_repo.hpp"
#include "minicd/build/artifacts.hpp"
#include "minicd/build/image_build.hpp"
#include "minicd/build/tag_policy.hpp"
#include "minicd/registry/client.hpp"
#include "minicd/registry/credentials.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/subprocess.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;

std::string var(const std::string& name) { return TestCluster::get().var(name); }

std::string unique_repository(const std::string& registry, const std::string& prefix) {
    std::mt19937 random(std::random_device{}());
    return fmt::format("{}/minicd-e2e/{}-{:08x}", registry, prefix, random());
}

// Reads manifests straight from a test registry, apart from minicd's own registry client.
class ManifestReader {
public:
    // Plain HTTP, or HTTPS with this CA and Basic credentials.
    ManifestReader(std::string ca_file = {}, std::string authorization = {})
        : m_scheme(ca_file.empty() ? "http" : "https"), m_authorization(std::move(authorization)) {
        auto client = http::make_curl_client({.tls = {.ca_file = ca_file}});
        EXPECT_TRUE(client) << client.error().describe();
        if (client) m_http = std::move(*client);
    }

    http::Response fetch(http::Method method, const model::ImageRef& ref) {
        const std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
        http::Request request{
            .method = method,
            .url = fmt::format("{}://{}/v2/{}/manifests/{}", m_scheme, ref.registry, ref.repository, reference),
            .headers = {{"Accept", "application/vnd.oci.image.manifest.v1+json, "
                                   "application/vnd.docker.distribution.manifest.v2+json, "
                                   "application/vnd.oci.image.index.v1+json, "
                                   "application/vnd.docker.distribution.manifest.list.v2+json"}}};
        if (!m_authorization.empty()) request.headers.push_back({"Authorization", m_authorization});
        auto response = m_http->send(request);
        EXPECT_TRUE(response) << response.error().describe();
        return response.value_or(http::Response{});
    }

    // sha256 of the bytes served for the reference; "" when it is not there.
    std::string served_digest(const std::string& reference) {
        auto got = fetch(http::Method::get, model::parse_image_ref(reference).value());
        return got.status == 200 ? "sha256:" + util::sha256_hex(got.body) : "";
    }

private:
    std::string m_scheme;
    std::string m_authorization;
    std::unique_ptr<http::HttpClient> m_http;
};

class ImageBuild : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(TestCluster::get().ready()) << "the test environment did not start";
        m_repository = unique_repository(var("MINICD_TEST_REGISTRY"), "build");
        m_repo.write("Dockerfile", fmt::format("FROM {}\nARG GREETING=unset\nRUN echo \"$GREETING\" > /greeting\n",
                                               var("MINICD_TEST_BASE_IMAGE")));
        m_commit = m_repo.commit("add the Dockerfile");
    }

    // buildah as the test environment needs it: its own storage, chroot isolation, the test registries.
    build::BuilderConfig buildah() {
        return {.kind = build::BuilderKind::buildah,
                .global_args = {"--root", var("MINICD_TEST_BUILDAH_ROOT"), "--runroot", var("MINICD_TEST_BUILDAH_RUNROOT"),
                                "--storage-driver", "vfs"},
                .env = {{"CONTAINERS_REGISTRIES_CONF", var("MINICD_TEST_REGISTRIES_CONF")}, {"BUILDAH_ISOLATION", "chroot"}},
                .insecure_registries = {var("MINICD_TEST_REGISTRY")},
                .timeout = 300s};
    }

    // minicd's registry client, as `minicd build` wires it.
    build::DigestResolver resolver() {
        auto client = registry::Client::create({.insecure_registries = {var("MINICD_TEST_REGISTRY")}});
        EXPECT_TRUE(client) << client.error().describe();
        m_registry = std::move(client.value());
        return build::registry_resolver(*m_registry);
    }

    testing::TempDir m_dir;
    testing::GitRepo m_repo{m_dir.path("app")};
    ManifestReader m_reader;
    std::unique_ptr<registry::Client> m_registry;
    std::string m_repository;
    std::string m_commit;
};

TEST_F(ImageBuild, BuildsFromTheCheckoutPushesTheCommitTagAndRecordsTheServedDigest) {
    auto repository = source::Repository::open(m_repo.path());
    ASSERT_TRUE(repository) << repository.error().describe();
    auto tag = build::commit_tag(*repository, {.in_ci = true});
    ASSERT_TRUE(tag) << tag.error().describe();
    EXPECT_EQ(*tag, m_commit.substr(0, 7));

    auto artifact = build::build_image(buildah(),
                                       {.image_name = "shop",
                                        .repository = m_repository,
                                        .tag = *tag,
                                        .extra_tags = {"latest"},
                                        .context_dir = m_repo.path(),
                                        .build_args = {"GREETING=hello"}},
                                       resolver());
    ASSERT_TRUE(artifact) << artifact.error().describe();
    EXPECT_EQ(artifact->image_name, "shop");
    EXPECT_EQ(artifact->reference, m_repository + ":" + *tag);

    // The digest is that of the bytes the registry serves, for the tag and for the extra tag.
    EXPECT_EQ(artifact->digest, m_reader.served_digest(artifact->reference));
    EXPECT_EQ(m_reader.served_digest(m_repository + ":latest"), artifact->digest);
}

TEST_F(ImageBuild, AFailingBuildReportsBuildahsStatusAndStderr) {
    m_repo.write("Dockerfile", fmt::format("FROM {}\nRUN echo about to fail && exit 7\n", var("MINICD_TEST_BASE_IMAGE")));
    auto artifact = build::build_image(
        buildah(), {.image_name = "shop", .repository = m_repository, .tag = "broken", .context_dir = m_repo.path()},
        resolver());
    ASSERT_FALSE(artifact);
    EXPECT_EQ(artifact.error().code, util::ErrorCode::subprocess);
    const std::string& message = artifact.error().message;
    EXPECT_EQ(message.rfind("build " + m_repository + ":broken: exited with status", 0), 0u) << message;
    EXPECT_NE(message.find("exit status 7"), std::string::npos) << message;
}

// `minicd build` then `minicd apply --build-artifacts`, through the real binary.
class BuildThenApply : public ClusterTest {
protected:
    void SetUp() override {
        ClusterTest::SetUp();
        m_repository = unique_repository(var("MINICD_TEST_REGISTRY"), "cli");
        m_repo.write("Dockerfile", fmt::format("FROM {}\nRUN echo built > /built\n", var("MINICD_TEST_BASE_IMAGE")));
        m_repo.write("k8s/web.yaml", R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
      - name: migrate
        image: shop:dev
      containers:
      - name: main
        image: shop
      - name: proxy
        image: registry.test/proxy:1
)");
        m_commit = m_repo.commit("app and manifests");
    }

    util::SubprocessResult minicd(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
        args.insert(args.begin(), MINICD_BINARY);
        env.emplace("XDG_CACHE_HOME", m_dir.path("cache"));
        env.emplace("CONTAINERS_REGISTRIES_CONF", var("MINICD_TEST_REGISTRIES_CONF"));
        env.emplace("BUILDAH_ISOLATION", "chroot");
        env.emplace("CI", "true");
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args, .env = env, .timeout = 300s});
        EXPECT_TRUE(result) << result.error().describe();
        return result.value_or(util::SubprocessResult{});
    }

    // Pushes to the plain registry unless another repository is given (then no --insecure-registry).
    std::vector<std::string> build_args(const std::string& repository = {}) {
        std::vector<std::string> args = {"build", "--push", "--image", "shop", "--repository",
                                         repository.empty() ? m_repository : repository, "--context", m_repo.path(),
                                         "--builder", "buildah",
                                         "--builder-arg=--root", "--builder-arg=" + var("MINICD_TEST_BUILDAH_ROOT"),
                                         "--builder-arg=--runroot", "--builder-arg=" + var("MINICD_TEST_BUILDAH_RUNROOT"),
                                         "--builder-arg=--storage-driver", "--builder-arg=vfs"};
        if (repository.empty()) args.insert(args.end(), {"--insecure-registry", var("MINICD_TEST_REGISTRY")});
        return args;
    }

    testing::TempDir m_dir;
    testing::GitRepo m_repo{m_dir.path("app")};
    std::string m_repository;
    std::string m_commit;
};

TEST_F(BuildThenApply, TheClusterRunsTheBuiltDigestAndTheReleaseRecordsIt) {
    auto args = build_args();
    args.insert(args.end(), {"--output-file", m_dir.path("build.json")});
    auto built = minicd(args);
    ASSERT_EQ(built.exit_code, 0) << built.err;

    std::ifstream in(m_dir.path("build.json"));
    Json artifacts = Json::parse(in, nullptr, false);
    ASSERT_TRUE(artifacts.is_object()) << "the artifact file is JSON";
    ASSERT_EQ(artifacts["builds"].size(), 1u);
    const Json& entry = artifacts["builds"][0];
    const std::string reference = m_repository + ":" + m_commit.substr(0, 7);
    EXPECT_EQ(entry["imageName"], "shop");
    EXPECT_EQ(entry["reference"], reference);
    const std::string digest = entry.value("digest", "");
    const std::string pinned = reference + "@" + digest;
    EXPECT_EQ(entry["tag"], pinned);
    EXPECT_EQ(built.out, "shop " + pinned + "\n");

    // The digest is what the registry serves for the tag.
    EXPECT_EQ(digest, ManifestReader().served_digest(reference));

    auto applied = minicd({"apply", "-f", m_repo.path("k8s"), "-n", ns(), "--app", "shop", "--env", "test", "--timeout",
                           "60s", "--git-sha", m_commit, "--build-artifacts", m_dir.path("build.json")});
    ASSERT_EQ(applied.exit_code, 0) << applied.err << applied.out;
    EXPECT_NE(applied.err.find("spec.template.spec.containers[0].image: image shop -> " + pinned), std::string::npos)
        << applied.err;

    auto deployment = api(cluster().admin(), http::Method::get, "/apis/apps/v1/namespaces/" + ns() + "/deployments/web");
    ASSERT_EQ(deployment.status, 200);
    const Json& pod = deployment.body["spec"]["template"]["spec"];
    EXPECT_EQ(pod["containers"][0]["image"], pinned);
    EXPECT_EQ(pod["initContainers"][0]["image"], pinned);
    EXPECT_EQ(pod["containers"][1]["image"], "registry.test/proxy:1") << "not built here";

    auto record = api(cluster().admin(), http::Method::get, ns_path("/configmaps/minicd-shop-test-releases"));
    ASSERT_EQ(record.status, 200);
    Json releases = Json::parse(record.body["data"].value("releases", "[]"));
    ASSERT_EQ(releases.size(), 1u);
    EXPECT_EQ(releases[0]["images"], Json({{"shop", pinned}}));
    EXPECT_EQ(releases[0]["gitSha"], m_commit);
}

TEST_F(BuildThenApply, WithoutImageEveryImageOfMinicdYamlGoesIntoOneArtifactFile) {
    m_repo.write("worker/Dockerfile", fmt::format("FROM {}\nRUN echo worker > /worker\n", var("MINICD_TEST_BASE_IMAGE")));
    m_repo.write("minicd.yaml", fmt::format(R"(app: shop
registry: {}
images:
  - {{name: shop}}
  - {{name: worker, context: worker}}
build: {{tagLength: 10}}
environments:
  staging: {{cluster: {{context: admin}}, on: {{branch: main}}, namespace: shop}}
)",
                                            m_repository));
    m_commit = m_repo.commit("a second image");
    auto args = build_args();
    // No --image: minicd.yaml says what to build and where to push it.
    args.erase(args.begin() + 2, args.begin() + 8);
    args.insert(args.end(), {"-f", m_repo.path("minicd.yaml"), "--output-file", m_dir.path("build.json")});
    auto built = minicd(args);
    ASSERT_EQ(built.exit_code, 0) << built.err;

    auto artifacts = build::read_artifacts(m_dir.path("build.json"));
    ASSERT_TRUE(artifacts) << artifacts.error().describe();
    ASSERT_EQ(artifacts->size(), 2u);
    const std::string tag = m_commit.substr(0, 10);
    EXPECT_EQ((*artifacts)[0].image_name, "shop");
    EXPECT_EQ((*artifacts)[0].reference, m_repository + "/shop:" + tag);
    EXPECT_EQ((*artifacts)[1].image_name, "worker");
    EXPECT_EQ((*artifacts)[1].reference, m_repository + "/worker:" + tag);
    for (const auto& artifact : *artifacts) {
        EXPECT_EQ(artifact.digest, ManifestReader().served_digest(artifact.reference)) << artifact.reference;
    }
    EXPECT_NE((*artifacts)[0].digest, (*artifacts)[1].digest) << "two different images were built";
}

TEST_F(BuildThenApply, PushingADirtyTreeFromCiIsRefused) {
    m_repo.write("Dockerfile", "FROM scratch\n");
    auto built = minicd(build_args());
    EXPECT_EQ(built.exit_code, 2) << built.err;
    EXPECT_NE(built.err.find("uncommitted changes (1 modified (Dockerfile))"), std::string::npos) << built.err;

    auto args = build_args();
    args.push_back("--allow-dirty");
    args.insert(args.end(), {"--output-file", m_dir.path("build.json")});
    m_repo.write("Dockerfile", fmt::format("FROM {}\n", var("MINICD_TEST_BASE_IMAGE")));
    auto allowed = minicd(args);
    ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
    EXPECT_NE(allowed.out.find(":" + m_commit.substr(0, 7) + "-dirty@sha256:"), std::string::npos) << allowed.out;
}

TEST_F(BuildThenApply, AFailingRunStepShowsItsOutputInTheLog) {
    m_repo.write("Dockerfile", fmt::format("FROM {}\nRUN echo compiling shop && echo 'main.c:3: error: expected ;' && exit 7\n",
                                           var("MINICD_TEST_BASE_IMAGE")));
    m_repo.commit("break the build");
    auto built = minicd(build_args());
    EXPECT_EQ(built.exit_code, 1) << built.err;
    // buildah prints a RUN step's output on stdout; minicd passes every line on as it comes.
    EXPECT_NE(built.err.find("  buildah| compiling shop\n"), std::string::npos) << built.err;
    EXPECT_NE(built.err.find("  buildah| main.c:3: error: expected ;\n"), std::string::npos) << built.err;
}

TEST_F(BuildThenApply, AnArtifactFileInsideTheCheckoutDoesNotMakeTheNextBuildDirty) {
    auto args = build_args();
    args.insert(args.end(), {"--output-file", m_repo.path("out/build.json")});
    std::filesystem::create_directories(m_repo.path("out"));
    for (int run = 0; run < 2; ++run) {
        auto built = minicd(args);
        ASSERT_EQ(built.exit_code, 0) << "run " << run << ": " << built.err;
        EXPECT_NE(built.out.find(":" + m_commit.substr(0, 7) + "@sha256:"), std::string::npos) << built.out;
    }
}

TEST_F(BuildThenApply, PushesToATlsRegistryWithTheCredentialsMinicdFindsWithoutShowingThem) {
    const std::string registry = var("MINICD_TEST_AUTH_REGISTRY");
    const std::string user = var("MINICD_TEST_AUTH_REGISTRY_USER");
    const std::string password = var("MINICD_TEST_AUTH_REGISTRY_PASSWORD");
    const std::string ca = var("MINICD_TEST_AUTH_REGISTRY_CA");
    const std::string repository = unique_repository(registry, "cli-auth");
    auto args = build_args(repository);
    args.insert(args.end(), {"--registry-ca", ca, "--cert-dir", std::filesystem::path(ca).parent_path().string(),
                             "--output-file", m_dir.path("build.json"), "--log-level", "debug"});
    // CI secrets as minicd reads them; the builder must push with the same account.
    const std::string prefix = registry::environment_prefix(registry).value_or("");
    auto built = minicd(args, {{prefix + "_USERNAME", user}, {prefix + "_PASSWORD", password}});
    ASSERT_EQ(built.exit_code, 0) << built.err;
    EXPECT_EQ(built.out.find(password), std::string::npos);
    EXPECT_EQ(built.err.find(password), std::string::npos);
    EXPECT_EQ(built.err.find(util::base64_encode(user + ":" + password)), std::string::npos);

    const std::string reference = repository + ":" + m_commit.substr(0, 7);
    ManifestReader reader(ca, http::basic_authorization(user, password));
    EXPECT_EQ(built.out, "shop " + reference + "@" + reader.served_digest(reference) + "\n");

    auto anonymous_args = build_args(repository);
    anonymous_args.insert(anonymous_args.end(),
                          {"--registry-ca", ca, "--cert-dir", std::filesystem::path(ca).parent_path().string()});
    auto anonymous = minicd(anonymous_args);
    EXPECT_EQ(anonymous.exit_code, 1) << "without credentials the push is refused";
    EXPECT_NE(anonymous.err.find("push " + reference), std::string::npos) << anonymous.err;
}

}  // namespace
}  // namespace minicd::e2e
