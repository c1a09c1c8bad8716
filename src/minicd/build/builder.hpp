#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/registry/credentials.hpp"
#include "minicd/util/result.hpp"
#include "minicd/util/subprocess.hpp"

namespace minicd::build {

// The image builders minicd drives, in the order detection prefers them.
enum class BuilderKind { buildah, docker, podman, kaniko };

std::string_view to_string(BuilderKind kind);
// "buildah", "docker", "podman" or "kaniko"; an input error naming the choices otherwise.
Result<BuilderKind> parse_builder_kind(std::string_view name);

// How to run the builder: which program, and the registry settings it needs. Credentials are
// never put on a command line: they reach the builder through its own auth file.
struct BuilderConfig {
    BuilderKind kind = BuilderKind::buildah;
    std::string program;  // the executable (name looked up in PATH, or a path); "" = the kind's usual one
    // Arguments placed right after the program on every call, e.g. buildah's storage options
    // ("--root", dir, "--runroot", dir, "--storage-driver", "vfs").
    std::vector<std::string> global_args;
    // Added to the builder's environment, e.g. CONTAINERS_REGISTRIES_CONF, BUILDAH_ISOLATION.
    std::map<std::string, std::string> env;
    // host[:port] of registries reached over plain HTTP or without TLS verification. buildah and
    // podman push to them with --tls-verify=false, kaniko with --insecure-registry; docker takes
    // this from its daemon's configuration (loopback registries are insecure there by default).
    std::vector<std::string> insecure_registries;
    // A docker-style config.json holding registry credentials: --authfile for buildah and podman,
    // DOCKER_CONFIG for docker and kaniko. "" = the builder's own default location.
    std::string auth_file;
    // Used when auth_file is "": credentials for the registry pushed to (as registry::find_credentials
    // found them), written to a private auth file for the builder, so the builder pushes as the same
    // account minicd reads digests with.
    std::optional<registry::Credentials> credentials;
    // Directory of *.crt CA files for registries (--cert-dir, buildah and podman only; docker and
    // kaniko read their own certificate directories).
    std::string cert_dir;
    std::chrono::seconds timeout{1800};  // per builder call
};

// One image to build and, when `push` is set, push.
struct BuildRequest {
    std::string image_name;  // the name manifests use for it ("shop")
    std::string repository;  // where it goes, without tag: "127.0.0.1:5000/apps/shop"
    std::string tag;         // "abc1234"
    std::vector<std::string> extra_tags;  // pushed too, e.g. "latest"
    std::string context_dir;
    std::string dockerfile;               // "" = <context_dir>/Dockerfile
    // "KEY=VALUE", or "KEY" alone to let the builder take the value from its environment (so a
    // secret-ish value stays off the command line).
    std::vector<std::string> build_args;
    std::string target;  // multi-stage target; "" = the last stage
    bool push = true;
};

// One call of the builder.
struct Invocation {
    std::string what;  // "build 127.0.0.1:5000/apps/shop:abc1234", for messages
    util::SubprocessSpec spec;
    std::vector<std::string> pushes;  // references this call pushes; empty for a build-only call
    // Where the builder writes the digest of what it pushed; "" when it prints it (docker push).
    std::string digest_file;
};

struct BuildPlan {
    std::vector<Invocation> invocations;
    // Docker and kaniko read credentials from <DOCKER_CONFIG>/config.json: when the auth file has
    // another name, a symlink by that name (first) to it (second) is made in the scratch directory.
    std::optional<std::pair<std::string, std::string>> docker_config_link;
    // Where BuilderConfig::credentials must be written (auth_file_text, mode 0600) before the
    // builder runs; "" when there are none to write.
    std::string auth_file_to_write;
};

// The references an image is built as: repository:tag first, then each extra tag.
std::vector<std::string> image_references(const BuildRequest& request);

// The calls that build (and push) the image, without running anything. `scratch_dir` is a
// private directory for digest files and the like. Input errors for an invalid request
// (repository, tags, build args).
Result<BuildPlan> plan_build(const BuilderConfig& config, const BuildRequest& request, const std::string& scratch_dir);

// A docker-style config.json holding the credentials for one registry: {"auths": {host: ...}}.
// The text holds the secret itself.
std::string auth_file_text(const std::string& registry, const registry::Credentials& credentials);

// The digest docker push printed for a reference ("<tag>: digest: sha256:... size: N"); "" when none.
std::string digest_from_docker_push(std::string_view output);

}  // namespace minicd::build
