#pragma once

#include <string_view>
#include <vector>

#include "minicd/render/ownership.hpp"

namespace minicd::deploy {

// Objects that others depend on to even be accepted: applied (and waited for) before the rest.
bool is_foundation(std::string_view kind);

// Position of a kind in apply order: Namespaces and CRDs, then what pods need (accounts, RBAC,
// config, storage), services, workloads, then what points at workloads; custom resources after
// the built-ins, webhooks last so they cannot block the objects they guard. Deletions run reverse.
int kind_rank(std::string_view kind);

// Stable apply order: by kind rank, then kind, namespace, name.
void sort_for_apply(std::vector<render::Desired>& objects);
void sort_for_apply(std::vector<model::ObjectId>& ids);

// Reverse of the apply order, for deletions.
void sort_for_delete(std::vector<model::ObjectId>& ids);

}  // namespace minicd::deploy
