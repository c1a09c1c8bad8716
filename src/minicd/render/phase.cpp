#include "minicd/render/phase.hpp"

#include <fmt/format.h>

#include "minicd/model/json_read.hpp"

namespace minicd::render {

using util::ErrorCode;

namespace {

// A Job's name becomes the value of its pods' job-name label, so it is held to a label's length.
constexpr std::size_t k_max_job_name = 63;

}  // namespace

Result<model::Phase> phase_of(const model::Json& object) {
    const model::Json* annotations = model::object_at(object, {"metadata", "annotations"});
    if (annotations == nullptr) return model::Phase::main;
    auto found = annotations->find(std::string(k_phase_annotation));
    if (found == annotations->end()) return model::Phase::main;
    if (found->is_string() && *found == "pre") return model::Phase::pre;
    if (found->is_string() && *found == "post") return model::Phase::post;
    return fail(ErrorCode::input, fmt::format("metadata.annotations.{}: {} is not a phase (use \"pre\" or \"post\", or "
                                              "leave the annotation out)",
                                              k_phase_annotation, found->dump()));
}

bool runs_per_release(const Desired& desired) {
    return desired.phase != model::Phase::main && is_job(desired.id);
}

Result<void> name_for_release(Desired& desired, int revision) {
    model::Json body = desired.object.body();
    const std::string name = fmt::format("{}-{}", desired.id.name, revision);
    if (name.size() > k_max_job_name) {
        return fail(ErrorCode::input,
                    fmt::format("{} runs in the {} phase as \"{}\", longer than the {} characters a Job name may have "
                                "(shorten metadata.name)",
                                desired.id.describe(), model::to_string(desired.phase), name, k_max_job_name),
                    desired.origin);
    }
    body["metadata"]["name"] = name;
    body["metadata"]["annotations"][std::string(k_hash_annotation)] = desired_hash(body);
    desired.id.name = name;
    desired.object = model::Object(std::move(body));
    return {};
}

}  // namespace minicd::render
