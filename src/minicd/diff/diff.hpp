#pragma once

#include <string>
#include <vector>

#include "minicd/model/object.hpp"

namespace minicd::diff {

// One field that differs between two versions of an object.
struct FieldChange {
    enum class Kind { added, removed, changed };

    Kind kind = Kind::changed;
    // Dotted path; list items with a unique `name` (containers, env, ports, volumes) are addressed
    // by it, others by position: "spec.template.spec.containers[name=web].image", "spec.rules[0].host".
    std::string path;
    // Compact JSON of each side, cut to a readable length; empty for the side that does not exist.
    // Values inside a Secret's data and stringData (and its last-applied annotation) are never
    // shown: they read "(hidden)".
    std::string before;
    std::string after;
};

// The object without what the API server owns rather than the author: status, managedFields,
// resourceVersion, generation, uid, creationTimestamp, selfLink.
model::Json without_server_fields(const model::Json& object);

// What changes when `before` becomes `after` (either may be null: creation or deletion), server-owned
// fields ignored, object keys in sorted order and list items in list order, secrets masked.
std::vector<FieldChange> compare(const model::Json& before, const model::Json& after);

// "spec.replicas: 2 -> 3", "metadata.labels.tier: added \"web\"": one line per change, for people.
std::string describe(const FieldChange& change);

}  // namespace minicd::diff
