#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minicd/model/object.hpp"

namespace minicd::model {

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

// What a deploy did, or in a dry run would do, to one object.
enum class Action {
    created,
    configured,
    unchanged,
    adopted,    // existed without being ours (nobody's, or taken over with --adopt) and is ours now
    recreated,  // deleted and created again after an immutable-field refusal, as allowed
    pruned,
    kept,       // in the previous inventory, no longer declared, not deleted (see detail)
    refused,    // owned by another app, environment or tool: not written (see detail)
    failed,
};

std::string_view to_string(Action action);

// When in a deploy an object is written (the `minicd.io/phase` annotation): a migration Job runs
// before the release, a smoke test after it is healthy.
enum class Phase {
    pre,   // written and waited for before anything else of the release (Namespaces and CRDs aside)
    main,  // the release itself: no annotation
    post,  // written and waited for once the release is healthy
};

std::string_view to_string(Phase phase);

// One object of a change set: its identity, the action and why.
struct Change {
    ObjectId id;
    Action action = Action::unchanged;
    std::string detail;  // why it failed, was kept or refused; "dry run" markers; never object content
    // Dry runs only: the fields that would change on an existing object (Secret values masked;
    // minicd's own bookkeeping annotations left out).
    std::vector<FieldChange> changes;
    Phase phase = Phase::main;  // when it was written; pruned objects are main
};

// What a deploy did, object by object: the plan's decisions as the phases carried them out. It is
// the report: the CLI prints it, the release history and later drift and rollback read it.
using ChangeSet = std::vector<Change>;

}  // namespace minicd::model
