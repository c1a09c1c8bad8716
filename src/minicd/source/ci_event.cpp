#include "minicd/source/ci_event.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "minicd/model/json_read.hpp"
#include "minicd/util/text.hpp"

extern char** environ;

namespace minicd::source {

namespace {

constexpr std::string_view k_heads = "refs/heads/";
constexpr std::string_view k_tags = "refs/tags/";

std::string get(const EnvironmentVariables& env, std::string_view name) {
    const auto found = env.find(name);
    return found != env.end() ? found->second : std::string();
}

bool is_set(const EnvironmentVariables& env, std::string_view name) { return !get(env, name).empty(); }

void set_branch(Event& event, std::string branch) {
    event.ref = fmt::format("{}{}", k_heads, branch);
    event.branch = std::move(branch);
}

void set_tag(Event& event, std::string tag) {
    event.ref = fmt::format("{}{}", k_tags, tag);
    event.tag = std::move(tag);
}

// Branch or tag push, from a full ref; false when the ref is neither.
bool push_from_ref(Event& event, std::string_view ref) {
    if (ref.starts_with(k_heads)) {
        event.kind = EventKind::branch_push;
        set_branch(event, std::string(ref.substr(k_heads.size())));
        return true;
    }
    if (ref.starts_with(k_tags)) {
        event.kind = EventKind::tag_push;
        set_tag(event, std::string(ref.substr(k_tags.size())));
        return true;
    }
    return false;
}

// What git says: the CI left the event open (an unknown CI, or one that did not say).
void fill_from_git(Event& event, const GitHead& git) {
    if (!git.branch.empty()) {
        event.kind = EventKind::branch_push;
        set_branch(event, git.branch);
    } else if (!git.tags.empty()) {
        event.kind = EventKind::tag_push;
        set_tag(event, git.tags.front());
    }
}

// CircleCI: https://circleci.com/docs/variables/ (built-in environment variables).
// CIRCLE_TAG is set only on tag builds, which have no CIRCLE_BRANCH; CIRCLE_PULL_REQUEST is the
// URL of a pull request open for the branch; CIRCLE_PR_NUMBER is set only for pull requests from
// forks. CircleCI runs no job for a deleted branch.
Event from_circleci(const EnvironmentVariables& env) {
    Event event{.provider = Provider::circleci, .sha = get(env, "CIRCLE_SHA1")};
    const std::string pull_url = get(env, "CIRCLE_PULL_REQUEST");
    const std::string fork_number = get(env, "CIRCLE_PR_NUMBER");
    if (is_set(env, "CIRCLE_TAG")) {
        event.kind = EventKind::tag_push;
        set_tag(event, get(env, "CIRCLE_TAG"));
    } else if (is_set(env, "CIRCLE_BRANCH")) {
        // A fork's pull request is built from code the repository's owners have not pushed.
        event.kind = fork_number.empty() ? EventKind::branch_push : EventKind::pull_request;
        set_branch(event, get(env, "CIRCLE_BRANCH"));
    }
    if (!pull_url.empty() || !fork_number.empty()) {
        std::string number = fork_number;
        if (number.empty()) {
            const std::size_t slash = pull_url.rfind('/');
            number = slash == std::string::npos ? std::string() : pull_url.substr(slash + 1);
        }
        event.pull_request = PullRequest{.number = number, .source_branch = event.branch, .target_branch = {},
                                         .url = pull_url};
    }
    return event;
}

// The event payload GitHub writes to GITHUB_EVENT_PATH.
Result<nlohmann::json> read_github_payload(const EnvironmentVariables& env) {
    const std::string path = get(env, "GITHUB_EVENT_PATH");
    if (path.empty()) {
        return fail(util::ErrorCode::input, "GITHUB_EVENT_PATH is not set; the event payload is needed");
    }
    auto text = util::read_file(path);
    if (!text) {
        return fail(text.error().context("reading the GitHub event payload"));
    }
    auto payload = model::parse_json(*text);
    if (!payload.is_object()) {
        return fail(util::ErrorCode::input, "the GitHub event payload is not a JSON object", path);
    }
    return payload;
}

std::string payload_string(const nlohmann::json& payload, std::string_view key) {
    const auto found = payload.find(key);
    return found != payload.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// GitHub Actions:
// https://docs.github.com/en/actions/writing-workflows/choosing-what-your-workflow-does/store-information-in-variables#default-environment-variables
// https://docs.github.com/en/actions/writing-workflows/choosing-when-your-workflow-runs/events-that-trigger-workflows
// https://docs.github.com/en/webhooks/webhook-events-and-payloads#delete
// GITHUB_REF is the full ref the run is for (refs/heads/..., refs/tags/..., refs/pull/N/merge);
// for `delete` and `schedule` it is the default branch, so a deletion is read from the payload's
// `ref` (short name) and `ref_type` (branch or tag). Pull requests name their branches in
// GITHUB_HEAD_REF and GITHUB_BASE_REF. A push that deletes a ref carries `deleted: true`.
Result<Event> from_github(const EnvironmentVariables& env) {
    Event event{.provider = Provider::github, .trigger = get(env, "GITHUB_EVENT_NAME"), .sha = get(env, "GITHUB_SHA")};
    const std::string ref = get(env, "GITHUB_REF");
    if (event.trigger == "delete") {
        auto payload = read_github_payload(env);
        if (!payload) {
            return fail(payload.error());
        }
        const std::string name = payload_string(*payload, "ref");
        const std::string type = payload_string(*payload, "ref_type");
        if (name.empty() || (type != "branch" && type != "tag")) {
            return fail(util::ErrorCode::input, "the delete event payload lacks \"ref\" or \"ref_type\"",
                        get(env, "GITHUB_EVENT_PATH"));
        }
        // A deleted tag leaves nothing to tear down: the event stays unknown.
        if (type == "branch") {
            event.kind = EventKind::branch_delete;
            set_branch(event, name);
        } else {
            set_tag(event, name);
        }
        return event;
    }
    if (event.trigger == "pull_request" || event.trigger == "pull_request_target") {
        event.kind = EventKind::pull_request;
        event.ref = ref;
        event.branch = get(env, "GITHUB_HEAD_REF");
        std::string number;
        if (constexpr std::string_view k_pull = "refs/pull/"; ref.starts_with(k_pull)) {
            number = ref.substr(k_pull.size(), ref.find('/', k_pull.size()) - k_pull.size());
        }
        event.pull_request = PullRequest{.number = number, .source_branch = event.branch,
                                         .target_branch = get(env, "GITHUB_BASE_REF"), .url = {}};
        return event;
    }
    if (event.trigger == "schedule") {
        event.kind = EventKind::scheduled;
        event.ref = ref;
        event.branch = ref.starts_with(k_heads) ? ref.substr(k_heads.size()) : std::string();
        return event;
    }
    push_from_ref(event, ref);
    if (event.trigger == "push" && is_set(env, "GITHUB_EVENT_PATH")) {
        auto payload = read_github_payload(env);
        if (!payload) {
            return fail(payload.error());
        }
        // Only a JSON true: value("deleted", false) throws on a member of another type.
        if (model::bool_at(*payload, {"deleted"})) {
            event.kind = event.kind == EventKind::branch_push ? EventKind::branch_delete : EventKind::unknown;
        }
    }
    return event;
}

// GitLab CI: https://docs.gitlab.com/ee/ci/variables/predefined_variables.html
// CI_COMMIT_BRANCH is set in branch pipelines only (not for tags or merge requests), CI_COMMIT_TAG
// in tag pipelines only; CI_PIPELINE_SOURCE says what started the pipeline (push, web, schedule,
// merge_request_event, external_pull_request_event, ...). A job with `environment: {action: stop}`
// (CI_ENVIRONMENT_ACTION=stop) runs when the branch is deleted or its environment stopped.
Event from_gitlab(const EnvironmentVariables& env) {
    Event event{
        .provider = Provider::gitlab, .trigger = get(env, "CI_PIPELINE_SOURCE"), .sha = get(env, "CI_COMMIT_SHA")};
    const std::string branch = get(env, "CI_COMMIT_BRANCH");
    if (get(env, "CI_ENVIRONMENT_ACTION") == "stop" && !is_set(env, "CI_COMMIT_TAG")) {
        std::string stopped = branch;
        for (const char* name : {"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_REF_NAME"}) {
            stopped = stopped.empty() ? get(env, name) : stopped;
        }
        if (!stopped.empty()) {
            event.kind = EventKind::branch_delete;
            set_branch(event, std::move(stopped));
            return event;
        }
    }
    if (event.trigger == "merge_request_event" || event.trigger == "external_pull_request_event") {
        const bool external = event.trigger == "external_pull_request_event";
        const std::string prefix = external ? "CI_EXTERNAL_PULL_REQUEST_" : "CI_MERGE_REQUEST_";
        event.kind = EventKind::pull_request;
        event.branch = get(env, prefix + "SOURCE_BRANCH_NAME");
        if (event.branch.empty()) {
            event.branch = get(env, "CI_COMMIT_REF_NAME");
        }
        event.pull_request = PullRequest{.number = get(env, prefix + "IID"), .source_branch = event.branch,
                                         .target_branch = get(env, prefix + "TARGET_BRANCH_NAME"), .url = {}};
        return event;
    }
    if (is_set(env, "CI_COMMIT_TAG")) {
        event.kind = EventKind::tag_push;
        set_tag(event, get(env, "CI_COMMIT_TAG"));
    } else if (!branch.empty()) {
        event.kind = EventKind::branch_push;
        set_branch(event, branch);
    }
    if (event.trigger == "schedule") {
        event.kind = EventKind::scheduled;
    }
    return event;
}

}  // namespace

std::string_view to_string(EventKind kind) {
    switch (kind) {
        case EventKind::branch_push: return "branch push";
        case EventKind::tag_push: return "tag push";
        case EventKind::branch_delete: return "branch delete";
        case EventKind::pull_request: return "pull request";
        case EventKind::scheduled: return "scheduled";
        case EventKind::unknown: break;
    }
    return "unknown";
}

std::string_view to_string(Provider provider) {
    switch (provider) {
        case Provider::circleci: return "circleci";
        case Provider::github: return "github";
        case Provider::gitlab: return "gitlab";
        case Provider::generic: break;
    }
    return "generic";
}

EnvironmentVariables process_environment() {
    EnvironmentVariables env;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text = *entry;
        const std::size_t equals = text.find('=');
        if (equals != std::string_view::npos) {
            env.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
        }
    }
    return env;
}

Result<Event> detect_event(const EnvironmentVariables& env, const GitHead& git) {
    Event event;
    if (get(env, "CIRCLECI") == "true") {
        event = from_circleci(env);
    } else if (get(env, "GITHUB_ACTIONS") == "true") {
        auto github = from_github(env);
        if (!github) {
            return github;
        }
        event = std::move(*github);
    } else if (get(env, "GITLAB_CI") == "true") {
        event = from_gitlab(env);
    }
    if (event.kind == EventKind::unknown && event.ref.empty()) {
        fill_from_git(event, git);
    }
    // A deleted branch has no commit to build; HEAD is some other branch's.
    if (event.sha.empty() && event.kind != EventKind::branch_delete) {
        event.sha = git.sha;
    }
    return event;
}

}  // namespace minicd::source
