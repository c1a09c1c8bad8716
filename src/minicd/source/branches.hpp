#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

// The branch list preview garbage collection compares preview namespaces with. Whichever way it
// is read, a failure or an empty list is an error, never "no branches": a repository always has at
// least its default branch, and an empty list would make every preview look orphaned.
namespace minicd::source {

// How to ask a remote for its branches with `git ls-remote --heads`.
struct RemoteBranchQuery {
    std::string remote = "origin";  // a remote of the clone, or a URL (https://, ssh://, user@host:path, a path)
    std::string repository;         // the clone to run git in; "" for the current directory
    // NAME of an environment variable holding an https token; "" for none. A value "user:token"
    // names the user too (GitLab job tokens want gitlab-ci-token); otherwise the user is
    // x-access-token. The token reaches git through its environment (GIT_CONFIG_*), never argv,
    // and never appears in logs or errors. Unused (and unread) for ssh remotes.
    std::string token_env;
    std::chrono::seconds timeout{60};
};

// Branch names ("main", "feature/x") on the remote, sorted. Errors: git cannot be run, fails or
// times out (the message carries git's last stderr lines, credentials masked), the token variable
// is named but empty, the answer has a line that is not a branch, or the list is empty.
Result<std::vector<std::string>> list_remote_branches(const RemoteBranchQuery& query);

// The clone's remote-tracking branches refs/remotes/<remote>/*, sorted: only as complete as the
// last fetch. CI checkouts usually fetch one branch, so fetch them all first
// (`git fetch --prune origin '+refs/heads/*:refs/remotes/origin/*'`). An empty list is an error.
Result<std::vector<std::string>> list_tracking_branches(const std::string& repository, std::string_view remote);

// Reads `git ls-remote --heads` output ("<sha>\trefs/heads/<name>" lines) into sorted names; any
// other non-empty line is an input error quoting it.
Result<std::vector<std::string>> parse_ls_remote_heads(std::string_view output);

// The variables that make git send "Authorization: Basic base64(credentials)" to `url`'s scheme
// and host only, after clearing headers set for it elsewhere (actions/checkout sets one), as
// GIT_CONFIG_COUNT/KEY_n/VALUE_n entries appended after the `existing_count` already in the
// environment. Empty unless url is http(s).
std::map<std::string, std::string> git_auth_environment(std::string_view url, std::string_view credentials,
                                                        int existing_count = 0);

// The text with the user information of every URL in it ("https://user:secret@host") replaced by "***".
std::string mask_url_credentials(std::string_view text);

}  // namespace minicd::source
