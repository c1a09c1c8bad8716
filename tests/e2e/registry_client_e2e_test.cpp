// The registry client against the real test registries: a plain HTTP one and a TLS + htpasswd one.
// Images are built with buildah or made by hand (small manifests and blobs pushed by the client).
#include <fmt/format.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>

#include "minicd/registry/client.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/subprocess.hpp"
#include "registry_test_image.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using registry::Client;
using registry::ClientOptions;
using registry::Descriptor;
using registry::Manifest;

// Passes everything to the real client except that blob mounts lose their mount/from query, so
// the registry opens an ordinary upload session (202) as it does when it refuses a mount.
class MountRefusingHttpClientFake : public http::HttpClient {
public:
    explicit MountRefusingHttpClientFake(std::shared_ptr<http::HttpClient> real) : m_real(std::move(real)) {}

    Result<http::Response> send(const http::Request& request) override {
        http::Request changed = request;
        if (auto query = changed.url.find("?mount="); query != std::string::npos) {
            changed.url.erase(query);
            ++m_mounts_dropped;
        }
        return m_real->send(changed);
    }
    Result<http::Response> stream(const http::Request& request, const std::function<bool(std::string_view)>& on_data,
                                  const std::function<bool()>& cancelled) override {
        return m_real->stream(request, on_data, cancelled);
    }
    int mounts_dropped() const { return m_mounts_dropped; }

private:
    std::shared_ptr<http::HttpClient> m_real;
    std::atomic<int> m_mounts_dropped{0};
};

std::string random_suffix() {
    static std::mutex mutex;
    static std::mt19937 random(std::random_device{}());
    std::lock_guard lock(mutex);
    return fmt::format("{:08x}", random());
}

class RegistryClient : public ::testing::Test {
protected:
    // One image built with buildah for the whole suite: base layer plus a RUN layer.
    static void SetUpTestSuite() {
        if (!TestCluster::get().ready()) return;
        auto& cluster = TestCluster::get();
        char pattern[] = "/tmp/minicd-regclient-build-XXXXXX";
        if (::mkdtemp(pattern) == nullptr) return;
        std::string dir = pattern;
        std::string tag = random_suffix();
        std::ofstream(dir + "/Dockerfile") << fmt::format("FROM {}\nRUN echo {} > /built\n", cluster.var("MINICD_TEST_BASE_IMAGE"), tag);
        std::string local = "localhost/minicd-e2e/regclient:" + tag;
        s_built = cluster.var("MINICD_TEST_REGISTRY") + "/minicd-e2e/regclient-src:" + tag;
        bool ok = buildah({"bud", "--quiet", "--isolation", "chroot", "-t", local, "-f", dir + "/Dockerfile", dir}) &&
                  buildah({"push", "--quiet", "--tls-verify=false", "--digestfile", dir + "/digest", local, "docker://" + s_built});
        if (ok) {
            std::ifstream in(dir + "/digest");
            std::getline(in, s_built_digest);
        }
        fs::remove_all(dir);
    }

    static bool buildah(std::vector<std::string> args) {
        auto& cluster = TestCluster::get();
        std::vector<std::string> argv = {"buildah", "--root", cluster.var("MINICD_TEST_BUILDAH_ROOT"), "--runroot",
                                         cluster.var("MINICD_TEST_BUILDAH_RUNROOT"), "--storage-driver", "vfs"};
        argv.insert(argv.end(), args.begin(), args.end());
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = argv,
                                            .env = {{"CONTAINERS_REGISTRIES_CONF", cluster.var("MINICD_TEST_REGISTRIES_CONF")},
                                                    {"BUILDAH_ISOLATION", "chroot"}},
                                            .timeout = 180s});
        if (!result || !result->succeeded()) {
            ADD_FAILURE() << "buildah " << args.front() << ": " << (result ? result->err : result.error().describe());
            return false;
        }
        return true;
    }

    void SetUp() override {
        ASSERT_TRUE(TestCluster::get().ready()) << "the test environment did not start";
        ASSERT_FALSE(s_built_digest.empty()) << "the suite's image was not built";
        char pattern[] = "/tmp/minicd-regclient-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_work = pattern;
        m_suffix = random_suffix();
    }
    void TearDown() override { fs::remove_all(m_work); }

    std::string var(const std::string& name) { return TestCluster::get().var(name); }
    std::string plain() { return var("MINICD_TEST_REGISTRY"); }
    std::string secured() { return var("MINICD_TEST_AUTH_REGISTRY"); }
    model::ImageRef ref(const std::string& text) { return model::parse_image_ref(text).value(); }
    model::ImageRef built() { return ref(s_built); }

    // Retries are quick and recorded; credentials come only from what the test gives.
    ClientOptions options(std::map<std::string, std::string> environment = {}) {
        return {.ca_file = var("MINICD_TEST_AUTH_REGISTRY_CA"),
                .retry = {.max_attempts = 3, .initial_backoff = 10ms, .max_backoff = 50ms,
                          .sleep = [this](std::chrono::milliseconds delay) { m_waits.push_back(delay); }},
                .credentials = {.docker_config_dir = m_work + "/no-docker-config", .environment = std::move(environment)}};
    }
    std::map<std::string, std::string> auth_env(const std::string& password) {
        std::string prefix = registry::environment_prefix(secured()).value_or("");
        return {{prefix + "_USERNAME", var("MINICD_TEST_AUTH_REGISTRY_USER")}, {prefix + "_PASSWORD", password}};
    }
    std::unique_ptr<Client> client(ClientOptions options) {
        auto made = Client::create(std::move(options));
        EXPECT_TRUE(made) << made.error().describe();
        return std::move(*made);
    }

    // A two-platform OCI index under `tag`, its children pushed by digest first.
    Descriptor push_index(Client& client, const model::ImageRef& repository, const std::string& tag) {
        Descriptor amd = push_test_image(client, repository, "amd64 layer " + m_suffix, "amd64");
        Descriptor arm = push_test_image(client, repository, "arm64 layer " + m_suffix, "arm64");
        std::string index = fmt::format(
            R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
            R"({{"mediaType":"{}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}},)"
            R"({{"mediaType":"{}","digest":"{}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}}]}})",
            amd.media_type, amd.digest, amd.size, arm.media_type, arm.digest, arm.size);
        auto put = client.put_manifest(repository.with_tag(tag), index, registry::k_oci_index);
        EXPECT_TRUE(put) << put.error().describe();
        return put.value_or(Descriptor{});
    }

    static std::string s_built;         // plain-registry reference of the suite's image
    static std::string s_built_digest;  // what buildah says it pushed
    std::string m_work;
    std::string m_suffix;
    std::vector<std::chrono::milliseconds> m_waits;
};

std::string RegistryClient::s_built;
std::string RegistryClient::s_built_digest;

TEST_F(RegistryClient, ResolvesABuiltImageToThePushedDigest) {
    auto registry = client(options());
    auto descriptor = registry->resolve(built());
    ASSERT_TRUE(descriptor) << descriptor.error().describe();
    EXPECT_EQ(descriptor->digest, s_built_digest);
    EXPECT_TRUE(registry::is_manifest_media_type(descriptor->media_type)) << descriptor->media_type;
    EXPECT_GT(descriptor->size, 0);

    auto manifest = registry->get_manifest(built().with_digest(s_built_digest));
    ASSERT_TRUE(manifest) << manifest.error().describe();
    EXPECT_EQ(registry::sha256_digest(manifest->bytes), s_built_digest);
    EXPECT_EQ(static_cast<std::int64_t>(manifest->bytes.size()), descriptor->size);
}

TEST_F(RegistryClient, RetagKeepsDigestAndBytes) {
    auto registry = client(options());
    auto original = registry->get_manifest(built());
    ASSERT_TRUE(original);
    auto promoted = registry->retag(built(), "v1.0.0-" + m_suffix);
    ASSERT_TRUE(promoted) << promoted.error().describe();
    EXPECT_FALSE(promoted->unchanged);
    EXPECT_EQ(promoted->descriptor.digest, s_built_digest);
    EXPECT_EQ(promoted->stats.manifests_written, 1);

    auto copy = registry->get_manifest(built().with_tag("v1.0.0-" + m_suffix));
    ASSERT_TRUE(copy);
    EXPECT_EQ(copy->bytes, original->bytes);
    EXPECT_EQ(copy->media_type, original->media_type);
    EXPECT_EQ(copy->digest, s_built_digest);
}

TEST_F(RegistryClient, MultiArchIndexSurvivesRetagAndCrossRepositoryPromotion) {
    auto registry = client(options());
    model::ImageRef source = ref(plain() + "/minicd-e2e/multiarch-" + m_suffix);
    Descriptor index = push_index(*registry, source, "build");
    ASSERT_FALSE(index.digest.empty());

    auto retagged = registry->retag(source.with_tag("build"), "v2");
    ASSERT_TRUE(retagged) << retagged.error().describe();
    auto seen = registry->resolve(source.with_tag("v2"));
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->digest, index.digest);
    EXPECT_EQ(seen->media_type, registry::k_oci_index) << "still an index, not one platform";

    model::ImageRef target = ref(plain() + "/minicd-e2e/multiarch-prod-" + m_suffix + ":v2");
    auto promoted = registry->copy(source.with_tag("v2"), target);
    ASSERT_TRUE(promoted) << promoted.error().describe();
    EXPECT_EQ(promoted->descriptor.digest, index.digest);
    EXPECT_EQ(promoted->stats.manifests_written, 3) << "two platforms and the index";
    EXPECT_EQ(promoted->stats.blobs_mounted, 4) << "a config and a layer per platform";
    EXPECT_EQ(promoted->stats.blobs_uploaded, 0);

    auto copied = registry->get_manifest(target);
    ASSERT_TRUE(copied);
    EXPECT_EQ(copied->media_type, registry::k_oci_index);
    auto references = registry::manifest_references(*copied);
    ASSERT_TRUE(references);
    ASSERT_EQ(references->manifests.size(), 2u);
    for (const Descriptor& child : references->manifests) {
        auto child_manifest = registry->get_manifest(target.with_tag("").with_digest(child.digest));
        EXPECT_TRUE(child_manifest) << child.digest << ": " << child_manifest.error().describe();
    }
}

TEST_F(RegistryClient, CrossRepositoryPromotionMountsEveryBlob) {
    auto registry = client(options());
    model::ImageRef target = ref(plain() + "/minicd-e2e/prod-" + m_suffix + ":v1");
    auto promoted = registry->copy(built(), target);
    ASSERT_TRUE(promoted) << promoted.error().describe();
    EXPECT_EQ(promoted->descriptor.digest, s_built_digest);
    EXPECT_GE(promoted->stats.blobs_mounted, 3) << "config, base layer and RUN layer";
    EXPECT_EQ(promoted->stats.blobs_uploaded, 0);
    EXPECT_EQ(promoted->stats.bytes_uploaded, 0);
    EXPECT_EQ(registry->resolve(target)->digest, s_built_digest);
}

TEST_F(RegistryClient, RefusedMountFallsBackToAChunkedUpload) {
    auto real = http::make_curl_client({});
    ASSERT_TRUE(real);
    auto fake = std::make_shared<MountRefusingHttpClientFake>(std::shared_ptr<http::HttpClient>(std::move(*real)));
    ClientOptions opts = options();
    opts.http = fake;
    opts.upload_chunk_bytes = 64 * 1024;  // several PATCH requests for the base layer
    auto registry = client(std::move(opts));
    model::ImageRef target = ref(plain() + "/minicd-e2e/nomount-" + m_suffix + ":v1");
    auto promoted = registry->copy(built(), target);
    ASSERT_TRUE(promoted) << promoted.error().describe();
    EXPECT_EQ(promoted->descriptor.digest, s_built_digest);
    EXPECT_EQ(promoted->stats.blobs_mounted, 0);
    EXPECT_GE(promoted->stats.blobs_uploaded, 3);
    EXPECT_GT(promoted->stats.bytes_uploaded, 64 * 1024) << "the base layer alone spans several chunks";
    EXPECT_EQ(fake->mounts_dropped(), promoted->stats.blobs_uploaded);
    auto copied = registry->get_manifest(target);
    ASSERT_TRUE(copied);
    EXPECT_EQ(copied->digest, s_built_digest);
}

TEST_F(RegistryClient, CopiesFromThePlainRegistryToTheTlsRegistryWithCredentials) {
    auto registry = client(options(auth_env(var("MINICD_TEST_AUTH_REGISTRY_PASSWORD"))));
    model::ImageRef target = ref(secured() + "/minicd-e2e/copied-" + m_suffix + ":v1");
    auto promoted = registry->copy(built(), target);
    ASSERT_TRUE(promoted) << promoted.error().describe();
    EXPECT_EQ(promoted->descriptor.digest, s_built_digest);
    EXPECT_GE(promoted->stats.blobs_uploaded, 3);
    EXPECT_EQ(promoted->stats.blobs_mounted, 0);

    auto resolved = registry->resolve(target);
    ASSERT_TRUE(resolved) << resolved.error().describe();
    EXPECT_EQ(resolved->digest, s_built_digest);

    // Copying again finds every blob and the tag in place.
    auto again = registry->copy(built(), target);
    ASSERT_TRUE(again) << again.error().describe();
    EXPECT_TRUE(again->unchanged);
}

TEST_F(RegistryClient, TagsAreImmutableUnlessOverwriteIsAllowed) {
    auto registry = client(options());
    model::ImageRef repository = ref(plain() + "/minicd-e2e/immutable-" + m_suffix);
    Descriptor first = push_test_image(*registry, repository, "first " + m_suffix, "amd64");
    Descriptor second = push_test_image(*registry, repository, "second " + m_suffix, "amd64");

    auto tagged = registry->retag(repository.with_digest(first.digest), "stable");
    ASSERT_TRUE(tagged) << tagged.error().describe();
    EXPECT_TRUE(tagged->previous_digest.empty());

    auto same = registry->retag(repository.with_digest(first.digest), "stable");
    ASSERT_TRUE(same) << same.error().describe();
    EXPECT_TRUE(same->unchanged) << "the tag already points at this digest";

    auto moved = registry->retag(repository.with_digest(second.digest), "stable");
    ASSERT_FALSE(moved);
    EXPECT_NE(moved.error().message.find("refusing to move it"), std::string::npos) << moved.error().describe();
    EXPECT_NE(moved.error().message.find(first.digest), std::string::npos);
    EXPECT_EQ(registry->resolve(repository.with_tag("stable"))->digest, first.digest) << "nothing was written";

    auto allowed = registry->retag(repository.with_digest(second.digest), "stable", {.allow_overwrite = true});
    ASSERT_TRUE(allowed) << allowed.error().describe();
    EXPECT_EQ(allowed->previous_digest, first.digest);
    EXPECT_EQ(registry->resolve(repository.with_tag("stable"))->digest, second.digest);
}

TEST_F(RegistryClient, WrongPasswordIsAClearErrorWithoutThePassword) {
    const std::string wrong = "wrong-password-" + m_suffix;
    auto registry = client(options(auth_env(wrong)));
    auto resolved = registry->resolve(ref(secured() + "/minicd-e2e/anything:v1"));
    ASSERT_FALSE(resolved);
    std::string text = resolved.error().describe();
    EXPECT_EQ(text.find(wrong), std::string::npos) << text;
    EXPECT_EQ(text.find(util::base64_encode(var("MINICD_TEST_AUTH_REGISTRY_USER") + ":" + wrong)), std::string::npos);
    EXPECT_NE(text.find("HTTP 401"), std::string::npos) << text;
    EXPECT_NE(text.find(secured()), std::string::npos) << text;
    EXPECT_NE(text.find("were refused"), std::string::npos) << text;
}

TEST_F(RegistryClient, NoCredentialsForTheAuthRegistrySaysWhereToPutThem) {
    auto registry = client(options());
    auto resolved = registry->resolve(ref(secured() + "/minicd-e2e/anything:v1"));
    ASSERT_FALSE(resolved);
    EXPECT_NE(resolved.error().describe().find(registry::environment_prefix(secured()).value_or("(none)") + "_USERNAME"), std::string::npos)
        << resolved.error().describe();
}

TEST_F(RegistryClient, RegistryDownIsRetriedThenNamed) {
    // A port that was just free: nothing listens there.
    int port = 0;
    {
        auto found = util::run_subprocess({.inherit = util::Inherit::everything, .argv = {"python3", "-c",
                                                    "import socket;s=socket.socket();s.bind(('127.0.0.1',0));"
                                                    "print(s.getsockname()[1])"}});
        ASSERT_TRUE(found && found->succeeded());
        port = std::stoi(found->out);
    }
    auto registry = client(options());
    auto resolved = registry->resolve(ref(fmt::format("127.0.0.1:{}/minicd-e2e/app:v1", port)));
    ASSERT_FALSE(resolved);
    EXPECT_EQ(resolved.error().code, util::ErrorCode::network);
    EXPECT_NE(resolved.error().describe().find(fmt::format("registry 127.0.0.1:{}", port)), std::string::npos)
        << resolved.error().describe();
    EXPECT_NE(resolved.error().describe().find("after 3 attempts"), std::string::npos) << resolved.error().describe();
    EXPECT_EQ(m_waits.size(), 2u);
}

TEST_F(RegistryClient, DockerConfigJsonAuthIsUsed) {
    fs::create_directories(m_work + "/docker");
    std::ofstream(m_work + "/docker/config.json")
        << fmt::format(R"({{"auths":{{"https://{}/v1/":{{"auth":"{}"}}}}}})", secured(),
                       util::base64_encode(var("MINICD_TEST_AUTH_REGISTRY_USER") + ":" + var("MINICD_TEST_AUTH_REGISTRY_PASSWORD")));
    ClientOptions opts = options();
    opts.credentials.docker_config_dir = m_work + "/docker";
    auto registry = client(std::move(opts));
    model::ImageRef repository = ref(secured() + "/minicd-e2e/configjson-" + m_suffix);
    Descriptor pushed = push_test_image(*registry, repository, "config.json " + m_suffix, "amd64");
    ASSERT_FALSE(pushed.digest.empty());
    auto resolved = registry->resolve(repository.with_digest(pushed.digest));
    ASSERT_TRUE(resolved) << resolved.error().describe();
}

TEST_F(RegistryClient, CredentialHelperScriptIsUsed) {
    fs::create_directories(m_work + "/docker");
    fs::create_directories(m_work + "/bin");
    const std::string helper = m_work + "/bin/docker-credential-minicdtest";
    std::ofstream(helper) << fmt::format(
        "#!/bin/sh\nread server\necho \"$server\" >> '{}/asked'\n"
        "printf '{{\"ServerURL\":\"%s\",\"Username\":\"{}\",\"Secret\":\"{}\"}}' \"$server\"\n",
        m_work, var("MINICD_TEST_AUTH_REGISTRY_USER"), var("MINICD_TEST_AUTH_REGISTRY_PASSWORD"));
    fs::permissions(helper, fs::perms::owner_all);
    std::ofstream(m_work + "/docker/config.json") << fmt::format(R"({{"credHelpers":{{"{}":"minicdtest"}}}})", secured());

    ClientOptions opts = options({{"PATH", m_work + "/bin:/usr/bin:/bin"}});
    opts.credentials.docker_config_dir = m_work + "/docker";
    auto registry = client(std::move(opts));
    model::ImageRef target = ref(secured() + "/minicd-e2e/helper-" + m_suffix + ":v1");
    auto promoted = registry->copy(built(), target);
    ASSERT_TRUE(promoted) << promoted.error().describe();
    EXPECT_EQ(promoted->descriptor.digest, s_built_digest);

    std::ifstream asked(m_work + "/asked");
    std::string server;
    std::getline(asked, server);
    EXPECT_EQ(server, secured()) << "the helper was asked for the registry host";
}

}  // namespace
}  // namespace minicd::e2e
