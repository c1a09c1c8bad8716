#include "minicd/cli/registry_flags.hpp"

namespace minicd::cli {

const char* const k_registry_credentials_help =
    "Registry credentials: MINICD_REGISTRY_<HOST>_USERNAME and _PASSWORD (HOST uppercased,\n"
    "'.' and ':' as _, '-' as __: registry-1.example.com:5000 -> REGISTRY__1_EXAMPLE_COM_5000),\n"
    "or MINICD_REGISTRY_USERNAME and MINICD_REGISTRY_PASSWORD for the hosts in MINICD_REGISTRY_HOSTS,\n"
    "else docker's config.json ($DOCKER_CONFIG or ~/.docker): credHelpers, auths, credsStore.\n"
    "Loopback registries fall back to plain HTTP when they do not speak TLS.";

void add_registry_flags(CLI::App& command, RegistryFlags& flags) {
    command.add_option("--insecure-registry", flags.insecure_registries,
                       "Registry host[:port] to reach over plain HTTP (repeatable)");
    command.add_option("--registry-ca", flags.registry_ca, "PEM file of the CA to trust for registries instead of the system's")
        ->check(CLI::ExistingFile);
    command.footer(k_registry_credentials_help);
}

Result<std::unique_ptr<registry::Client>> make_registry_client(const RegistryFlags& flags) {
    return registry::Client::create({.insecure_registries = flags.insecure_registries, .ca_file = flags.registry_ca});
}

}  // namespace minicd::cli
