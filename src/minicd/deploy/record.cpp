// The record phase: what a deploy leaves in its history, and how the history is read.
#include "minicd/deploy/record.hpp"

#include <chrono>
#include <ctime>

#include "minicd/deploy/deployment.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::deploy {

using model::Json;

namespace {

std::string now_rfc3339() {
    auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

// sha256 over the canonical JSON of every object the deploy declared, in apply order.
std::string manifest_digest(const std::vector<Item>& items) {
    Json all = Json::array();
    for (const auto& item : items) all.push_back(item.desired.object.body());
    return "sha256:" + util::sha256_hex(all.dump());
}

}  // namespace

model::Release release_of(const Deployment& m) {
    return {.time = now_rfc3339(),
            .git_sha = m.options.git_sha,
            .images = m.options.images,
            .manifest_digest = manifest_digest(m.items),
            .outcome = m.stopped() ? model::ReleaseOutcome::failed : model::ReleaseOutcome::deployed,
            .message = m.stopped() ? m.result.failure : m.options.release_message};
}

std::optional<model::Release> healthy_release(const std::vector<model::Release>& releases, std::string_view git_sha) {
    for (const auto& release : releases) {
        if (release.git_sha == git_sha && release.outcome == model::ReleaseOutcome::deployed && !release.images.empty()) {
            return release;
        }
    }
    return std::nullopt;
}

}  // namespace minicd::deploy
