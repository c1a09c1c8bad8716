#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "minicd/kube/kubeconfig.hpp"
#include "minicd/util/result.hpp"

namespace minicd::kube {

// What a request presents beyond the kubeconfig's static TLS settings. Secret: never logged.
struct AuthMaterial {
    std::string bearer_token;     // "" when none
    std::string client_cert_pem;  // from an exec plugin; "" when none
    std::string client_key_pem;
    std::uint64_t generation = 0;  // changes whenever the material changes or is refreshed after a 401
};

// Supplies the credentials of a RestConfig: static token, token file (re-read at most once a
// minute), or exec plugin (run once, reused until its expirationTimestamp, re-run once after a 401).
// Thread-safe.
class CredentialSource {
public:
    // What "now" is; tests substitute a fake to age token files and expire exec credentials.
    using Clock = std::function<std::chrono::system_clock::time_point()>;

    explicit CredentialSource(RestConfig config);
    CredentialSource(RestConfig config, Clock clock);

    // The material to use now.
    Result<AuthMaterial> current();

    // Called after a 401 for a request made with `seen_generation`: re-reads the token file or
    // re-runs the exec plugin, unless another thread already did since that generation.
    Result<AuthMaterial> refresh_after_unauthorized(std::uint64_t seen_generation);

private:
    Result<AuthMaterial> load_locked(bool force);
    Result<AuthMaterial> load_token_file_locked(bool force);
    Result<AuthMaterial> load_exec_locked(bool force);
    // Keeps `material` as the current one. The generation moves when the material differs, and on
    // every forced refresh, so threads that saw the same 401 find out that a refresh happened.
    AuthMaterial store_locked(AuthMaterial material, bool force);

    RestConfig m_config;
    Clock m_clock;
    std::mutex m_mutex;
    std::optional<AuthMaterial> m_material;  // nullopt until the first successful load
    std::uint64_t m_generation = 0;          // 0: nothing loaded yet
    std::optional<std::chrono::system_clock::time_point> m_expires;  // exec credential expiry; nullopt: until a 401
    std::chrono::system_clock::time_point m_loaded_at{};              // when the token file was last read
};

}  // namespace minicd::kube
