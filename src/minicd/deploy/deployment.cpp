#include "minicd/deploy/deployment.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "minicd/model/json_read.hpp"

namespace minicd::deploy {

using model::Json;
using model::ObjectId;

Stage stage_of(const Item& item) { return is_foundation(item.desired.id.kind) ? Stage::foundations : Stage::objects; }

bool is_crd(const Item& item) { return item.desired.id.kind == "CustomResourceDefinition"; }

CrdNames crd_names(const Json& crd) {
    if (model::object_at(crd, {"spec"}) == nullptr) return {};
    return {.group = model::string_at(crd, {"spec", "group"}),
            .kind = model::string_at(crd, {"spec", "names", "kind"}),
            .namespaced = model::string_at(crd, {"spec", "scope"}) != "Cluster"};
}

void Deployment::say(const std::string& line) const {
    if (options.progress) options.progress(line);
}

void Deployment::say(model::Phase phase, const std::string& line) const {
    say(phase == model::Phase::main ? line : fmt::format("{} phase: {}", model::to_string(phase), line));
}

void Deployment::stop(Outcome outcome, std::string why) {
    if (stopped()) return;
    result.outcome = outcome;
    result.failure = std::move(why);
}

void Deployment::note_unreachable(const util::Error& error) {
    if (error.code == util::ErrorCode::network || error.code == util::ErrorCode::timeout) unreachable.store(true);
}

bool Deployment::check_lock_lost() {
    if (lock == nullptr || lock->still_held()) return false;
    lock_lost = true;
    stop(Outcome::failed, "the deploy lock was taken over by another run while this one could not renew it; "
                          "stopped before writing more");
    return true;
}

void Deployment::mark_failed(const ObjectId& id, const std::string& why) {
    for (auto& item : items) {
        if (item.desired.id == id) item.report = {id, Action::failed, why};
    }
}

void Deployment::note_unwritten(const std::string& why) {
    for (auto& item : items) {
        if (item.to_write && item.report.action == Action::unchanged && item.report.detail.empty()) item.report.detail = why;
    }
}

std::vector<ObjectId> Deployment::declared_ids() const {
    std::vector<ObjectId> ids;
    for (const auto& item : items) ids.push_back(item.desired.id);
    ids.insert(ids.end(), held_back.begin(), held_back.end());
    return ids;
}

std::vector<ObjectId> Deployment::dropped_ids() const {
    std::set<ObjectId> declared;
    for (const auto& id : declared_ids()) declared.insert(id);
    std::vector<ObjectId> dropped;
    for (const auto& id : previous) {
        if (!declared.count(id)) dropped.push_back(id);
    }
    return dropped;
}

const Item* Deployment::crd_for(const ObjectId& id) const {
    auto found = std::find_if(items.begin(), items.end(), [&](const Item& item) {
        if (!is_crd(item)) return false;
        const CrdNames names = crd_names(item.desired.object.body());
        return names.group == id.group && names.kind == id.kind;
    });
    return found == items.end() ? nullptr : &*found;
}

bool Deployment::uses_kind_of(const Item& crd) const {
    const CrdNames names = crd_names(crd.desired.object.body());
    return std::any_of(items.begin(), items.end(), [&](const Item& item) {
        return item.desired.id.group == names.group && item.desired.id.kind == names.kind;
    });
}

}  // namespace minicd::deploy
