#include "minicd/source/branches.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "minicd/source/git.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/subprocess.hpp"
#include "minicd/util/text.hpp"

namespace minicd::source {

namespace {

constexpr std::string_view k_heads = "refs/heads/";
constexpr std::string_view k_default_user = "x-access-token";
constexpr std::size_t k_stderr_lines = 3;

// Remote names cannot hold ':' (refnames forbid it), so anything with one, or a path, is a URL.
bool is_url(std::string_view remote) {
    return remote.find(':') != std::string_view::npos || remote.starts_with('/') || remote.starts_with('.');
}

bool is_http_url(std::string_view url) { return url.starts_with("https://") || url.starts_with("http://"); }

// "https://host:port/" of an http(s) URL, without user information.
std::string url_origin(std::string_view url) {
    const std::size_t scheme_end = url.find("://") + 3;
    std::string_view authority = url.substr(scheme_end, url.find('/', scheme_end) - scheme_end);
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    return fmt::format("{}{}/", url.substr(0, scheme_end), authority);
}

std::vector<std::string> git_argv(const std::string& repository, std::vector<std::string> args) {
    std::vector<std::string> argv = {"git"};
    if (!repository.empty()) argv.insert(argv.end(), {"-C", repository});
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

// The last lines of git's stderr, with anything secret masked.
std::string stderr_tail(const util::SubprocessResult& result, const std::vector<std::string>& secrets) {
    std::string text = mask_url_credentials(util::trim(result.err));
    for (const std::string& secret : secrets) {
        if (secret.empty()) continue;
        for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
            text.replace(at, secret.size(), "***");
        }
    }
    std::size_t start = text.size();
    for (std::size_t lines = 0; lines < k_stderr_lines && start > 0; ++lines) {
        const std::size_t newline = text.rfind('\n', start - 1);
        start = newline == std::string::npos ? 0 : newline;
    }
    return util::trim(text.substr(start));
}

Result<util::SubprocessResult> run_git(const std::string& repository, std::vector<std::string> args,
                                       std::map<std::string, std::string> env, std::chrono::seconds timeout,
                                       const std::string& subject, const std::vector<std::string>& secrets) {
    // No prompt can be answered in CI: fail instead of waiting for the timeout.
    env.emplace("GIT_TERMINAL_PROMPT", "0");
    env.emplace("GCM_INTERACTIVE", "never");
    auto result = util::run_subprocess({.inherit = util::Inherit::git, .argv = git_argv(repository, std::move(args)), .env = std::move(env), .timeout = timeout});
    if (!result) return fail(result.error().context("listing branches"));
    if (!result->succeeded()) {
        const std::string tail = stderr_tail(*result, secrets);
        return fail(util::ErrorCode::subprocess,
                    fmt::format("git {}{}{}", result->outcome(), tail.empty() ? "" : ": ", tail), subject);
    }
    return result;
}

int config_count_in_environment() {
    const char* value = std::getenv("GIT_CONFIG_COUNT");
    if (value == nullptr) return 0;
    const int count = std::atoi(value);
    return count > 0 ? count : 0;
}

}  // namespace

Result<std::vector<std::string>> parse_ls_remote_heads(std::string_view output) {
    std::vector<std::string> branches;
    std::size_t position = 0;
    while (position < output.size()) {
        std::size_t end = output.find('\n', position);
        if (end == std::string_view::npos) end = output.size();
        const std::string line = util::trim(output.substr(position, end - position));
        position = end + 1;
        if (line.empty()) continue;
        const std::size_t tab = line.find('\t');
        const std::string_view ref = tab == std::string::npos ? std::string_view() : std::string_view(line).substr(tab + 1);
        if (!ref.starts_with(k_heads) || ref.size() == k_heads.size()) {
            return fail(util::ErrorCode::input, fmt::format("unexpected line in git ls-remote output: \"{}\"", line));
        }
        branches.emplace_back(ref.substr(k_heads.size()));
    }
    std::sort(branches.begin(), branches.end());
    branches.erase(std::unique(branches.begin(), branches.end()), branches.end());
    return branches;
}

std::map<std::string, std::string> git_auth_environment(std::string_view url, std::string_view credentials,
                                                        int existing_count) {
    if (!is_http_url(url)) return {};
    const std::string key = fmt::format("http.{}.extraHeader", url_origin(url));
    const std::string header = "Authorization: Basic " + util::base64_encode(credentials);
    // An empty value first: git then drops the headers configured for this URL before ours.
    return {{"GIT_CONFIG_COUNT", std::to_string(existing_count + 2)},
            {fmt::format("GIT_CONFIG_KEY_{}", existing_count), key},
            {fmt::format("GIT_CONFIG_VALUE_{}", existing_count), ""},
            {fmt::format("GIT_CONFIG_KEY_{}", existing_count + 1), key},
            {fmt::format("GIT_CONFIG_VALUE_{}", existing_count + 1), header}};
}

std::string mask_url_credentials(std::string_view text) {
    std::string result(text);
    for (std::size_t scheme = result.find("://"); scheme != std::string::npos; scheme = result.find("://", scheme + 3)) {
        const std::size_t start = scheme + 3;
        const std::size_t end = result.find_first_of("/ \t\r\n'\"", start);
        const std::size_t at = result.rfind('@', end == std::string::npos ? result.size() : end);
        if (at == std::string::npos || at < start) continue;
        result.replace(start, at - start, "***");
    }
    return result;
}

Result<std::vector<std::string>> list_remote_branches(const RemoteBranchQuery& query) {
    const std::string subject = fmt::format("git ls-remote {}", mask_url_credentials(query.remote));
    std::map<std::string, std::string> env;
    std::vector<std::string> secrets;
    if (!query.token_env.empty()) {
        std::string url = query.remote;
        if (!is_url(url)) {
            // The header is scoped to the remote's host, so its URL is needed.
            auto found = run_git(query.repository, {"remote", "get-url", query.remote}, {}, query.timeout, subject, {});
            if (!found) return fail(found.error());
            url = util::trim(found->out);
        }
        if (is_http_url(url)) {
            const char* token = std::getenv(query.token_env.c_str());
            if (token == nullptr || *token == '\0') {
                return fail(util::ErrorCode::input,
                            fmt::format("gc.tokenEnv names {}, which is not set or empty", query.token_env), subject);
            }
            const std::string value = token;
            const std::string credentials = value.find(':') != std::string::npos ? value : fmt::format("{}:{}", k_default_user, value);
            env = git_auth_environment(url, credentials, config_count_in_environment());
            secrets = {value, util::base64_encode(credentials)};
        }
    }
    auto result = run_git(query.repository, {"ls-remote", "--heads", "--", query.remote}, std::move(env), query.timeout,
                          subject, secrets);
    if (!result) return fail(result.error());
    auto branches = parse_ls_remote_heads(result->out);
    if (!branches) return fail(util::ErrorCode::subprocess, branches.error().message, subject);
    if (branches->empty()) {
        return fail(util::ErrorCode::input, "the remote lists no branches; a repository has at least its default branch",
                    subject);
    }
    return branches;
}

Result<std::vector<std::string>> list_tracking_branches(const std::string& repository, std::string_view remote) {
    auto opened = Repository::open(repository.empty() ? std::string(".") : repository);
    if (!opened) return fail(opened.error());
    // A clone that fetched only its own branch would make every other preview look orphaned.
    auto complete = opened->tracks_every_branch(remote);
    if (!complete) return fail(complete.error());
    if (!*complete) {
        return fail(util::ErrorCode::input,
                    fmt::format("the clone is shallow or fetches single branches of {0}, so refs/remotes/{0}/* cannot "
                                "list every branch: use gc.branches: remote (git ls-remote), or make a full clone "
                                "(actions/checkout: fetch-depth: 0) and fetch with git fetch --prune {0} "
                                "'+refs/heads/*:refs/remotes/{0}/*'",
                                remote),
                    opened->path());
    }
    auto branches = opened->remote_branches(remote);
    if (!branches) return fail(branches.error());
    if (branches->empty()) {
        return fail(util::ErrorCode::input,
                    fmt::format("no refs/remotes/{}/* in the clone: fetch the remote's branches first (git fetch "
                                "--prune {} '+refs/heads/*:refs/remotes/{}/*')",
                                remote, remote, remote),
                    opened->path());
    }
    return branches;
}

}  // namespace minicd::source
