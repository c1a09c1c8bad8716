#include "minicd/deploy/lock.hpp"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <limits>

#include "minicd/kube/exec_plugin.hpp"
#include "minicd/kube/verbs.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/log.hpp"

namespace minicd::deploy {

using util::ErrorCode;
using Clock = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const std::string k_managed_by_label = "app.kubernetes.io/managed-by";
// How often a waiting acquire looks at a live holder's Lease again.
constexpr std::chrono::seconds k_poll_interval{1};
// Watching a Lease that looks expired lasts its lease duration plus this, so the last look lands after it.
constexpr std::chrono::seconds k_confirm_slack{1};
// A Lease that changes under us settles after a look or two; past this something keeps fighting us.
constexpr int k_quick_retries = 3;
// Each failed precondition on delete means a renewal landed that we never heard of; it cannot repeat often.
constexpr int k_delete_attempts = 3;


// An unsafe write is not replayed by the client, so a lost answer or a 5xx leaves us not knowing
// whether it happened; only reading the Lease back can tell.
bool outcome_unknown(const Result<kube::ApiResponse>& response) { return !response || response->status >= 500; }

// MicroTime as the API server writes it: "2026-01-02T03:04:05.000000Z" (always six fraction digits).
std::string micro_time(Clock::time_point time) {
    const auto micros = std::chrono::floor<std::chrono::microseconds>(time);
    const auto seconds = std::chrono::floor<std::chrono::seconds>(micros);
    const std::time_t whole = Clock::to_time_t(seconds);
    std::tm utc{};
    gmtime_r(&whole, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    return fmt::format("{}.{:06}Z", text, (micros - seconds).count());
}

// A string field of the Lease's spec; empty when absent (the server omits empty fields) or not a string.
std::string spec_string(const model::Json& lease, std::string_view key) { return model::string_at(lease, {"spec", key}); }

// An integer field of the Lease's spec; 0 when absent, not a whole number, or outside the int32 the
// API declares (so durations built from it cannot overflow a clock).
long long spec_integer(const model::Json& lease, std::string_view key) {
    const std::int64_t value = model::int_at(lease, {"spec", key}).value_or(0);
    return value >= 0 && value <= std::numeric_limits<std::int32_t>::max() ? value : 0;
}

std::string holder_of(const model::Json& lease) { return spec_string(lease, "holderIdentity"); }

// Whether the holder's own renewTime plus its lease duration is past by our wall clock (or it was
// never renewed). Only a hint that the holder may be dead: its clock may simply be behind ours.
bool looks_expired(const model::Json& lease) {
    auto renewed = kube::parse_rfc3339(spec_string(lease, "renewTime"));
    if (!renewed) return true;
    // A difference, not a sum: a renewTime far ahead plus its duration could pass the clock's range.
    return Clock::now() - *renewed > std::chrono::seconds(spec_integer(lease, "leaseDurationSeconds"));
}

// What identifies one state of a Lease: any write (a renewal included) changes the resourceVersion.
std::string record_of(const model::Json& lease) {
    const model::Json* spec = model::member(lease, "spec");
    return fmt::format("{}/{}/{}", model::string_at(lease, {"metadata", "uid"}),
                       model::string_at(lease, {"metadata", "resourceVersion"}), spec != nullptr ? spec->dump() : "{}");
}

// Whole seconds for messages, rounded up so a short wait never reads "0s".
long long seconds_up(Steady::duration duration) {
    return std::max<long long>(0, std::chrono::ceil<std::chrono::seconds>(duration).count());
}

// Our own subject on a transport failure, whose subject is the bare URL.
util::Error about(const util::Error& error, const std::string& subject, std::string_view doing) {
    return util::make_error(error.code, fmt::format("{}: {}", doing, error.message), subject);
}

}  // namespace

DeployLock::DeployLock(kube::Client& client, LockOptions options) : m_client(client), m_options(std::move(options)) {}

Result<std::unique_ptr<DeployLock>> DeployLock::acquire(kube::Client& client, LockOptions options) {
    if (options.namespace_.empty() || options.name.empty() || options.holder.empty()) {
        return fail(ErrorCode::internal, "a deploy lock needs a namespace, a Lease name and a holder identity");
    }
    // The API server rejects leaseDurationSeconds below 1, and renewing needs at least that much room.
    if (options.lease_duration < 1s) {
        return fail(ErrorCode::internal, "the lease duration of a deploy lock must be at least one second");
    }
    options.wait = std::max(options.wait, std::chrono::seconds(0));
    std::unique_ptr<DeployLock> lock(new DeployLock(client, std::move(options)));

    const auto wait_deadline = Steady::now() + lock->m_options.wait;
    bool announced_wait = false;
    bool announced_confirm = false;
    int quick_retries = 0;
    for (;;) {
        auto round = lock->take_once();
        if (!round) return fail(round.error());
        if (round->outcome == Outcome::taken) break;
        if (round->outcome == Outcome::retry) {
            // It changed under us: looking again at once usually settles who holds it.
            if (++quick_retries <= k_quick_retries) continue;
            if (round->unknown) return fail(*round->unknown);
            return fail(ErrorCode::api, "the Lease kept changing while we tried to take it", lock->subject());
        }
        quick_retries = 0;
        // Someone else kept it: a later write of ours is the one that can land.
        lock->m_writing_since.reset();
        const Observation& seen = lock->m_observed;
        const auto duration = lock->lease_duration_of(round->lease);
        // A fresh process has never watched the Lease; one that looks expired is watched for its lease
        // duration, even with no wait allowed, unless it already changed (its holder renewed: alive).
        const bool confirming = seen.changes == 0 && looks_expired(round->lease);
        auto deadline = wait_deadline;
        if (confirming) deadline = std::max(deadline, seen.since + duration + k_confirm_slack);
        const auto now = Steady::now();
        if (now >= deadline) return fail(lock->busy_error(round->lease));
        // A CI log that stalls silently looks hung; say once whom we are waiting for, and why.
        if (confirming && !announced_confirm) {
            util::log_info("{}: held by \"{}\", whose lease looks expired by our clock; watching it for up to {}s to "
                           "confirm that the holder is gone before taking over",
                           lock->subject(), holder_of(round->lease), seconds_up(deadline - now));
            announced_confirm = true;
        } else if (!confirming && !announced_wait) {
            util::log_info("{}: held by \"{}\"; waiting up to {}s for it", lock->subject(), holder_of(round->lease),
                           seconds_up(deadline - now));
            announced_wait = true;
        }
        // Look again each poll interval, and right when the record will have stayed unchanged long enough.
        auto wake = std::min(now + k_poll_interval, deadline);
        if (seen.since + duration > now) wake = std::min(wake, seen.since + duration);
        std::this_thread::sleep_until(wake);
    }

    // Whichever of our writes stored the claim was sent no earlier than this.
    lock->m_renewed = lock->m_writing_since.value_or(Steady::now());
    lock->m_held = true;
    lock->m_renewer = std::thread([raw = lock.get()] { raw->renew_loop(); });
    // A cancelled CI job releases the Lease rather than making the next deploy wait for it to expire.
    const std::string where =
        fmt::format("the deploy lock {} in namespace {}", lock->m_options.name, lock->m_options.namespace_);
    lock->m_on_interrupt = util::InterruptCleanup("release " + where, [raw = lock.get(), where]() -> std::string {
        auto released = raw->release_once();
        if (!released) return fmt::format("could not release {}: {}", where, released.error().describe());
        return *released ? "released " + where : std::string();
    });
    return lock;
}

DeployLock::~DeployLock() {
    // Best effort: a Lease we fail to delete expires on its own after lease_duration.
    (void)release();
}

Result<void> DeployLock::release() {
    // First, so that a release the signal thread is doing right now is finished when this returns;
    // release_once() never touches m_on_interrupt, so that thread never waits for this one.
    m_on_interrupt.dismiss();
    auto released = release_once();
    if (!released) return fail(released.error());
    return {};
}

// The one release, from whichever thread comes first; true when we held the Lease and deleted it.
Result<bool> DeployLock::release_once() {
    std::lock_guard guard(m_release_mutex);
    if (m_released) return false;
    m_released = true;
    stop_renewer();
    // A Lease someone else took over is theirs now; deleting it would let a third deploy in.
    if (!m_held.exchange(false)) return false;
    auto deleted = delete_lease();
    if (!deleted) return fail(deleted.error());
    return true;
}

// One attempt: create the Lease, or judge the one already there.
Result<DeployLock::Round> DeployLock::take_once() {
    const std::string now = micro_time(Clock::now());
    note_write_sent();
    const model::Json lease = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata",
         {{"name", m_options.name},
          {"namespace", m_options.namespace_},
          {"labels", {{k_managed_by_label, "minicd"}}}}},
        {"spec",
         {{"holderIdentity", m_options.holder},
          {"leaseDurationSeconds", m_options.lease_duration.count()},
          {"acquireTime", now},
          {"renewTime", now},
          {"leaseTransitions", 0}}}};
    auto created = m_client.send({.method = http::Method::post,
                                  .path = collection_path(),
                                  .body = lease.dump(),
                                  .content_type = "application/json",
                                  .replay = kube::Replay::unsafe});
    if (created && created->status == 201) {
        auto stored = parse_lease(*created);
        if (!stored) return fail(stored.error());
        m_lease = std::move(*stored);
        return Round{.outcome = Outcome::taken};
    }
    // Creating in a missing namespace is the one 404 a create gets.
    if (created && created->status == 404) return fail(missing_namespace_error(*created));
    if (created && created->status != 409 && !outcome_unknown(created)) {
        return fail(kube::api_error(*created, subject()));
    }

    // AlreadyExists, or a create whose outcome is unknown: what is stored now decides.
    auto current = read_lease();
    if (!current) return fail(current.error());
    if (!*current) {
        Round round{.outcome = Outcome::retry};
        if (!created) round.unknown = about(created.error(), subject(), "creating the Lease");
        else if (created->status >= 500) round.unknown = kube::api_error(*created, subject());
        return round;
    }
    return judge(std::move(**current));
}

// What a stored Lease means for us: ours already, free to take over, or a live holder's.
Result<DeployLock::Round> DeployLock::judge(model::Json lease) {
    // Ours when a create whose answer we lost did land.
    if (holder_of(lease) == m_options.holder) {
        m_lease = std::move(lease);
        return Round{.outcome = Outcome::taken};
    }
    // An empty holder is a Lease given up: free at once.
    if (holder_of(lease).empty()) return take_over(std::move(lease));
    // Dead only once our own clock saw it unchanged for its lease duration; its renewTime is their clock.
    if (observe(lease) >= lease_duration_of(lease)) return take_over(std::move(lease));
    return Round{.outcome = Outcome::busy, .lease = std::move(lease)};
}

// How long our monotonic clock has seen `lease` exactly as it is now; any write to it restarts the count.
Steady::duration DeployLock::observe(const model::Json& lease) {
    const auto now = Steady::now();
    std::string record = record_of(lease);
    if (m_observed.record.empty()) {
        m_observed = {.record = std::move(record), .first = now, .since = now};
    } else if (record != m_observed.record) {
        m_observed.record = std::move(record);
        m_observed.since = now;
        ++m_observed.changes;
    }
    return now - m_observed.since;
}

// The Lease's own leaseDurationSeconds; ours when it states none (the API server allows omitting it).
std::chrono::seconds DeployLock::lease_duration_of(const model::Json& lease) const {
    const long long stated = spec_integer(lease, "leaseDurationSeconds");
    return stated >= 1 ? std::chrono::seconds(stated) : m_options.lease_duration;
}

// Called before each create or takeover is sent; see m_writing_since.
void DeployLock::note_write_sent() {
    if (!m_writing_since) m_writing_since = Steady::now();
}

// Replaces a holder that gave the Lease up or that we watched stay unchanged for its lease duration.
// Sending back the resourceVersion we read makes this optimistic: if anyone wrote the Lease since
// (a renewal included), the server answers 409 and they win.
Result<DeployLock::Round> DeployLock::take_over(model::Json lease) {
    const std::string previous = holder_of(lease);
    const auto their_duration = lease_duration_of(lease);
    const std::string now = micro_time(Clock::now());
    note_write_sent();
    const long long transitions = spec_integer(lease, "leaseTransitions");
    auto& spec = lease["spec"];
    spec["holderIdentity"] = m_options.holder;
    spec["leaseDurationSeconds"] = m_options.lease_duration.count();
    spec["acquireTime"] = now;
    spec["renewTime"] = now;
    spec["leaseTransitions"] = transitions + 1;
    lease["metadata"]["labels"][k_managed_by_label] = "minicd";

    auto updated = m_client.send({.method = http::Method::put,
                                  .path = lease_path(),
                                  .body = lease.dump(),
                                  .content_type = "application/json",
                                  .replay = kube::Replay::unsafe});
    if (updated && updated->status == 200) {
        auto stored = parse_lease(*updated);
        if (!stored) return fail(stored.error());
        m_lease = std::move(*stored);
        if (!previous.empty()) {
            util::log_info("{}: took over from \"{}\", whose Lease stayed unchanged for {}s (its lease duration)",
                           subject(), previous, their_duration.count());
        }
        return Round{.outcome = Outcome::taken};
    }
    // Deleted since we read it: creating it again is the next step.
    if (updated && updated->status == 404) return Round{.outcome = Outcome::retry};
    if (updated && updated->status != 409 && !outcome_unknown(updated)) {
        return fail(kube::api_error(*updated, subject()));
    }
    return look_again(updated);
}

// After a takeover lost a race (409) or got no answer: the stored Lease says who won.
Result<DeployLock::Round> DeployLock::look_again(const Result<kube::ApiResponse>& write) {
    auto current = read_lease();
    if (!current) return fail(current.error());
    if (*current && holder_of(**current) == m_options.holder) {
        m_lease = std::move(**current);
        return Round{.outcome = Outcome::taken};
    }
    // Someone else's write won: a record we have not watched yet, so theirs until it stays unchanged.
    if (*current && !holder_of(**current).empty() && observe(**current) < lease_duration_of(**current)) {
        return Round{.outcome = Outcome::busy, .lease = std::move(**current)};
    }
    // Gone, given up, or still the unchanged record our write did not replace: start over rather than loop in here.
    Round round{.outcome = Outcome::retry};
    if (!write) round.unknown = about(write.error(), subject(), "taking over the Lease");
    else if (write->status >= 500) round.unknown = kube::api_error(*write, subject());
    return round;
}

// The stored Lease; nullopt when there is none.
Result<std::optional<model::Json>> DeployLock::read_lease() {
    auto response = m_client.send({.path = lease_path()});
    if (!response) return fail(about(response.error(), subject(), "reading the Lease"));
    if (response->status == 404) return std::optional<model::Json>();
    if (!kube::ok(response->status)) return fail(kube::api_error(*response, subject()));
    auto lease = parse_lease(*response);
    if (!lease) return fail(lease.error());
    return std::optional<model::Json>(std::move(*lease));
}

Result<model::Json> DeployLock::parse_lease(const kube::ApiResponse& response) const {
    auto lease = model::parse_json(response.body);
    if (lease.is_discarded() || !lease.is_object()) {
        return fail(ErrorCode::api, "the server answered with something that is not a Lease", subject());
    }
    // Taking over and renewing write into spec and metadata.labels: each must be an object where present.
    for (auto [path, name] : {std::pair{model::find_path(lease, {"spec"}), "spec"},
                              std::pair{model::find_path(lease, {"metadata"}), "metadata"},
                              std::pair{model::find_path(lease, {"metadata", "labels"}), "metadata.labels"}}) {
        if (path != nullptr && !path->is_object()) {
            return fail(ErrorCode::api,
                        fmt::format("the server answered with a Lease whose {} is {}, not an object", name, path->type_name()),
                        subject());
        }
    }
    return lease;
}

util::Error DeployLock::missing_namespace_error(const kube::ApiResponse& response) const {
    const bool namespace_gone = model::string_at(model::parse_json(response.body), {"details", "kind"}) == "namespaces";
    if (!namespace_gone) return kube::api_error(response, subject());
    return util::make_error(ErrorCode::api,
                            fmt::format("namespace \"{}\" does not exist, so the deploy lock cannot be created in "
                                        "it; create the namespace first",
                                        m_options.namespace_),
                            subject());
}

// Names the holder and what our own clock saw; their renewTime is never compared with our clock.
util::Error DeployLock::busy_error(const model::Json& lease) const {
    std::string since = spec_string(lease, "acquireTime");
    if (since.empty()) since = spec_string(lease, "renewTime");
    const auto now = Steady::now();
    const auto duration = lease_duration_of(lease);
    std::string seen;
    if (m_observed.changes > 0) {
        seen = fmt::format("its Lease was renewed {} time{} in the {}s we watched it, so that deploy is alive",
                           m_observed.changes, m_observed.changes == 1 ? "" : "s", seconds_up(now - m_observed.first));
    } else {
        const auto unchanged = now - m_observed.since;
        seen = fmt::format("we saw its Lease unchanged for {}s of its {}s lease duration, so by our clock it expires "
                           "in {}s unless renewed",
                           std::chrono::floor<std::chrono::seconds>(unchanged).count(), duration.count(),
                           seconds_up(duration - unchanged));
    }
    const std::string waited =
        m_options.wait.count() > 0 ? fmt::format("; gave up after waiting {}s", m_options.wait.count()) : "";
    return util::make_error(ErrorCode::api,
                            fmt::format("environment is locked by \"{}\" since {} (another deploy of this environment "
                                        "is running); {}{}",
                                        holder_of(lease), since.empty() ? "an unknown time" : since, seen, waited),
                            subject());
}

std::string DeployLock::collection_path() const {
    return fmt::format("/apis/coordination.k8s.io/v1/namespaces/{}/leases", m_options.namespace_);
}

std::string DeployLock::lease_path() const { return collection_path() + "/" + m_options.name; }

std::string DeployLock::subject() const { return fmt::format("lease {}/{}", m_options.namespace_, m_options.name); }

bool DeployLock::still_held() const { return m_held.load() && !lapsed(Steady::now()); }

// Others may take over once they have seen our last stored record unchanged for lease_duration; that
// record was stored no earlier than m_renewed, so past this point we can no longer count on holding it.
bool DeployLock::lapsed(Steady::time_point now) const { return m_renewed.load() + m_options.lease_duration < now; }

// A third of the lease leaves two more chances to renew when one fails.
std::chrono::milliseconds DeployLock::renew_interval() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(m_options.lease_duration) / 3;
}

void DeployLock::renew_loop() {
    std::unique_lock lock(m_mutex);
    while (!m_wake.wait_for(lock, renew_interval(), [this] { return m_stopping.load(); })) {
        lock.unlock();
        renew_once();
        lock.lock();
        if (!m_held) return;
    }
}

// Moves renewTime forward under the resourceVersion we last saw; a failure waits for the next tick.
void DeployLock::renew_once() {
    const auto sent = Steady::now();
    // still_held() already says false; renewing now could make it say true again to a deploy that stopped.
    if (lapsed(sent)) {
        m_held = false;
        util::log_warn("{}: lost the deploy lock: not renewed within its {}s lease duration, so another deploy "
                       "may take it over",
                       subject(), m_options.lease_duration.count());
        return;
    }
    const std::string renew_time = micro_time(Clock::now());
    model::Json lease = m_lease;
    lease["spec"]["renewTime"] = renew_time;
    lease["spec"]["leaseDurationSeconds"] = m_options.lease_duration.count();
    // A renewal slower than the interval is no use, and release() waits for the one in flight.
    const auto timeout = std::max<std::chrono::milliseconds>(renew_interval(), 1s);
    auto renewed = m_client.send({.method = http::Method::put,
                                  .path = lease_path(),
                                  .body = lease.dump(),
                                  .content_type = "application/json",
                                  .replay = kube::Replay::unsafe,
                                  .timeout = timeout});
    if (renewed && renewed->status == 200) {
        m_renewed = sent;
        auto stored = parse_lease(*renewed);
        if (stored) m_lease = std::move(*stored);
        return;
    }
    if (renewed && renewed->status != 404 && renewed->status != 409 && !outcome_unknown(renewed)) {
        util::log_warn("{}; renewing again in {} ms", kube::api_error(*renewed, subject()).describe(),
                       renew_interval().count());
        return;
    }

    // Conflict, gone, or no answer: the stored Lease says whether it is still ours.
    auto current = read_lease();
    if (!current) {
        util::log_warn("{}; renewing again in {} ms", current.error().describe(), renew_interval().count());
        return;
    }
    if (*current && holder_of(**current) == m_options.holder) {
        // Ours with a newer resourceVersion: a renewal whose answer we lost did land (this one if it
        // carries our renewTime; an earlier one's time we no longer know, so it does not count).
        if (spec_string(**current, "renewTime") == renew_time) m_renewed = sent;
        m_lease = std::move(**current);
        return;
    }
    m_held = false;
    if (*current) {
        util::log_warn("{}: lost the deploy lock: it is now held by \"{}\"", subject(), holder_of(**current));
    } else {
        util::log_warn("{}: lost the deploy lock: the Lease was deleted", subject());
    }
}

void DeployLock::stop_renewer() {
    {
        // Set under the mutex so the renewer cannot miss the wake-up between its check and its wait.
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    if (m_renewer.joinable()) m_renewer.join();
}

// Deletes the Lease only while it is the very object we hold: the uid and resourceVersion
// preconditions make the server refuse (409) one re-created or taken over since.
Result<void> DeployLock::delete_lease() {
    for (int attempt = 1;; ++attempt) {
        auto deleted = kube::delete_object(m_client, lease_path(),
                                           {.uid = model::string_at(m_lease, {"metadata", "uid"}),
                                            .resource_version = model::string_at(m_lease, {"metadata", "resourceVersion"})});
        if (deleted && (kube::ok(deleted->status) || deleted->status == 404)) return {};
        if (deleted && deleted->status != 409 && !outcome_unknown(deleted)) {
            return fail(kube::api_error(*deleted, subject()));
        }

        // A failed precondition or no answer: only a Lease still held by us is left to delete.
        auto current = read_lease();
        if (!current) return fail(current.error());
        if (!*current || holder_of(**current) != m_options.holder) return {};
        if (attempt >= k_delete_attempts) {
            return fail(deleted ? kube::api_error(*deleted, subject())
                                : about(deleted.error(), subject(), "deleting the Lease"));
        }
        m_lease = std::move(**current);
    }
}

}  // namespace minicd::deploy
