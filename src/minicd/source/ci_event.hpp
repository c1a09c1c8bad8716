#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

namespace minicd::source {

// What happened in Git that the CI job runs for.
enum class EventKind {
    branch_push,    // commits pushed to a branch (including its creation)
    tag_push,       // a tag pushed
    branch_delete,  // a branch deleted (only CIs that run jobs for deletions report it)
    pull_request,   // a pull/merge request pipeline: `branch` is its source branch
    scheduled,      // a scheduled pipeline: nothing was pushed
    unknown,        // nothing could tell
};

enum class Provider { circleci, github, gitlab, generic };

std::string_view to_string(EventKind kind);
std::string_view to_string(Provider provider);

struct PullRequest {
    std::string number;         // "" when the CI does not say
    std::string source_branch;  // "" when the CI does not say
    std::string target_branch;  // "" when the CI does not say
    std::string url;            // "" when the CI does not say
};

struct Event {
    EventKind kind = EventKind::unknown;
    Provider provider = Provider::generic;
    std::string trigger;  // the CI's own word for it (GITHUB_EVENT_NAME, CI_PIPELINE_SOURCE); "" if none
    std::string ref;      // full ref ("refs/heads/main", "refs/tags/v1.2.0"); "" when unknown
    std::string branch;   // branch pushed or deleted, or the pull request's source branch
    std::string tag;      // tag pushed
    std::string sha;      // commit the job checked out; for a deletion, whatever the CI checked out instead
    std::optional<PullRequest> pull_request;  // set when the CI says a pull request is involved
};

// What the local clone says, for CIs minicd does not know (and gaps in those it does).
struct GitHead {
    std::string branch;             // "" when HEAD is detached
    std::vector<std::string> tags;  // tags pointing at HEAD, in the order to prefer
    std::string sha;                // HEAD commit
};

using EnvironmentVariables = std::map<std::string, std::string, std::less<>>;

// The variables of this process.
EnvironmentVariables process_environment();

// Works out the event from the CI's environment variables: CircleCI (CIRCLECI), GitHub Actions
// (GITHUB_ACTIONS, reading the GITHUB_EVENT_PATH payload for delete events), GitLab CI (GITLAB_CI);
// otherwise, and for whatever the CI leaves out, from `git`: a branch checked out is a branch
// push, a detached HEAD with tags is a tag push (the first tag), anything else is unknown.
// Errors: the GitHub event payload cannot be read or is not the JSON a delete event carries.
Result<Event> detect_event(const EnvironmentVariables& env, const GitHead& git);

}  // namespace minicd::source
