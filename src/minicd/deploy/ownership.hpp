#pragma once

#include <string>

#include "minicd/model/object.hpp"
#include "minicd/render/ownership.hpp"

namespace minicd::deploy {

// Who a live object belongs to, as its own marks say. minicd writes to an object only when it is
// ours or nobody's, or when the user adopts it by name; it deletes only what is ours.
enum class Owner {
    nobody,      // no owner mark of minicd or of a known tool: may be adopted
    us,          // annotated minicd.io/owner=<our app>/<our env>
    other_app,   // minicd, but another app/env
    other_tool,  // Helm, Argo CD or Flux marks
};

struct Ownership {
    Owner owner = Owner::nobody;
    std::string who;  // for people: "minicd app shop/staging", "Helm release web (ns shop)"; "" for nobody and us
};

// Reads the owner marks of a live object (a full object or its PartialObjectMetadata).
// Only minicd's owner annotation makes an object ours; without it, minicd's app/env labels naming
// another app/env make it theirs (ours alone are adopted, since labels are easy to copy), then the marks
// Helm (meta.helm.sh/release-name, managed-by=Helm), Argo CD (argocd.argoproj.io/tracking-id,
// argocd.argoproj.io/instance) and Flux (kustomize.toolkit.fluxcd.io/name,
// helm.toolkit.fluxcd.io/name) leave.
Ownership owner_of(const model::Json& live, const render::Target& target);

// A string annotation of an object; "" when absent or not a string.
std::string annotation_of(const model::Json& object, std::string_view key);
// A string label of an object; "" when absent or not a string.
std::string label_of(const model::Json& object, std::string_view key);

}  // namespace minicd::deploy
