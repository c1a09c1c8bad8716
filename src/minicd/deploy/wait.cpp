#include "minicd/deploy/wait.hpp"

#include <fmt/ranges.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "minicd/deploy/deployment.hpp"
#include "minicd/deploy/wait_progress.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/log.hpp"

namespace minicd::deploy {

namespace {

using model::Json;
using model::member;
using util::ErrorCode;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How often the waiter looks at the clock (deadline, progress) when nothing changes.
constexpr auto k_tick = 250ms;
// Each watch asks the server to end after this long; a clean end is followed by a new watch.
constexpr auto k_watch_span = std::chrono::seconds(300);
// Objects per page when listing, so a large namespace of pods does not arrive as one huge body.
constexpr int k_page_size = 500;
// Failures in a row (after the client's own retries) before a transient problem becomes an error.
constexpr int k_max_failures = 5;
constexpr auto k_first_backoff = 500ms;
constexpr auto k_max_backoff = 4000ms;
// A watch that the server ends sooner than this is not re-opened at once, so a misbehaving server
// cannot make us spin.
constexpr auto k_min_watch_run = 1s;

const kube::ResourceInfo k_pods{.group = "", .version = "v1", .kind = "Pod", .resource = "pods", .namespaced = true};
const kube::ResourceInfo k_replica_sets{
    .group = "apps", .version = "v1", .kind = "ReplicaSet", .resource = "replicasets", .namespaced = true};

bool is_deployment(const kube::ResourceInfo& resource) {
    return resource.group == "apps" && resource.kind == "Deployment";
}

// Kinds whose health depends on their pods (crash loops, unschedulable pods fail them fast).
bool is_workload(const kube::ResourceInfo& resource) {
    if (resource.group == "apps") {
        return resource.kind == "Deployment" || resource.kind == "StatefulSet" || resource.kind == "DaemonSet" ||
               resource.kind == "ReplicaSet";
    }
    return resource.group == "batch" && resource.kind == "Job";
}

std::string api_version(const kube::ResourceInfo& resource) {
    return resource.group.empty() ? resource.version : resource.group + "/" + resource.version;
}

std::string string_member(const Json& json, std::string_view key) { return model::string_at(json, {key}); }

std::string metadata_string(const Json& object, std::string_view key) { return model::string_at(object, {"metadata", key}); }

std::string annotation(const Json& object, std::string_view key) {
    return model::string_at(object, {"metadata", "annotations", key});
}

bool owned_by(const Json& object, const std::string& owner_uid) {
    if (owner_uid.empty()) return false;
    const Json* owners = model::array_at(object, {"metadata", "ownerReferences"});
    if (owners == nullptr) return false;
    return std::any_of(owners->begin(), owners->end(),
                       [&](const Json& owner) { return string_member(owner, "uid") == owner_uid; });
}

// One collection (a resource type in one namespace) that a thread lists and watches.
struct Feed {
    kube::ResourceInfo resource;
    std::string namespace_;        // "" for cluster-scoped resources
    std::string path;              // collection path, no query
    std::set<std::string> names;   // targets served from this collection
    bool keep_all = false;         // Pods and ReplicaSets: every object of the namespace may matter

    // Guarded by Shared::mutex.
    bool synced = false;                   // listed at least once, so a missing object is really missing
    std::map<std::string, Json> objects;   // by metadata.name; only the objects we care about

    // "deployments.apps in ns shop": how errors name the collection.
    std::string label() const {
        std::string text = resource.resource;
        if (!resource.group.empty()) text += "." + resource.group;
        if (!namespace_.empty()) text += " in ns " + namespace_;
        return text;
    }

    bool wanted(const std::string& name) const { return keep_all || names.contains(name); }

    // Narrows list and watch to the one object when there is only one to see.
    std::string selector() const {
        if (keep_all || names.size() != 1) return {};
        return "fieldSelector=metadata.name%3D" + util::percent_encode(*names.begin());
    }
};

// Where a target's state comes from.
struct TargetPlan {
    std::size_t feed = 0;
    std::optional<std::size_t> pods;          // the Pods of its namespace, for workloads
    std::optional<std::size_t> replica_sets;  // the ReplicaSets of its namespace, for Deployments
};

// State shared between the watch threads and the waiter.
struct Shared {
    std::mutex mutex;
    std::condition_variable changed;  // notified on every change, on an error and on stop
    std::atomic<bool> stop{false};
    std::vector<Feed> feeds;            // fixed before the threads start; only their contents change
    unsigned long version = 0;          // bumped on every change
    std::optional<util::Error> error;   // the first failure that retrying will not cure

    bool stopping() const { return stop.load(); }

    // Sleeps for `span` unless asked to stop first; true when asked to stop.
    bool sleep_unless_stopped(std::chrono::milliseconds span) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, span, [&] { return stopping(); });
    }

    void report(util::Error failure) {
        {
            std::lock_guard lock(mutex);
            if (!error) error = std::move(failure);
        }
        changed.notify_all();
    }
};

// Why a list or watch did not go through, and so what to do next.
enum class Setback {
    expired,    // 410 Gone: our resource version is too old; list again
    transient,  // the server or the network may do better soon: retry after a backoff
    refused,    // retrying will not change the answer (403, 404, ...): give up
};

struct Failure {
    Setback setback = Setback::transient;
    util::Error error;
};

Setback classify(long status) {
    if (status == 410) return Setback::expired;
    if (status == 0 || status == 408 || status == 429 || status >= 500) return Setback::transient;
    return Setback::refused;
}

// The HTTP status in an error rendered by kube::api_error ("... (Forbidden, HTTP 403)"); 0 if none.
long status_in(const util::Error& error) {
    if (error.code != ErrorCode::api) return 0;
    const std::string& text = error.message;
    auto at = text.rfind("HTTP ");
    if (at == std::string::npos || at + 8 > text.size()) return 0;
    long status = 0;
    for (std::size_t i = at + 5; i < at + 8; ++i) {
        if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) return 0;
        status = status * 10 + (text[i] - '0');
    }
    return status;
}

// Adds what the stored JSON lacks and drops what nobody reads: list items carry no apiVersion/kind
// (health::assess needs them), and managedFields are large.
Json prepare(Json object, const kube::ResourceInfo& resource) {
    object["apiVersion"] = api_version(resource);
    object["kind"] = resource.kind;
    if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
        metadata->erase("managedFields");
    }
    return object;
}

// Lists and watches one feed until told to stop or a refusal ends it.
class FeedRunner {
public:
    FeedRunner(kube::Client& client, Shared& shared, std::size_t index)
        : m_client(client), m_shared(shared), m_feed(shared.feeds[index]) {}

    void run() {
        try {
            loop();
        } catch (const std::exception& error) {
            // A bug must not take the process down from a thread; the waiter reports it.
            m_shared.report(util::make_error(ErrorCode::internal, error.what(), m_feed.label()));
        }
    }

private:
    void loop() {
        int failures = 0;
        while (!m_shared.stopping()) {
            auto step = m_resource_version.empty() ? list() : watch();
            if (step) {
                failures = 0;
                continue;
            }
            if (m_shared.stopping()) return;
            switch (step.error().setback) {
            case Setback::expired:
                util::log_debug("{}: resource version expired; listing again", m_feed.label());
                m_resource_version.clear();
                break;
            case Setback::refused:
                m_shared.report(describe(step.error().error));
                return;
            case Setback::transient: {
                if (++failures >= k_max_failures) {
                    m_shared.report(describe(step.error().error));
                    return;
                }
                auto wait = std::min<std::chrono::milliseconds>(k_first_backoff * (1 << (failures - 1)), k_max_backoff);
                util::log_debug("{}: {}; retrying in {} ms", m_feed.label(), step.error().error.describe(),
                                wait.count());
                if (m_shared.sleep_unless_stopped(wait)) return;
                break;
            }
            }
        }
    }

    // "deployments.apps in ns shop: cannot list and watch web: GET ...: ... is forbidden ... (Forbidden, HTTP 403)"
    util::Error describe(const util::Error& error) const {
        std::string names;
        for (const auto& name : m_feed.names) names += (names.empty() ? " " : ", ") + name;
        if (m_feed.keep_all) names.clear();
        return util::make_error(error.code, fmt::format("cannot list and watch{}: {}", names, error.describe()),
                                m_feed.label());
    }

    std::string query(std::initializer_list<std::string> parts) const {
        std::string text;
        for (const auto& part : parts) {
            if (part.empty()) continue;
            text += (text.empty() ? "?" : "&") + part;
        }
        return m_feed.path + text;
    }

    // Replaces the feed's objects with a fresh list and remembers its resource version.
    tl::expected<void, Failure> list() {
        std::map<std::string, Json> objects;
        std::string resource_version;
        std::string next;
        do {
            std::string path = query({fmt::format("limit={}", k_page_size), m_feed.selector(),
                                      next.empty() ? std::string() : "continue=" + util::percent_encode(next)});
            auto response = m_client.send({.path = path});
            if (!response) return tl::unexpected(Failure{Setback::transient, response.error()});
            if (response->status < 200 || response->status >= 300) {
                return tl::unexpected(Failure{classify(response->status), kube::api_error(*response, "GET " + path)});
            }
            auto page = model::parse_json(response->body);
            if (!page.is_object()) {
                auto error = util::make_error(ErrorCode::api, "the list is not a JSON object", "GET " + path);
                return tl::unexpected(Failure{Setback::transient, std::move(error)});
            }
            if (const Json* items = member(page, "items"); items != nullptr && items->is_array()) {
                for (const Json& item : *items) {
                    std::string name = metadata_string(item, "name");
                    if (m_feed.wanted(name)) objects[name] = prepare(item, m_feed.resource);
                }
            }
            resource_version = metadata_string(page, "resourceVersion");
            next = metadata_string(page, "continue");
        } while (!next.empty() && !m_shared.stopping());

        {
            std::lock_guard lock(m_shared.mutex);
            m_feed.objects = std::move(objects);
            m_feed.synced = true;
            ++m_shared.version;
        }
        m_shared.changed.notify_all();
        // Without a resource version there is nothing to resume from; "0" still avoids a list loop.
        m_resource_version = resource_version.empty() ? "0" : resource_version;
        return {};
    }

    // Follows changes from the last seen resource version until the watch ends.
    tl::expected<void, Failure> watch() {
        std::optional<Failure> failure;
        bool any_event = false;
        auto on_event = [&](const Json& event) {
            any_event = true;
            if (m_shared.stopping()) return false;
            std::string type = string_member(event, "type");
            if (type.empty() && string_member(event, "kind") == "Status") {
                // A refused watch whose Status body arrived as a line of the stream.
                failure = status_failure(event);
                return false;
            }
            const Json* object = member(event, "object");
            if (object == nullptr) return true;
            if (type == "ERROR") {
                failure = status_failure(*object);
                return false;
            }
            std::string resource_version = metadata_string(*object, "resourceVersion");
            if (!resource_version.empty()) m_resource_version = resource_version;
            if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") apply(type, *object);
            return true;
        };

        auto started = Clock::now();
        std::string path = query({m_feed.selector(), "resourceVersion=" + util::percent_encode(m_resource_version)});
        auto watched = m_client.watch(path, on_event, k_watch_span, [&] { return m_shared.stopping(); });
        if (failure) return tl::unexpected(std::move(*failure));
        if (!watched) return tl::unexpected(Failure{classify(status_in(watched.error())), watched.error()});
        if (!any_event && Clock::now() - started < k_min_watch_run) m_shared.sleep_unless_stopped(k_min_watch_run);
        return {};
    }

    Failure status_failure(const Json& status) const {
        long code = 0;
        if (const Json* value = member(status, "code"); value != nullptr && value->is_number_integer()) {
            code = value->get<long>();
        }
        std::string message = string_member(status, "message");
        if (message.empty()) message = "the watch reported an error";
        std::string reason = string_member(status, "reason");
        std::string detail = reason.empty() ? fmt::format("HTTP {}", code) : fmt::format("{}, HTTP {}", reason, code);
        return Failure{classify(code), util::make_error(ErrorCode::api, fmt::format("{} ({})", message, detail),
                                                        "WATCH " + m_feed.path)};
    }

    void apply(const std::string& type, const Json& object) {
        std::string name = metadata_string(object, "name");
        if (!m_feed.wanted(name)) return;
        {
            std::lock_guard lock(m_shared.mutex);
            if (type == "DELETED") {
                m_feed.objects.erase(name);
            } else {
                m_feed.objects[name] = prepare(object, m_feed.resource);
            }
            ++m_shared.version;
        }
        m_shared.changed.notify_all();
    }

    kube::Client& m_client;
    Shared& m_shared;
    Feed& m_feed;
    std::string m_resource_version;  // "" until listed, and again after 410 Gone
};

// Stops and joins the watch threads however the wait ends, so none outlives the call.
class FeedThreads {
public:
    explicit FeedThreads(Shared& shared) : m_shared(shared) {}
    FeedThreads(const FeedThreads&) = delete;
    FeedThreads& operator=(const FeedThreads&) = delete;

    ~FeedThreads() {
        {
            std::lock_guard lock(m_shared.mutex);
            m_shared.stop = true;
        }
        m_shared.changed.notify_all();
        for (auto& thread : m_threads) thread.join();
    }

    void start(kube::Client& client) {
        for (std::size_t i = 0; i < m_shared.feeds.size(); ++i) {
            m_threads.emplace_back([&client, this, i] { FeedRunner(client, m_shared, i).run(); });
        }
    }

private:
    Shared& m_shared;
    std::vector<std::thread> m_threads;
};

// One feed per collection the targets need, with each target's place in them.
std::vector<TargetPlan> plan_feeds(const std::vector<WaitTarget>& targets, std::vector<Feed>& feeds) {
    auto feed_for = [&](const kube::ResourceInfo& resource, const std::string& namespace_) {
        std::string ns = resource.namespaced ? namespace_ : std::string();
        std::string path = resource.collection_path(ns);
        for (std::size_t i = 0; i < feeds.size(); ++i) {
            if (feeds[i].path == path) return i;
        }
        feeds.push_back(Feed{.resource = resource, .namespace_ = ns, .path = path});
        return feeds.size() - 1;
    };

    std::vector<TargetPlan> plans;
    for (const auto& target : targets) {
        TargetPlan plan;
        plan.feed = feed_for(target.resource, target.id.namespace_);
        feeds[plan.feed].names.insert(target.id.name);
        if (is_workload(target.resource)) {
            plan.pods = feed_for(k_pods, target.id.namespace_);
            feeds[*plan.pods].keep_all = true;
        }
        if (is_deployment(target.resource)) {
            plan.replica_sets = feed_for(k_replica_sets, target.id.namespace_);
            feeds[*plan.replica_sets].keep_all = true;
        }
        plans.push_back(plan);
    }
    return plans;
}

// The pods a workload's health depends on: those it owns; for a Deployment, those of its current
// ReplicaSet (the one at the Deployment's revision), or of all its ReplicaSets when the Deployment
// names no revision. When it names one we have not seen yet (the ReplicaSet feed lags the Deployment
// feed), no pods: an older ReplicaSet's crash loop must not fail the rollout that replaces it.
std::vector<Json> pods_of(const Json& workload, const TargetPlan& plan, const std::vector<Feed>& feeds) {
    std::vector<Json> pods;
    if (!plan.pods) return pods;
    std::set<std::string> owners;
    std::string uid = metadata_string(workload, "uid");
    if (plan.replica_sets) {
        const std::string revision = annotation(workload, "deployment.kubernetes.io/revision");
        for (const auto& [name, set] : feeds[*plan.replica_sets].objects) {
            if (!owned_by(set, uid)) continue;
            if (revision.empty() || annotation(set, "deployment.kubernetes.io/revision") == revision) {
                owners.insert(metadata_string(set, "uid"));
            }
        }
    } else {
        owners.insert(uid);
    }
    for (const auto& [name, pod] : feeds[*plan.pods].objects) {
        if (std::any_of(owners.begin(), owners.end(), [&](const std::string& owner) { return owned_by(pod, owner); })) {
            pods.push_back(pod);
        }
    }
    return pods;
}

// The health of one target from what the feeds have seen so far, with the pods it was judged by.
// Called with Shared::mutex held.
ObjectHealth assess_target(const WaitTarget& target, const TargetPlan& plan, const std::vector<Feed>& feeds,
                           const health::AssessOptions& options) {
    const Feed& feed = feeds[plan.feed];
    bool synced = feed.synced && (!plan.pods || feeds[*plan.pods].synced) &&
                  (!plan.replica_sets || feeds[*plan.replica_sets].synced);
    if (!synced) return {target.id, {health::State::in_progress, "NotObserved", "not listed yet"}, {}};
    auto found = feed.objects.find(target.id.name);
    if (found == feed.objects.end()) return {target.id, {health::State::in_progress, "NotFound", "not found"}, {}};
    auto pods = pods_of(found->second, plan, feeds);
    ObjectHealth result{target.id, health::assess(found->second, pods, options), {}};
    for (const auto& pod : pods) result.pods.push_back(metadata_string(pod, "name"));
    std::sort(result.pods.begin(), result.pods.end());
    return result;
}

std::chrono::milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

}  // namespace

// The feeds and their threads; the threads are declared last, so they stop before what they use goes.
struct HealthWatch::State {
    explicit State(std::vector<WaitTarget> watched) : targets(std::move(watched)), threads(shared) {}

    std::vector<WaitTarget> targets;
    health::AssessOptions assess;
    Shared shared;
    std::vector<TargetPlan> plans;
    unsigned long seen = 0;  // the feed version last assessed
    FeedThreads threads;
};

HealthWatch::HealthWatch(kube::Client& client, std::vector<WaitTarget> targets, health::AssessOptions assess)
    : m_state(std::make_unique<State>(std::move(targets))) {
    m_state->assess = std::move(assess);
    m_state->plans = plan_feeds(m_state->targets, m_state->shared.feeds);
    m_state->threads.start(client);
}

HealthWatch::~HealthWatch() = default;

Result<std::vector<ObjectHealth>> HealthWatch::next(Clock::time_point until) {
    State& state = *m_state;
    std::unique_lock lock(state.shared.mutex);
    state.shared.changed.wait_until(lock, std::min(Clock::now() + k_tick, until),
                                    [&] { return state.shared.error || state.shared.version != state.seen; });
    if (state.shared.error) return fail(*state.shared.error);
    state.seen = state.shared.version;
    std::vector<ObjectHealth> objects;
    for (std::size_t i = 0; i < state.targets.size(); ++i) {
        objects.push_back(assess_target(state.targets[i], state.plans[i], state.shared.feeds, state.assess));
    }
    return objects;
}

namespace {

WaitProgress progress_of(const std::vector<ObjectHealth>& objects, std::chrono::milliseconds elapsed) {
    WaitProgress progress{.elapsed = elapsed, .total = static_cast<int>(objects.size())};
    for (const auto& object : objects) {
        if (object.health.state == health::State::current) {
            ++progress.ready;
        } else {
            progress.not_ready.push_back(object);
        }
    }
    return progress;
}

bool in_state(const ObjectHealth& object, health::State state) { return object.health.state == state; }

}  // namespace

Result<WaitResult> wait_for_health(kube::Client& client, const std::vector<WaitTarget>& targets,
                                   const WaitOptions& options) {
    const auto start = Clock::now();
    const auto deadline = start + options.timeout;
    WaitResult result;
    if (targets.empty()) {
        result.healthy = true;
        return result;
    }

    // One list + watch thread per collection; stopped and joined when this returns, however it returns.
    HealthWatch watch(client, targets, options.assess);
    // What is still pending, shown on stderr once the wait takes a while; erased or ended on return.
    WaitReporter reporter = WaitReporter::on_stderr();

    auto next_progress = start + options.progress_interval;
    while (true) {
        // Look again on every change, and at least every tick for the deadline and progress.
        auto objects = watch.next(deadline);
        if (!objects) return fail(objects.error());
        result.elapsed = since(start);

        // Fail fast: one failed object decides, even while others are still progressing.
        bool failed = std::any_of(objects->begin(), objects->end(),
                                  [](const auto& object) { return in_state(object, health::State::failed); });
        bool all_current = std::all_of(objects->begin(), objects->end(),
                                       [](const auto& object) { return in_state(object, health::State::current); });
        if (all_current || failed || Clock::now() >= deadline) {
            result.healthy = all_current;
            result.timed_out = !all_current && !failed;
            result.objects = std::move(*objects);
            return result;
        }

        reporter.update(progress_of(*objects, result.elapsed));
        // The caller's own look at what is pending, about every progress_interval.
        if (options.on_progress && options.progress_interval.count() > 0 && Clock::now() >= next_progress) {
            options.on_progress(progress_of(*objects, result.elapsed));
            while (next_progress <= Clock::now()) next_progress += options.progress_interval;
        }
    }
}

namespace {

// The first words of the failure of a phase that did not become healthy.
std::string_view failure_of(model::Phase phase, bool timed_out) {
    switch (phase) {
    case model::Phase::pre: return timed_out ? "the pre phase did not complete before the timeout" : "the pre phase failed";
    case model::Phase::main: break;
    case model::Phase::post: return timed_out ? "the post phase did not complete before the timeout" : "the post phase failed";
    }
    return timed_out ? "not ready before the timeout" : "rollout failed";
}

// A deploy's health covers every phase waited for: healthy only if each was, their objects together.
void add_health(DeployResult& result, const WaitResult& waited) {
    if (!result.health) {
        result.health = waited;
        return;
    }
    WaitResult& all = *result.health;
    all.healthy = all.healthy && waited.healthy;
    all.timed_out = all.timed_out || waited.timed_out;
    all.elapsed += waited.elapsed;
    all.objects.insert(all.objects.end(), waited.objects.begin(), waited.objects.end());
}

}  // namespace

// CRDs are not among the targets: those this deploy uses were waited for when written, and the
// rest are needed by nothing here (watching CRDs would list every CRD of the cluster, whole).
Result<void> await_health(Deployment& m, model::Phase phase) {
    const bool wait = m.options.wait || phase != model::Phase::main;
    if (!wait || m.options.dry_run || m.stopped()) return {};
    std::vector<const Item*> items;
    for (const auto& item : m.items) {
        if (!is_crd(item) && item.desired.phase == phase) items.push_back(&item);
    }
    std::vector<WaitTarget> targets;
    bool wrote = false;
    for (const Item* item : items) {
        targets.push_back({item->desired.id, item->resource});
        wrote = wrote || item->report.action != Action::unchanged;
    }
    // Nothing written and everything already healthy as listed: no watch needed.
    if (!wrote && std::all_of(items.begin(), items.end(), [&](const Item* item) {
            return item->live && health::assess(*item->live, {}, m.options.assess).state == health::State::current;
        })) {
        return {};
    }
    m.say(phase, fmt::format("waiting up to {}s for {} object{} to become ready", m.options.timeout.count(), targets.size(),
                             targets.size() == 1 ? "" : "s"));
    const WaitOptions options{.timeout = m.options.timeout, .assess = m.options.assess};
    auto waited = wait_for_health(m.client, targets, options);
    if (!waited) return fail(waited.error());
    add_health(m.result, *waited);
    if (!waited->healthy) {
        std::vector<std::string> problems;
        for (const auto& object : waited->objects) {
            if (object.health.state == health::State::current) continue;
            problems.push_back(fmt::format("{}: {}", object.id.describe(), object.health.message));
        }
        m.stop(Outcome::failed, fmt::format("{} after {}s:\n  {}", failure_of(phase, waited->timed_out),
                                            std::chrono::duration_cast<std::chrono::seconds>(waited->elapsed).count(),
                                            fmt::join(problems, "\n  ")));
    }
    return {};
}

}  // namespace minicd::deploy
