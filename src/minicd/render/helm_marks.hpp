#pragma once

#include <string_view>
#include <vector>

#include "minicd/model/object.hpp"
#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

// What a Helm chart asks of its installer through annotations, said in minicd's own terms.
namespace minicd::render {

inline constexpr std::string_view k_helm_hook_annotation = "helm.sh/hook";
inline constexpr std::string_view k_helm_resource_policy_annotation = "helm.sh/resource-policy";

// Whether a deploy installs the app (no release of the environment was ever verified healthy) or
// upgrades it: Helm's install hooks run on the first, its upgrade hooks on the second.
enum class DeployEvent { install, upgrade };

// For the objects of a chart: a hook on pre-install and/or pre-upgrade runs in the pre phase, one on
// post-install and/or post-upgrade in the post phase (the phase annotation is set accordingly); any
// other hook (delete, rollback, test) and a hook naming both a pre and a post event are input errors
// naming the manifest, as is a phase annotation that disagrees with the hook. `helm.sh/resource-policy:
// keep` becomes `minicd.io/prune: disabled`, so what Helm would keep is never pruned either.
Result<void> translate_helm_marks(std::vector<source::Manifest>& manifests);

// False for a hook object whose events leave out `event` (a pre-install hook on an upgrade); true
// for every other object.
bool runs_on(const model::Json& object, DeployEvent event);

}  // namespace minicd::render
