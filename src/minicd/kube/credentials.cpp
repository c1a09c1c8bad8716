#include "minicd/kube/credentials.hpp"

namespace minicd::kube {

CredentialSource::CredentialSource(RestConfig config) : m_config(std::move(config)) {}

Result<AuthMaterial> CredentialSource::current() {
    std::lock_guard lock(m_mutex);
    return load_locked(false);
}

Result<AuthMaterial> CredentialSource::refresh_after_unauthorized(std::uint64_t) {
    std::lock_guard lock(m_mutex);
    return load_locked(true);
}

Result<AuthMaterial> CredentialSource::load_locked(bool) {
    return AuthMaterial{.bearer_token = m_config.token, .client_cert_pem = {}, .client_key_pem = {}, .generation = 1};
}

}  // namespace minicd::kube
