#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace minicd::model {

// How a release of one (app, environment) stands. A deploy records `deployed`, `failed` or
// `refused` (a canary `canary` first, then `deployed` or `failed`); later releases change earlier
// ones to `superseded`, `rolled-back` or `held`.
enum class ReleaseOutcome {
    deployed,     // applied and verified healthy; what runs now
    superseded,   // was deployed and verified healthy; a later release replaced it
    failed,       // written, then not healthy (or a write failed); held
    rolled_back,  // failed, and an automatic rollback replaced it; held
    held,         // was replaced by a manual rollback; held
    refused,      // stopped before writing anything (ownership, dry run): the cluster is as it was
    canary,       // its canary runs next to the release before it, which still serves
};

std::string_view to_string(ReleaseOutcome outcome);
// Also reads "succeeded", what records written before this enum said for deployed.
std::optional<ReleaseOutcome> parse_release_outcome(std::string_view text);

// Verified healthy when it was deployed: a release a rollback may return to by default.
bool was_healthy(ReleaseOutcome outcome);
// Its commit and images must not be deployed again to that environment without --force.
bool is_held(ReleaseOutcome outcome);

// How far a release's writes reached.
enum class Rollout {
    whole,   // every object of the release was applied (or the attempt was)
    canary,  // only its canary objects: a canary still running or aborted; the release before ran on untouched
    pre_phase,  // only its pre phase (minicd.io/phase: pre), which failed: the release before ran on untouched
};

// "whole", "canary", "pre-phase": how records say it.
std::string_view to_string(Rollout rollout);
// Also reads "" (records written before the field) as whole; nullopt for anything else.
std::optional<Rollout> parse_rollout(std::string_view text);

// Who or what made a release.
struct Provenance {
    std::string by;       // "github-actions", "gitlab-ci", "circleci" or "cli (user@host)"
    std::string job_url;  // the CI job's page; "" when the CI does not expose one

    friend bool operator==(const Provenance&, const Provenance&) = default;
};

// One release of one (app, environment), as recorded after it finished.
struct Release {
    int revision = 0;                           // 1, 2, ...; assigned when recorded
    std::string time;                           // RFC 3339, UTC
    std::string git_sha;                        // "" when unknown
    std::map<std::string, std::string> images;  // image name -> pinned reference (name@sha256:...)
    // Of the applied objects' canonical JSON: "hmac-sha256:<hex>" keyed with the environment's salt
    // (deploy::Store::manifest_digest), or "sha256:<hex>" in records written before digests were keyed.
    std::string manifest_digest;
    ReleaseOutcome outcome = ReleaseOutcome::failed;
    std::string message;  // why it failed, or a short summary ("rollback to 3")
    Provenance deployed_by;
    double duration_seconds = 0;  // from the start of the deploy to its record
    int rollback_to = 0;          // the revision this release restored; 0 when it is not a rollback
    int payload_chunks = 0;       // Secrets holding the applied objects; 0 when none were stored
    // The release whose Secrets hold those objects: 0 for its own, else an earlier release that
    // applied the very same objects (a redeploy, a rollback), so they are stored once.
    int payload_revision = 0;
    Rollout rollout = Rollout::whole;
    int canary_step = 0;  // the step a canary reached (1-based): where it runs, or where it was aborted; 0 for none

    // The revision the objects are stored under.
    int stored_under() const { return payload_revision != 0 ? payload_revision : revision; }

    friend bool operator==(const Release&, const Release&) = default;
};

// Whether the release's objects are what ran in the cluster after it: it wrote, and not only a canary.
bool ran(const Release& release);

// The newest release that holds `git_sha` (or, when `digests` is not empty, any of those image
// digests) in its environment, newest first; nullopt when nothing does. A later healthy release of
// the same commit (deployed with --force) lifts the hold.
std::optional<Release> hold_on(const std::vector<Release>& releases, std::string_view git_sha,
                               const std::vector<std::string>& digests = {});

// Whether `release` (one of `releases`) still holds its commit or images: a held outcome not
// lifted since by a healthy release of the same commit or images. A release recorded without
// either (applied by hand) is held as recorded; a failed rollback holds nothing.
bool still_held(const std::vector<Release>& releases, const Release& release);

}  // namespace minicd::model
