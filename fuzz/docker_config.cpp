// Feeds bytes to registry::find_credentials as docker's config.json (written to a scratch folder
// named as the docker config folder), for a few registries, with a PATH where no credential helper
// exists, so none is ever run; and every key of the file to registry::environment_prefix. Checks
// that errors never quote a password, auth or identity token, and that variable names stay in
// [A-Z0-9_].

#include "fuzz_support.hpp"
#include "minicd/model/credential_json.hpp"
#include "minicd/registry/credentials.hpp"
#include "secrets.hpp"

namespace {

using minicd::fuzz::require;
using minicd::model::Json;

constexpr std::string_view k_registries[] = {"registry.example.com", "docker.io", "127.0.0.1:5000", "[::1]:5000"};

void check_prefix(std::string_view host) {
    auto prefix = minicd::registry::environment_prefix(host);
    if (!prefix) return;
    require(prefix->starts_with("MINICD_REGISTRY_"), "a variable name has minicd's prefix");
    for (char c : *prefix) {
        require((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_', "a variable name is [A-Z0-9_]");
    }
}

void check_prefixes(const Json& object) {
    if (!object.is_object()) return;
    for (auto it = object.begin(); it != object.end(); ++it) check_prefix(it.key());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = minicd::fuzz::as_text(data, size);
    const auto& scratch = minicd::fuzz::ScratchDir::get();
    const std::string file = scratch.write("config.json", text);
    const minicd::registry::CredentialOptions options{
        .docker_config_dir = scratch.path().string(),
        .environment = std::map<std::string, std::string>{{"PATH", scratch.path().string()}}};

    auto document = minicd::model::parse_credential_json(text);
    const Json parsed = document ? *document : Json(nullptr);
    const minicd::fuzz::SecretScan scan(parsed, {"auth", "password", "identitytoken"});
    for (std::string_view registry : k_registries) {
        auto found = minicd::registry::find_credentials(registry, options);
        if (!found) scan.check(found.error().describe(), file);
    }
    if (parsed.is_object()) {
        for (const char* section : {"auths", "credHelpers"}) {
            if (auto it = parsed.find(section); it != parsed.end()) check_prefixes(*it);
        }
    }
    return 0;
}
