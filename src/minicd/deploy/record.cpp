// The record phase: what a deploy leaves in its history, and how the history is read.
#include "minicd/deploy/record.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>

#include "minicd/deploy/deployment.hpp"
#include "minicd/deploy/store.hpp"

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

model::ReleaseOutcome outcome_of(const Deployment& m) {
    switch (m.result.outcome) {
    case Outcome::succeeded: return model::ReleaseOutcome::deployed;
    // Stopped before writing (namespaces and CRDs aside): the cluster is as it was, so nothing is held.
    case Outcome::refused:
    case Outcome::rejected: return model::ReleaseOutcome::refused;
    case Outcome::failed: return model::ReleaseOutcome::failed;
    }
    return model::ReleaseOutcome::failed;
}

}  // namespace

std::vector<Json> release_objects(const Deployment& m) {
    std::vector<Json> objects;
    objects.reserve(m.items.size());
    for (const auto& item : m.items) {
        if (item.desired.phase == model::Phase::main) objects.push_back(item.desired.object.body());
    }
    return objects;
}

std::string objects_text(const Deployment& m) { return Json(release_objects(m)).dump(); }

Result<model::Release> release_of(const Deployment& m, Store& store) {
    const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - m.started);
    // Keyed with the environment's salt: the objects may hold Secrets, and the record is a ConfigMap.
    auto digest = store.manifest_digest(objects_text(m));
    if (!digest) return fail(digest.error());
    return model::Release{.time = now_rfc3339(),
                          .git_sha = m.options.git_sha,
                          .images = m.options.images,
                          .manifest_digest = std::move(*digest),
                          .outcome = outcome_of(m),
                          .message = m.stopped() ? m.result.failure : m.options.release_message,
                          .deployed_by = m.options.deployed_by.by.empty() ? detect_provenance() : m.options.deployed_by,
                          .duration_seconds = std::round(elapsed.count() * 10) / 10,
                          .rollback_to = m.rollback_to,
                          .rollout = m.rollout};
}

model::Provenance detect_provenance() {
    auto variable = [](const char* name) {
        const char* value = std::getenv(name);
        return value ? std::string(value) : std::string();
    };
    if (!variable("GITHUB_ACTIONS").empty()) {
        std::string url;
        if (!variable("GITHUB_REPOSITORY").empty() && !variable("GITHUB_RUN_ID").empty()) {
            const std::string server = variable("GITHUB_SERVER_URL").empty() ? "https://github.com" : variable("GITHUB_SERVER_URL");
            url = server + "/" + variable("GITHUB_REPOSITORY") + "/actions/runs/" + variable("GITHUB_RUN_ID");
        }
        return {.by = "github-actions", .job_url = url};
    }
    if (!variable("GITLAB_CI").empty()) return {.by = "gitlab-ci", .job_url = variable("CI_JOB_URL")};
    if (!variable("CIRCLECI").empty()) return {.by = "circleci", .job_url = variable("CIRCLE_BUILD_URL")};
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const std::string user = variable("USER").empty() ? "unknown" : variable("USER");
    return {.by = fmt::format("cli ({}@{})", user, host)};
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
