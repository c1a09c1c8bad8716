#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "minicd/registry/client.hpp"
#include "minicd/util/result.hpp"

namespace minicd::cli {

// How the registry commands reach registries: plain HTTP hosts and a private CA.
struct RegistryFlags {
    std::vector<std::string> insecure_registries;
    std::string registry_ca;
};

// Adds --insecure-registry (repeatable) and --registry-ca to a command.
void add_registry_flags(CLI::App& command, RegistryFlags& flags);

// A registry client for the flags; credentials come from the environment and docker's config.json.
Result<std::unique_ptr<registry::Client>> make_registry_client(const RegistryFlags& flags);

// Where registry credentials come from, for command help.
extern const char* const k_registry_credentials_help;

}  // namespace minicd::cli
