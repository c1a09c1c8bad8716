// The apply phase: writes what the plan marked, and nothing else.
#include <fmt/format.h>

#include <thread>

#include "minicd/deploy/changes.hpp"
#include "minicd/deploy/deployment.hpp"
#include "minicd/diff/diff.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/parallel.hpp"

namespace minicd::deploy {

using model::Json;
using util::ErrorCode;

namespace {

// What a write of the item did, or in a dry run would do.
Action action_of(const Item& item, long status) {
    if (item.recreate) return Action::recreated;
    if (status == 201 || !item.live) return Action::created;
    return item.adopt ? Action::adopted : Action::configured;
}

class Writer {
public:
    explicit Writer(Deployment& deployment) : m(deployment) {}

    Result<void> run(Stage stage, model::Phase phase) {
        if (m.stopped()) return {};
        std::vector<Item*> writes;
        for (auto& item : m.items) {
            if (stage_of(item) == stage && item.desired.phase == phase && item.to_write) writes.push_back(&item);
        }
        if (m.options.dry_run) {
            for (Item* item : writes) {
                item->report.action = action_of(*item, 0);
                item->report.detail = "dry run";
                if (item->live && item->planned) item->report.changes = visible_changes(*item->live, *item->planned);
            }
            return {};
        }
        if (writes.empty() || m.check_lock_lost()) return {};
        m.say(phase, fmt::format("applying {} object{}", writes.size(), writes.size() == 1 ? "" : "s"));
        write_in_rank_groups(writes);
        m.wrote_foundations = m.wrote_foundations || stage == Stage::foundations;
        for (Item* item : writes) {
            if (item->report.action == Action::failed) m.stop(Outcome::failed, "some objects could not be applied");
        }
        if (m.check_lock_lost()) return {};
        if (stage == Stage::foundations && !m.stopped()) return settle_foundations();
        return {};
    }

private:
    // Kinds are written in order (a Deployment after its ConfigMap), objects of one rank in parallel.
    void write_in_rank_groups(const std::vector<Item*>& writes) {
        std::size_t begin = 0;
        while (begin < writes.size()) {
            int rank = kind_rank(writes[begin]->desired.id.kind);
            std::size_t end = begin;
            while (end < writes.size() && kind_rank(writes[end]->desired.id.kind) == rank) ++end;
            util::parallel_for(end - begin, m.options.concurrency, [&](std::size_t i) { write(*writes[begin + i]); });
            begin = end;
        }
    }

    void write(Item& item) {
        // Once the server is unreachable, every further write would only wait out its own retries.
        if (m.unreachable.load()) {
            item.report = {item.desired.id, Action::failed, "not attempted: the API server became unreachable"};
            return;
        }
        // A lock lost mid-stage stops the writes at once, not at the next stage.
        if (m.lock != nullptr && !m.lock->still_held()) {
            item.report = {item.desired.id, Action::failed, "not attempted: the deploy lock was lost"};
            return;
        }
        if (item.recreate) {
            if (auto removed = delete_and_wait(item); !removed) {
                item.report = {item.desired.id, Action::failed, removed.error().message};
                return;
            }
        }
        auto response = kube::apply(m.client, item.resource.object_path(item.desired.id.namespace_, item.desired.id.name),
                                    item.desired.object.body(), render::k_field_manager, kube::DryRun::no);
        if (!response) {
            m.note_unreachable(response.error());
            item.report = {item.desired.id, Action::failed, response.error().describe()};
            return;
        }
        if (!kube::ok(*response)) {
            item.report = {item.desired.id, Action::failed, kube::api_error(*response).message};
            return;
        }
        item.report.action = action_of(item, response->status);
        item.live = model::parse_json(response->body);
    }

    // Deletes exactly the object the plan judged ours (uid precondition), then waits until it is gone.
    Result<void> delete_and_wait(const Item& item) {
        std::string path = item.resource.object_path(item.desired.id.namespace_, item.desired.id.name);
        const std::string uid = item.live ? model::string_at(*item.live, {"metadata", "uid"}) : std::string();
        if (uid.empty()) return fail(ErrorCode::internal, "no uid to re-create it safely", item.desired.id.describe());
        m.say(fmt::format("re-creating {}", item.desired.id.describe()));
        auto deleted = kube::delete_object(m.client, path, {.uid = uid});
        if (!deleted) return fail(deleted.error());
        if (!kube::ok(*deleted) && deleted->status != 404) return fail(kube::api_error(*deleted));
        // Finalizers may keep it a while; a single object, so a short poll is fine here.
        for (int i = 0; i < 600; ++i) {
            auto current = kube::get(m.client, path, kube::View::metadata);
            if (current && current->status == 404) return {};
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return fail(ErrorCode::timeout, "still being deleted after 60s", item.desired.id.describe());
    }

    // CRDs must be Established before their resources can be used, and discovery must then see
    // them; only CRDs written now whose kinds this deploy uses are waited for.
    Result<void> settle_foundations() {
        std::vector<WaitTarget> crds;
        bool wrote_crd = false;
        for (const auto& item : m.items) {
            if (!is_crd(item) || !item.to_write) continue;
            wrote_crd = true;
            if (m.uses_kind_of(item)) crds.push_back({item.desired.id, item.resource});
        }
        if (wrote_crd) m.discovery.invalidate();
        if (crds.empty()) return {};
        m.say(fmt::format("waiting for {} CRD{} to be established", crds.size(), crds.size() == 1 ? "" : "s"));
        auto established = wait_for_health(m.client, crds, {.timeout = std::chrono::seconds(60), .assess = m.options.assess});
        if (!established) return fail(established.error());
        if (!established->healthy) {
            m.stop(Outcome::failed, "CustomResourceDefinitions did not become established");
            for (const auto& object : established->objects) {
                if (object.health.state != health::State::current) m.mark_failed(object.id, object.health.message);
            }
            return {};
        }
        m.discovery.invalidate();
        return {};
    }

    Deployment& m;
};

}  // namespace

Result<bool> ensure_namespace(Deployment& m) {
    const std::string& name = m.options.target.namespace_;
    auto response = kube::get(m.client, "/api/v1/namespaces/" + kube::path_segment(name), kube::View::metadata);
    if (!response) return fail(response.error());
    if (response->status == 200) return true;
    if (response->status != 404) return fail(kube::api_error(*response, "namespace " + name));
    auto declared = std::find_if(m.items.begin(), m.items.end(), [&](const Item& item) {
        return item.desired.id.kind == "Namespace" && item.desired.id.group.empty() && item.desired.id.name == name;
    });
    if (declared == m.items.end()) {
        return fail(ErrorCode::input,
                    fmt::format("namespace \"{}\" does not exist; create it or add a Namespace manifest for it", name));
    }
    if (m.options.dry_run) return false;
    m.say(fmt::format("creating namespace {}", name));
    auto resolved = m.discovery.resolve("", "v1", "Namespace");
    if (!resolved) return fail(resolved.error());
    Item& item = *declared;
    item.resource = *resolved;
    // Not forced: a namespace someone else created meanwhile is not taken over by this write.
    auto applied = kube::apply(m.client, item.resource.object_path("", name), item.desired.object.body(),
                               render::k_field_manager, kube::DryRun::no, kube::Force::no);
    if (!applied) return fail(applied.error());
    if (!kube::ok(*applied)) return fail(kube::api_error(*applied, item.desired.id.describe()));
    item.report.action = applied->status == 201 ? Action::created : Action::configured;
    item.live = model::parse_json(applied->body);
    return true;
}

Result<void> apply_stage(Deployment& deployment, Stage stage, model::Phase phase) {
    return Writer(deployment).run(stage, phase);
}

}  // namespace minicd::deploy
