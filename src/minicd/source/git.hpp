#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

struct git_repository;

namespace minicd::source {

// Where HEAD points.
struct HeadBranch {
    std::string name;       // "main" for refs/heads/main; empty when detached
    bool detached = false;  // HEAD names a commit, not a branch (typical of CI checkouts of a tag or PR)
    bool unborn = false;    // the branch has no commit yet (fresh repository)
};

// Uncommitted changes in the work tree; ignored files do not count.
struct WorkTreeState {
    std::size_t staged = 0;     // paths whose index entry differs from HEAD
    std::size_t modified = 0;   // tracked paths whose work-tree file differs from the index
    std::size_t untracked = 0;  // new files, not ignored
    std::vector<std::string> examples;  // the first few paths involved, for messages

    bool dirty() const { return staged + modified + untracked > 0; }
    // "2 modified, 1 untracked (src/a.cpp, src/b.cpp, notes.txt)"; "clean" when there is nothing.
    std::string describe() const;
};

// A Git repository opened through libgit2. Errors carry the repository path as subject and
// libgit2's message. Not thread-safe: use one Repository per thread.
class Repository {
public:
    // Opens the repository that contains `directory`, searching parent directories the way `git`
    // does. An input error when there is none.
    static Result<Repository> open(const std::string& directory);

    Repository(Repository&&) noexcept;
    Repository& operator=(Repository&&) noexcept;
    ~Repository();

    // The work tree root ("/src/app"), or the git directory for a bare repository; no trailing '/'.
    const std::string& path() const { return m_path; }

    // `path` (absolute, or relative to the current directory; it need not exist) relative to the
    // work tree root, "dir/file.json"; nullopt when it lies outside the work tree.
    std::optional<std::string> relative_path(const std::string& path) const;

    // The full hex SHA of the commit HEAD points at; an error for an unborn branch.
    Result<std::string> head_commit();
    // The first `length` (4..40) hex digits of head_commit(). Always exactly that long, unlike
    // `git rev-parse --short`, so tags derived from it are predictable.
    Result<std::string> short_head_commit(std::size_t length = 7);
    Result<HeadBranch> head_branch();
    // Names of tags ("v1.2.0", without refs/tags/) whose target, peeled through annotated tags,
    // is the HEAD commit; sorted.
    Result<std::vector<std::string>> tags_at_head();

    // The full SHA of the commit a revision names: a SHA or unique prefix, a ref
    // ("refs/remotes/origin/main", "origin/main", "v1.0"), "HEAD~2", ... Annotated tags are peeled.
    Result<std::string> resolve_commit(std::string_view revision);
    // Whether `commit` is `ref`'s commit or one of its ancestors: "was this commit merged into
    // main?". Both are revisions as resolve_commit takes them.
    Result<bool> is_reachable(std::string_view commit, std::string_view ref);

    // Staged, modified and untracked-not-ignored files (submodules count as their own path);
    // `max_examples` paths are kept for messages. `skip` lists paths relative to the work tree root
    // that do not count, such as files minicd writes itself. An error for a bare repository.
    Result<WorkTreeState> work_tree_state(std::size_t max_examples = 5, const std::vector<std::string>& skip = {});

    // Branch names under refs/remotes/<remote>/ ("main", "feature/x"), sorted, without the
    // remote's symbolic HEAD.
    Result<std::vector<std::string>> remote_branches(std::string_view remote);
    // Whether refs/remotes/<remote>/* can list every branch of the remote: false for shallow
    // clones and for remotes whose fetch refspecs name single branches (`clone --single-branch`,
    // `--depth`), which CI checkouts usually are. An unknown remote is an error.
    Result<bool> tracks_every_branch(std::string_view remote);

private:
    struct Deleter {
        void operator()(git_repository* repository) const;
    };
    Repository(git_repository* repository, std::string path);

    // The failure of the libgit2 call that just returned `code`, with what was being done.
    util::Error git_error(int code, std::string_view doing) const;

    std::unique_ptr<git_repository, Deleter> m_repository;
    std::string m_path;
};

}  // namespace minicd::source
