// Feeds bytes to source::detect_event as a CI job's environment and GitHub event payload.
// Input: "NAME=value" lines up to a line "---", then the payload JSON. GITHUB_EVENT_PATH, when
// set, is pointed at a scratch file holding the payload; "git.branch=", "git.tag=" (repeatable)
// and "git.sha=" lines say what the checkout's HEAD is. Checks that a branch or tag event's ref is
// the full name of its branch or tag.

#include "fuzz_support.hpp"
#include "minicd/source/ci_event.hpp"

namespace {

using minicd::fuzz::require;
using minicd::source::EnvironmentVariables;
using minicd::source::EventKind;
using minicd::source::GitHead;

constexpr std::string_view k_payload_separator = "---";

struct Job {
    EnvironmentVariables env;
    GitHead git;
    std::string_view payload;
};

Job read_job(std::string_view text) {
    Job job;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
        if (line == k_payload_separator) break;
        const std::size_t equals = line.find('=');
        if (equals == std::string_view::npos) continue;
        const std::string name(line.substr(0, equals));
        std::string value(line.substr(equals + 1));
        if (name == "git.branch") {
            job.git.branch = std::move(value);
        } else if (name == "git.tag") {
            job.git.tags.push_back(std::move(value));
        } else if (name == "git.sha") {
            job.git.sha = std::move(value);
        } else {
            job.env.insert_or_assign(name, std::move(value));
        }
    }
    job.payload = text;
    return job;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Job job = read_job(minicd::fuzz::as_text(data, size));
    if (auto path = job.env.find("GITHUB_EVENT_PATH"); path != job.env.end() && !path->second.empty()) {
        path->second = minicd::fuzz::ScratchDir::get().write("event.json", job.payload);
    }
    auto event = minicd::source::detect_event(job.env, job.git);
    if (!event) {
        require(event.error().code == minicd::util::ErrorCode::input, "an unusable payload is an input error");
        return 0;
    }
    if (event->kind == EventKind::branch_push || event->kind == EventKind::branch_delete) {
        require(event->ref == "refs/heads/" + event->branch, "a branch event's ref names its branch");
    }
    if (event->kind == EventKind::tag_push) {
        require(event->ref == "refs/tags/" + event->tag, "a tag event's ref names its tag");
    }
    return 0;
}
