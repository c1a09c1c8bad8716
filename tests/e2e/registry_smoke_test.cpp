// The test registries and builder work offline: an image built by buildah FROM the local base
// image is pushed to the plain and to the TLS + basic-auth registry, and its manifest is read back
// through minicd's own HTTP client with digests that match.
#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "minicd/util/encoding.hpp"
#include "minicd/util/subprocess.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* k_manifest_types =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

class Registry : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(TestCluster::get().ready()) << "the test environment did not start";
        std::mt19937 random(std::random_device{}());
        m_tag = fmt::format("e2e-{:08x}", random());
        char pattern[] = "/tmp/minicd-registry-test-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_work = pattern;
    }
    void TearDown() override { fs::remove_all(m_work); }

    std::string var(const std::string& name) { return TestCluster::get().var(name); }

    util::SubprocessResult buildah(std::vector<std::string> args) {
        std::vector<std::string> argv = {"buildah", "--root", var("MINICD_TEST_BUILDAH_ROOT"), "--runroot",
                                         var("MINICD_TEST_BUILDAH_RUNROOT"), "--storage-driver", "vfs"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = argv,
                                            .env = {{"CONTAINERS_REGISTRIES_CONF", var("MINICD_TEST_REGISTRIES_CONF")},
                                                    {"BUILDAH_ISOLATION", "chroot"}},
                                            .timeout = 120s});
        EXPECT_TRUE(result) << result.error().describe();
        return result.value_or(util::SubprocessResult{});
    }

    void write(const std::string& name, const std::string& text) {
        std::ofstream(m_work + "/" + name) << text;
    }

    std::string read(const std::string& name) {
        std::ifstream in(m_work + "/" + name);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

    std::string m_tag;
    std::string m_work;
};

TEST_F(Registry, BuiltImageIsPushedToBothRegistriesAndItsManifestReadBack) {
    const std::string plain = var("MINICD_TEST_REGISTRY");
    const std::string secured = var("MINICD_TEST_AUTH_REGISTRY");
    const std::string user = var("MINICD_TEST_AUTH_REGISTRY_USER");
    const std::string password = var("MINICD_TEST_AUTH_REGISTRY_PASSWORD");
    const std::string ca = var("MINICD_TEST_AUTH_REGISTRY_CA");

    // A RUN step proves the base image has a working shell and the build needs no network.
    write("Dockerfile", fmt::format("FROM {}\nRUN echo {} > /built-by-test\nCMD [\"cat\", \"/built-by-test\"]\n",
                                    var("MINICD_TEST_BASE_IMAGE"), m_tag));
    const std::string local = "localhost/minicd-e2e/app:" + m_tag;
    auto built = buildah({"bud", "--quiet", "--isolation", "chroot", "-t", local, "-f", m_work + "/Dockerfile", m_work});
    ASSERT_TRUE(built.succeeded()) << built.err;

    auto pushed_plain = buildah({"push", "--quiet", "--tls-verify=false", "--digestfile", m_work + "/plain.digest", local,
                                 "docker://" + plain + "/minicd-e2e/app:" + m_tag});
    ASSERT_TRUE(pushed_plain.succeeded()) << pushed_plain.err;

    // Credentials go through an auth file, never the command line.
    write("auth.json", fmt::format(R"({{"auths":{{"{}":{{"auth":"{}"}}}}}})", secured,
                                   util::base64_encode(user + ":" + password)));
    auto pushed_secured = buildah({"push", "--quiet", "--authfile", m_work + "/auth.json", "--cert-dir",
                                   fs::path(ca).parent_path().string(), "--digestfile", m_work + "/secured.digest", local,
                                   "docker://" + secured + "/minicd-e2e/app:" + m_tag});
    ASSERT_TRUE(pushed_secured.succeeded()) << pushed_secured.err;

    auto plain_client = http::make_curl_client({});
    auto secured_client = http::make_curl_client({.tls = {.ca_file = ca}});
    ASSERT_TRUE(plain_client && secured_client);

    struct Target {
        http::HttpClient& client;
        std::string url;
        std::string authorization;
        std::string digest_file;
    };
    const std::string path = "/v2/minicd-e2e/app/manifests/" + m_tag;
    for (const Target& target : {Target{**plain_client, "http://" + plain + path, "", "plain.digest"},
                                 Target{**secured_client, "https://" + secured + path,
                                        http::basic_authorization(user, password), "secured.digest"}}) {
        SCOPED_TRACE(target.url);
        http::Request request{.url = target.url, .headers = {{"Accept", k_manifest_types}}};
        if (!target.authorization.empty()) request.headers.push_back({"Authorization", target.authorization});
        auto response = target.client.send(request);
        ASSERT_TRUE(response) << response.error().describe();
        ASSERT_EQ(response->status, 200) << response->body;

        const std::string digest = "sha256:" + util::sha256_hex(response->body);
        EXPECT_EQ(response->header("docker-content-digest").value_or(""), digest);
        EXPECT_EQ(read(target.digest_file), digest) << "buildah pushed the manifest that was read back";
        auto manifest = Json::parse(response->body);
        EXPECT_EQ(manifest.value("schemaVersion", 0), 2);
        EXPECT_GE(manifest["layers"].size(), 2u) << "base layer plus the RUN layer";
    }
}

TEST_F(Registry, AuthRegistryRefusesAnonymousAndWrongPassword) {
    auto client = http::make_curl_client({.tls = {.ca_file = var("MINICD_TEST_AUTH_REGISTRY_CA")}});
    ASSERT_TRUE(client);
    const std::string url = "https://" + var("MINICD_TEST_AUTH_REGISTRY") + "/v2/";

    auto anonymous = (*client)->send({.url = url});
    ASSERT_TRUE(anonymous) << anonymous.error().describe();
    EXPECT_EQ(anonymous->status, 401);
    EXPECT_EQ(anonymous->header("www-authenticate").value_or("").rfind("Basic", 0), 0u);

    auto wrong = (*client)->send(
        {.url = url, .headers = {{"Authorization", http::basic_authorization(var("MINICD_TEST_AUTH_REGISTRY_USER"), "wrong")}}});
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401);
}

}  // namespace
}  // namespace minicd::e2e
