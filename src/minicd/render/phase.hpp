#pragma once

#include "minicd/model/change_set.hpp"
#include "minicd/model/object.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/result.hpp"

namespace minicd::render {

// The deploy phase an object asks for with the phase annotation: none is main, "pre" and "post"
// are theirs; any other value is an input error naming the value and the annotation.
Result<model::Phase> phase_of(const model::Json& object);

// True for a batch/v1 Job (whichever served version names it).
inline bool is_job(const model::ObjectId& id) { return id.group == "batch" && id.kind == "Job"; }

// True for a Job written in the pre or post phase: it runs once per release, under its own name.
bool runs_per_release(const Desired& desired);

// Names a per-release Job after the release: "<name>-<revision>", with its id and hash updated. An
// input error (naming its origin) when the name would be longer than a Job name may be.
Result<void> name_for_release(Desired& desired, int revision);

}  // namespace minicd::render
