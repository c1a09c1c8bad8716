#pragma once

#include <chrono>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::registry {

// A string that is never shown: streaming it prints "<redacted>" and fmt has no formatter for it,
// so a password cannot reach a log line or a test failure message by accident.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string value) : m_value(std::move(value)) {}

    // The value itself, for the one place that must send it (an Authorization header).
    const std::string& reveal() const { return m_value; }
    bool empty() const { return m_value.empty(); }
    friend bool operator==(const Secret&, const Secret&) = default;

private:
    std::string m_value;
};
std::ostream& operator<<(std::ostream& out, const Secret& secret);

// What to authenticate to one registry with. Google's "_json_key", "_json_key_base64" and
// "oauth2accesstoken" users are ordinary Basic credentials and are passed on untouched.
struct Credentials {
    std::string username;   // empty when only an identity token is known
    Secret password;
    Secret identity_token;  // an OAuth2 refresh token (`docker login` with a token, helper user "<token>")
    std::string source;     // where they came from, for messages: a variable name, a file, a helper

    friend bool operator==(const Credentials&, const Credentials&) = default;
};
// Prints the username and source only.
std::ostream& operator<<(std::ostream& out, const Credentials& credentials);

// Where credentials are looked for, in this order (the first source that has any wins):
//  1. MINICD_REGISTRY_<HOST>_USERNAME / MINICD_REGISTRY_<HOST>_PASSWORD, where <HOST> is host[:port]
//     uppercased with "." and ":" written "_" and "-" written "__":
//       127.0.0.1:5000       -> MINICD_REGISTRY_127_0_0_1_5000
//       registry.example.com -> MINICD_REGISTRY_REGISTRY_EXAMPLE_COM
//       registry-example.com -> MINICD_REGISTRY_REGISTRY__EXAMPLE_COM
//       [::1]:5000           -> MINICD_REGISTRY____1__5000 (IPv6: "[", "]" and ":" written "_")
//     Every host has its own name: in a host name "-" never touches "." or ":", so "__" is always a
//     dash, and a name's last label is never all digits unless it is an IPv4 address, so a trailing
//     "_<digits>" is a port. Hosts outside that grammar ("_" in a name, "..", an all-digit last
//     label) get no per-host variables; use the shared pair (2) or config.json for them.
//     Before "-" became "__" it was written "_", which made registry-example.com and
//     registry.example.com share a name; such an old name, set for a host with "-", is an input
//     error rather than credentials for either host;
//  2. MINICD_REGISTRY_USERNAME / MINICD_REGISTRY_PASSWORD, for the hosts listed in
//     MINICD_REGISTRY_HOSTS (comma-separated); without that list they are used for no registry,
//     so a CI secret is never offered to an unrelated registry such as Docker Hub;
//  3. docker's config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json):
//     credHelpers[<host>], then auths[<host>] when it holds auth, username/password or
//     identitytoken, then credsStore. A key matches when its host[:port] equals the registry's
//     exactly (case aside); keys may be written as http:// or https:// URLs with a path
//     ("https://host/v1/"). Docker Hub (docker.io, index.docker.io, registry-1.docker.io) is the
//     key "https://index.docker.io/v1/".
// Helpers are run as `docker-credential-<name> get` with the server on stdin; a non-zero exit means
// "no credentials".
struct CredentialOptions {
    std::string docker_config_dir;  // empty: $DOCKER_CONFIG, else $HOME/.docker
    std::chrono::milliseconds helper_timeout{30'000};
    // Variables to use instead of the process environment (also PATH, for finding helpers);
    // nullopt: the real environment.
    std::optional<std::map<std::string, std::string>> environment;
};

// nullopt when no source has credentials for the host (then requests go anonymously). Errors:
// an unreadable or malformed config.json, a helper named for this host that is missing, fails to
// start, times out or prints something that is not JSON. Error messages never hold a secret.
Result<std::optional<Credentials>> find_credentials(std::string_view registry, const CredentialOptions& options = {});

// The host[:port] a config.json key or registry name stands for, lowercased: a leading http:// or
// https:// and any path dropped (as docker does), Docker Hub's aliases folded into "docker.io".
// "https://index.docker.io/v1/" -> "docker.io". Nothing else is stripped, so
// "evil.example/https://reg.example.com" stands for evil.example.
std::string registry_key(std::string_view key_or_host);

// How a host becomes part of a variable name, for hints in error messages.
inline constexpr std::string_view k_environment_naming_rule =
    "the host uppercased with \".\" and \":\" written \"_\" and \"-\" written \"__\"";

// "MINICD_REGISTRY_127_0_0_1_5000" for "127.0.0.1:5000", "MINICD_REGISTRY_A__B_IO" for "a-b.io"; add
// "_USERNAME" or "_PASSWORD". nullopt for a host that has no variable of its own (see above).
std::optional<std::string> environment_prefix(std::string_view registry);

}  // namespace minicd::registry
