#include "minicd/source/git.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/git_repo.hpp"

namespace minicd::source {
namespace {

using testing::GitRepo;
using testing::TempDir;

class Git : public ::testing::Test {
protected:
    Git() : m_repo(m_dir.path("work")) {}

    Repository open() {
        auto repository = Repository::open(m_repo.path());
        EXPECT_TRUE(repository) << repository.error().describe();
        return std::move(*repository);
    }

    TempDir m_dir;
    GitRepo m_repo;
};

TEST_F(Git, OpensFromASubdirectoryAndReportsTheWorkTreeRoot) {
    m_repo.write("deep/er/file.txt", "x");
    m_repo.commit("first");
    auto repository = Repository::open(m_repo.path("deep/er"));
    ASSERT_TRUE(repository) << repository.error().describe();
    EXPECT_EQ(repository->path(), std::filesystem::canonical(m_repo.path()).string());
}

TEST_F(Git, OutsideARepositoryIsAnInputErrorNamingTheDirectory) {
    auto repository = Repository::open(m_dir.path());
    ASSERT_FALSE(repository);
    EXPECT_EQ(repository.error().code, util::ErrorCode::input);
    EXPECT_EQ(repository.error().subject, m_dir.path());
}

TEST_F(Git, HeadCommitAndExactLengthShortForm) {
    m_repo.commit("first");
    const std::string sha = m_repo.commit("second");
    auto repository = open();
    EXPECT_EQ(repository.head_commit().value(), sha);
    EXPECT_EQ(repository.short_head_commit().value(), sha.substr(0, 7));
    EXPECT_EQ(repository.short_head_commit(12).value(), sha.substr(0, 12));
    EXPECT_EQ(repository.short_head_commit(40).value(), sha);
    for (std::size_t bad : {std::size_t{3}, std::size_t{41}}) {
        auto short_sha = repository.short_head_commit(bad);
        ASSERT_FALSE(short_sha);
        EXPECT_EQ(short_sha.error().code, util::ErrorCode::input);
    }
}

TEST_F(Git, UnbornBranchHasANameButNoCommit) {
    auto repository = open();
    auto head = repository.head_branch();
    ASSERT_TRUE(head) << head.error().describe();
    EXPECT_EQ(head->name, "main");
    EXPECT_TRUE(head->unborn);
    EXPECT_FALSE(head->detached);
    auto sha = repository.head_commit();
    ASSERT_FALSE(sha);
    EXPECT_EQ(sha.error().subject, repository.path());
    EXPECT_EQ(repository.tags_at_head().error().message, "HEAD has no commit yet");
}

TEST_F(Git, BranchNameKeepsSlashes) {
    m_repo.commit("first");
    m_repo.run({"checkout", "--quiet", "-b", "feature/login"});
    auto head = open().head_branch();
    ASSERT_TRUE(head) << head.error().describe();
    EXPECT_EQ(head->name, "feature/login");
    EXPECT_FALSE(head->detached);
    EXPECT_FALSE(head->unborn);
}

TEST_F(Git, DetachedHeadHasNoBranchName) {
    m_repo.commit("first");
    const std::string sha = m_repo.commit("second");
    m_repo.run({"checkout", "--quiet", "--detach", "HEAD~1"});
    auto repository = open();
    auto head = repository.head_branch();
    ASSERT_TRUE(head) << head.error().describe();
    EXPECT_TRUE(head->detached);
    EXPECT_EQ(head->name, "");
    EXPECT_NE(repository.head_commit().value(), sha);
}

TEST_F(Git, TagsAtHeadIncludeLightweightAndPeeledAnnotatedTags) {
    m_repo.commit("first");
    m_repo.run({"tag", "v0.9"});
    m_repo.commit("second");
    m_repo.run({"tag", "v1.0-light"});
    m_repo.run({"tag", "-a", "-m", "release 1.0", "v1.0"});
    // A tag of a tag still peels to the commit; a tag of a tree never can.
    m_repo.run({"tag", "-a", "-m", "nested", "v1.0-nested", "v1.0"});
    m_repo.run({"tag", "tree-tag", "HEAD^{tree}"});
    auto tags = open().tags_at_head();
    ASSERT_TRUE(tags) << tags.error().describe();
    EXPECT_EQ(*tags, (std::vector<std::string>{"v1.0", "v1.0-light", "v1.0-nested"}));
}

TEST_F(Git, NoTagsAtAnUntaggedHead) {
    m_repo.commit("first");
    m_repo.run({"tag", "v0.1"});
    m_repo.commit("second");
    EXPECT_EQ(open().tags_at_head().value(), std::vector<std::string>{});
}

TEST_F(Git, ResolvesRevisionsAndNamesTheRepositoryWhenOneIsUnknown) {
    const std::string first = m_repo.commit("first");
    m_repo.run({"tag", "-a", "-m", "annotated", "v1"});
    const std::string second = m_repo.commit("second");
    auto repository = open();
    EXPECT_EQ(repository.resolve_commit("HEAD~1").value(), first);
    EXPECT_EQ(repository.resolve_commit("v1").value(), first);
    EXPECT_EQ(repository.resolve_commit("refs/heads/main").value(), second);
    EXPECT_EQ(repository.resolve_commit(second.substr(0, 10)).value(), second);

    auto missing = repository.resolve_commit("no-such-branch");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, util::ErrorCode::input);
    EXPECT_EQ(missing.error().subject, repository.path());
    EXPECT_NE(missing.error().message.find("no-such-branch"), std::string::npos) << missing.error().message;

    auto tree = repository.resolve_commit("HEAD^{tree}");
    ASSERT_FALSE(tree);
    EXPECT_NE(tree.error().message.find("does not name a commit"), std::string::npos) << tree.error().message;
}

TEST_F(Git, ReachabilityFollowsMerges) {
    const std::string base = m_repo.commit("base");
    m_repo.run({"checkout", "--quiet", "-b", "feature"});
    m_repo.write("feature.txt", "f");
    const std::string feature = m_repo.commit("feature work");
    m_repo.run({"checkout", "--quiet", "main"});
    m_repo.write("main.txt", "m");
    m_repo.commit("main work");

    auto repository = open();
    EXPECT_TRUE(repository.is_reachable(base, "refs/heads/main").value());
    EXPECT_TRUE(repository.is_reachable(base, "feature").value());
    EXPECT_FALSE(repository.is_reachable(feature, "refs/heads/main").value());
    EXPECT_TRUE(repository.is_reachable("main", "main").value()) << "a commit reaches itself";

    m_repo.run({"merge", "--quiet", "--no-edit", "feature"});
    EXPECT_TRUE(repository.is_reachable(feature, "refs/heads/main").value());
    EXPECT_FALSE(repository.is_reachable("main", "feature").value());

    auto unknown = repository.is_reachable(feature, "refs/remotes/origin/main");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, util::ErrorCode::input);
}

TEST_F(Git, CleanWorkTree) {
    m_repo.write(".gitignore", "*.log\n");
    m_repo.write("a.txt", "a");
    m_repo.commit("first");
    m_repo.write("debug.log", "ignored files do not make a tree dirty");
    auto state = open().work_tree_state();
    ASSERT_TRUE(state) << state.error().describe();
    EXPECT_FALSE(state->dirty());
    EXPECT_EQ(state->describe(), "clean");
}

TEST_F(Git, DirtyWorkTreeCountsStagedModifiedAndUntracked) {
    m_repo.write("a.txt", "a");
    m_repo.write("b.txt", "b");
    m_repo.commit("first");
    m_repo.write("a.txt", "changed");
    m_repo.write("staged.txt", "new");
    m_repo.run({"add", "staged.txt"});
    m_repo.write("b.txt", "changed and staged");
    m_repo.run({"add", "b.txt"});
    m_repo.write("b.txt", "changed again after staging");
    m_repo.write("new-dir/one.txt", "1");
    m_repo.write("new-dir/two.txt", "2");

    auto state = open().work_tree_state();
    ASSERT_TRUE(state) << state.error().describe();
    EXPECT_TRUE(state->dirty());
    EXPECT_EQ(state->staged, 2u);      // b.txt, staged.txt
    EXPECT_EQ(state->modified, 2u);    // a.txt, b.txt
    EXPECT_EQ(state->untracked, 1u);   // new-dir/, once
    EXPECT_EQ(state->examples, (std::vector<std::string>{"a.txt", "b.txt", "new-dir/", "staged.txt"}));
    EXPECT_EQ(state->describe(), "2 staged, 2 modified, 1 untracked (a.txt, b.txt, new-dir/, staged.txt)");

    auto few = open().work_tree_state(2);
    ASSERT_TRUE(few);
    EXPECT_EQ(few->examples.size(), 2u);
}

TEST_F(Git, SkippedPathsDoNotCountEvenInsideAnUntrackedDirectory) {
    m_repo.write("a.txt", "a");
    m_repo.commit("first");
    m_repo.write("out/build.json", "{}");
    auto repository = open();
    EXPECT_FALSE(repository.work_tree_state(5, {"out/build.json"}).value().dirty());
    EXPECT_EQ(repository.work_tree_state().value().examples, std::vector<std::string>{"out/"});

    m_repo.write("out/other.txt", "x");
    m_repo.write("a.txt", "changed");
    auto state = repository.work_tree_state(5, {"out/build.json", "a.txt"});
    ASSERT_TRUE(state) << state.error().describe();
    EXPECT_EQ(state->describe(), "1 untracked (out/other.txt)");
}

TEST_F(Git, RelativePathsInsideTheWorkTreeOnly) {
    m_repo.commit("first");
    auto repository = open();
    EXPECT_EQ(repository.relative_path(m_repo.path("out/build.json")).value_or("(none)"), "out/build.json");
    EXPECT_EQ(repository.relative_path(m_repo.path("sub/../build.json")).value_or("(none)"), "build.json");
    EXPECT_FALSE(repository.relative_path(m_dir.path("elsewhere.json")));
    EXPECT_FALSE(repository.relative_path(m_repo.path("../work-sibling/build.json")));
}

TEST_F(Git, BareRepositoryHasNoWorkTreeState) {
    const std::string bare = m_dir.path("bare.git");
    testing::git(m_dir.path(), {"init", "--quiet", "--bare", bare});
    auto repository = Repository::open(bare);
    ASSERT_TRUE(repository) << repository.error().describe();
    auto state = repository->work_tree_state();
    ASSERT_FALSE(state);
    EXPECT_EQ(state.error().subject, repository->path());
}

TEST_F(Git, RemoteTrackingBranchesOfAClone) {
    m_repo.commit("first");
    m_repo.run({"branch", "feature/x"});
    m_repo.run({"branch", "release"});
    const std::string remote = m_dir.path("remote.git");
    testing::git(m_dir.path(), {"clone", "--quiet", "--bare", m_repo.path(), remote});
    const std::string clone = m_dir.path("clone");
    testing::git(m_dir.path(), {"clone", "--quiet", remote, clone});
    testing::git(clone, {"remote", "add", "other", remote});

    auto repository = Repository::open(clone);
    ASSERT_TRUE(repository) << repository.error().describe();
    auto branches = repository->remote_branches("origin");
    ASSERT_TRUE(branches) << branches.error().describe();
    EXPECT_EQ(*branches, (std::vector<std::string>{"feature/x", "main", "release"}));
    EXPECT_EQ(repository->remote_branches("other").value(), std::vector<std::string>{}) << "never fetched";

    // What CI asks: is the commit being deployed on the remote's main?
    testing::write_file(clone + "/local.txt", "l");
    testing::git(clone, {"add", "local.txt"});
    testing::git(clone, {"commit", "--quiet", "-m", "local only"});
    auto head = repository->head_commit().value();
    EXPECT_FALSE(repository->is_reachable(head, "refs/remotes/origin/main").value());
    EXPECT_TRUE(repository->is_reachable("HEAD~1", "refs/remotes/origin/main").value());

    // Deleted on the remote and pruned by fetch: gone from the list.
    testing::git(remote, {"branch", "-D", "release"});
    testing::git(clone, {"fetch", "--quiet", "--prune", "origin"});
    EXPECT_EQ(repository->remote_branches("origin").value(), (std::vector<std::string>{"feature/x", "main"}));
}

}  // namespace
}  // namespace minicd::source
