#pragma once

#include <string_view>

#include "minicd/model/object.hpp"

namespace minicd::deploy {

// True when the live object's managedFields show `manager` (with an Apply operation) owning every
// field `desired` sets. A field someone changed by hand (kubectl edit, another apply) moves to that
// manager, so this is false exactly when our fields may have drifted. When unsure it says false:
// the caller then asks the server (dry-run) instead of skipping the object.
bool owns_all_fields(const model::Json& live, const model::Json& desired, std::string_view manager);

// True when two full objects say the same thing, ignoring status and server-managed metadata
// (managedFields, resourceVersion, generation, uid, creationTimestamp, selfLink).
bool same_state(const model::Json& a, const model::Json& b);

}  // namespace minicd::deploy
