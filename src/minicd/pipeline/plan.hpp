#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minicd/config/config.hpp"
#include "minicd/model/object.hpp"
#include "minicd/source/ci_event.hpp"

// What `minicd ci` will do for an event, decided from minicd.yaml alone (no I/O), so
// `minicd ci --explain` can show it and tests can check every flow without a cluster.
namespace minicd::pipeline {

enum class StepKind {
    build,     // build every image of minicd.yaml and push it as <registry>/<image>:<image tag>
    promote,   // check and take the digests promoteFrom ran healthy (re-tagged as the version for a tag)
    deploy,    // render and apply to the environment's namespace, wait, prune, record the release
    gc,        // delete previews whose branch is gone or whose TTL passed
    teardown,  // delete the deleted branch's preview namespace
    drift,     // compare a fixed environment with its last release; put drift back when it says `drift: fix`
};

std::string_view to_string(StepKind kind);

struct Step {
    StepKind kind = StepKind::build;
    std::string environment;  // "" for the build, which every environment of the run shares
    std::string description;  // one line for people: "build and push reg/app:abc1234"
};

// What the checkout says, besides the event.
struct GitFacts {
    std::string sha;        // the commit the event is about
    std::string image_tag;  // tag for built images: the short SHA (with "-dirty" for a dirty tree)
};

struct Plan {
    source::Event event;  // as detected; a pull request is planned as a push of its source branch
    std::vector<std::string> environments;  // environments concerned, in file order
    std::vector<Step> steps;                 // in the order they run
    std::string reason;  // why there is nothing to do, when steps is empty
};

// The steps for an event:
// - branch push (or pull request, as its source branch): one build when any matched environment
//   builds, then per environment: promote (when it has promoteFrom) and deploy, plus gc for a
//   per-branch environment with gc enabled;
// - tag push: the same; an environment with promoteFrom re-tags the promoted digests as the tag;
// - branch deletion: teardown of each matched per-branch environment;
// - after the steps of any of these three: gc of every per-branch environment with gc enabled
//   not collected yet (a CI that cannot run a job on branch deletion still collects previews);
// - scheduled: drift of every fixed environment (whatever its trigger), then gc of every per-branch
//   environment with gc enabled;
// - anything else, or no environment matching: no steps, with the reason.
Plan plan(const config::Config& config, const source::Event& event, const GitFacts& git);

// "<registry>/<image>", where builds of the image are pushed.
std::string image_repository(const config::Config& config, const config::Image& image);

// {"event": {...}, "environments": [...], "steps": [{"kind", "environment", "description"}], "reason"}
model::Json to_json(const Plan& plan);

// The event in one line: "branch push of feature/login at 1a2b3c4 (github: push)".
std::string describe_event(const source::Event& event);

}  // namespace minicd::pipeline
