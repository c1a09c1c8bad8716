#pragma once

#include <string>
#include <vector>

#include "minicd/model/change_set.hpp"
#include "minicd/model/object.hpp"

namespace minicd::diff {

// One field that differs between two versions of an object (plain data, kept in model/).
using FieldChange = model::FieldChange;

// The object without what the API server owns rather than the author: status, managedFields,
// resourceVersion, generation, uid, creationTimestamp, selfLink.
model::Json without_server_fields(const model::Json& object);

// What changes when `before` becomes `after` (either may be null: creation or deletion), server-owned
// fields ignored, object keys in sorted order and list items in list order, secrets masked.
std::vector<FieldChange> compare(const model::Json& before, const model::Json& after);

// "spec.replicas: 2 -> 3", "metadata.labels.tier: added \"web\"": one line per change, for people.
std::string describe(const FieldChange& change);

}  // namespace minicd::diff
