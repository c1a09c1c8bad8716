#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minicd/model/change_set.hpp"
#include "minicd/model/object.hpp"

namespace minicd::deploy {

// True when the live object's managedFields show `manager` (with an Apply operation) owning every
// field `desired` sets. A field someone changed by hand (kubectl edit, another apply) moves to that
// manager, so this is false exactly when our fields may have drifted. When unsure it says false:
// the caller then asks the server (dry-run) instead of skipping the object.
bool owns_all_fields(const model::Json& live, const model::Json& desired, std::string_view manager);

// The field manager that set spec.replicas through the scale subresource (a HorizontalPodAutoscaler's
// controller, `kubectl scale`) and owns it now, when that is not `manager`; "" otherwise. Such replicas
// are theirs: re-asserting the manifest's count would fight the autoscaler on every deploy and rollback.
std::string replicas_scaled_by(const model::Json& live, std::string_view manager);

// The managedFields (FieldsV1) entry for a list item among `fields`, the children of its list:
// "k:{...}" whose key values agree with the item, where keys the item leaves out are assumed
// defaulted (e.g. protocol: TCP on ports); null when there is none.
const model::Json* find_keyed_item(const model::Json& item, const model::Json& fields);

// True when nobody else changed what minicd applied: its apply still owns every field `desired`
// sets (owns_all_fields) and, for a core Secret, the data holds the values `desired` gives
// (stringData is write-only: minicd keeps owning it while a hand edit of data goes unseen there).
bool holds_what_it_applied(const model::ObjectId& id, const model::Json& live, const model::Json& desired,
                           std::string_view manager);

// A core Secret: its stringData is write-only, so managedFields cannot tell whether its data changed.
bool is_secret(const model::ObjectId& id);
// A Secret's data as the API server keeps it: stringData folded into data, base64-encoded.
model::Json secret_data(const model::Json& secret);

// What changes from `before` to `after` for a reader (diff::compare, secrets masked), without the
// hash annotation minicd rewrites on every change: it says nothing a reader can act on.
std::vector<model::FieldChange> visible_changes(const model::Json& before, const model::Json& after);

// True when two full objects say the same thing, ignoring status and server-managed metadata
// (managedFields, resourceVersion, generation, uid, creationTimestamp, selfLink).
bool same_state(const model::Json& a, const model::Json& b);

}  // namespace minicd::deploy
