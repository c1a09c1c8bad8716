// Image builds end to end: real buildah builds from a real Git checkout and pushes to the test
// registry; the digest minicd records is the one the registry serves.
#include <fmt/format.h>

#include <random>

#include "../support/git_repo.hpp"
#include "minicd/build/image_build.hpp"
#include "minicd/build/tag_policy.hpp"
#include "minicd/util/encoding.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* k_manifest_types =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json";

class ImageBuild : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(TestCluster::get().ready()) << "the test environment did not start";
        std::mt19937 random(std::random_device{}());
        m_repository = fmt::format("{}/minicd-e2e/build-{:08x}", var("MINICD_TEST_REGISTRY"), random());
        m_repo.write("Dockerfile", fmt::format("FROM {}\nARG GREETING=unset\nRUN echo \"$GREETING\" > /greeting\n",
                                               var("MINICD_TEST_BASE_IMAGE")));
        m_commit = m_repo.commit("add the Dockerfile");
        auto client = http::make_curl_client({});
        ASSERT_TRUE(client) << client.error().describe();
        m_http = std::move(*client);
    }

    std::string var(const std::string& name) { return TestCluster::get().var(name); }

    // buildah as the test environment needs it: its own storage, chroot isolation, the test registries.
    build::BuilderConfig buildah() {
        return {.kind = build::BuilderKind::buildah,
                .global_args = {"--root", var("MINICD_TEST_BUILDAH_ROOT"), "--runroot", var("MINICD_TEST_BUILDAH_RUNROOT"),
                                "--storage-driver", "vfs"},
                .env = {{"CONTAINERS_REGISTRIES_CONF", var("MINICD_TEST_REGISTRIES_CONF")}, {"BUILDAH_ISOLATION", "chroot"}},
                .insecure_registries = {var("MINICD_TEST_REGISTRY")},
                .timeout = 300s};
    }

    // What the registry answers for the manifest: HEAD for the resolver, GET to hash the bytes.
    http::Response manifest(http::Method method, const model::ImageRef& ref) {
        const std::string reference = ref.digest.empty() ? ref.tag : ref.digest;
        auto response = m_http->send({.method = method,
                                      .url = fmt::format("http://{}/v2/{}/manifests/{}", ref.registry, ref.repository, reference),
                                      .headers = {{"Accept", k_manifest_types}}});
        EXPECT_TRUE(response) << response.error().describe();
        return response.value_or(http::Response{});
    }

    build::DigestResolver resolver() {
        return [this](const model::ImageRef& ref) -> Result<std::string> {
            auto head = manifest(http::Method::head, ref);
            if (head.status != 200) return fail(util::ErrorCode::http, fmt::format("HEAD answered {}", head.status), ref.str());
            return std::string(head.header("docker-content-digest").value_or(""));
        };
    }

    testing::TempDir m_dir;
    testing::GitRepo m_repo{m_dir.path("app")};
    std::string m_repository;
    std::string m_commit;
    std::unique_ptr<http::HttpClient> m_http;
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
    auto ref = model::parse_image_ref(artifact->reference).value();
    auto body = manifest(http::Method::get, ref);
    ASSERT_EQ(body.status, 200) << body.body;
    EXPECT_EQ(artifact->digest, "sha256:" + util::sha256_hex(body.body));
    EXPECT_EQ(manifest(http::Method::get, ref.with_digest(artifact->digest)).status, 200);
    auto latest = manifest(http::Method::head, ref.with_tag("latest"));
    EXPECT_EQ(latest.header("docker-content-digest").value_or(""), artifact->digest);
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

}  // namespace
}  // namespace minicd::e2e
