#pragma once

#include <chrono>
#include <cstdint>
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
    std::uint64_t generation = 0;  // changes whenever the material changes
};

// Supplies the credentials of a RestConfig: static token, token file (re-read at most once a
// minute), or exec plugin (run once, reused until its expirationTimestamp, re-run once after a 401).
// Thread-safe.
class CredentialSource {
public:
    explicit CredentialSource(RestConfig config);

    // The material to use now.
    Result<AuthMaterial> current();

    // Called after a 401 for a request made with `seen_generation`: re-reads the token file or
    // re-runs the exec plugin, unless another thread already did since that generation.
    Result<AuthMaterial> refresh_after_unauthorized(std::uint64_t seen_generation);

private:
    Result<AuthMaterial> load_locked(bool force);

    RestConfig m_config;
    std::mutex m_mutex;
    std::optional<AuthMaterial> m_material;
    std::optional<std::chrono::system_clock::time_point> m_expires;  // nullopt: no expiry known
    std::chrono::steady_clock::time_point m_loaded_at{};
};

}  // namespace minicd::kube
