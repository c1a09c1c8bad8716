#include "minicd/kube/credentials.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include "minicd/kube/exec_plugin.hpp"
#include "minicd/util/text.hpp"

namespace minicd::kube {

namespace {

using util::ErrorCode;

// client-go re-reads a rotating service-account token about once a minute.
constexpr auto k_token_file_max_age = std::chrono::seconds(60);
// A token that expires in the middle of a request is as bad as an expired one.
constexpr auto k_expiry_margin = std::chrono::seconds(10);

Result<std::string> read_token_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(ErrorCode::io, fmt::format("cannot read the bearer token file: {}", std::strerror(errno)), path);
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string token = util::trim(text.str());
    if (token.empty()) return fail(ErrorCode::input, "the bearer token file is empty", path);
    return token;
}

}  // namespace

CredentialSource::CredentialSource(RestConfig config)
    : CredentialSource(std::move(config), [] { return std::chrono::system_clock::now(); }) {}

CredentialSource::CredentialSource(RestConfig config, Clock clock)
    : m_config(std::move(config)), m_clock(std::move(clock)) {}

Result<AuthMaterial> CredentialSource::current() {
    std::lock_guard lock(m_mutex);
    return load_locked(false);
}

Result<AuthMaterial> CredentialSource::refresh_after_unauthorized(std::uint64_t seen_generation) {
    std::lock_guard lock(m_mutex);
    // Another thread refreshed since the failing request was sent: its result is the answer, and
    // running the plugin again would only repeat the same work.
    if (m_material && m_material->generation != seen_generation) return *m_material;
    return load_locked(true);
}

Result<AuthMaterial> CredentialSource::load_locked(bool force) {
    if (!m_config.token.empty() || (m_config.token_file.empty() && !m_config.exec)) {
        // A static token (or no credential at all) cannot be refreshed; the 401 stands.
        if (!m_material) return store_locked(AuthMaterial{.bearer_token = m_config.token}, false);
        return *m_material;
    }
    if (!m_config.token_file.empty()) return load_token_file_locked(force);
    return load_exec_locked(force);
}

Result<AuthMaterial> CredentialSource::load_token_file_locked(bool force) {
    auto now = m_clock();
    // A clock that went backwards also counts as stale.
    bool fresh = m_material && now >= m_loaded_at && now - m_loaded_at < k_token_file_max_age;
    if (fresh && !force) return *m_material;
    auto token = read_token_file(m_config.token_file);
    if (!token) {
        // A rotating file can be briefly unreadable; the last token stays good until a 401 says otherwise.
        if (m_material && !force) return *m_material;
        return fail(token.error());
    }
    m_loaded_at = now;
    return store_locked(AuthMaterial{.bearer_token = std::move(*token)}, force);
}

Result<AuthMaterial> CredentialSource::load_exec_locked(bool force) {
    bool valid = m_material && (!m_expires || m_clock() < *m_expires - k_expiry_margin);
    if (valid && !force) return *m_material;
    auto credential = run_exec_plugin(m_config);
    if (!credential) return fail(credential.error());
    m_expires = credential->expires;
    return store_locked(std::move(credential->material), force);
}

AuthMaterial CredentialSource::store_locked(AuthMaterial material, bool force) {
    bool changed = !m_material || m_material->bearer_token != material.bearer_token ||
                   m_material->client_cert_pem != material.client_cert_pem ||
                   m_material->client_key_pem != material.client_key_pem;
    if (changed || force) ++m_generation;
    material.generation = m_generation;
    m_material = material;
    return material;
}

}  // namespace minicd::kube
