#include "minicd/util/child_env.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <set>

namespace minicd::util {

namespace {

// A variable name, or a family of them when it ends in '*'.
bool matches(std::string_view pattern, std::string_view name) {
    if (!pattern.empty() && pattern.back() == '*') return name.starts_with(pattern.substr(0, pattern.size() - 1));
    return name == pattern;
}

template <std::size_t N>
bool any_matches(const std::array<std::string_view, N>& patterns, std::string_view name) {
    return std::any_of(patterns.begin(), patterns.end(), [name](std::string_view pattern) { return matches(pattern, name); });
}

constexpr auto k_common = std::to_array<std::string_view>({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "TZ", "LANG", "LANGUAGE", "LC_*", "XDG_*",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "http_proxy", "https_proxy", "no_proxy", "all_proxy",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "TERM",
});
constexpr auto k_git = std::to_array<std::string_view>({"GIT_*", "SSH_AUTH_SOCK", "SSH_AGENT_PID"});
constexpr auto k_renderer = std::to_array<std::string_view>({"KUSTOMIZE_*", "KUBECTL_*", "HELM_*"});
constexpr auto k_builder = std::to_array<std::string_view>({
    "BUILDAH_*", "CONTAINERS_*", "STORAGE_DRIVER", "STORAGE_OPTS", "REGISTRY_AUTH_FILE", "DOCKER_HOST",
    "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_BUILDKIT", "BUILDKIT_*",
    "_BUILDAH_STARTED_IN_USERNS", "_CONTAINERS_*", "DOCKER_CONFIG",
});
// The CI's job tokens: no child minicd runs needs them unless the user passes one on by name.
constexpr auto k_job_tokens = std::to_array<std::string_view>({
    "GITHUB_TOKEN", "CI_JOB_TOKEN", "CI_REGISTRY_PASSWORD", "CI_DEPLOY_PASSWORD",
    "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
});

struct Withheld {
    std::mutex mutex;
    std::set<std::string, std::less<>> names;
};

Withheld& withheld() {
    static Withheld instance;
    return instance;
}

bool kind_reads(Inherit inherit, std::string_view name) {
    switch (inherit) {
        case Inherit::common: return false;
        case Inherit::git: return any_matches(k_git, name);
        case Inherit::renderer: return any_matches(k_git, name) || any_matches(k_renderer, name);
        case Inherit::builder: return any_matches(k_builder, name);
        case Inherit::platform:
        case Inherit::everything: return true;
    }
    return false;
}

}  // namespace

void withhold_from_children(std::string name) {
    if (name.empty()) return;
    std::lock_guard lock(withheld().mutex);
    withheld().names.insert(std::move(name));
}

bool withheld_from_children(std::string_view name) {
    if (name.starts_with("MINICD_")) return true;
    std::lock_guard lock(withheld().mutex);
    return withheld().names.contains(name);
}

bool child_inherits(Inherit inherit, std::string_view name, const std::vector<std::string>& kept) {
    if (inherit == Inherit::everything) return true;
    if (withheld_from_children(name)) return false;
    if (std::find(kept.begin(), kept.end(), name) != kept.end()) return true;
    if (any_matches(k_job_tokens, name)) return false;
    return any_matches(k_common, name) || kind_reads(inherit, name);
}

}  // namespace minicd::util
