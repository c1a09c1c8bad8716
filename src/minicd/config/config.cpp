#include "minicd/config/config.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "minicd/config/template.hpp"

namespace minicd::config {

bool glob_matches(std::string_view pattern, std::string_view name) {
    // Greedy with one backtrack point, the last `*`: linear enough for ref names.
    std::size_t p = 0;
    std::size_t n = 0;
    std::size_t star = std::string_view::npos;
    std::size_t resume = 0;
    while (n < name.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = n;
        } else if (p < pattern.size() && pattern[p] == name[n]) {
            ++p;
            ++n;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            n = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

bool RefPatterns::matches(std::string_view name) const {
    bool any_plain = false;
    bool selected = false;
    for (const std::string& pattern : patterns) {
        if (pattern.starts_with('!')) {
            if (glob_matches(std::string_view(pattern).substr(1), name)) {
                return false;
            }
        } else {
            any_plain = true;
            selected = selected || glob_matches(pattern, name);
        }
    }
    return !patterns.empty() && (selected || !any_plain);
}

bool Environment::per_branch() const {
    auto parsed = NameTemplate::parse(namespace_);
    return parsed && parsed->has_branch();
}

OnFailure Environment::failure_policy() const {
    // A broken preview is one developer's to debug; a shared environment should be working again.
    return on_failure.value_or(per_branch() ? OnFailure::keep : OnFailure::rollback);
}

const Environment* Config::find(std::string_view name) const {
    const auto found = std::find_if(environments.begin(), environments.end(),
                                    [name](const Environment& environment) { return environment.name == name; });
    return found != environments.end() ? &*found : nullptr;
}

Result<const Environment*> find_environment(const Config& config, std::string_view name, const std::string& file) {
    if (const Environment* found = config.find(name)) return found;
    std::vector<std::string> names;
    for (const auto& environment : config.environments) names.push_back(environment.name);
    return fail(util::ErrorCode::input, fmt::format("no environment {} (there are: {})", name, fmt::join(names, ", ")), file);
}

std::vector<const Environment*> match(const Config& config, const source::Event& event) {
    std::vector<const Environment*> selected;
    for (const Environment& environment : config.environments) {
        if (!environment.on) {
            continue;
        }
        bool chosen = false;
        switch (event.kind) {
            case source::EventKind::branch_push: chosen = environment.on->branch.matches(event.branch); break;
            case source::EventKind::tag_push: chosen = environment.on->tag.matches(event.tag); break;
            case source::EventKind::branch_delete:
                chosen = environment.per_branch() && environment.on->branch.matches(event.branch);
                break;
            default: break;
        }
        if (chosen) {
            selected.push_back(&environment);
        }
    }
    return selected;
}

}  // namespace minicd::config
