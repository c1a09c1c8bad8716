#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "minicd/kube/client.hpp"
#include "minicd/util/result.hpp"

namespace minicd::deploy {

struct LockOptions {
    std::string namespace_;  // where the Lease lives (the deploy's target namespace)
    std::string name;        // Lease name, e.g. "minicd-lock-shop-staging"
    std::string holder;      // holderIdentity: who we are, e.g. "ci-runner-7/pid 4242/3f9a"
    std::chrono::seconds lease_duration{60};  // a dead holder's lease expires after this
    std::chrono::seconds wait{0};             // how long to wait for a live holder; 0 = fail at once
};

// A coordination.k8s.io/v1 Lease held for one (app, environment), so two deploys never run at
// once. Renewed in the background while held; expires on its own if the holder dies.
class DeployLock {
public:
    // Takes the Lease (creating it, or taking over an expired one with an optimistic-concurrency
    // update); if someone else holds it, waits up to options.wait, then fails naming the holder and
    // when their lease expires.
    static Result<std::unique_ptr<DeployLock>> acquire(kube::Client& client, LockOptions options);

    ~DeployLock();  // releases, best effort
    DeployLock(const DeployLock&) = delete;
    DeployLock& operator=(const DeployLock&) = delete;

    // Stops renewing and deletes the Lease if we still hold it.
    Result<void> release();

    // False once a renewal found the Lease taken by someone else (the deploy should stop).
    bool still_held() const { return m_held.load(); }

private:
    DeployLock(kube::Client& client, LockOptions options);

    kube::Client& m_client;
    LockOptions m_options;
    std::atomic<bool> m_held{true};
    std::atomic<bool> m_stopping{false};
    std::thread m_renewer;
};

}  // namespace minicd::deploy
