#include "minicd/build/artifacts.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "support/temp_dir.hpp"

namespace minicd::build {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::string k_digest = "sha256:" + std::string(64, 'a');

class ArtifactFile : public ::testing::Test {
protected:
    std::string write(const std::string& text) {
        std::ofstream(path()) << text;
        return path();
    }
    std::string path() const { return m_dir.path("build.json"); }

    testing::TempDir m_dir;
};

TEST(Artifact, PinnedIsReferenceAtDigest) {
    Artifact artifact{.image_name = "shop", .reference = "127.0.0.1:5000/apps/shop:abc1234", .digest = k_digest};
    EXPECT_EQ(artifact.pinned(), "127.0.0.1:5000/apps/shop:abc1234@" + k_digest);
}

TEST_F(ArtifactFile, WritesSkaffoldShapedJsonAndReadsItBack) {
    std::vector<Artifact> artifacts = {
        {.image_name = "shop", .reference = "127.0.0.1:5000/apps/shop:abc1234", .digest = k_digest},
        {.image_name = "worker", .reference = "reg.example/apps/worker:abc1234-dirty", .digest = "sha256:" + std::string(64, 'b')}};
    ASSERT_TRUE(write_artifacts(path(), artifacts));

    std::ifstream in(path());
    Json written = Json::parse(in);
    ASSERT_EQ(written["builds"].size(), 2u);
    EXPECT_EQ(written["builds"][0],
              Json({{"imageName", "shop"}, {"reference", "127.0.0.1:5000/apps/shop:abc1234"}, {"digest", k_digest},
                    {"tag", "127.0.0.1:5000/apps/shop:abc1234@" + k_digest}}));

    auto back = read_artifacts(path());
    ASSERT_TRUE(back) << back.error().describe();
    EXPECT_EQ(*back, artifacts);
}

TEST_F(ArtifactFile, WriteReplacesTheFileAndLeavesNoTemporaryBehind) {
    write("old content");
    ASSERT_TRUE(write_artifacts(path(), {}));
    EXPECT_EQ(read_artifacts(path()).value(), std::vector<Artifact>{});
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(m_dir.path())) names.push_back(entry.path().filename().string());
    EXPECT_EQ(names, std::vector<std::string>{"build.json"});
    struct stat info {};
    ASSERT_EQ(::stat(path().c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0644u);
}

TEST_F(ArtifactFile, WriteIntoAMissingDirectoryFailsNamingThePath) {
    auto written = write_artifacts(m_dir.path("missing/build.json"), {});
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().code, util::ErrorCode::io);
    EXPECT_EQ(written.error().subject, m_dir.path("missing/build.json"));
}

TEST_F(ArtifactFile, ReadsAFileWithOnlySkaffoldFields) {
    write(R"({"builds": [{"imageName": "shop", "tag": "reg.example/shop:v1@)" + k_digest + R"("}]})");
    auto artifacts = read_artifacts(path());
    ASSERT_TRUE(artifacts) << artifacts.error().describe();
    ASSERT_EQ(artifacts->size(), 1u);
    EXPECT_EQ(artifacts->front().reference, "reg.example/shop:v1");
    EXPECT_EQ(artifacts->front().digest, k_digest);
}

struct BadFile {
    std::string text;
    std::string message;  // expected start of the error message
};

TEST_F(ArtifactFile, ErrorsNameTheFileAndTheField) {
    const std::string ok_ref = R"("reference": "reg.example/shop:v1")";
    const std::string ok_digest = R"("digest": ")" + k_digest + R"(")";
    const std::vector<BadFile> cases = {
        {"{not json", "not valid JSON"},
        {"[]", "must be a JSON object"},
        {R"({"builds": {}})", "builds: required, must be a list"},
        {R"({"other": []})", "builds: required, must be a list"},
        {R"({"builds": [1]})", "builds[0]: must be an object"},
        {R"({"builds": [{)" + ok_ref + "," + ok_digest + "}]}", "builds[0].imageName: required"},
        {R"({"builds": [{"imageName": 3,)" + ok_ref + "," + ok_digest + "}]}", "builds[0].imageName: must be a string"},
        {R"({"builds": [{"imageName": "shop",)" + ok_digest + "}]}", "builds[0].reference: required"},
        {R"({"builds": [{"imageName": "shop",)" + ok_ref + "}]}", "builds[0].digest: required"},
        {R"({"builds": [{"imageName": "shop",)" + ok_ref + R"(, "digest": "sha256:abc"}]})",
         "builds[0].digest: \"sha256:abc\" is not a digest"},
        {R"({"builds": [{"imageName": "shop", "tag": "reg.example/shop:v1"}]})", "builds[0].tag: \"reg.example/shop:v1\" has no @digest"},
        {R"({"builds": [{"imageName": "shop",)" + ok_ref + "," + ok_digest + R"(, "tag": "reg.example/shop:v2@)" + k_digest +
             R"("}]})",
         "builds[0].tag: \"reg.example/shop:v2@sha256:"},
        {R"({"builds": [{"imageName": "a",)" + ok_ref + "," + ok_digest + R"(}, {"imageName": "a",)" + ok_ref + "," +
             ok_digest + "}]}",
         "builds[1].imageName: \"a\" is listed twice"},
    };
    for (const auto& bad : cases) {
        SCOPED_TRACE(bad.text);
        write(bad.text);
        auto artifacts = read_artifacts(path());
        ASSERT_FALSE(artifacts);
        EXPECT_EQ(artifacts.error().code, util::ErrorCode::input);
        EXPECT_EQ(artifacts.error().subject, path());
        EXPECT_EQ(artifacts.error().message.rfind(bad.message, 0), 0u) << artifacts.error().message;
    }
}

TEST_F(ArtifactFile, MissingFileIsAnIoError) {
    auto artifacts = read_artifacts(m_dir.path("absent.json"));
    ASSERT_FALSE(artifacts);
    EXPECT_EQ(artifacts.error().code, util::ErrorCode::io);
}

}  // namespace
}  // namespace minicd::build
