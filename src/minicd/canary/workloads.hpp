#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "minicd/model/object.hpp"
#include "minicd/render/ownership.hpp"

// The objects of a canary, made from the release's own: pure functions, no I/O.
//
// For a Deployment `web`, the canary is a Deployment `web-canary` running the release's pod
// template with the label minicd.io/track=canary added to its metadata, selector and pods: a
// Service that selects `web`'s pods by their other labels selects the canary's too, while each
// Deployment's ReplicaSets own only their own pods (a pod has one controller), so neither counts
// the other's. ConfigMaps and Secrets that the release changes and the new template references
// get canary copies under names derived from their content, so the stable pods keep their config.
namespace minicd::canary {

using render::k_track_label;  // "canary" on every canary object
inline constexpr std::string_view k_track_canary = "canary";
inline constexpr std::string_view k_canary_of_annotation = "minicd.io/canary-of";  // the stable object's name
// On canary Deployments: the canary's progress and plan, JSON (canary/state.hpp).
inline constexpr std::string_view k_state_annotation = "minicd.io/canary";

// "web-canary".
std::string canary_name(std::string_view workload);

// The ConfigMaps and Secrets a pod template reads: volumes (projected ones included), env and envFrom
// of every container and init container.
struct ConfigRefs {
    std::set<std::string> config_maps;
    std::set<std::string> secrets;
};
ConfigRefs config_refs(const model::Json& pod_template);

// A canary copy of a ConfigMap or Secret as the release declares it: named
// "<name>-canary-<first 10 hex of the sha256 of its content>", labelled as a canary, annotated with
// the original's name; the owner marks stay, the desired-hash and prune annotations go.
model::Json config_copy(const model::Json& config);

// What a canary Deployment is made of: the release's Deployment, the copies its template must
// read instead of the originals (original name -> copy name, per kind) and its replicas.
struct CanaryInput {
    const model::Json& deployment;
    std::map<std::string, std::string> config_map_copies;
    std::map<std::string, std::string> secret_copies;
    int replicas = 1;
};
model::Json canary_deployment(const CanaryInput& input);

// Whether two Deployments (live and as the release would make it) differ in their pod template: only
// then is there something to canary.
bool template_changed(const model::Json& live, const model::Json& planned);

// What a canary Deployment says of its canary (in k_state_annotation): the release it runs and
// where it is. Only progress: what the steps and analysis are comes from the configuration, never
// from the cluster, so an edited annotation cannot point the analysis (and its token) elsewhere.
struct CanaryState {
    int release = 0;  // the release's revision
    int step = 0;     // 0-based index of the step it runs
    int steps = 0;    // how many steps the canary has
    int weight = 0;   // percent of pods of the step

    friend bool operator==(const CanaryState&, const CanaryState&) = default;
};
std::string state_text(const CanaryState& state);
// nullopt unless `text` is what state_text writes, with release >= 1 and 0 <= step < steps.
std::optional<CanaryState> parse_state(std::string_view text);

// The replicas a live Deployment asks for (1 when it says nothing, as the API server defaults it).
int replicas_of(const model::Json& deployment);

}  // namespace minicd::canary
