#pragma once

// Internal to deploy/: the state one deploy carries from phase to phase. Each phase (plan, apply,
// wait, prune, record) reads and updates it; the driver in deploy.cpp calls them in order.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "minicd/deploy/deploy.hpp"
#include "minicd/deploy/lock.hpp"
#include "minicd/deploy/order.hpp"
#include "minicd/deploy/ownership.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/kube/discovery.hpp"
#include "minicd/model/change_set.hpp"
#include "minicd/model/release.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/source/manifests.hpp"

namespace minicd::deploy {

// How much of a live object the LIST returned.
enum class LiveView {
    full,
    metadata,  // CRDs are listed as metadata only: full ones run to hundreds of KB each
};

// Which objects a plan or write step covers: foundations are what the rest needs to be accepted.
enum class Stage { foundations, objects };

// What a plan covers: the whole stage, or (before anything is written) only the objects the server
// can judge as things stand: their namespace exists, their kind is served, and no CRD of this
// deploy defines or redefines it.
enum class CheckScope { stage, before_writes };

// One declared object on its way through the phases.
struct Item {
    render::Desired desired;
    kube::ResourceInfo resource;
    std::optional<model::Json> live;  // as the LIST saw it (whoever owns it); nullopt if not found there
    LiveView live_view = LiveView::full;
    Ownership ownership;              // from the live object's marks; nobody when it does not exist
    bool adopt = false;               // exists without being ours, and will be taken over
    bool needs_write = false;         // not provably unchanged: dry-run decides
    bool recreate = false;            // refused for an immutable field, and recreation is allowed
    std::optional<model::Json> planned;  // what the dry run said the object would become
    bool checked = false;             // classified, and dry-run when needed
    bool to_write = false;            // checked, and the dry run says the object would change
    model::Change report;
};

Stage stage_of(const Item& item);
bool is_crd(const Item& item);

// What a CustomResourceDefinition defines; empty strings where its spec says nothing readable.
struct CrdNames {
    std::string group;
    std::string kind;
    bool namespaced = true;  // spec.scope is not "Cluster"
};
CrdNames crd_names(const model::Json& crd);

class Deployment {
public:
    Deployment(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options)
        : client(client), discovery(discovery), options(options) {}

    kube::Client& client;
    kube::Discovery& discovery;
    const DeployOptions& options;

    std::vector<Item> items;              // in apply order
    std::vector<model::ObjectId> previous;  // the inventory as stored
    // Declared but not run by this deploy (a chart's install hook on an upgrade): neither written
    // nor pruned, and kept in the inventory.
    std::vector<model::ObjectId> held_back;
    std::string inventory_name;           // our inventory ConfigMap
    model::ChangeSet prune_reports;       // what prune did with the dropped objects
    DeployResult result;
    std::atomic<bool> unreachable{false};  // set by the first request that could not reach the server
    bool wrote_foundations = false;        // namespaces or CRDs were written before the last plan
    bool namespace_exists = false;         // the target namespace exists (or was created by this deploy)
    const DeployLock* lock = nullptr;      // held for the whole deploy; null in dry runs
    bool lock_lost = false;                // found taken over: nothing more is written, the inventory included
    bool rollout_failed = false;           // stopped after writing, by a failed write or an unhealthy rollout
    model::Rollout rollout = model::Rollout::whole;  // pre_phase when the pre phase failed: nothing else was written
    int rollback_to = 0;                   // this run restores that revision; 0 for a deploy
    std::map<int, model::ReleaseOutcome> mark;  // earlier releases' new outcomes, written with this one's record
    std::optional<model::Release> concludes;    // a canary's release this run promotes: its record is updated
    bool retire_canary = false;                 // delete the canary's objects once the release has rolled out
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    void say(const std::string& line) const;
    // The same, about the pre or post phase ("pre phase: ..."); plain for the release itself.
    void say(model::Phase phase, const std::string& line) const;
    // True once a phase ended the deploy: what is left is recording what happened.
    bool stopped() const { return result.outcome != Outcome::succeeded; }
    // Ends the deploy with `outcome`; the first reason given is the one reported.
    void stop(Outcome outcome, std::string why);
    // A network failure or timeout: further requests would only wait out their retries.
    void note_unreachable(const util::Error& error);
    // True (and the deploy stopped) once the Lease was taken over; checked before each write.
    bool check_lock_lost();
    void mark_failed(const model::ObjectId& id, const std::string& why);
    // Says `why` on every object the plan meant to write and no phase wrote.
    void note_unwritten(const std::string& why);

    // What the manifests declare: the items and what is held back.
    std::vector<model::ObjectId> declared_ids() const;
    // What the previous inventory lists and the manifests no longer declare.
    std::vector<model::ObjectId> dropped_ids() const;
    // The CRD of this deploy that defines the kind of `id`; null when there is none.
    const Item* crd_for(const model::ObjectId& id) const;
    // True when an object of this deploy is of the kind `crd` defines.
    bool uses_kind_of(const Item& crd) const;
};

// The phases, each in its own file; the driver (deploy.cpp) calls them in this order.

// plan.cpp: reads the stage's objects live, checks whose they are, and has the server dry-run every
// write, marking what must be written. A refusal stops the deploy with nothing of the stage written.
Result<void> plan(Deployment& deployment, Stage stage, CheckScope scope);

// apply.cpp: creates the target namespace when it is missing and declared; true when it exists now
// (false only in a dry run that would create it). An input error when it is missing and undeclared.
Result<bool> ensure_namespace(Deployment& deployment);
// apply.cpp: writes what the plan marked for the stage and phase, kinds in order; a dry run only
// reports it. After the foundations, waits for the CRDs this deploy has resources of.
Result<void> apply_stage(Deployment& deployment, Stage stage, model::Phase phase);

// wait.cpp: waits until the phase's objects are healthy (Jobs: complete); an unhealthy rollout or a
// failed Job stops the deploy. The pre and post phases are waited for even without `wait`: what
// follows them relies on their outcome.
Result<void> await_health(Deployment& deployment, model::Phase phase);

// prune.cpp: deletes (or reports) what the previous inventory lists and the manifests dropped.
Result<void> prune_dropped(Deployment& deployment);

class Store;

// record.cpp: what a release's payload stores, in apply order: the objects the deploy declared,
// those of the pre and post phases left out (they ran once; a rollback must not run them again).
std::vector<model::Json> release_objects(const Deployment& deployment);
// record.cpp: the canonical JSON text of release_objects, what its manifest digest is computed over.
std::string objects_text(const Deployment& deployment);
// record.cpp: the release record of the deploy as it ended; its manifest digest is keyed with the
// salt `store` keeps (created there on first use), so it is no dry run's business.
Result<model::Release> release_of(const Deployment& deployment, Store& store);

// canary.cpp: deletes the canary objects of the target (when retire_canary is set), ours only.
Result<void> retire_canary(Deployment& deployment);
// canary.cpp: a canary left open (its run killed) is replaced by this deploy: its objects go, its
// record says so. Nothing in a dry run.
Result<void> retire_open_canary(Deployment& deployment, Store& store);

// The driver's steps (deploy.cpp), shared by deploys, rollbacks and canaries.

// Labels, namespace and hash for every object, in apply order; unknown kinds fail naming their manifest.
Result<void> prepare(Deployment& deployment, const std::vector<source::Manifest>& manifests);
// The deploy lock of the target, waiting as the options say.
Result<std::unique_ptr<DeployLock>> acquire_lock(kube::Client& client, const DeployOptions& options);
// Gives the Jobs of the pre and post phases this release's name ("<name>-<revision>"): a Job's
// spec is immutable, so each release runs its own, and the inventory prunes the older ones.
Result<void> name_phase_jobs(Deployment& deployment, Store& store);
// Reads what we owned before and checks it: entries outside our scope mean it was tampered with.
Result<void> load_previous(Deployment& deployment, Store& store);
// Stores `ids` as the inventory unless it says exactly that already.
Result<void> save_inventory(Deployment& deployment, Store& store, std::vector<model::ObjectId> ids);
// Stores the objects the release applied (or points it at a kept release with the same ones) and
// assigns the release its revision.
Result<void> store_objects(const Deployment& deployment, Store& store, model::Release& release);
// Records how the deploy ended and returns its result.
Result<DeployResult> record(Deployment& deployment, Store& store);
// Every phase after the lock: plan, write, wait, prune, record.
Result<DeployResult> run_phases(Deployment& deployment, Store& store);
// The objects of a recorded release as manifests for the phases; CRDs only when included.
std::vector<source::Manifest> manifests_of(std::vector<model::Json> objects, int revision, IncludeCrds include_crds);
// After a failed rollout with OnFailure::rollback: back to the newest release verified healthy, once;
// what happened is added to `failed`.
Result<void> roll_back_failure(kube::Client& client, kube::Discovery& discovery, const DeployOptions& options,
                               Store& store, const DeployLock* lock, DeployResult& failed);

}  // namespace minicd::deploy
