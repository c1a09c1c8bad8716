// `minicd promote` and `minicd image resolve` through the real binary against the test registries.
// Images are small hand-made ones pushed by the registry client, so the suite needs no builder.
#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "minicd/build/artifacts.hpp"
#include "minicd/registry/client.hpp"
#include "minicd/util/subprocess.hpp"
#include "registry_test_image.hpp"
#include "test_cluster.hpp"

namespace minicd::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PromoteCli : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(TestCluster::get().ready()) << "the test environment did not start";
        char pattern[] = "/tmp/minicd-promote-cli-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        m_work = pattern;
        fs::create_directories(m_work + "/docker");
        std::mt19937 random(std::random_device{}());
        m_suffix = fmt::format("{:08x}", random());
        auto client = registry::Client::create({.ca_file = var("MINICD_TEST_AUTH_REGISTRY_CA"),
                                                .credentials = {.docker_config_dir = m_work + "/docker",
                                                                .environment = std::map<std::string, std::string>{}}});
        ASSERT_TRUE(client) << client.error().describe();
        m_client = std::move(*client);
    }
    void TearDown() override { fs::remove_all(m_work); }

    std::string var(const std::string& name) { return TestCluster::get().var(name); }
    std::string plain() { return var("MINICD_TEST_REGISTRY"); }
    std::string secured() { return var("MINICD_TEST_AUTH_REGISTRY"); }

    // Runs the binary with no credentials but the ones a test passes.
    util::SubprocessResult minicd(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
        args.insert(args.begin(), MINICD_BINARY);
        env.emplace("DOCKER_CONFIG", m_work + "/docker");
        auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = args,
                                            .env = env,
                                            .env_remove = {"MINICD_REGISTRY_USERNAME", "MINICD_REGISTRY_PASSWORD",
                                                           "MINICD_REGISTRY_HOSTS"},
                                            .timeout = 120s});
        EXPECT_TRUE(result) << result.error().describe();
        return result.value_or(util::SubprocessResult{});
    }

    std::map<std::string, std::string> auth_env(const std::string& password) {
        std::string prefix = registry::environment_prefix(secured()).value_or("");
        return {{prefix + "_USERNAME", var("MINICD_TEST_AUTH_REGISTRY_USER")}, {prefix + "_PASSWORD", password}};
    }

    // Pushes a one-layer image by digest into `repository` and returns its digest.
    std::string push_image(const std::string& repository, const std::string& content) {
        return push_test_image(*m_client, model::parse_image_ref(repository).value(), content + m_suffix).digest;
    }

    std::string digest_of(const std::string& reference) {
        auto resolved = m_client->resolve(model::parse_image_ref(reference).value());
        return resolved ? resolved->digest : std::string();
    }

    std::string m_work;
    std::string m_suffix;
    std::unique_ptr<registry::Client> m_client;
};

TEST_F(PromoteCli, RetagsInTheSameRepositoryAndResolvePrintsTheDigest) {
    const std::string repo = plain() + "/minicd-e2e/cli-retag-" + m_suffix;
    const std::string digest = push_image(repo, "retag");
    auto promoted = minicd({"promote", repo + "@" + digest, repo + ":v1.0.0"});
    EXPECT_EQ(promoted.exit_code, 0) << promoted.err;
    EXPECT_NE(promoted.out.find(digest), std::string::npos) << promoted.out;
    EXPECT_NE(promoted.out.find("re-tagged"), std::string::npos) << promoted.out;

    auto resolved = minicd({"image", "resolve", repo + ":v1.0.0"});
    EXPECT_EQ(resolved.exit_code, 0) << resolved.err;
    EXPECT_EQ(resolved.out, digest + "\n");

    auto json = minicd({"image", "resolve", "-o", "json", repo + ":v1.0.0"});
    ASSERT_EQ(json.exit_code, 0) << json.err;
    auto descriptor = Json::parse(json.out);
    EXPECT_EQ(descriptor["digest"], digest);
    EXPECT_EQ(descriptor["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    EXPECT_GT(descriptor["size"].get<int>(), 0);
}

TEST_F(PromoteCli, CopiesToTheTlsRegistryWithCredentialsFromTheEnvironment) {
    const std::string source = plain() + "/minicd-e2e/cli-src-" + m_suffix;
    const std::string digest = push_image(source, "copy");
    const std::string password = var("MINICD_TEST_AUTH_REGISTRY_PASSWORD");
    const std::string target = secured() + "/minicd-e2e/cli-dst-" + m_suffix + ":v2";
    auto promoted = minicd({"promote", source + "@" + digest, target, "--registry-ca", var("MINICD_TEST_AUTH_REGISTRY_CA"),
                            "-o", "json"},
                           auth_env(password));
    ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
    auto result = Json::parse(promoted.out);
    EXPECT_EQ(result["method"], "copy");
    EXPECT_EQ(result["digest"], digest);
    EXPECT_EQ(result["blobs"]["uploaded"], 2);
    EXPECT_EQ(result["unchanged"], false);
    EXPECT_EQ(promoted.out.find(password), std::string::npos);
    EXPECT_EQ(promoted.err.find(password), std::string::npos);

    auto resolved = minicd({"image", "resolve", target, "--registry-ca", var("MINICD_TEST_AUTH_REGISTRY_CA")}, auth_env(password));
    EXPECT_EQ(resolved.exit_code, 0) << resolved.err;
    EXPECT_EQ(resolved.out, digest + "\n");
}

TEST_F(PromoteCli, WrongPasswordExitsOneWithoutShowingIt) {
    const std::string source = plain() + "/minicd-e2e/cli-src-" + m_suffix;
    const std::string digest = push_image(source, "wrong");
    const std::string wrong = "not-the-password-" + m_suffix;
    auto promoted = minicd({"promote", source + "@" + digest, secured() + "/minicd-e2e/cli-x:v1", "--registry-ca",
                            var("MINICD_TEST_AUTH_REGISTRY_CA")},
                           auth_env(wrong));
    EXPECT_EQ(promoted.exit_code, 1);
    EXPECT_NE(promoted.err.find("HTTP 401"), std::string::npos) << promoted.err;
    EXPECT_EQ(promoted.err.find(wrong), std::string::npos) << promoted.err;
    EXPECT_EQ(promoted.out.find(wrong), std::string::npos);
}

TEST_F(PromoteCli, ExistingTagsAreNotMovedUnlessAllowed) {
    const std::string repo = plain() + "/minicd-e2e/cli-immutable-" + m_suffix;
    const std::string first = push_image(repo, "first");
    const std::string second = push_image(repo, "second");
    ASSERT_EQ(minicd({"promote", repo + "@" + first, repo + ":stable"}).exit_code, 0);

    auto same = minicd({"promote", repo + "@" + first, repo + ":stable"});
    EXPECT_EQ(same.exit_code, 0) << same.err;
    EXPECT_NE(same.out.find("nothing to do"), std::string::npos) << same.out;

    auto refused = minicd({"promote", repo + "@" + second, repo + ":stable"});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("refusing to move it"), std::string::npos) << refused.err;
    EXPECT_EQ(digest_of(repo + ":stable"), first);

    auto moved = minicd({"promote", repo + "@" + second, repo + ":stable", "--allow-overwrite", "-o", "json"});
    ASSERT_EQ(moved.exit_code, 0) << moved.err;
    EXPECT_EQ(Json::parse(moved.out)["previousDigest"], first);
    EXPECT_EQ(digest_of(repo + ":stable"), second);
}

TEST_F(PromoteCli, FromArtifactsRetagsEveryBuiltImageInItsRepository) {
    const std::string web = plain() + "/minicd-e2e/cli-web-" + m_suffix;
    const std::string worker = plain() + "/minicd-e2e/cli-worker-" + m_suffix;
    const std::string web_digest = push_image(web, "web");
    const std::string worker_digest = push_image(worker, "worker");
    // The build tag has moved on since: the artifact's digest is what gets promoted.
    ASSERT_EQ(minicd({"promote", web + "@" + web_digest, web + ":abc1234"}).exit_code, 0);
    ASSERT_EQ(minicd({"promote", worker + "@" + worker_digest, worker + ":abc1234"}).exit_code, 0);
    const std::string later = push_image(web, "later");
    ASSERT_EQ(minicd({"promote", web + "@" + later, web + ":abc1234", "--allow-overwrite"}).exit_code, 0);

    const std::string file = m_work + "/artifacts.json";
    ASSERT_TRUE(build::write_artifacts(file, {{"web", web + ":abc1234", web_digest}, {"worker", worker + ":abc1234", worker_digest}}));
    auto promoted = minicd({"promote", "--from-artifacts", file, "--tag", "v1.2.3", "-o", "json"});
    ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
    auto results = Json::parse(promoted.out)["promotions"];
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0]["method"], "retag");
    EXPECT_EQ(digest_of(web + ":v1.2.3"), web_digest);
    EXPECT_EQ(digest_of(worker + ":v1.2.3"), worker_digest);
}

TEST_F(PromoteCli, UsageAndInputErrorsExitTwo) {
    const std::string repo = plain() + "/minicd-e2e/cli-usage";
    const std::vector<std::vector<std::string>> cases = {
        {"promote"},
        {"promote", repo + ":v1"},
        {"promote", "Bad/Ref:v1", repo + ":v2"},
        {"promote", repo + ":v1", repo},
        {"promote", repo + ":v1", repo + ":v2", "--from-artifacts", m_work + "/a.json", "--tag", "v1"},
        {"promote", "--from-artifacts", m_work + "/missing.json", "--tag", "v1"},
        {"promote", "--from-artifacts", m_work + "/missing.json", "--tag", "-bad"},
        {"promote", "--tag", "v1"},
        {"image", "resolve", "lower/Upper"},
        {"image"},
    };
    for (const auto& args : cases) {
        auto result = minicd(args);
        EXPECT_EQ(result.exit_code, 2) << fmt::format("{}", fmt::join(args, " ")) << "\n" << result.err;
        EXPECT_EQ(result.out, "") << fmt::format("{}", fmt::join(args, " "));
    }
}

TEST_F(PromoteCli, MissingImageExitsOne) {
    auto result = minicd({"image", "resolve", plain() + "/minicd-e2e/does-not-exist-" + m_suffix + ":v1"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("not found"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace minicd::e2e
