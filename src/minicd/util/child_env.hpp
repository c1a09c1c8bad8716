#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace minicd::util {

// Which of minicd's environment variables a child process inherits. minicd holds the keys to
// clusters and registries in its environment; each kind of child gets only what that kind of
// program reads, and no child ever gets a withheld variable (see withhold_from_children).
//
// Every kind inherits the common variables: PATH, HOME, USER, LOGNAME, SHELL, TMPDIR, TZ, LANG,
// LANGUAGE, LC_*, XDG_*, TERM, SSL_CERT_FILE, SSL_CERT_DIR and the proxy settings (http_proxy, https_proxy,
// no_proxy, all_proxy, in either case). Beyond them:
enum class Inherit {
    common,  // nothing more: programs minicd runs for a fact about the machine (`docker version`)
    git,     // GIT_* (configuration, ssh command, trace), SSH_AUTH_SOCK, SSH_AGENT_PID
    // kubectl kustomize and helm template: the git set (remote bases are cloned), KUSTOMIZE_*,
    // KUBECTL_*, HELM_*
    renderer,
    // buildah, podman, docker and kaniko: BUILDAH_*, CONTAINERS_*, STORAGE_DRIVER, STORAGE_OPTS,
    // REGISTRY_AUTH_FILE, DOCKER_CONFIG, DOCKER_HOST, DOCKER_CONTEXT, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH,
    // DOCKER_BUILDKIT, BUILDKIT_*, _BUILDAH_STARTED_IN_USERNS, _CONTAINERS_*. The names of bare build arguments
    // (`--build-arg NAME`) are passed by the caller as kept names.
    builder,
    // kubeconfig exec plugins and docker credential helpers: everything but the withheld variables,
    // because they authenticate with the platform's own (AWS_*, GOOGLE_*, AZURE_*, ...), as they do
    // under kubectl and docker.
    platform,
    // The whole environment, withheld variables included: for running minicd itself (its tests and
    // benchmarks do) and tools of the test environment; nothing minicd runs uses it.
    everything,
};

// Withheld from every child: the variables minicd reads secrets from, MINICD_* (the registry
// passwords among them) and those registered here (the token variables minicd.yaml names).
// Thread-safe; names stay withheld for the life of the process.
void withhold_from_children(std::string name);
bool withheld_from_children(std::string_view name);

// Whether a child of this kind inherits the variable. `kept` are names the caller passes on by
// name (a builder's bare build arguments): inherited whatever the kind, unless withheld. The CI's
// job tokens (GITHUB_TOKEN, CI_JOB_TOKEN, CI_REGISTRY_PASSWORD, CI_DEPLOY_PASSWORD,
// ACTIONS_RUNTIME_TOKEN, ACTIONS_ID_TOKEN_REQUEST_TOKEN) reach a child only when kept, whatever its kind.
bool child_inherits(Inherit inherit, std::string_view name, const std::vector<std::string>& kept = {});

}  // namespace minicd::util
