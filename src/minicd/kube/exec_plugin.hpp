#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "minicd/kube/credentials.hpp"
#include "minicd/kube/kubeconfig.hpp"
#include "minicd/util/result.hpp"

namespace minicd::kube {

// What one run of an exec credential plugin gave.
struct ExecCredential {
    AuthMaterial material;  // generation left at 0: CredentialSource numbers it
    std::optional<std::chrono::system_clock::time_point> expires;  // nullopt: valid until a 401
};

// Runs `config.exec` once, non-interactively, the way client-go does (KUBERNETES_EXEC_INFO, 60 s
// limit), and reads its ExecCredential. Errors never quote the plugin's stdout, which holds the secret.
Result<ExecCredential> run_exec_plugin(const RestConfig& config);

// RFC 3339 as plugins write it: "2024-05-01T12:00:00Z", optionally with fractional seconds and a
// "+02:00" style offset instead of Z. nullopt for anything else, and for years outside 1970..2200
// (Go's zero time among them), which the nanosecond clock could not hold or subtract safely.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace minicd::kube
