// The driver: one deploy as a script of named phases, under one lock from the first write to the
// release record. A phase that ends the deploy (a refusal, a failed write, an unhealthy rollout)
// sends it straight to recording what happened.
#include "minicd/deploy/deploy.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "minicd/deploy/canary.hpp"
#include "minicd/deploy/deployment.hpp"
#include "minicd/deploy/drift.hpp"
#include "minicd/deploy/prune.hpp"
#include "minicd/deploy/store.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/render/helm_marks.hpp"
#include "minicd/render/phase.hpp"
#include "minicd/util/text.hpp"

namespace minicd::deploy {

using model::ObjectId;
using model::Phase;
using util::ErrorCode;

namespace {

// Who holds the lock: readable in `kubectl get lease`, unique per process.
std::string holder_identity() {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    std::mt19937 random(std::random_device{}());
    return fmt::format("{}/pid {}/{:06x}", host, ::getpid(), random() & 0xffffff);
}

}  // namespace

// Labels, namespace and hash for every object, in apply order; unknown kinds fail naming their manifest.
Result<void> prepare(Deployment& m, const std::vector<source::Manifest>& manifests) {
    // Custom resources of CRDs declared in this same deploy are not served yet; their scope comes from the CRD.
    std::map<std::pair<std::string, std::string>, bool> declared_scopes;
    for (const auto& manifest : manifests) {
        if (manifest.object.kind() != "CustomResourceDefinition") continue;
        const CrdNames names = crd_names(manifest.object.body());
        declared_scopes[{names.group, names.kind}] = names.namespaced;
    }
    auto scope = [&](const ObjectId& id) -> Result<bool> {
        if (auto declared = declared_scopes.find({id.group, id.kind}); declared != declared_scopes.end()) return declared->second;
        auto resource = m.discovery.resolve(id.group, id.version, id.kind);
        if (!resource) return fail(resource.error());
        return resource->namespaced;
    };
    auto desired = render::prepare(manifests, m.options.target, scope);
    if (!desired) return fail(desired.error());
    sort_for_apply(*desired);
    for (auto& object : *desired) {
        // Foundations are written before any phase runs: a phase on one would never be honoured.
        if (object.phase != model::Phase::main && is_foundation(object.id.kind)) {
            return fail(ErrorCode::input,
                        fmt::format("{}: Namespaces and CustomResourceDefinitions are written before every phase; "
                                    "remove metadata.annotations.{}",
                                    object.id.describe(), render::k_phase_annotation),
                        object.origin);
        }
        Item item;
        item.report.id = object.id;
        item.desired = std::move(object);
        m.items.push_back(std::move(item));
    }
    if (m.items.empty() && m.options.prune && !m.options.allow_empty) {
        return fail(ErrorCode::input, "no objects to apply and --prune is set: refusing to prune everything "
                                      "(pass --allow-empty if that is really what you want)");
    }
    return {};
}

Result<std::unique_ptr<DeployLock>> acquire_lock(kube::Client& client, const DeployOptions& options) {
    const auto& target = options.target;
    return DeployLock::acquire(client, {.namespace_ = target.namespace_,
                                        .name = "minicd-lock-" + target.app + "-" + target.env,
                                        .holder = holder_identity(),
                                        .wait = options.lock_wait});
}

namespace {

// The lock for a run over an existing history (rollback, drift correction); none in a dry run.
Result<std::unique_ptr<DeployLock>> lock_unless_dry_run(kube::Client& client, const DeployOptions& options) {
    if (options.dry_run) return std::unique_ptr<DeployLock>{};
    return acquire_lock(client, options);
}

}  // namespace

// Holds back a chart's hooks that are not for this deploy: install hooks run until a release of the
// environment was verified healthy, upgrade hooks after that.
void hold_back_hooks(Deployment& m, const std::vector<model::Release>& history) {
    const bool installed = std::any_of(history.begin(), history.end(),
                                       [](const model::Release& release) { return model::was_healthy(release.outcome); });
    const auto event = installed ? render::DeployEvent::upgrade : render::DeployEvent::install;
    std::erase_if(m.items, [&](const Item& item) {
        if (render::runs_on(item.desired.object.body(), event)) return false;
        const std::string hook = model::string_at(item.desired.object.body(), {"metadata", "annotations", render::k_helm_hook_annotation});
        m.say(fmt::format("{} not run: {} {} is not for an {}", item.desired.id.describe(), render::k_helm_hook_annotation,
                          hook, event == render::DeployEvent::install ? "install" : "upgrade"));
        // A Job of an earlier release goes with that release's other Jobs; anything else stays as it is.
        if (!render::runs_per_release(item.desired)) m.held_back.push_back(item.desired.id);
        return true;
    });
}

// Gives the pre and post phases' Jobs the revision the release will be recorded under, which is
// the next one: the lock keeps any other deploy from recording in between.
Result<void> name_phase_jobs(Deployment& m, const std::vector<model::Release>& history) {
    const int revision = history.empty() ? 1 : history.front().revision + 1;
    std::set<ObjectId> declared;
    for (const auto& item : m.items) {
        if (!render::runs_per_release(item.desired)) declared.insert(item.desired.id);
    }
    for (auto& item : m.items) {
        if (!render::runs_per_release(item.desired)) continue;
        if (auto named = render::name_for_release(item.desired, revision); !named) return fail(named.error());
        if (!declared.insert(item.desired.id).second) {
            return fail(ErrorCode::input,
                        fmt::format("{} runs in the {} phase as {}, which is declared as well", item.report.id.describe(),
                                    model::to_string(item.desired.phase), item.desired.id.name),
                        item.desired.origin);
        }
        item.report.id = item.desired.id;
    }
    return {};
}

// The objects of the pre and post phases for this release: the hooks it runs, the Jobs named after it.
Result<void> prepare_phases(Deployment& m, Store& store) {
    const auto in_phase = [](const Item& item) { return item.desired.phase != Phase::main; };
    if (std::none_of(m.items.begin(), m.items.end(), in_phase)) return {};
    auto history = store.releases();
    if (!history) return fail(history.error());
    hold_back_hooks(m, *history);
    return name_phase_jobs(m, *history);
}

// Reads what we owned before and checks it: entries outside our scope mean it was tampered with.
Result<void> load_previous(Deployment& m, Store& store) {
    if (!m.namespace_exists) return {};
    auto previous = store.load_inventory();
    if (!previous) return fail(previous.error());
    m.previous = std::move(*previous);
    auto inventory = store.inventory_name();
    if (!inventory) return fail(inventory.error());
    m.inventory_name = *inventory;
    return check_inventory(m.previous, m.dropped_ids(), m.options.target, m.discovery, m.inventory_name);
}

// Stores `ids` unless the stored inventory says exactly that already, versions included: an object
// now applied through another version is the same object, and the inventory learns the version.
Result<void> save_inventory(Deployment& m, Store& store, std::vector<ObjectId> ids) {
    if (m.options.dry_run || !m.namespace_exists || m.lock_lost) return {};
    if (inventory_text(ids) == inventory_text(m.previous)) return {};
    if (auto saved = store.save_inventory(ids); !saved) return fail(saved.error());
    m.previous = std::move(ids);
    return {};
}

namespace {

// Before writing: what we declare now and everything we owned before, so an interrupted deploy
// still prunes what it created.
Result<void> save_intent(Deployment& m, Store& store) {
    std::set<ObjectId> all;
    for (const auto& id : m.declared_ids()) all.insert(id);
    all.insert(m.previous.begin(), m.previous.end());
    return save_inventory(m, store, {all.begin(), all.end()});
}

// After pruning: what we declare plus what prune kept or failed to delete (tried again next time).
Result<void> save_remaining(Deployment& m, Store& store) {
    std::set<ObjectId> remaining;
    for (const auto& id : m.declared_ids()) remaining.insert(id);
    for (const auto& report : m.prune_reports) {
        if (report.action == Action::kept || report.action == Action::failed) remaining.insert(report.id);
    }
    return save_inventory(m, store, {remaining.begin(), remaining.end()});
}

}  // namespace

// Stores the objects the release applied, or points it at a kept release that applied the very
// same ones (a redeploy, a rollback): they are stored once. Assigns the release its revision.
Result<void> store_objects(const Deployment& m, Store& store, model::Release& release) {
    // From the server, however long the deploy took: the revision names the payload Secrets, and a
    // writer that took a lost lock over may have recorded meanwhile. The record starts from this read.
    auto history = store.load_releases();
    if (!history) return fail(history.error());
    release.revision = history->empty() ? 1 : history->front().revision + 1;
    for (const auto& earlier : *history) {
        if (earlier.payload_chunks > 0 && earlier.manifest_digest == release.manifest_digest) {
            release.payload_revision = earlier.stored_under();
            release.payload_chunks = earlier.payload_chunks;
            return {};
        }
    }
    auto chunks = store.save_payload(release.revision, release_objects(m));
    if (!chunks) return fail(chunks.error().context("storing the objects of release " + std::to_string(release.revision)));
    release.payload_chunks = *chunks;
    return {};
}

// The release record says how the deploy ended, with the objects it applied when it wrote any;
// one that lost its lock writes nothing more.
Result<DeployResult> record(Deployment& m, Store& store) {
    if (!m.options.dry_run && !m.lock_lost) {
        auto described = release_of(m, store);
        if (!described) return fail(described.error());
        model::Release release = std::move(*described);
        Store::RecordMode mode = Store::RecordMode::append;
        if (m.concludes) {
            // A promoted canary: its record, with the objects it stored when it started, says how it ended.
            release.revision = m.concludes->revision;
            release.payload_chunks = m.concludes->payload_chunks;
            release.payload_revision = m.concludes->payload_revision;
            release.canary_step = m.concludes->canary_step;
            mode = Store::RecordMode::update;
        } else if (release.outcome != model::ReleaseOutcome::refused) {
            if (auto stored = store_objects(m, store, release); !stored) return fail(stored.error());
        }
        auto recorded = store.record_release(std::move(release), {.keep = m.options.history, .mark = m.mark, .mode = mode});
        if (!recorded) return fail(recorded.error());
        m.result.revision = recorded->revision;
    }
    m.result.rollback_to = m.rollback_to;
    for (auto& item : m.items) {
        item.report.phase = item.desired.phase;
        m.result.objects.push_back(std::move(item.report));
    }
    for (auto& report : m.prune_reports) m.result.objects.push_back(std::move(report));
    return std::move(m.result);
}

// Every phase after the lock: plan, write, wait, prune, record. Shared by deploys and rollbacks.
Result<DeployResult> run_phases(Deployment& m, Store& store) {
    // Each release runs Jobs of its own in the pre and post phases (their spec cannot be changed),
    // and a chart's hooks only for the event they name.
    if (auto prepared = prepare_phases(m, store); !prepared) return fail(prepared.error());
    // What we owned before decides what prune may remove; an edited inventory stops the deploy here.
    if (auto loaded = load_previous(m, store); !loaded) return fail(loaded.error());

    // Plan before any write: ownership and the server's dry run judge the foundations and every
    // object the server can judge already; a refusal leaves the cluster as it was.
    if (auto planned = plan(m, Stage::foundations, CheckScope::stage); !planned) return fail(planned.error());
    if (auto planned = plan(m, Stage::objects, CheckScope::before_writes); !planned) return fail(planned.error());
    if (m.stopped()) return record(m, store);
    if (auto saved = save_intent(m, store); !saved) return fail(saved.error());

    // Foundations (Namespaces, CRDs) first: what follows may need them to be accepted at all.
    if (auto applied = apply_stage(m, Stage::foundations, Phase::main); !applied) return fail(applied.error());
    if (auto planned = plan(m, Stage::objects, CheckScope::stage); !planned) return fail(planned.error());
    // The pre phase (migrations) completes before the release is written; if it fails, nothing else
    // is, so there is nothing to roll back either.
    if (auto applied = apply_stage(m, Stage::objects, Phase::pre); !applied) return fail(applied.error());
    if (auto waited = await_health(m, Phase::pre); !waited) return fail(waited.error());
    if (m.stopped()) {
        m.rollout = model::Rollout::pre_phase;
        m.note_unwritten("not applied: the pre phase did not complete");
        return record(m, store);
    }
    if (auto applied = apply_stage(m, Stage::objects, Phase::main); !applied) return fail(applied.error());
    // Healthy or not is what the deploy is judged by.
    if (auto waited = await_health(m, Phase::main); !waited) return fail(waited.error());
    // The post phase (smoke tests) runs against the healthy release; its failure fails the rollout.
    if (auto applied = apply_stage(m, Stage::objects, Phase::post); !applied) return fail(applied.error());
    if (auto waited = await_health(m, Phase::post); !waited) return fail(waited.error());
    // A promoted canary's own objects go once the release has rolled out, whatever its health.
    if (auto retired = retire_canary(m); !retired) return fail(retired.error());
    if (m.stopped()) {
        m.rollout_failed = m.result.outcome == Outcome::failed && !m.lock_lost;
        m.note_unwritten("not applied: the release did not become healthy");
        return record(m, store);
    }

    // Only a healthy deploy removes what the manifests dropped; the inventory keeps what is left.
    if (auto pruned = prune_dropped(m); !pruned) return fail(pruned.error());
    if (auto saved = save_remaining(m, store); !saved) return fail(saved.error());
    return record(m, store);
}

// The objects of a recorded release as manifests for the phases; CRDs only when included.
std::vector<source::Manifest> manifests_of(std::vector<model::Json> objects, int revision, IncludeCrds include_crds) {
    std::vector<source::Manifest> manifests;
    manifests.reserve(objects.size());
    for (auto& body : objects) {
        model::Object object(std::move(body));
        if (include_crds == IncludeCrds::no && object.kind() == "CustomResourceDefinition") continue;
        manifests.push_back({.object = std::move(object), .file = fmt::format("release {}", revision), .line = 0});
    }
    return manifests;
}

namespace {

// Why a recorded release's objects are applied again.
enum class Restore {
    rollback,          // to an earlier release: what was added since is pruned
    drift_correction,  // the current release, over hand edits: nothing is pruned
};

// Applies `target`'s stored objects under a lock already held, through every phase. `mark` changes
// earlier releases' outcomes in the same record.
Result<DeployResult> restore(kube::Client& client, kube::Discovery& discovery, DeployOptions options, Store& store,
                             const model::Release& target, IncludeCrds include_crds, const DeployLock* lock,
                             std::map<int, model::ReleaseOutcome> mark, Restore why) {
    auto objects = store.load_payload(target);
    if (!objects) return fail(objects.error());
    const auto manifests = manifests_of(std::move(*objects), target.revision, include_crds);
    options.prune = why == Restore::rollback;
    options.allow_empty = true;
    options.allow_prune_crds = include_crds == IncludeCrds::yes;
    options.git_sha = target.git_sha;
    options.images = target.images;
    options.release_message =
        why == Restore::rollback ? fmt::format("rollback to {}", target.revision) : std::string("drift correction");
    options.on_failure = OnFailure::keep;  // never a rollback of a rollback

    Deployment m(client, discovery, options);
    m.rollback_to = why == Restore::rollback ? target.revision : 0;
    m.mark = std::move(mark);
    m.lock = lock;
    const std::string commit = target.git_sha.empty() ? "" : ", commit " + std::string(util::utf8_prefix(target.git_sha, 12));
    m.say(fmt::format("{} release {} ({} objects{})", why == Restore::rollback ? "rolling back to" : "re-applying",
                      target.revision, manifests.size(), commit));
    if (auto prepared = prepare(m, manifests); !prepared) return fail(prepared.error());
    m.namespace_exists = true;
    return run_phases(m, store);
}

}  // namespace

// After a failed rollout with OnFailure::rollback: back to the newest release verified healthy, once.
Result<void> roll_back_failure(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options,
                               Store& store, const DeployLock* lock, DeployResult& failed) {
    AutomaticRollback automatic;
    auto releases = store.releases();
    if (!releases) return fail(releases.error());
    auto target = rollback_target(*releases, 0);
    if (!target) {
        if (options.progress) options.progress("not rolled back: " + target.error().message);
        failed.failure += "; not rolled back: " + target.error().message;
        failed.rollback = std::move(automatic);
        return {};
    }
    automatic.target = target->revision;
    auto restored = restore(client, discovery, options, store, *target, IncludeCrds::no, lock,
                            {{failed.revision, model::ReleaseOutcome::rolled_back}}, Restore::rollback);
    if (!restored) {
        // The rollback could not even run: the failed release is still held, the cluster as the rollout left it.
        DeployResult broken;
        broken.outcome = Outcome::failed;
        broken.failure = restored.error().describe();
        automatic.result = std::make_shared<DeployResult>(std::move(broken));
    } else {
        automatic.result = std::make_shared<DeployResult>(std::move(*restored));
    }
    const DeployResult& result = *automatic.result;
    failed.failure += result.succeeded()
                          ? fmt::format("; rolled back to release {} (release {}, healthy)", target->revision, result.revision)
                          : fmt::format("; the rollback to release {} failed too, the cluster is left as it is: {}",
                                        target->revision, result.failure);
    failed.rollback = std::move(automatic);
    return {};
}

Result<DeployResult> deploy(kube::Client& client, kube::Discovery& discovery, const std::vector<source::Manifest>& manifests,
                            const DeployOptions& options) {
    Deployment m(client, discovery, options);
    // Names must be valid before anything reaches the cluster.
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    // Labels, namespace and hash for every object; an empty render never prunes everything.
    if (auto prepared = prepare(m, manifests); !prepared) return fail(prepared.error());
    // The lock and the inventory live in the target namespace.
    auto namespace_exists = ensure_namespace(m);
    if (!namespace_exists) return fail(namespace_exists.error());
    m.namespace_exists = *namespace_exists;
    // One deploy of this app/env at a time, until this function returns.
    std::unique_ptr<DeployLock> lock;
    if (!options.dry_run && m.namespace_exists) {
        auto taken = acquire_lock(client, options);
        if (!taken) return fail(taken.error());
        lock = std::move(*taken);
        m.lock = lock.get();
    }
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    // A canary left open by a killed run is replaced by this release: its objects go first.
    if (auto retired = retire_open_canary(m, store); !retired) return fail(retired.error());
    auto result = run_phases(m, store);
    if (!result) return result;
    // A rollout that failed after writing goes back to what ran healthy, when asked to.
    if (m.rollout_failed && options.on_failure == OnFailure::rollback && !options.dry_run) {
        if (auto rolled = roll_back_failure(client, discovery, options, store, lock.get(), *result); !rolled) {
            return fail(rolled.error());
        }
    }
    return result;
}

Result<DeployResult> rollback(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options, int to,
                              IncludeCrds include_crds) {
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    const std::string whose = fmt::format("{}/{} in namespace {}", options.target.app, options.target.env,
                                          options.target.namespace_);
    // Nothing recorded means nothing to return to; asked before taking a lock in a namespace that may not exist.
    auto recorded = store.load_releases();
    if (!recorded) return fail(recorded.error());
    if (recorded->empty()) return fail(ErrorCode::input, "no releases are recorded for " + whose + ": nothing to roll back to");

    auto lock = lock_unless_dry_run(client, options);
    if (!lock) return fail(lock.error());
    // Read again under the lock: the history may have moved while we waited for it.
    auto releases = store.load_releases();
    if (!releases) return fail(releases.error());
    // A running canary is ended by its own commands: a rollback would leave it running next to what it restores.
    if (auto open = open_canary(*releases)) {
        return fail(ErrorCode::input,
                    fmt::format("release {} is running as a canary: end it first with minicd canary abort (or promote)",
                                open->revision),
                    whose);
    }
    auto target = rollback_target(*releases, to);
    if (!target) return fail(target.error().context(whose));
    // The release it replaces is held, so the next CI run of its commit does not bring it back: a
    // healthy one as `held`, a failed one (an automatic rollback that never finished) as `rolled-back`.
    std::map<int, model::ReleaseOutcome> mark;
    for (const auto& release : *releases) {
        if (!model::ran(release)) continue;
        if (release.revision == target->revision) break;
        if (release.outcome == model::ReleaseOutcome::deployed) mark[release.revision] = model::ReleaseOutcome::held;
        if (release.outcome == model::ReleaseOutcome::failed) mark[release.revision] = model::ReleaseOutcome::rolled_back;
        break;
    }
    return restore(client, discovery, options, store, *target, include_crds, lock->get(), std::move(mark), Restore::rollback);
}

Result<DeployResult> fix_drift(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options) {
    if (auto valid = render::validate_target(options.target); !valid) return fail(valid.error());
    Store store(client, options.target.namespace_, options.target.app, options.target.env);
    auto lock = lock_unless_dry_run(client, options);
    if (!lock) return fail(lock.error());
    auto releases = store.load_releases();
    if (!releases) return fail(releases.error());
    auto current = current_release(*releases);
    if (!current) return fail(current.error());
    // Putting back a release that never became healthy would only repeat its failure.
    if (!model::was_healthy(current->outcome)) {
        return fail(ErrorCode::input,
                    fmt::format("release {} {}: drift is measured against it, but it is not put back; roll back "
                                "(minicd rollback) or deploy instead",
                                current->revision, model::to_string(current->outcome)),
                    options.target.owner());
    }
    // CRDs included: they are this release's own version, and the plan leaves unchanged ones alone.
    return restore(client, discovery, options, store, *current, IncludeCrds::yes, lock->get(), {}, Restore::drift_correction);
}

Result<model::Release> current_release(const std::vector<model::Release>& releases) {
    for (const auto& release : releases) {
        if (model::ran(release) && release.payload_chunks > 0) return release;
    }
    return fail(ErrorCode::input, releases.empty() ? "no release is recorded: nothing was deployed here"
                                                   : "no release stored the objects it applied: nothing to compare with");
}

Result<model::Release> rollback_target(const std::vector<model::Release>& releases, int to) {
    if (to > 0) {
        for (const auto& release : releases) {
            if (release.revision != to) continue;
            if (release.payload_chunks < 1) {
                return fail(ErrorCode::input, fmt::format("release {} stored no objects ({}): it cannot be restored", to,
                                                          model::to_string(release.outcome)));
            }
            return release;
        }
        std::string kept = releases.empty() ? std::string("none")
                                            : fmt::format("{} to {}", releases.back().revision, releases.front().revision);
        return fail(ErrorCode::input, fmt::format("release {} is not in the history (kept: {})", to, kept));
    }
    // The current release is the newest that ran; the target is the newest healthy one before it
    // whose objects differ (returning to what runs now would change nothing).
    auto current = std::find_if(releases.begin(), releases.end(), [](const model::Release& release) { return model::ran(release); });
    if (current == releases.end()) return fail(ErrorCode::input, "no release ever wrote to the cluster: nothing to roll back to");
    for (auto candidate = std::next(current); candidate != releases.end(); ++candidate) {
        if (!model::was_healthy(candidate->outcome) || candidate->payload_chunks < 1) continue;
        if (!current->manifest_digest.empty() && candidate->manifest_digest == current->manifest_digest) continue;
        return *candidate;
    }
    return fail(ErrorCode::input,
                fmt::format("no release before release {} was verified healthy (with its objects stored): nothing to "
                            "roll back to",
                            current->revision));
}

}  // namespace minicd::deploy
