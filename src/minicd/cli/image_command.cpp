#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/json_output.hpp"
#include "minicd/cli/registry_flags.hpp"
#include "minicd/model/image_ref.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

namespace {

struct ResolveFlags {
    std::string reference;
    std::string output = "text";
    RegistryFlags registry;
};

int run_resolve(const ResolveFlags& flags) {
    auto ref = model::parse_image_ref(flags.reference);
    if (!ref) return report_failure(ref.error());
    auto client = make_registry_client(flags.registry);
    if (!client) return report_failure(client.error());
    auto descriptor = (*client)->resolve(*ref);
    if (!descriptor) return report_failure(descriptor.error());
    if (flags.output == "json") {
        nlohmann::json out = {{"reference", ref->str()},
                              {"mediaType", descriptor->media_type},
                              {"digest", descriptor->digest},
                              {"size", descriptor->size}};
        fmt::print("{}\n", json_text(out));
    } else {
        fmt::print("{}\n", descriptor->digest);
    }
    return k_exit_ok;
}

}  // namespace

Command add_image_command(CLI::App& app) {
    CLI::App* image = app.add_subcommand("image", "Ask a registry about images");
    image->require_subcommand(1);

    auto flags = std::make_shared<ResolveFlags>();
    CLI::App* resolve = image->add_subcommand("resolve", "Print the digest a reference points at (HEAD, no download)");
    resolve->add_option("REF", flags->reference, "Image reference, e.g. registry.example.com/team/app:v1")->required();
    resolve->add_option("-o,--output", flags->output, "text: the digest; json: the whole descriptor")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    add_registry_flags(*resolve, flags->registry);
    return Command{image, [flags, resolve] { return resolve->parsed() ? run_resolve(*flags) : k_exit_usage; }};
}

}  // namespace minicd::cli
