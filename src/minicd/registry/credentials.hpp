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
//  1. MINICD_REGISTRY_<HOST>_USERNAME / MINICD_REGISTRY_<HOST>_PASSWORD, where <HOST> is the registry
//     host uppercased with every character other than A-Z and 0-9 made "_"
//     (127.0.0.1:5000 -> MINICD_REGISTRY_127_0_0_1_5000_USERNAME);
//  2. MINICD_REGISTRY_USERNAME / MINICD_REGISTRY_PASSWORD, for the hosts listed in
//     MINICD_REGISTRY_HOSTS (comma-separated); without that list they are used for no registry,
//     so a CI secret is never offered to an unrelated registry such as Docker Hub;
//  3. docker's config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json):
//     credHelpers[<host>], then auths[<host>] when it holds auth, username/password or
//     identitytoken, then credsStore. Keys may be written as URLs ("https://host/v1/"); Docker Hub
//     (docker.io, index.docker.io, registry-1.docker.io) is the key "https://index.docker.io/v1/".
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

// The host a config.json key or registry name stands for: scheme and path dropped, Docker Hub's
// aliases folded into "docker.io". "https://index.docker.io/v1/" -> "docker.io".
std::string registry_key(std::string_view key_or_host);

// "MINICD_REGISTRY_127_0_0_1_5000" for "127.0.0.1:5000"; add "_USERNAME" or "_PASSWORD".
std::string environment_prefix(std::string_view registry);

}  // namespace minicd::registry
