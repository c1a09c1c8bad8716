#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/build/builder.hpp"
#include "minicd/config/config.hpp"
#include "minicd/deploy/deploy.hpp"
#include "minicd/deploy/drift.hpp"
#include "minicd/deploy/store.hpp"
#include "minicd/pipeline/plan.hpp"
#include "minicd/render/render.hpp"
#include "minicd/util/result.hpp"

// Runs a Plan: guard every cluster involved, build and push, check and promote, deploy, collect
// previews, check for drift. This is the body of `minicd ci`; the CLI only detects the event and prints.
namespace minicd::pipeline {

// Builder settings the command line adds to minicd.yaml's `build:`.
struct BuildSettings {
    std::string builder;                    // overrides build.builder; "" = minicd.yaml's, else the first found
    std::vector<std::string> builder_args;  // placed after the builder program (buildah --root ...)
    std::vector<std::string> insecure_registries;  // host:port reached over plain HTTP
    std::string auth_file;    // docker config.json for the builder; "" = its default
    std::string cert_dir;     // registry CA directory for buildah and podman
    std::string registry_ca;  // PEM bundle minicd trusts for registries
};

struct CiOptions {
    std::string config_dir;      // minicd.yaml's directory: image contexts and manifests are relative to it
    std::string repository_dir;  // the Git checkout (for reachability and preview gc); "" = config_dir
    std::string main_branch = "main";  // a promoted tag must be on it
    std::string remote = "origin";     // refs/remotes/<remote>/<main branch> is preferred to refs/heads/<main branch>
    bool force = false;   // go on when a promotion check fails...
    std::string reason;   // ...recording this in the release (required with force)
    std::string kubeconfig;  // replaces every environment's cluster.kubeconfig when set
    std::string discovery_cache;  // "" = no disk cache
    BuildSettings build;
    std::function<void(const std::string&)> progress;  // human progress lines; may be empty
};

enum class StepStatus { done, failed, warning, skipped };
std::string_view to_string(StepStatus status);

struct StepReport {
    Step step;
    StepStatus status = StepStatus::skipped;
    std::string detail;  // what came of it, one line (or why it failed)
    std::chrono::milliseconds elapsed{0};
};

// Where an environment stands after the run (deployed ones only).
struct EnvironmentReport {
    std::string environment;
    std::string namespace_;
    std::string url;                            // "" when the environment has no host
    std::map<std::string, std::string> images;  // image name -> pinned reference
    int revision = 0;                           // release recorded; 0 when none was
    bool succeeded = false;
};

// What a drift step found in one fixed environment, and what putting it back did.
struct DriftCheck {
    std::string environment;
    render::Target target;
    deploy::DriftReport report;
    std::optional<deploy::DeployResult> fixed;  // set when the environment says `drift: fix` and something drifted
};

struct CiReport {
    std::vector<StepReport> steps;  // every planned step, in order; those after a failure are skipped
    std::vector<EnvironmentReport> environments;
    std::vector<DriftCheck> drift;  // drift steps that compared, in order
    std::optional<util::Error> error;  // the failure that stopped the run; none when it succeeded
    bool succeeded() const { return !error.has_value(); }
    // Environments whose live drift was reported and left as it is (`drift: report`): exit 3.
    int drifted_environments() const;
};

// One build request per image of minicd.yaml, pushed as <registry>/<image>:<tag>; contexts are
// relative to `config_dir` (minicd.yaml's directory), Dockerfiles to their context.
std::vector<build::BuildRequest> build_requests(const config::Config& config, const std::string& config_dir,
                                                const std::string& tag);

// The images a release recorded (image name -> "reference@sha256:..."), as pins: rendering with them
// names the very digests that release ran.
Result<std::vector<render::ImagePin>> release_pins(const std::map<std::string, std::string>& images);

// The namespace an environment deploys to: its template filled in, with `branch` for a per-branch one.
Result<std::string> environment_namespace(const config::Config& config, const config::Environment& environment,
                                          std::string_view branch);

// The cluster's version when `manifests` is a chart (rendered for it, as helm install would), else "".
Result<std::string> chart_kube_version(kube::Client& client, const config::ManifestSource& manifests);

// What an environment's deploy renders, besides minicd.yaml.
struct EnvironmentSource {
    std::string config_dir;  // minicd.yaml's directory: manifest paths are relative to it
    std::string branch;      // a per-branch environment's branch (its preview host); "" otherwise
    std::vector<render::ImagePin> pins;  // pinned by digest wherever a manifest names them
    std::vector<std::string> declared;   // image names a manifest may not use unpinned (render::ImagePinning)
    std::string kube_version;  // the cluster's version, which a chart is rendered for; "" leaves helm's default
};

// The environment's manifests (its own overlay or chart, else minicd.yaml's; a chart is rendered by
// `helm template` with the app as release name, into the environment's namespace), images pinned, the custom
// image paths of minicd.yaml, and, for a per-branch environment with a host, the preview's routing:
// what `minicd ci` deploys there. Reads files (and may run kustomize or helm); no cluster.
Result<render::Rendered> render_environment(const config::Config& config, const config::Environment& environment,
                                            const EnvironmentSource& source);

// One line for the step summary: "no drift", "2 objects drifted (deploy/web modified, svc/web
// deleted)"; at most five objects are named.
std::string drift_summary(const deploy::DriftReport& report);

// What the promotion checks found. `problems` is empty when promotion may go ahead.
struct PromotionCheck {
    std::vector<std::string> problems;       // each names the condition that failed
    std::optional<deploy::Release> release;  // the healthy release of promoteFrom the images come from
};

// The message a refused promotion gives: every failed condition, and how to override.
std::string refusal_message(std::string_view environment, const PromotionCheck& check);

// Runs the plan's steps in order, stopping at the first failure (gc problems are warnings, and so
// is drift an environment only reports). Every environment's cluster (and each promoteFrom's)
// passes the identity guard before anything is written anywhere, the registry included; a cluster
// the run only collects previews in is skipped (its gc step is a warning) when it fails the guard,
// so a job without access to it still deploys. `git` says which commit is being delivered.
CiReport run_ci(const config::Config& config, const Plan& plan, const GitFacts& git, const CiOptions& options);

}  // namespace minicd::pipeline
