#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "minicd/kube/client.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/interrupt.hpp"
#include "minicd/util/result.hpp"

namespace minicd::deploy {

struct LockOptions {
    std::string namespace_;  // where the Lease lives (the deploy's target namespace)
    std::string name;        // Lease name, e.g. "minicd-lock-shop-staging"
    std::string holder;      // holderIdentity: who we are, e.g. "ci-runner-7/pid 4242/3f9a"
    std::chrono::seconds lease_duration{60};  // others take over once they have seen our Lease unchanged this long
    std::chrono::seconds wait{0};             // how long to wait for a live holder; 0 = fail at once
};

// A coordination.k8s.io/v1 Lease held for one (app, environment), so two deploys never run at
// once. Renewed in the background while held; expires on its own if the holder dies. As in
// client-go's leader election, another holder's Lease counts as expired only once our monotonic
// clock has seen it unchanged for its leaseDurationSeconds: two machines' clocks are never compared.
class DeployLock {
public:
    // Takes the Lease (creating it, taking over a released one, or one we watched stay unchanged for
    // its lease duration, with an optimistic-concurrency update); if someone else holds it, waits up
    // to options.wait, then fails naming the holder. A Lease whose renewTime looks expired to our
    // wall clock is watched for its lease duration even when options.wait is 0, to confirm that its
    // holder is gone rather than merely running on a clock behind ours.
    static Result<std::unique_ptr<DeployLock>> acquire(kube::Client& client, LockOptions options);

    ~DeployLock();  // releases, best effort
    DeployLock(const DeployLock&) = delete;
    DeployLock& operator=(const DeployLock&) = delete;

    // Stops renewing and deletes the Lease if we still hold it. A SIGTERM or SIGINT to minicd does the
    // same on the signal thread while the lock is held (see util/interrupt.hpp).
    Result<void> release();

    // False once a renewal found the Lease taken by someone else, or as soon as our monotonic clock
    // says lease_duration passed since our last successful renewal, when others may take it over
    // (the deploy should stop). Thread-safe.
    bool still_held() const;

private:
    // What one attempt to take the Lease found.
    enum class Outcome {
        taken,  // we hold it; m_lease is the stored object
        busy,   // a live holder has it; Round::lease is their object
        retry,  // it changed or disappeared while we looked (or an unknown write did not land): try again now
    };
    struct Round {
        Outcome outcome = Outcome::retry;
        model::Json lease;                   // the live holder's Lease when busy; null otherwise
        std::optional<util::Error> unknown;  // on retry after a write whose outcome was unknown: its failure
    };
    // Another holder's Lease as acquire() has watched it. Only acquire() reads or writes this.
    struct Observation {
        std::string record;  // its uid, resourceVersion and spec; empty before our first look
        std::chrono::steady_clock::time_point first;  // when we first looked at any other holder's Lease
        std::chrono::steady_clock::time_point since;  // when we first saw `record`; a change restarts it
        int changes = 0;  // how often it changed while we watched (renewals, new holders); 0 = never
    };

    DeployLock(kube::Client& client, LockOptions options);

    Result<Round> take_once();
    Result<Round> judge(model::Json lease);
    Result<Round> take_over(model::Json lease);
    Result<Round> look_again(const Result<kube::ApiResponse>& write);
    std::chrono::steady_clock::duration observe(const model::Json& lease);
    std::chrono::seconds lease_duration_of(const model::Json& lease) const;
    void note_write_sent();
    Result<std::optional<model::Json>> read_lease();
    Result<model::Json> parse_lease(const kube::ApiResponse& response) const;
    util::Error missing_namespace_error(const kube::ApiResponse& response) const;
    util::Error busy_error(const model::Json& lease) const;
    std::string collection_path() const;
    std::string lease_path() const;
    std::string subject() const;

    void renew_loop();
    void renew_once();
    std::chrono::milliseconds renew_interval() const;
    bool lapsed(std::chrono::steady_clock::time_point now) const;
    Result<bool> release_once();
    void stop_renewer();
    Result<void> delete_lease();

    kube::Client& m_client;
    LockOptions m_options;
    std::atomic<bool> m_held{false};  // set once acquire() took the Lease; cleared when lost or released
    std::atomic<bool> m_stopping{false};
    // Serializes release_once(), which the owner's thread and the signal thread may both call.
    std::mutex m_release_mutex;
    bool m_released = false;  // release_once() ran; later calls do nothing. Guarded by m_release_mutex.
    // The Lease as the server last returned it to us (resourceVersion and uid included). Written by
    // acquire() before the renewer starts, then only by the renewer until release() joins it.
    model::Json m_lease;
    Observation m_observed;
    // Steady time of our first create or takeover since we last saw another holder keep the Lease:
    // whichever of them landed (answers get lost), it landed no earlier. nullopt = none sent yet.
    std::optional<std::chrono::steady_clock::time_point> m_writing_since;
    // Steady time we sent the last write that we know stored our claim (acquire's, then each
    // renewal's); still_held() turns false lease_duration after it. Read from any thread.
    std::atomic<std::chrono::steady_clock::time_point> m_renewed{};
    std::mutex m_mutex;              // guards the wait on m_wake
    std::condition_variable m_wake;  // wakes the renewer early when release() sets m_stopping
    std::thread m_renewer;
    // Releases the Lease if minicd is interrupted while holding it; dismissed by release().
    util::InterruptCleanup m_on_interrupt;
};

}  // namespace minicd::deploy
