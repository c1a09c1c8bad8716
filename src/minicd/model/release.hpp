#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace minicd::model {

// How a deploy of one (app, environment) ended.
enum class ReleaseOutcome {
    deployed,  // applied and verified healthy
    failed,    // refused, not applied, or not healthy
};

std::string_view to_string(ReleaseOutcome outcome);
// Also reads "succeeded", what records written before this enum said for deployed.
std::optional<ReleaseOutcome> parse_release_outcome(std::string_view text);

// One deploy of one (app, environment), as recorded after it finished.
struct Release {
    int revision = 0;                           // 1, 2, ...; assigned when recorded
    std::string time;                           // RFC 3339, UTC
    std::string git_sha;                        // "" when unknown
    std::map<std::string, std::string> images;  // image name -> pinned reference (name@sha256:...)
    std::string manifest_digest;                // sha256 of the applied objects, canonical JSON
    ReleaseOutcome outcome = ReleaseOutcome::failed;
    std::string message;  // why it failed, or a short summary

    friend bool operator==(const Release&, const Release&) = default;
};

}  // namespace minicd::model
