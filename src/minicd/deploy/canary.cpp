// The canary driver: a deploy whose release first runs next to the stable version, step by step,
// watched, then promoted whole or aborted. It reuses the deploy's phases for everything but the steps.
#include "minicd/deploy/canary.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <thread>

#include "minicd/canary/analysis.hpp"
#include "minicd/canary/prometheus.hpp"
#include "minicd/canary/workloads.hpp"
#include "minicd/deploy/deployment.hpp"
#include "minicd/deploy/store.hpp"
#include "minicd/deploy/wait.hpp"
#include "minicd/http/http_client.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/log.hpp"

namespace minicd::deploy {

namespace {

using model::Json;
using model::ObjectId;
using util::ErrorCode;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

const kube::ResourceInfo k_deployments{
    .group = "apps", .version = "v1", .kind = "Deployment", .resource = "deployments", .namespaced = true};
const kube::ResourceInfo k_config_maps{
    .group = "", .version = "v1", .kind = "ConfigMap", .resource = "configmaps", .namespaced = true};
const kube::ResourceInfo k_secrets{.group = "", .version = "v1", .kind = "Secret", .resource = "secrets", .namespaced = true};

// How long one Prometheus query may take: a slow answer counts as an error, not a stall of the step.
constexpr auto k_query_timeout = 10s;
// Without an analysis, a step's pause still says how it goes this often.
constexpr auto k_progress_every = 10s;

// Every canary object of the target carries its app/env labels and the track label.
std::string canary_selector(const render::Target& target) {
    return fmt::format("{},{}={}", target.label_selector(), canary::k_track_label, canary::k_track_canary);
}

std::string seconds_text(std::chrono::milliseconds span) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(span).count();
    if (seconds >= 60 && seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
    if (seconds >= 60) return fmt::format("{}m{}s", seconds / 60, seconds % 60);
    return fmt::format("{}s", seconds);
}

std::string metadata_string(const Json& object, std::string_view key) { return model::string_at(object, {"metadata", key}); }

// Deletes every canary object of the target that is ours (owner mark and track label); another
// owner's object that happens to carry the labels is left and named in the log. Missing is fine.
Result<std::vector<ObjectId>> remove_canary_objects(kube::Client& client, const render::Target& target) {
    std::vector<ObjectId> removed;
    for (const kube::ResourceInfo* resource : {&k_deployments, &k_config_maps, &k_secrets}) {
        auto listed = kube::list_all(client, resource->collection_path(target.namespace_),
                                     {.label_selector = canary_selector(target), .view = kube::View::metadata});
        if (!listed) return fail(listed.error().context("listing the canary's objects"));
        for (const auto& object : *listed) {
            ObjectId id{.group = resource->group, .version = resource->version, .kind = resource->kind,
                        .namespace_ = target.namespace_, .name = metadata_string(object, "name")};
            const Ownership ownership = owner_of(object, target);
            if (ownership.owner != Owner::us) {
                util::log_warn("{}: labelled as a canary of {} but owned by {}: left alone", id.describe(), target.owner(),
                                  ownership.who.empty() ? "nobody" : ownership.who);
                continue;
            }
            auto deleted = kube::delete_object(client, resource->object_path(id.namespace_, id.name),
                                               {.uid = metadata_string(object, "uid")});
            if (!deleted) return fail(deleted.error().context("deleting " + id.describe()));
            if (!kube::ok(*deleted) && deleted->status != 404) return fail(kube::api_error(*deleted, id.describe()));
            removed.push_back(std::move(id));
        }
    }
    return removed;
}

// The canary's objects as a change set: what removing them did.
void report_removed(DeployResult& result, const std::vector<ObjectId>& removed, const std::string& why) {
    for (const auto& id : removed) result.objects.push_back({.id = id, .action = Action::pruned, .detail = why});
}

// An open canary of another release: removed, its record saying a newer release replaced it.
Result<void> retire_open(Deployment& m, Store& store, const model::Release& open) {
    m.say(fmt::format("release {} still had a canary running: removing it, this release replaces it", open.revision));
    auto removed = remove_canary_objects(m.client, m.options.target);
    if (!removed) return fail(removed.error());
    model::Release release = open;
    release.outcome = model::ReleaseOutcome::superseded;
    release.message = fmt::format("canary stopped at step {}: a newer release replaced it", std::max(open.canary_step, 1));
    auto recorded = store.record_release(release, {.keep = m.options.history, .mark = {}, .mode = Store::RecordMode::update});
    if (!recorded) return fail(recorded.error());
    return {};
}

// One canaried Deployment: the release's version of it, how many pods the stable one runs, and the
// canary made from it (replicas set per step).
struct Workload {
    std::string name;            // the stable Deployment
    ObjectId canary_id;          // its canary Deployment
    Json canary;                 // the canary Deployment, without its step's replicas and state
    int stable_replicas = 1;
};

// What a canary run is given: its strategy and where its queries go.
struct CanaryOptions {
    model::CanaryStrategy strategy;
    http::HttpClient* prometheus = nullptr;  // required when strategy.analysis is set
};

// One run of a canary over a planned release, under the deploy lock.
class CanaryRun {
public:
    CanaryRun(Deployment& m, Store& store, const std::vector<source::Manifest>& manifests, const CanaryOptions& options)
        : m(m), m_store(store), m_manifests(manifests), m_options(options), m_tally(analysis_or_empty(options)) {
        m_report.steps = static_cast<int>(options.strategy.steps.size());
    }

    // Plan the release, open (or continue) its canary, run the steps, then promote.
    Result<DeployResult> run() {
        // A Prometheus the analysis cannot use (no token, a token over plain http) stops it before any write.
        if (m_options.strategy.analysis) {
            m_prometheus = std::make_unique<canary::Prometheus>(*m_options.prometheus, m_options.strategy.analysis->prometheus,
                                                                k_query_timeout);
            if (auto ready = m_prometheus->ready(); !ready) return fail(ready.error());
        }
        auto releases = m_store.releases();
        if (!releases) return fail(releases.error());
        const std::optional<model::Release> open = open_canary(*releases);

        // Everything the release writes is judged before anything is: a refusal changes nothing.
        if (auto planned = plan_release(); !planned) return fail(planned.error());
        if (m.stopped()) return record(m, m_store);
        if (auto chosen = choose_workloads(); !chosen) return fail(chosen.error());

        // The same objects as the open canary's (whichever form its digest has): this run continues it.
        bool continues = false;
        if (open && !m.options.dry_run) {
            auto same = m_store.digest_matches(open->manifest_digest, objects_text(m));
            if (!same) return fail(same.error());
            continues = *same;
        }
        // A canary of another release left open (its run was killed) goes before this one starts.
        if (open && (!continues || m_workloads.empty()) && !m.options.dry_run) {
            if (auto retired = retire_open(m, m_store, *open); !retired) return fail(retired.error());
        }
        if (m_workloads.empty() || m.options.dry_run) return apply_at_once();
        if (auto built = build_canary(); !built) return fail(built.error());
        if (auto free = check_names(); !free) return fail(free.error());
        if (m.stopped()) return record(m, m_store);

        int first_step = 0;
        if (continues) {
            m_release = *open;
            first_step = step_reached(*open);
            m.say(fmt::format("continuing the canary of release {} at step {}/{}", open->revision, first_step + 1,
                              m_options.strategy.steps.size()));
        } else if (auto opened = open_release(); !opened) {
            return fail(opened.error());
        }
        m_report.release = m_release.revision;
        return run_steps(first_step);
    }

    // Promotes the open canary now: the release's objects go through every phase, then the canary goes.
    Result<DeployResult> promote(const model::Release& release) {
        m_release = release;
        m_report.release = release.revision;
        m_report.reached = release.canary_step;
        return promote_release();
    }

    // Deletes the canary and records its release failed and held.
    Result<DeployResult> abort(const model::Release& release, const std::string& why) {
        m_release = release;
        m_report.release = release.revision;
        m_report.reached = std::max(release.canary_step, 1);
        return abort_canary(why);
    }

private:
    static model::Analysis analysis_or_empty(const CanaryOptions& options) {
        return options.strategy.analysis.value_or(model::Analysis{});
    }

    // Ownership and the server's dry run, for the whole release, before any write.
    Result<void> plan_release() {
        if (auto loaded = load_previous(m, m_store); !loaded) return fail(loaded.error());
        if (auto planned = plan(m, Stage::foundations, CheckScope::stage); !planned) return fail(planned.error());
        return plan(m, Stage::objects, CheckScope::before_writes);
    }

    // The Deployments whose pod template the release changes, of those the strategy names (or all).
    Result<void> choose_workloads() {
        const auto& wanted = m_options.strategy.workloads;
        std::set<std::string> found;
        for (const auto& item : m.items) {
            if (item.desired.id.group != "apps" || item.desired.id.kind != "Deployment") continue;
            const std::string& name = item.desired.id.name;
            if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
            found.insert(name);
            // A new Deployment has no stable version to run next to; an unchanged template nothing to try.
            if (!item.live || !item.to_write || !item.planned) continue;
            if (!canary::template_changed(*item.live, *item.planned)) continue;
            m_workloads.push_back({.name = name,
                                   .canary_id = {.group = "apps", .version = "v1", .kind = "Deployment",
                                                 .namespace_ = item.desired.id.namespace_, .name = canary::canary_name(name)},
                                   .canary = Json(),
                                   .stable_replicas = canary::replicas_of(*item.live)});
        }
        for (const auto& name : wanted) {
            if (!found.contains(name)) {
                return fail(ErrorCode::input,
                            fmt::format("strategy.canary.workloads names {}, which is not a Deployment of this release", name),
                            m.options.target.owner());
            }
        }
        for (const auto& workload : m_workloads) m_report.workloads.push_back(workload.name);
        return {};
    }

    // Nothing to canary, or a dry run: the release goes through the phases as any deploy would.
    Result<DeployResult> apply_at_once() {
        if (m_workloads.empty()) {
            m_report.end = CanaryEnd::skipped;
            m_report.reason = "no canaried Deployment changes its pod template here (or none runs yet): applied at once";
            m.say("no canary: " + m_report.reason);
        } else {
            m_report.end = CanaryEnd::planned;
            m.say(fmt::format("would run a canary of {} in {} step{}, then apply the release", fmt::join(m_report.workloads, ", "),
                              m_report.steps, m_report.steps == 1 ? "" : "s"));
        }
        auto result = run_phases(m, m_store);
        if (!result) return result;
        result->canary = m_report;
        return result;
    }

    // The canary Deployments, and copies of the changed ConfigMaps and Secrets their templates read.
    Result<void> build_canary() {
        for (auto& workload : m_workloads) {
            const Item& item = item_named("apps", "Deployment", workload.name);
            const Json& desired = item.desired.object.body();
            const Json* pod_template = model::find_path(desired, {"spec", "template"});
            const canary::ConfigRefs refs = canary::config_refs(pod_template != nullptr ? *pod_template : Json());
            canary::CanaryInput input{.deployment = desired, .config_map_copies = {}, .secret_copies = {}, .replicas = 1};
            copy_changed(refs.config_maps, "ConfigMap", input.config_map_copies);
            copy_changed(refs.secrets, "Secret", input.secret_copies);
            workload.canary = canary::canary_deployment(input);
        }
        return {};
    }

    // Copies the referenced objects of `kind` that the release declares and changes (or creates).
    void copy_changed(const std::set<std::string>& names, const char* kind, std::map<std::string, std::string>& renames) {
        for (const auto& item : m.items) {
            if (!item.desired.id.group.empty() || item.desired.id.kind != kind || !names.contains(item.desired.id.name)) continue;
            if (item.live && !item.to_write) continue;
            Json copy = canary::config_copy(item.desired.object.body());
            const std::string copy_name = copy["metadata"]["name"].get<std::string>();
            renames[item.desired.id.name] = copy_name;
            if (std::none_of(m_copies.begin(), m_copies.end(),
                             [&](const Copy& known) { return known.id.kind == kind && known.id.name == copy_name; })) {
                m_copies.push_back({.id = {.group = "", .version = "v1", .kind = kind,
                                           .namespace_ = item.desired.id.namespace_, .name = copy_name},
                                    .body = std::move(copy)});
            }
        }
    }

    const Item& item_named(const std::string& group, const std::string& kind, const std::string& name) const {
        return *std::find_if(m.items.begin(), m.items.end(), [&](const Item& item) {
            return item.desired.id.group == group && item.desired.id.kind == kind && item.desired.id.name == name;
        });
    }

    // The canary's names must be free or ours: an object of another owner is never written, and the
    // release must not declare them itself.
    Result<void> check_names() {
        std::vector<std::pair<ObjectId, const kube::ResourceInfo*>> names;
        for (const auto& workload : m_workloads) names.emplace_back(workload.canary_id, &k_deployments);
        for (const auto& copy : m_copies) names.emplace_back(copy.id, copy.id.kind == "Secret" ? &k_secrets : &k_config_maps);
        std::vector<std::string> taken;
        for (const auto& [id, resource] : names) {
            if (std::any_of(m.items.begin(), m.items.end(), [&](const Item& item) { return item.desired.id == id; })) {
                return fail(ErrorCode::input,
                            fmt::format("{} is declared by the release, but is the name its canary needs: rename it", id.describe()),
                            m.options.target.owner());
            }
            auto live = kube::get(m.client, resource->object_path(id.namespace_, id.name), kube::View::metadata);
            if (!live) return fail(live.error().context("reading " + id.describe()));
            if (live->status == 404) continue;
            if (!kube::ok(*live)) return fail(kube::api_error(*live, id.describe()));
            const Json object = model::parse_json(live->body);
            const Ownership ownership = owner_of(object, m.options.target);
            if (ownership.owner == Owner::us) continue;
            taken.push_back(fmt::format("{} is owned by {}", id.describe(), ownership.who.empty() ? "nobody (not minicd)" : ownership.who));
        }
        if (!taken.empty()) {
            m.stop(Outcome::refused, fmt::format("the canary's names are taken; nothing was changed:\n  {}\n"
                                                 "delete or rename those objects first",
                                                 fmt::join(taken, "\n  ")));
        }
        return {};
    }

    // Records the release as a running canary, with its objects, and adds the canary's objects to
    // the inventory first: should this run die, a later deploy still prunes them.
    Result<void> open_release() {
        std::set<ObjectId> inventory(m.previous.begin(), m.previous.end());
        for (const auto& workload : m_workloads) inventory.insert(workload.canary_id);
        for (const auto& copy : m_copies) inventory.insert(copy.id);
        if (auto saved = save_inventory(m, m_store, {inventory.begin(), inventory.end()}); !saved) return fail(saved.error());

        auto described = release_of(m, m_store);
        if (!described) return fail(described.error());
        model::Release release = std::move(*described);
        release.outcome = model::ReleaseOutcome::canary;
        release.rollout = model::Rollout::canary;
        release.canary_step = 1;
        release.message = fmt::format("canary of {}", fmt::join(m_report.workloads, ", "));
        if (auto stored = store_objects(m, m_store, release); !stored) return fail(stored.error());
        auto recorded = m_store.record_release(std::move(release), {.keep = m.options.history, .mark = {}});
        if (!recorded) return fail(recorded.error());
        m_release = *recorded;
        m.say(fmt::format("release {}: canary of {} in {} step{}", m_release.revision, fmt::join(m_report.workloads, ", "),
                          m_report.steps, m_report.steps == 1 ? "" : "s"));
        return {};
    }

    // Where an open canary of this very release stands: the step its Deployments say, else the record's.
    int step_reached(const model::Release& open) {
        int step = std::max(open.canary_step - 1, 0);
        for (const auto& workload : m_workloads) {
            auto live = kube::get(m.client, k_deployments.object_path(workload.canary_id.namespace_, workload.canary_id.name),
                                  kube::View::metadata);
            if (!live || !kube::ok(*live)) continue;
            const Json object = model::parse_json(live->body);
            auto state = canary::parse_state(annotation_of(object, canary::k_state_annotation));
            if (state && state->release == open.revision) step = std::max(step, state->step);
        }
        return std::min(step, static_cast<int>(m_options.strategy.steps.size()) - 1);
    }

    Result<DeployResult> run_steps(int first_step) {
        const auto& steps = m_options.strategy.steps;
        for (int index = first_step; index < static_cast<int>(steps.size()); ++index) {
            m_report.reached = index + 1;
            if (auto written = write_step(index); !written) return abort_canary(written.error().describe());
            auto verdict = run_step(index);
            if (!verdict) return abort_canary(verdict.error().describe());
            if (*verdict) return abort_canary(**verdict);
            if (index + 1 < static_cast<int>(steps.size())) {
                if (auto noted = note_step(index + 2); !noted) return fail(noted.error());
            }
        }
        return promote_release();
    }

    // The step's replicas and state on every canary Deployment (the copies first, which they read).
    Result<void> write_step(int index) {
        const model::CanaryStep& step = m_options.strategy.steps[static_cast<std::size_t>(index)];
        if (m.check_lock_lost()) return fail(ErrorCode::api, "the deploy lock was taken over");
        for (const auto& copy : m_copies) {
            if (auto written = write(copy.id, copy.id.kind == "Secret" ? k_secrets : k_config_maps, copy.body); !written) {
                return written;
            }
        }
        std::vector<std::string> sizes;
        for (const auto& workload : m_workloads) {
            Json canary = workload.canary;
            const int replicas = model::canary_replicas(step.weight, workload.stable_replicas);
            canary["spec"]["replicas"] = replicas;
            canary["metadata"]["annotations"][std::string(canary::k_state_annotation)] = canary::state_text(
                {.release = m_release.revision, .step = index, .steps = static_cast<int>(m_options.strategy.steps.size()),
                 .weight = step.weight});
            if (auto written = write(workload.canary_id, k_deployments, canary); !written) return written;
            sizes.push_back(fmt::format("{}: {} canary pod{} next to {}", workload.name, replicas, replicas == 1 ? "" : "s",
                                        workload.stable_replicas));
        }
        m.say(fmt::format("step {}/{}: {}% for {} ({})", index + 1, m_options.strategy.steps.size(), step.weight,
                          seconds_text(step.pause), fmt::join(sizes, "; ")));
        return {};
    }

    Result<void> write(const ObjectId& id, const kube::ResourceInfo& resource, const Json& body) {
        auto response = kube::apply(m.client, resource.object_path(id.namespace_, id.name), body, render::k_field_manager,
                                    kube::DryRun::no);
        if (!response) return fail(response.error().context("writing " + id.describe()));
        if (!kube::ok(*response)) return fail(kube::api_error(*response, id.describe()));
        return {};
    }

    // The release record follows the steps, so `minicd history` shows where a canary is.
    Result<void> note_step(int step) {
        model::Release release = m_release;
        release.canary_step = step;
        auto recorded = m_store.record_release(release, {.keep = m.options.history, .mark = {}, .mode = Store::RecordMode::update});
        if (!recorded) return fail(recorded.error());
        m_release = *recorded;
        return {};
    }

    // The watch over the canary Deployments and the stable ones (whose pods the queries name).
    HealthWatch& watch() {
        if (!m_watch) {
            std::vector<WaitTarget> targets;
            for (const auto& workload : m_workloads) {
                targets.push_back({workload.canary_id, k_deployments});
                targets.push_back({{.group = "apps", .version = "v1", .kind = "Deployment",
                                    .namespace_ = workload.canary_id.namespace_, .name = workload.name},
                                   k_deployments});
            }
            m_watch = std::make_unique<HealthWatch>(m.client, std::move(targets), m.options.assess);
        }
        return *m_watch;
    }

    // Why a canary Deployment failed (crash loop, image pull, ...), or "" while none has.
    std::string canary_failure(const std::vector<ObjectHealth>& objects) const {
        for (std::size_t i = 0; i < objects.size(); i += 2) {
            if (objects[i].health.state == health::State::failed) {
                return fmt::format("{}: {}", objects[i].id.describe(), objects[i].health.message);
            }
        }
        return {};
    }

    // What the canary Deployments not ready yet are waiting for.
    std::string pending(const std::vector<ObjectHealth>& objects) const {
        std::vector<std::string> waiting;
        for (std::size_t i = 0; i < objects.size(); i += 2) {
            if (objects[i].health.state != health::State::current) {
                waiting.push_back(fmt::format("{}: {}", objects[i].id.name, objects[i].health.message));
            }
        }
        return fmt::format("{}", fmt::join(waiting, "; "));
    }

    bool canaries_ready(const std::vector<ObjectHealth>& objects) const {
        for (std::size_t i = 0; i < objects.size(); i += 2) {
            if (objects[i].health.state != health::State::current) return false;
        }
        return true;
    }

    // Runs one step: its pods become ready, then its pause is watched (pod health always, metrics
    // every interval). Why it failed, or nullopt when it passed.
    Result<std::optional<std::string>> run_step(int index) {
        const model::CanaryStep& step = m_options.strategy.steps[static_cast<std::size_t>(index)];
        // The step's pods first: one that crash-loops or never becomes ready ends the canary now.
        const auto ready_by = Clock::now() + m.options.timeout;
        auto next_progress = Clock::now() + k_progress_every;
        while (true) {
            auto objects = watch().next(ready_by);
            if (!objects) return fail(objects.error());
            if (auto failure = canary_failure(*objects); !failure.empty()) return std::optional(failure);
            if (canaries_ready(*objects)) break;
            if (Clock::now() >= ready_by) {
                return std::optional(fmt::format("the canary's pods were not ready within {}s", m.options.timeout.count()));
            }
            if (Clock::now() >= next_progress) {
                m.say(fmt::format("step {}: waiting for the canary's pods: {}", index + 1, pending(*objects)));
                next_progress += k_progress_every;
            }
        }

        // Then the pause, measured every interval (at its end when it is shorter, at once when it is 0).
        const auto start = Clock::now();
        const auto end = start + step.pause;
        const auto interval = m_options.strategy.analysis ? m_options.strategy.analysis->interval : k_progress_every;
        auto next_measure = step.pause.count() == 0 ? start : std::min(start + interval, end);
        bool measured_at_end = false;
        while (true) {
            auto objects = watch().next(std::min(next_measure, end));
            if (!objects) return fail(objects.error());
            if (auto failure = canary_failure(*objects); !failure.empty()) return std::optional(failure);
            const auto now = Clock::now();
            if (now >= next_measure && !measured_at_end) {
                if (auto reason = measure(index, *objects); reason) return std::optional(*reason);
                measured_at_end = next_measure >= end;
                next_measure = std::min(next_measure + interval, end);
            }
            if (now >= end && measured_at_end) break;
        }
        if (m_options.strategy.analysis) {
            if (auto reason = m_tally.end_step(); reason) return std::optional(*reason);
        }
        return std::optional<std::string>();
    }

    // One measurement of every metric (or, without an analysis, a progress line); why the canary
    // must stop now, or nullopt.
    std::optional<std::string> measure(int index, const std::vector<ObjectHealth>& objects) {
        if (!m_options.strategy.analysis) {
            m.say(fmt::format("step {}: canary pods healthy", index + 1));
            return std::nullopt;
        }
        if (!m_prometheus) {
            m_prometheus = std::make_unique<canary::Prometheus>(*m_options.prometheus, m_options.strategy.analysis->prometheus,
                                                                k_query_timeout);
        }
        for (const auto& metric : m_options.strategy.analysis->metrics) {
            const bool per_workload = names_workload(metric.query);
            for (std::size_t w = 0; w < m_workloads.size(); ++w) {
                canary::QueryScope scope{.namespace_ = m.options.target.namespace_,
                                         .workload = m_workloads[w].name,
                                         .canary_pods = canary::pod_regex(objects[2 * w].pods),
                                         .stable_pods = canary::pod_regex(objects[2 * w + 1].pods)};
                canary::Measurement measurement = take(metric, scope);
                if (per_workload && m_workloads.size() > 1) measurement.metric += " (" + m_workloads[w].name + ")";
                const std::string line = canary::describe(measurement);
                m.say(fmt::format("step {}: {}", index + 1, line));
                m_report.measurements.push_back({.step = index + 1, .line = line});
                if (auto reason = m_tally.record(measurement); reason) return reason;
                if (!per_workload) break;
            }
        }
        return std::nullopt;
    }

    static bool names_workload(const std::string& query) {
        for (const char* name : {"workload", "canary_pods", "stable_pods"}) {
            if (query.find(name) != std::string::npos) return true;
        }
        return false;
    }

    canary::Measurement take(const model::Metric& metric, const canary::QueryScope& scope) {
        auto query = canary::fill_query(metric.query, scope);
        if (!query) return canary::measure(metric, fail(query.error()));
        return canary::measure(metric, m_prometheus->query(*query));
    }

    // Every step passed: the whole release goes through the phases (read afresh: minutes passed),
    // the canary's objects go once it has rolled out, and the canary's record says how it ended.
    Result<DeployResult> promote_release() {
        m_watch.reset();
        m.say(fmt::format("promoting release {}: applying it to the stable workloads", m_release.revision));
        Deployment whole(m.client, m.discovery, m.options);
        whole.lock = m.lock;
        whole.namespace_exists = true;
        whole.concludes = m_release;
        whole.retire_canary = true;
        if (auto prepared = prepare(whole, m_manifests); !prepared) return fail(prepared.error());
        auto result = run_phases(whole, m_store);
        if (!result) return result;
        // Should the promotion have stopped before the canary was removed (a refusal), it goes now.
        if (!whole.lock_lost) {
            auto removed = remove_canary_objects(m.client, m.options.target);
            if (!removed) return fail(removed.error());
            report_removed(*result, *removed, "canary");
        }
        m_report.end = result->succeeded() ? CanaryEnd::promoted : CanaryEnd::aborted;
        if (!result->succeeded()) m_report.reason = "the promotion failed: " + result->failure;
        if (whole.rollout_failed && m.options.on_failure == OnFailure::rollback) {
            if (auto rolled = roll_back_failure(m.client, m.discovery, m.options, m_store, m.lock, *result); !rolled) {
                return fail(rolled.error());
            }
        }
        result->canary = m_report;
        return result;
    }

    // A failed step: the canary goes, the stable version was never touched, the release is held.
    Result<DeployResult> abort_canary(const std::string& why) {
        m_watch.reset();
        const int step = std::max(m_report.reached, 1);
        const std::string reason = fmt::format("canary aborted at step {}/{}: {}", step, m_report.steps, why);
        m.say(reason);
        DeployResult result;
        auto removed = remove_canary_objects(m.client, m.options.target);
        if (!removed) return fail(removed.error().context(reason));
        report_removed(result, *removed, "canary removed");
        // The inventory forgets them; the rest of it is as before the canary.
        std::vector<ObjectId> inventory;
        auto stored = m_store.load_inventory();
        if (!stored) return fail(stored.error());
        m.previous = *stored;
        for (const auto& id : *stored) {
            if (std::find(removed->begin(), removed->end(), id) == removed->end()) inventory.push_back(id);
        }
        if (auto saved = save_inventory(m, m_store, std::move(inventory)); !saved) return fail(saved.error());

        model::Release release = m_release;
        release.outcome = model::ReleaseOutcome::failed;
        release.rollout = model::Rollout::canary;
        release.canary_step = step;
        release.message = reason;
        release.duration_seconds += std::round(std::chrono::duration<double>(Clock::now() - m.started).count() * 10) / 10;
        auto recorded = m_store.record_release(release, {.keep = m.options.history, .mark = {}, .mode = Store::RecordMode::update});
        if (!recorded) return fail(recorded.error());
        result.outcome = Outcome::failed;
        result.failure = reason;
        result.revision = recorded->revision;
        m_report.end = CanaryEnd::aborted;
        m_report.reached = step;
        m_report.reason = why;
        result.canary = m_report;
        return result;
    }

    struct Copy {
        ObjectId id;
        Json body;
    };

    Deployment& m;
    Store& m_store;
    const std::vector<source::Manifest>& m_manifests;
    const CanaryOptions& m_options;
    std::vector<Workload> m_workloads;
    std::vector<Copy> m_copies;
    model::Release m_release;
    CanaryReport m_report;
    canary::Tally m_tally;
    std::unique_ptr<canary::Prometheus> m_prometheus;
    std::unique_ptr<HealthWatch> m_watch;
};

// The lock, unless a dry run.
Result<std::unique_ptr<DeployLock>> lock_for(kube::Client& client, const DeployOptions& options) {
    if (options.dry_run) return std::unique_ptr<DeployLock>{};
    return acquire_lock(client, options);
}

// The open canary of the target's history, read under the lock; an input error when there is none.
Result<model::Release> require_open(Store& store, const render::Target& target) {
    auto releases = store.load_releases();
    if (!releases) return fail(releases.error());
    auto open = open_canary(*releases);
    if (!open) {
        return fail(ErrorCode::input, fmt::format("no canary is running for {} in namespace {}", target.owner(), target.namespace_));
    }
    return *open;
}

}  // namespace

Result<void> retire_open_canary(Deployment& m, Store& store) {
    if (m.options.dry_run || !m.namespace_exists) return {};
    auto releases = store.releases();
    if (!releases) return fail(releases.error());
    auto open = open_canary(*releases);
    if (!open) return {};
    return retire_open(m, store, *open);
}

Result<void> retire_canary(Deployment& m) {
    if (!m.retire_canary || m.options.dry_run || m.lock_lost) return {};
    auto removed = remove_canary_objects(m.client, m.options.target);
    if (!removed) return fail(removed.error());
    if (removed->empty()) return {};
    m.say(fmt::format("removed the canary ({} object{})", removed->size(), removed->size() == 1 ? "" : "s"));
    // Gone already: prune has nothing to do with them, and the inventory forgets them.
    std::erase_if(m.previous, [&](const ObjectId& id) { return std::find(removed->begin(), removed->end(), id) != removed->end(); });
    for (const auto& id : *removed) m.prune_reports.push_back({.id = id, .action = Action::pruned, .detail = "canary"});
    return {};
}

std::optional<model::Release> open_canary(const std::vector<model::Release>& releases) {
    for (const auto& release : releases) {
        if (release.outcome == model::ReleaseOutcome::canary) return release;
    }
    return std::nullopt;
}

Result<DeployResult> deploy_canary(kube::Client& client, kube::Discovery& discovery,
                                   const std::vector<source::Manifest>& manifests, const DeployOptions& options,
                                   const model::CanaryStrategy& strategy) {
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    if (auto problem = model::canary_steps_problem(strategy.steps); !problem.empty()) return fail(ErrorCode::input, problem);
    CanaryOptions canary{.strategy = strategy, .prometheus = nullptr};
    std::unique_ptr<http::HttpClient> prometheus;
    if (strategy.analysis) {
        auto made = http::make_curl_client({});
        if (!made) return fail(made.error());
        prometheus = std::move(*made);
        canary.prometheus = prometheus.get();
    }
    Deployment m(client, discovery, options);
    if (auto prepared = prepare(m, manifests); !prepared) return fail(prepared.error());
    // A canary runs the new version before the release is applied: a pre phase would run too late.
    for (const auto& item : m.items) {
        if (item.desired.phase == model::Phase::main) continue;
        return fail(ErrorCode::input,
                    fmt::format("{} runs in the {} phase ({}), which a canary strategy does not support yet; deploy "
                                "without one",
                                item.desired.id.describe(), model::to_string(item.desired.phase), render::k_phase_annotation),
                    item.desired.origin);
    }
    // A first deploy has no stable version to run next to: it is applied at once.
    auto namespace_exists = ensure_namespace(m);
    if (!namespace_exists) return fail(namespace_exists.error());
    m.namespace_exists = *namespace_exists;
    if (!m.namespace_exists) {
        auto result = deploy(client, discovery, manifests, options);
        if (result) result->canary = CanaryReport{.end = CanaryEnd::skipped, .reason = "first deploy: applied at once"};
        return result;
    }
    auto lock = lock_for(client, options);
    if (!lock) return fail(lock.error());
    m.lock = lock->get();
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    CanaryRun run(m, store, manifests, canary);
    return run.run();
}

Result<DeployResult> deploy_with(kube::Client& client, kube::Discovery& discovery,
                                 const std::vector<source::Manifest>& manifests, const DeployOptions& options,
                                 const std::optional<model::CanaryStrategy>& strategy) {
    if (strategy) return deploy_canary(client, discovery, manifests, options, *strategy);
    return deploy(client, discovery, manifests, options);
}

Result<DeployResult> resume_canary(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options,
                                   const model::CanaryStrategy& strategy) {
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    auto open = require_open(store, options.target);
    if (!open) return fail(open.error());
    auto objects = store.load_payload(*open);
    if (!objects) return fail(objects.error());
    DeployOptions resumed = options;
    resumed.git_sha = open->git_sha;
    resumed.images = open->images;
    return deploy_canary(client, discovery, manifests_of(std::move(*objects), open->revision, IncludeCrds::yes), resumed,
                         strategy);
}

Result<DeployResult> promote_canary(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options) {
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    auto lock = lock_for(client, options);
    if (!lock) return fail(lock.error());
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    auto open = require_open(store, options.target);
    if (!open) return fail(open.error());
    auto objects = store.load_payload(*open);
    if (!objects) return fail(objects.error());
    DeployOptions promoted = options;
    promoted.git_sha = open->git_sha;
    promoted.images = open->images;
    promoted.release_message = "canary promoted by hand";
    const auto manifests = manifests_of(std::move(*objects), open->revision, IncludeCrds::yes);
    Deployment m(client, discovery, promoted);
    m.lock = lock->get();
    m.namespace_exists = true;
    const CanaryOptions none;
    CanaryRun run(m, store, manifests, none);
    return run.promote(*open);
}

Result<DeployResult> abort_canary(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options,
                                  const std::string& why) {
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    if (options.dry_run) return fail(ErrorCode::usage, "a canary abort has no dry run: minicd canary status shows what runs");
    auto lock = acquire_lock(client, options);
    if (!lock) return fail(lock.error());
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    auto open = require_open(store, options.target);
    if (!open) return fail(open.error());
    Deployment m(client, discovery, options);
    m.lock = lock->get();
    m.namespace_exists = true;
    const CanaryOptions none;
    const std::vector<source::Manifest> no_manifests;
    CanaryRun run(m, store, no_manifests, none);
    return run.abort(*open, why);
}

Result<std::optional<CanaryStatus>> canary_status(kube::Client& client, const render::Target& target) {
    if (auto valid = render::validate_target(target); !valid) return fail(valid.error());
    Store store(client, target.namespace_, target.app, target.env);
    auto releases = store.load_releases();
    if (!releases) return fail(releases.error());
    auto open = open_canary(*releases);
    if (!open) return std::optional<CanaryStatus>();
    CanaryStatus status{.release = *open, .step = -1, .steps = 0, .weight = 0, .workloads = {}};
    auto listed = kube::list_all(client, k_deployments.collection_path(target.namespace_), {.label_selector = canary_selector(target)});
    if (!listed) return fail(listed.error().context("listing the canary's Deployments"));
    for (const auto& deployment : *listed) {
        if (owner_of(deployment, target).owner != Owner::us) continue;
        auto state = canary::parse_state(annotation_of(deployment, canary::k_state_annotation));
        if (!state || state->release != open->revision) continue;
        status.step = std::max(status.step, state->step);
        status.steps = state->steps;
        status.weight = state->weight;
        const Json& object_status = deployment.contains("status") ? deployment["status"] : Json::object();
        auto count = [&](const char* key) {
            auto found = object_status.find(key);
            return found != object_status.end() && found->is_number_integer() ? found->get<int>() : 0;
        };
        status.workloads.push_back(
            {.name = metadata_string(deployment, "name"), .replicas = canary::replicas_of(deployment), .ready = count("readyReplicas")});
    }
    return std::optional(std::move(status));
}

}  // namespace minicd::deploy
