#include "minicd/registry/credentials.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <vector>

#include "minicd/model/credential_json.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/subprocess.hpp"
#include "minicd/util/text.hpp"

namespace minicd::registry {
namespace {

using Json = nlohmann::json;
using util::ErrorCode;

constexpr std::string_view k_docker_hub = "docker.io";
constexpr std::string_view k_environment_prefix = "MINICD_REGISTRY_";
// The only schemes docker strips from config.json keys.
constexpr std::array<std::string_view, 2> k_key_schemes = {"https://", "http://"};
// The key `docker login` writes for Docker Hub, and what its helpers are asked for.
constexpr std::string_view k_docker_hub_key = "https://index.docker.io/v1/";
constexpr std::string_view k_helper_prefix = "docker-credential-";
// A helper's answer when the secret is an identity token rather than a password.
constexpr std::string_view k_token_user = "<token>";

// The variables a lookup sees: the given map, or the process environment.
class Environment {
public:
    explicit Environment(const std::optional<std::map<std::string, std::string>>& fixed) : m_fixed(fixed) {}
    std::string get(const std::string& name) const {
        if (m_fixed) {
            auto found = m_fixed->find(name);
            return found == m_fixed->end() ? std::string() : found->second;
        }
        const char* value = std::getenv(name.c_str());
        return value == nullptr ? std::string() : std::string(value);
    }

private:
    const std::optional<std::map<std::string, std::string>>& m_fixed;
};

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// A username/password pair from the environment; both variables or neither must be set.
Result<std::optional<Credentials>> pair_from_environment(const Environment& env, const std::string& prefix) {
    std::string user_var = prefix + "_USERNAME";
    std::string password_var = prefix + "_PASSWORD";
    std::string user = env.get(user_var);
    std::string password = env.get(password_var);
    if (user.empty() && password.empty()) return std::nullopt;
    if (user.empty() || password.empty()) {
        return fail(ErrorCode::input, fmt::format("{} and {} must be set together", user_var, password_var),
                    "registry credentials");
    }
    return Credentials{.username = user, .password = Secret(password), .identity_token = {}, .source = password_var};
}

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// A DNS label as registry hosts use them (lowercased already): letters, digits, inner dashes.
bool is_host_label(std::string_view label) {
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    return std::all_of(label.begin(), label.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-';
    });
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        std::size_t end = text.find(separator, start);
        parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) return parts;
        start = end + 1;
    }
}

// A host name or IPv4 address whose variable name reads back to it alone: labels never start or end
// with "-" (so "__" is always a dash), and only an IPv4 address ends in an all-digit label (so a
// trailing "_<digits>" of anything else is its port).
bool has_unambiguous_name(std::string_view host) {
    auto labels = split(host, '.');
    if (!std::all_of(labels.begin(), labels.end(), is_host_label)) return false;
    if (!all_digits(labels.back())) return true;
    return labels.size() == 4 && std::all_of(labels.begin(), labels.end(), all_digits);
}

// "[::1]" with only hex digits and colons inside: there "_" stands for a colon or a bracket only, and
// the brackets sit at fixed places, so these names meet neither each other nor host names (which
// start with a letter or digit).
bool is_plain_ipv6_literal(std::string_view host) {
    if (host.size() < 3 || host.front() != '[' || host.back() != ']') return false;
    std::string inside(host.substr(1, host.size() - 2));
    bool hex_and_colons = std::all_of(inside.begin(), inside.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f') || c == ':';
    });
    in6_addr address{};
    return hex_and_colons && inet_pton(AF_INET6, inside.c_str(), &address) == 1;
}

struct HostPort {
    std::string_view host;  // "[::1]" keeps its brackets
    std::string_view port;  // empty when there is none
};

// "[::1]:5000" -> {"[::1]", "5000"}; nullopt when what follows the host is not ":<digits>".
std::optional<HostPort> split_host_port(std::string_view key) {
    const bool bracketed = key.starts_with('[');
    std::size_t host_end = bracketed ? key.find(']') : key.find(':');
    if (host_end == std::string_view::npos) return bracketed ? std::nullopt : std::optional(HostPort{key, {}});
    if (bracketed) ++host_end;  // the bracket belongs to the host
    if (host_end == key.size()) return HostPort{key, {}};
    if (key[host_end] != ':' || !all_digits(key.substr(host_end + 1))) return std::nullopt;
    return HostPort{key.substr(0, host_end), key.substr(host_end + 1)};
}

// Letters and digits uppercased, "-" as "__", everything else ("." and an IPv6 literal's "[", "]", ":") as "_".
std::string encode_host(std::string_view host) {
    std::string out;
    for (char c : host) {
        if (c == '-') {
            out += "__";
        } else if (std::isalnum(static_cast<unsigned char>(c))) {
            out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        } else {
            out.push_back('_');
        }
    }
    return out;
}

// The name every host had before "-" became "__": each character but A-Z and 0-9 as "_". It stays
// the name of hosts without "-", for which nothing changed.
std::string legacy_environment_prefix(std::string_view registry) {
    std::string prefix(k_environment_prefix);
    for (char c : registry_key(registry)) {
        prefix.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_');
    }
    return prefix;
}

// The message for an old-style variable that may stand for this host or for another one.
std::string ambiguous_legacy_message(std::string_view registry, const std::string& variable,
                                     const std::optional<std::string>& prefix) {
    std::string host = registry_key(registry);
    if (!prefix) {
        return fmt::format("{} is not used for {}: that name may stand for another host, and {} has no variables of "
                           "its own; list it in MINICD_REGISTRY_HOSTS with MINICD_REGISTRY_USERNAME and "
                           "MINICD_REGISTRY_PASSWORD, or use docker's config.json",
                           variable, host, host);
    }
    return fmt::format("{0} is not used for {1}: \"-\" is written \"__\" now, so that name stands for a different "
                       "host. Set {2}_USERNAME and {2}_PASSWORD for {1} ({3}); while only "
                       "the old name is set, {1} is refused rather than guessed at",
                       variable, host, *prefix, k_environment_naming_rule);
}

// An old-style name for a host whose name changed (it has a "-", or has no name now) is refused
// rather than guessed at: it may be this host's, or belong to the host that owns that name now.
Result<void> refuse_ambiguous_legacy_name(std::string_view registry, const std::optional<std::string>& prefix,
                                          const Environment& env) {
    std::string legacy = legacy_environment_prefix(registry);
    if (prefix == legacy) return {};
    for (std::string_view suffix : {"_USERNAME", "_PASSWORD"}) {
        std::string variable = legacy + std::string(suffix);
        if (env.get(variable).empty()) continue;
        return fail(ErrorCode::input, ambiguous_legacy_message(registry, variable, prefix), "registry credentials");
    }
    return {};
}

Result<std::optional<Credentials>> from_environment(std::string_view registry, const Environment& env) {
    auto prefix = environment_prefix(registry);
    if (prefix) {
        auto per_host = pair_from_environment(env, *prefix);
        if (!per_host || *per_host) return per_host;
    }
    if (auto refused = refuse_ambiguous_legacy_name(registry, prefix, env); !refused) return fail(refused.error());

    std::string hosts = env.get("MINICD_REGISTRY_HOSTS");
    if (hosts.empty()) {
        if (!env.get("MINICD_REGISTRY_USERNAME").empty()) {
            util::log_debug("MINICD_REGISTRY_USERNAME is set but MINICD_REGISTRY_HOSTS is not, so it is not used for {}",
                            registry);
        }
        return std::nullopt;
    }
    std::string wanted = registry_key(registry);
    std::size_t start = 0;
    while (start <= hosts.size()) {
        std::size_t comma = hosts.find(',', start);
        std::string host = util::trim(hosts.substr(start, comma == std::string::npos ? comma : comma - start));
        if (!host.empty() && registry_key(host) == wanted) return pair_from_environment(env, "MINICD_REGISTRY");
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return std::nullopt;
}

std::string config_dir(const CredentialOptions& options, const Environment& env) {
    if (!options.docker_config_dir.empty()) return options.docker_config_dir;
    if (std::string dir = env.get("DOCKER_CONFIG"); !dir.empty()) return dir;
    if (std::string home = env.get("HOME"); !home.empty()) return home + "/.docker";
    return {};
}

// One entry of a config.json object, with its key for messages: it names the registry, so it holds no secret.
struct ConfigEntry {
    std::string key;
    const Json* value = nullptr;
};

// The entry of a config.json object whose key stands for the registry; an exact key wins over a URL form.
std::optional<ConfigEntry> entry_for(const Json& object, std::string_view registry) {
    if (!object.is_object()) return std::nullopt;
    if (auto exact = object.find(std::string(registry)); exact != object.end()) {
        return ConfigEntry{.key = exact.key(), .value = &*exact};
    }
    std::string wanted = registry_key(registry);
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (registry_key(it.key()) == wanted) return ConfigEntry{.key = it.key(), .value = &*it};
    }
    return std::nullopt;
}

std::string string_field(const Json& object, std::string_view name) { return model::string_at(object, {name}); }

// An auths entry with something usable in it; entries written next to a credsStore are empty.
// Errors name the file and the entry's key, never a value.
Result<std::optional<Credentials>> from_auths_entry(const ConfigEntry& found, const std::string& file) {
    const Json& entry = *found.value;
    if (!entry.is_object()) return std::nullopt;
    Credentials credentials{.username = string_field(entry, "username"),
                            .password = Secret(string_field(entry, "password")),
                            .identity_token = Secret(string_field(entry, "identitytoken")),
                            .source = file};
    if (std::string auth = string_field(entry, "auth"); !auth.empty()) {
        auto decoded = util::base64_decode(auth);
        std::size_t colon = decoded ? decoded->find(':') : std::string::npos;
        if (colon == std::string::npos) {
            return fail(ErrorCode::input, fmt::format("auths \"{}\": auth is not base64 of user:password", found.key),
                        file);
        }
        credentials.username = decoded->substr(0, colon);
        credentials.password = Secret(decoded->substr(colon + 1));
    }
    if (credentials.password.empty() && credentials.identity_token.empty()) return std::nullopt;
    return credentials;
}

// The helper's path, searched in the PATH the lookup sees (so tests can point it at their own).
std::optional<std::string> find_program(const std::string& name, const Environment& env) {
    std::string path = env.get("PATH");
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t colon = path.find(':', start);
        std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
        if (dir.empty()) dir = ".";
        std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(candidate)) return candidate;
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return std::nullopt;
}

// The server string docker hands a helper: the Docker Hub URL key, or the host.
std::string helper_server(std::string_view registry) {
    return registry_key(registry) == k_docker_hub ? std::string(k_docker_hub_key) : std::string(registry);
}

Result<std::optional<Credentials>> from_helper(const std::string& suffix, std::string_view registry,
                                               const CredentialOptions& options, const Environment& env) {
    std::string name = std::string(k_helper_prefix) + suffix;
    auto program = find_program(name, env);
    if (!program) return fail(ErrorCode::subprocess, "credential helper not found in PATH", name);
    util::SubprocessSpec spec{.inherit = util::Inherit::platform,
                              .argv = {*program, "get"},
                              .env = {},
                              .env_remove = {},
                              .working_dir = std::nullopt,
                              .stdin_data = helper_server(registry),
                              .timeout = options.helper_timeout};
    if (options.environment) spec.env = *options.environment;
    auto ran = util::run_subprocess(spec);
    if (!ran) return fail(ran.error());
    if (ran->timed_out) {
        return fail(ErrorCode::timeout, fmt::format("credential helper {}", ran->outcome()), name);
    }
    if (ran->exit_code != 0) {
        // Helpers exit non-zero for "credentials not found"; their output is not shown, it may hold secrets.
        util::log_debug("{} has no credentials for {} ({})", name, registry, ran->outcome());
        return std::nullopt;
    }
    auto answer = model::parse_json(ran->out);
    if (!answer.is_object()) return fail(ErrorCode::subprocess, "credential helper printed something that is not a JSON object", name);
    std::string user = string_field(answer, "Username");
    std::string secret = string_field(answer, "Secret");
    if (secret.empty()) return std::nullopt;
    if (user == k_token_user) {
        return Credentials{.username = {}, .password = {}, .identity_token = Secret(secret), .source = name};
    }
    return Credentials{.username = user, .password = Secret(secret), .identity_token = {}, .source = name};
}

Result<std::optional<Credentials>> from_docker_config(std::string_view registry, const CredentialOptions& options,
                                                      const Environment& env) {
    std::string dir = config_dir(options, env);
    if (dir.empty()) return std::nullopt;
    std::string file = dir + "/config.json";
    std::error_code ignored;
    if (!std::filesystem::exists(file, ignored)) return std::nullopt;
    auto text = util::read_file(file);
    if (!text) return fail(text.error());
    // The file holds passwords: a syntax error is given by line and column, never by the bytes there.
    auto parsed = model::parse_credential_json(*text);
    if (!parsed) return fail(parsed.error().code, "not valid JSON: " + parsed.error().message, file);
    const Json& config = *parsed;
    if (!config.is_object()) return fail(ErrorCode::input, "not a JSON object", file);

    const Json helpers = config.value("credHelpers", Json::object());
    const Json auths = config.value("auths", Json::object());
    if (auto helper = entry_for(helpers, registry)) {
        if (helper->value->is_string() && !helper->value->get<std::string>().empty()) {
            return from_helper(helper->value->get<std::string>(), registry, options, env);
        }
    }
    if (auto entry = entry_for(auths, registry)) {
        auto found = from_auths_entry(*entry, file);
        if (!found || *found) return found;
    }
    if (std::string store = string_field(config, "credsStore"); !store.empty()) {
        auto found = from_helper(store, registry, options, env);
        // The default store is a convenience of desktop machines; without it we go on anonymously.
        if (!found && found.error().code == ErrorCode::subprocess) {
            util::log_warn("{}; continuing without credentials for {}", found.error().describe(), registry);
            return std::nullopt;
        }
        return found;
    }
    return std::nullopt;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const Secret& secret) {
    return out << (secret.empty() ? "<empty>" : "<redacted>");
}

std::ostream& operator<<(std::ostream& out, const Credentials& credentials) {
    return out << "Credentials{user=\"" << credentials.username << "\", password=" << credentials.password
               << ", identity_token=" << credentials.identity_token << ", source=\"" << credentials.source << "\"}";
}

std::string registry_key(std::string_view key_or_host) {
    const std::string lowered = lowercase(key_or_host);
    std::string_view text = lowered;
    // Only a leading scheme is dropped: "://" further on belongs to a path, and what comes after it
    // must not pass for the host (a key "evil.example/https://reg.example.com" is evil.example's).
    for (std::string_view scheme : k_key_schemes) {
        if (text.starts_with(scheme)) {
            text.remove_prefix(scheme.size());
            break;
        }
    }
    std::string host(text.substr(0, text.find('/')));
    if (host == "index.docker.io" || host == "registry-1.docker.io" || host == "registry.hub.docker.com") {
        return std::string(k_docker_hub);
    }
    return host;
}

std::optional<std::string> environment_prefix(std::string_view registry) {
    std::string key = registry_key(registry);
    auto parts = split_host_port(key);
    if (!parts) return std::nullopt;
    if (!is_plain_ipv6_literal(parts->host) && !has_unambiguous_name(parts->host)) return std::nullopt;
    std::string prefix = std::string(k_environment_prefix) + encode_host(parts->host);
    if (!parts->port.empty()) prefix += "_" + std::string(parts->port);
    return prefix;
}

Result<std::optional<Credentials>> find_credentials(std::string_view registry, const CredentialOptions& options) {
    Environment env(options.environment);
    auto explicit_credentials = from_environment(registry, env);
    if (!explicit_credentials || *explicit_credentials) return explicit_credentials;
    return from_docker_config(registry, options, env);
}

}  // namespace minicd::registry
