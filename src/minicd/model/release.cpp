#include "minicd/model/release.hpp"

#include <algorithm>

namespace minicd::model {

std::string_view to_string(ReleaseOutcome outcome) {
    switch (outcome) {
    case ReleaseOutcome::deployed: return "deployed";
    case ReleaseOutcome::superseded: return "superseded";
    case ReleaseOutcome::failed: return "failed";
    case ReleaseOutcome::rolled_back: return "rolled-back";
    case ReleaseOutcome::held: return "held";
    case ReleaseOutcome::refused: return "refused";
    case ReleaseOutcome::canary: return "canary";
    }
    return "failed";
}

std::optional<ReleaseOutcome> parse_release_outcome(std::string_view text) {
    for (auto outcome : {ReleaseOutcome::deployed, ReleaseOutcome::superseded, ReleaseOutcome::failed,
                         ReleaseOutcome::rolled_back, ReleaseOutcome::held, ReleaseOutcome::refused,
                         ReleaseOutcome::canary}) {
        if (text == to_string(outcome)) return outcome;
    }
    if (text == "succeeded") return ReleaseOutcome::deployed;
    return std::nullopt;
}

std::string_view to_string(Rollout rollout) {
    switch (rollout) {
    case Rollout::whole: return "whole";
    case Rollout::canary: return "canary";
    case Rollout::pre_phase: return "pre-phase";
    }
    return "whole";
}

std::optional<Rollout> parse_rollout(std::string_view text) {
    if (text.empty()) return Rollout::whole;
    for (auto rollout : {Rollout::whole, Rollout::canary, Rollout::pre_phase}) {
        if (text == to_string(rollout)) return rollout;
    }
    return std::nullopt;
}

bool was_healthy(ReleaseOutcome outcome) {
    return outcome == ReleaseOutcome::deployed || outcome == ReleaseOutcome::superseded;
}

bool is_held(ReleaseOutcome outcome) {
    return outcome == ReleaseOutcome::failed || outcome == ReleaseOutcome::rolled_back || outcome == ReleaseOutcome::held;
}

bool ran(const Release& release) {
    return release.outcome != ReleaseOutcome::refused && release.outcome != ReleaseOutcome::canary &&
           release.rollout == Rollout::whole;
}

namespace {

// The digests of a release's pinned images.
std::vector<std::string> digests_of(const Release& release) {
    std::vector<std::string> digests;
    for (const auto& [name, reference] : release.images) {
        if (const auto at = reference.rfind('@'); at != std::string::npos) digests.push_back(reference.substr(at + 1));
    }
    return digests;
}

bool shares_a_digest(const Release& release, const std::vector<std::string>& digests) {
    for (const auto& digest : digests_of(release)) {
        if (std::find(digests.begin(), digests.end(), digest) != digests.end()) return true;
    }
    return false;
}

}  // namespace

std::optional<Release> hold_on(const std::vector<Release>& releases, std::string_view git_sha,
                               const std::vector<std::string>& digests) {
    // Newest first: the newest release of the commit says whether it is held now.
    for (const auto& release : releases) {
        const bool same_commit = !git_sha.empty() && release.git_sha == git_sha;
        if (!same_commit && !shares_a_digest(release, digests)) continue;
        // A rollback back to this commit's release is not a verdict on the commit itself.
        if (release.rollback_to != 0) continue;
        if (was_healthy(release.outcome)) return std::nullopt;
        if (is_held(release.outcome)) return release;
    }
    return std::nullopt;
}

bool still_held(const std::vector<Release>& releases, const Release& release) {
    // A failed rollback says nothing about the commit it returned to.
    if (!is_held(release.outcome) || release.rollback_to != 0) return false;
    const std::vector<std::string> digests = digests_of(release);
    if (release.git_sha.empty() && digests.empty()) return true;
    std::vector<Release> since;
    for (const auto& other : releases) {
        if (other.revision >= release.revision) since.push_back(other);
    }
    return hold_on(since, release.git_sha, digests).has_value();
}

}  // namespace minicd::model
