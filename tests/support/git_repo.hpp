#pragma once

// Real Git repositories for tests, made with the git CLI in a temporary directory that is removed
// afterwards. The user's and the system's git configuration are kept out so results do not depend
// on the machine.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "minicd/util/subprocess.hpp"
#include "minicd/util/text.hpp"
#include "temp_dir.hpp"

namespace minicd::testing {

// Runs git in `directory`; a failure fails the current test and returns the output so far.
inline std::string git(const std::string& directory, std::vector<std::string> args) {
    std::vector<std::string> argv = {"git", "-C", directory};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = util::run_subprocess({.inherit = util::Inherit::everything, .argv = argv,
                                        .env = {{"GIT_CONFIG_GLOBAL", "/dev/null"},
                                                {"GIT_CONFIG_NOSYSTEM", "1"},
                                                {"GIT_AUTHOR_NAME", "Test"},
                                                {"GIT_AUTHOR_EMAIL", "test@example.invalid"},
                                                {"GIT_COMMITTER_NAME", "Test"},
                                                {"GIT_COMMITTER_EMAIL", "test@example.invalid"}},
                                        .timeout = std::chrono::seconds(30)});
    if (!result) {
        ADD_FAILURE() << result.error().describe();
        return {};
    }
    EXPECT_TRUE(result->succeeded()) << "git " << args.front() << ": " << result->err;
    return util::trim(result->out);
}

inline void write_file(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

// A work tree with a `main` branch; commit() adds every change and returns the new commit's SHA.
class GitRepo {
public:
    explicit GitRepo(std::string path) : m_path(std::move(path)) {
        std::filesystem::create_directories(m_path);
        git(m_path, {"init", "--quiet", "--initial-branch=main"});
    }

    const std::string& path() const { return m_path; }
    std::string path(const std::string& relative) const { return m_path + "/" + relative; }
    std::string run(std::vector<std::string> args) const { return git(m_path, std::move(args)); }

    void write(const std::string& relative, const std::string& text) const { write_file(path(relative), text); }

    std::string commit(const std::string& message) const {
        run({"add", "--all"});
        run({"commit", "--quiet", "--allow-empty", "-m", message});
        return run({"rev-parse", "HEAD"});
    }

    // commit(), then main pushed to origin; returns the new commit's SHA.
    std::string commit_and_push(const std::string& message) const {
        std::string sha = commit(message);
        run({"push", "--quiet", "origin", "main"});
        return sha;
    }

private:
    std::string m_path;
};

// A work tree at dir/clone whose origin is a bare repository at dir/remote.git, as a CI job checks
// out; nothing committed yet.
inline std::unique_ptr<GitRepo> clone_with_origin(const std::string& dir) {
    git(dir, {"init", "--quiet", "--bare", "--initial-branch=main", dir + "/remote.git"});
    auto clone = std::make_unique<GitRepo>(dir + "/clone");
    clone->run({"remote", "add", "origin", dir + "/remote.git"});
    return clone;
}

}  // namespace minicd::testing
