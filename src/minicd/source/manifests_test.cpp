#include "minicd/source/manifests.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace minicd::source {
namespace {

namespace fs = std::filesystem;

std::string config_map(std::string_view name) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + std::string(name) + "\n";
}

std::vector<std::string> names(const std::vector<Manifest>& manifests) {
    std::vector<std::string> out;
    for (const Manifest& manifest : manifests) {
        out.push_back(manifest.object.name());
    }
    return out;
}

bool kubectl_available() {
    return std::system("kubectl version --client >/dev/null 2>&1") == 0;
}

class Manifests : public testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "minicd-manifests-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_root = pattern;
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(m_root, ignored);
    }

    std::string write(const std::string& relative, std::string_view content) {
        const fs::path path = m_root / relative;
        fs::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary) << content;
        return path.string();
    }
    std::string path(const std::string& relative) const { return (m_root / relative).string(); }

    fs::path m_root;
};

TEST_F(Manifests, ReadsDirectoriesRecursivelyInNameOrder) {
    write("app/b.json", R"({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json"}})");
    write("app/a.yaml", config_map("first") + "---\n" + config_map("second"));
    write("app/c/d.yml", config_map("nested"));
    write("app/notes.txt", "not a manifest");
    write("app/README.md", "# docs");

    auto manifests = load_manifests({path("app")});
    ASSERT_TRUE(manifests) << manifests.error().describe();
    EXPECT_EQ(names(*manifests), (std::vector<std::string>{"first", "second", "from-json", "nested"}));
    EXPECT_EQ((*manifests)[1].file, path("app/a.yaml"));
    EXPECT_EQ((*manifests)[1].line, 6);
    EXPECT_EQ((*manifests)[3].file, path("app/c/d.yml"));
}

TEST_F(Manifests, KeepsTheOrderOfThePathsGiven) {
    const std::string second = write("z.yaml", config_map("z"));
    const std::string first = write("a.yaml", config_map("a"));
    auto manifests = load_manifests({second, first});
    ASSERT_TRUE(manifests) << manifests.error().describe();
    EXPECT_EQ(names(*manifests), (std::vector<std::string>{"z", "a"}));
}

TEST_F(Manifests, ReadsAnExplicitFileWhateverItsExtension) {
    auto manifests = load_manifests({write("rendered.out", config_map("explicit"))});
    ASSERT_TRUE(manifests) << manifests.error().describe();
    EXPECT_EQ(names(*manifests), (std::vector<std::string>{"explicit"}));
}

TEST_F(Manifests, SkipsEmptyAndNullDocuments) {
    const std::string file = write("a.yaml", "---\n# nothing\n---\nnull\n---\n" + config_map("only") + "---\n");
    auto manifests = load_manifests({file});
    ASSERT_TRUE(manifests) << manifests.error().describe();
    EXPECT_EQ(names(*manifests), (std::vector<std::string>{"only"}));
    EXPECT_EQ(manifests->front().line, 6);
}

TEST_F(Manifests, FlattensListsRecursively) {
    const std::string file = write("list.yaml", "apiVersion: v1\nkind: List\nitems:\n"
                                                "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n"
                                                "- apiVersion: v1\n  kind: ConfigMapList\n  items:\n"
                                                "  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: two}\n"
                                                "---\n" + config_map("three"));
    auto manifests = load_manifests({file});
    ASSERT_TRUE(manifests) << manifests.error().describe();
    EXPECT_EQ(names(*manifests), (std::vector<std::string>{"one", "two", "three"}));
    EXPECT_EQ((*manifests)[1].line, 1);
    EXPECT_EQ((*manifests)[1].object.kind(), "ConfigMap");
}

TEST_F(Manifests, ListItemWithoutKindIsNamedByIndex) {
    const std::string file = write("list.yaml", "apiVersion: v1\nkind: List\nitems:\n"
                                                "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n"
                                                "- apiVersion: v1\n  metadata: {name: two}\n");
    auto manifests = load_manifests({file});
    ASSERT_FALSE(manifests);
    EXPECT_EQ(manifests.error().code, util::ErrorCode::input);
    EXPECT_EQ(manifests.error().message, "items[1]: object has no kind");
    EXPECT_EQ(manifests.error().subject, file + ":1");
}

TEST_F(Manifests, MissingNameIsAnErrorNamingFileAndLine) {
    const std::string file =
        write("a.yaml", config_map("fine") + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  generateName: x-\n");
    auto manifests = load_manifests({file});
    ASSERT_FALSE(manifests);
    EXPECT_EQ(manifests.error().code, util::ErrorCode::input);
    EXPECT_EQ(manifests.error().message, "object has no metadata.name");
    EXPECT_EQ(manifests.error().subject, file + ":6");
}

TEST_F(Manifests, MissingApiVersionOrKindIsAnError) {
    const std::string no_api = write("a.yaml", "kind: ConfigMap\nmetadata: {name: a}\n");
    const std::string no_kind = write("b.yaml", "apiVersion: v1\nkind: \"\"\nmetadata: {name: a}\n");
    auto first = load_manifests({no_api});
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().message, "object has no apiVersion");
    auto second = load_manifests({no_kind});
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().message, "object has no kind");
}

TEST_F(Manifests, DocumentThatIsNotAnObjectIsAnError) {
    const std::string file = write("a.yaml", "- a\n- b\n");
    auto manifests = load_manifests({file});
    ASSERT_FALSE(manifests);
    EXPECT_EQ(manifests.error().message, "manifest is an array, not an object");
    EXPECT_EQ(manifests.error().subject, file + ":1");
}

TEST_F(Manifests, YamlErrorsKeepFileAndLine) {
    const std::string file = write("a.yaml", config_map("dup") + "  name: again\n");
    auto manifests = load_manifests({file});
    ASSERT_FALSE(manifests);
    EXPECT_EQ(manifests.error().code, util::ErrorCode::input);
    EXPECT_EQ(manifests.error().subject, file + ":5");
}

TEST_F(Manifests, MissingPathIsAnInputErrorNamingIt) {
    const std::string missing = path("does/not/exist.yaml");
    auto manifests = load_manifests({missing});
    ASSERT_FALSE(manifests);
    EXPECT_EQ(manifests.error().code, util::ErrorCode::input);
    EXPECT_EQ(manifests.error().subject, missing);
}

TEST_F(Manifests, RendersAKustomizationDirectoryWithKubectl) {
    if (!kubectl_available()) {
        GTEST_SKIP() << "kubectl is not installed";
    }
    write("overlay/kustomization.yaml", "namePrefix: dev-\nresources:\n- settings.yaml\n");
    write("overlay/settings.yaml", config_map("settings"));

    auto manifests = load_manifests({path("overlay")});
    ASSERT_TRUE(manifests) << manifests.error().describe();
    EXPECT_EQ(names(*manifests), (std::vector<std::string>{"dev-settings"}));
    EXPECT_EQ(manifests->front().file, path("overlay") + " (kustomize)");
}

TEST_F(Manifests, KustomizationBelowADirectoryIsRenderedAsOneUnit) {
    if (!kubectl_available()) {
        GTEST_SKIP() << "kubectl is not installed";
    }
    write("tree/a.yaml", config_map("plain"));
    write("tree/b/Kustomization", "nameSuffix: -x\nresources:\n- cm.yaml\n");
    write("tree/b/cm.yaml", config_map("kustomized"));

    auto manifests = load_manifests({path("tree")});
    ASSERT_TRUE(manifests) << manifests.error().describe();
    EXPECT_EQ(names(*manifests), (std::vector<std::string>{"plain", "kustomized-x"}));
}

TEST_F(Manifests, BrokenKustomizationIsAnError) {
    if (!kubectl_available()) {
        GTEST_SKIP() << "kubectl is not installed";
    }
    write("bad/kustomization.yml", "resources:\n- missing.yaml\n");
    auto manifests = load_manifests({path("bad")});
    ASSERT_FALSE(manifests);
    EXPECT_NE(manifests.error().message.find("kubectl kustomize"), std::string::npos) << manifests.error().describe();
}

}  // namespace
}  // namespace minicd::source
