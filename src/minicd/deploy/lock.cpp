#include "minicd/deploy/lock.hpp"

namespace minicd::deploy {

DeployLock::DeployLock(kube::Client& client, LockOptions options) : m_client(client), m_options(std::move(options)) {}

Result<std::unique_ptr<DeployLock>> DeployLock::acquire(kube::Client&, LockOptions) {
    return fail(util::ErrorCode::internal, "deploy lock is not implemented yet");
}

DeployLock::~DeployLock() = default;

Result<void> DeployLock::release() { return {}; }

}  // namespace minicd::deploy
