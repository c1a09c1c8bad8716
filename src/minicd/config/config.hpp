#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/model/canary.hpp"
#include "minicd/source/ci_event.hpp"
#include "minicd/util/result.hpp"

// minicd.yaml, typed. Values are taken as written: ${VAR} and $VAR are not expanded anywhere
// (secrets are named by environment variable, as gc.tokenEnv does, and read where they are used).
namespace minicd::config {

// The branch or tag names an environment deploys, from `on: {branch: ..., tag: ...}`.
// Each pattern is a name where `*` stands for any run of characters (`/` included); a leading
// `!` excludes. A name is selected when it matches a plain pattern (or there are only exclusions)
// and no exclusion: ["!main"] is every branch but main, ["release/*", "!release/old"] ...
struct RefPatterns {
    std::vector<std::string> patterns;  // as written; empty: selects nothing

    bool empty() const { return patterns.empty(); }
    bool matches(std::string_view name) const;
};

// `*` as in RefPatterns, the rest literal.
bool glob_matches(std::string_view pattern, std::string_view name);

struct Trigger {
    RefPatterns branch;
    RefPatterns tag;
};

// Which cluster an environment deploys to, and what it must look like (guards refuse otherwise).
struct ClusterPin {
    std::string context;     // kubeconfig context (required)
    std::string server;      // API server URL the context must point at; "" when not pinned
    std::string uid;         // UID of the cluster's kube-system namespace; "" when not pinned
    std::string kubeconfig;  // kubeconfig file; "" for $KUBECONFIG or ~/.kube/config

    bool pinned() const { return !server.empty() || !uid.empty(); }
};

// cert-manager issuer for the preview host's certificate: exactly one of the two issuers is set.
struct Tls {
    std::string cluster_issuer;
    std::string issuer;
    std::string secret_name;  // "" lets the renderer derive one from the host
};

// Where the branch list for preview garbage collection comes from.
enum class BranchSource {
    remote,  // `git ls-remote --heads` of `remote` (a remote name or URL), https token from tokenEnv
    refs,    // refs/remotes/<remote>/* of the clone, as the last fetch left them
};

struct PreviewGc {
    bool enabled = true;
    int max_deletions = 5;  // previews deleted per run at most, so a bad branch list cannot wipe them all
    BranchSource branches = BranchSource::remote;
    std::string remote = "origin";
    std::string token_env;  // NAME of the environment variable holding an https token; "" for none
};

// What a deploy does when its rollout fails health after writing (or a write fails).
enum class OnFailure {
    rollback,  // re-apply the newest release verified healthy, once, and wait for it
    keep,      // leave the cluster as the failed rollout left it, to debug it there
};

// What a scheduled `minicd ci` does about live drift in a fixed environment.
enum class DriftAction {
    report,  // name the drifted objects and exit 3; the cluster is left as it is
    fix,     // re-apply the last release's version of the drifted objects
};

// A Helm chart rendered with `helm template`, release name = the app, namespace = the environment's.
struct HelmChart {
    std::string chart;  // a chart directory or .tgz relative to minicd.yaml, or an oci:// reference
    std::vector<std::string> values;  // values files relative to minicd.yaml, in order (helm -f)
    // Applied after the values files, in key order, as helm --set reads them ("image.tag", "a[0].b").
    std::map<std::string, std::string> set;
    std::string version;  // oci:// charts only: the chart version (helm --version); "" takes the newest
};

// What an environment deploys: a path (plain YAML directory or file, or a kustomize directory,
// relative to minicd.yaml) or a Helm chart.
struct ManifestSource {
    std::string path;               // "" when `helm` is set
    std::optional<HelmChart> helm;  // `manifests: {helm: {...}}`
};

struct Environment {
    std::string name;
    ClusterPin cluster;
    std::optional<Trigger> on;  // none: deployed only when asked by name (or promoted to)
    std::string namespace_;     // template: {branch} {app} {env}
    std::string host;           // template; "" when the environment has no host
    std::optional<Tls> tls;
    std::chrono::seconds ttl{0};  // previews idle this long are removed; 0: never
    std::string promote_from;     // environment whose image digests are promoted; "" builds instead
    bool prune = true;            // delete objects this environment applied before and no longer declares
    std::chrono::seconds timeout{300};  // how long to wait for health
    bool wait_for_addresses = false;    // health waits for Ingress / LoadBalancer addresses too
    bool adopt = false;                 // take over objects another owner holds; off, so nothing is taken over silently
    int history = 10;                   // releases kept, each with the objects it applied
    std::optional<OnFailure> on_failure;  // none: rollback for fixed environments, keep for previews
    DriftAction drift = DriftAction::report;  // fixed environments only: previews are not checked
    std::optional<ManifestSource> manifests;  // this environment's own (an overlay, a chart); none uses Config's
    PreviewGc gc;                       // used by environments whose namespace has {branch}
    // `strategy.canary`. None: every deploy applies the release at once; always none for previews
    // ({branch} in namespace), which deploy at once whatever the file says (the reader warns).
    std::optional<model::CanaryStrategy> canary;

    // One namespace per branch ("{branch}" in the namespace template).
    bool per_branch() const;
    // on_failure, or the default above.
    OnFailure failure_policy() const;
};

struct Image {
    std::string name;                   // the image name used in the manifests (required)
    std::string context = ".";          // build context, relative to minicd.yaml's directory
    std::string dockerfile = "Dockerfile";  // relative to the context
    std::map<std::string, std::string> build_args;
    std::string target;  // "" builds the last stage
};

// Where images live in custom resources, for image pinning (syntax: see render/images.hpp).
struct ImagePath {
    std::string kind;   // "CronTab"
    std::string group;  // API group; "" matches the kind in any group
    std::string path;   // "spec.runtime.image"
};

struct Build {
    std::string builder;  // buildah, docker, podman or kaniko; "" picks the first found on PATH
    int tag_length = 7;   // characters of the commit SHA in image tags
    bool allow_dirty = false;
};

struct Config {
    std::string app;       // DNS label naming the application (required)
    std::string registry;  // repository prefix shared by every environment, e.g. "ghcr.io/acme" (required)
    std::vector<Image> images;
    ManifestSource manifests{.path = "k8s", .helm = std::nullopt};
    Build build;
    bool allow_tag_overwrite = false;  // pushing a tag that already names another digest is refused
    std::string main_branch = "main";  // a release tag is promoted only when its commit is on this branch
    std::vector<ImagePath> image_paths;
    std::vector<Environment> environments;  // in file order

    const Environment* find(std::string_view name) const;
    // What `environment` deploys: its own manifests, else these.
    const ManifestSource& manifests_for(const Environment& environment) const {
        return environment.manifests ? *environment.manifests : manifests;
    }
};

// The environment called `name`; otherwise an input error, about `file`, listing the ones there are.
Result<const Environment*> find_environment(const Config& config, std::string_view name, const std::string& file);

// The environments an event concerns, in file order: for a branch push those whose
// `on.branch` matches, for a tag push those whose `on.tag` matches, for a branch deletion the
// per-branch environments whose `on.branch` matches (to tear down). Nothing for other events.
std::vector<const Environment*> match(const Config& config, const source::Event& event);

}  // namespace minicd::config
