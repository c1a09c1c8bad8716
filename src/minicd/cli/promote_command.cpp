#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "minicd/build/artifacts.hpp"
#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/json_output.hpp"
#include "minicd/cli/registry_flags.hpp"
#include "minicd/model/image_ref.hpp"
#include "minicd/registry/client.hpp"
#include "minicd/util/log.hpp"

namespace minicd::cli {

namespace {

using Json = nlohmann::json;
using util::ErrorCode;

struct PromoteFlags {
    std::string source;
    std::string destination;
    std::string from_artifacts;
    std::string tag;
    bool allow_overwrite = false;
    std::string output = "text";
    RegistryFlags registry;
};

// One image to promote: where it is (pinned by digest when known) and where it goes.
struct Promotion {
    model::ImageRef source;
    model::ImageRef destination;
};

bool same_repository(const model::ImageRef& a, const model::ImageRef& b) {
    return a.registry == b.registry && a.repository == b.repository;
}

// SRC DST, or every artifact of a build file re-tagged in its own repository.
Result<std::vector<Promotion>> plan(const PromoteFlags& flags) {
    const bool positional = !flags.source.empty() || !flags.destination.empty();
    const bool artifacts = !flags.from_artifacts.empty() || !flags.tag.empty();
    if (positional == artifacts) {
        return fail(ErrorCode::usage, "give either SRC_REF and DST_REF, or --from-artifacts FILE with --tag TAG");
    }
    if (positional) {
        if (flags.destination.empty()) return fail(ErrorCode::usage, "DST_REF is missing");
        auto source = model::parse_image_ref(flags.source);
        if (!source) return fail(source.error());
        auto destination = model::parse_image_ref(flags.destination);
        if (!destination) return fail(destination.error());
        if (destination->tag.empty() && destination->digest.empty()) {
            return fail(ErrorCode::usage, "DST_REF needs a tag, e.g. " + destination->with_tag("v1.2.3").str());
        }
        return std::vector<Promotion>{{*source, *destination}};
    }
    if (flags.from_artifacts.empty() || flags.tag.empty()) {
        return fail(ErrorCode::usage, "--from-artifacts and --tag go together");
    }
    if (!model::is_valid_tag(flags.tag)) {
        return fail(ErrorCode::usage, fmt::format("--tag \"{}\" is not a valid tag", flags.tag));
    }
    auto built = build::read_artifacts(flags.from_artifacts);
    if (!built) {
        // A file the user named that cannot be read is bad input, like one that cannot be parsed.
        util::Error error = built.error();
        if (error.code == ErrorCode::io) error.code = ErrorCode::input;
        return fail(error);
    }
    if (built->empty()) return fail(ErrorCode::input, "the artifact file lists no images", flags.from_artifacts);
    std::vector<Promotion> promotions;
    for (const build::Artifact& artifact : *built) {
        auto reference = model::parse_image_ref(artifact.reference);
        if (!reference) return fail(reference.error().context("artifact " + artifact.image_name));
        // The digest that was built, not whatever the build tag points at by now.
        model::ImageRef source = reference->with_digest(artifact.digest);
        promotions.push_back({source, source.with_tag(flags.tag)});
    }
    return promotions;
}

Json outcome_json(const Promotion& promotion, const registry::PromoteResult& result) {
    const registry::CopyStats& stats = result.stats;
    Json out = {{"source", promotion.source.str()},
                {"destination", promotion.destination.str()},
                {"digest", result.descriptor.digest},
                {"mediaType", result.descriptor.media_type},
                {"method", same_repository(promotion.source, promotion.destination) ? "retag" : "copy"},
                {"unchanged", result.unchanged},
                {"manifestsWritten", stats.manifests_written},
                {"blobs",
                 {{"present", stats.blobs_present},
                  {"mounted", stats.blobs_mounted},
                  {"uploaded", stats.blobs_uploaded},
                  {"bytesUploaded", stats.bytes_uploaded}}}};
    if (!result.previous_digest.empty() && !result.unchanged) out["previousDigest"] = result.previous_digest;
    return out;
}

std::string outcome_text(const Promotion& promotion, const registry::PromoteResult& result) {
    const std::string destination = promotion.destination.with_digest("").str();
    if (result.unchanged) {
        return fmt::format("{} already points at {}; nothing to do", destination, result.descriptor.digest);
    }
    std::string line = fmt::format("{} -> {}@{}", promotion.source.str(), destination, result.descriptor.digest);
    const registry::CopyStats& stats = result.stats;
    if (same_repository(promotion.source, promotion.destination)) {
        line += " (re-tagged, no blobs moved)";
    } else {
        line += fmt::format(" (copied: {} manifests; blobs: {} present, {} mounted, {} uploaded, {} bytes)",
                            stats.manifests_written, stats.blobs_present, stats.blobs_mounted, stats.blobs_uploaded,
                            stats.bytes_uploaded);
    }
    if (!result.previous_digest.empty()) line += fmt::format("; the tag pointed at {} before", result.previous_digest);
    return line;
}

int run_promote(const PromoteFlags& flags) {
    // Bad arguments and artifact files fail before any registry is contacted.
    auto promotions = plan(flags);
    if (!promotions) return report_failure(promotions.error());
    auto client = make_registry_client(flags.registry);
    if (!client) return report_failure(client.error());

    Json results = Json::array();
    int exit_code = k_exit_ok;
    for (const Promotion& promotion : *promotions) {
        // Same repository: the manifest is PUT under the new tag; otherwise blobs are mounted or copied first.
        auto result = same_repository(promotion.source, promotion.destination)
                          ? (*client)->retag(promotion.source, promotion.destination.tag, {.allow_overwrite = flags.allow_overwrite})
                          : (*client)->copy(promotion.source, promotion.destination, {.allow_overwrite = flags.allow_overwrite});
        if (!result) {
            exit_code = std::max(exit_code, report_failure(result.error()));
            results.push_back({{"source", promotion.source.str()},
                               {"destination", promotion.destination.str()},
                               {"error", result.error().describe()}});
            continue;
        }
        if (flags.output == "json") {
            results.push_back(outcome_json(promotion, *result));
        } else {
            fmt::print("{}\n", outcome_text(promotion, *result));
        }
    }
    if (flags.output == "json") {
        Json out = flags.from_artifacts.empty() ? results.front() : Json{{"promotions", results}};
        fmt::print("{}\n", json_text(out));
    }
    return exit_code;
}

}  // namespace

Command add_promote_command(CLI::App& app) {
    auto flags = std::make_shared<PromoteFlags>();
    CLI::App* promote = app.add_subcommand(
        "promote", "Point a tag at an image that already exists, without rebuilding: a re-tag in the same "
                   "repository, a blob mount or copy across repositories and registries");
    promote->add_option("SRC_REF", flags->source, "Image to promote, by tag or digest");
    promote->add_option("DST_REF", flags->destination, "Where it goes, with the tag to set");
    promote->add_option("--from-artifacts", flags->from_artifacts,
                        "Re-tag every image of this build artifact file (minicd build --output-file) in its own repository");
    promote->add_option("--tag", flags->tag, "With --from-artifacts: the tag to set, e.g. v1.2.3");
    promote->add_flag("--allow-overwrite", flags->allow_overwrite,
                      "Move the tag when it already points at another digest (refused by default)");
    promote->add_option("-o,--output", flags->output, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    add_registry_flags(*promote, flags->registry);
    return Command{promote, [flags] { return run_promote(*flags); }};
}

}  // namespace minicd::cli
