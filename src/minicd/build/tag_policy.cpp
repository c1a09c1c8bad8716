#include "minicd/build/tag_policy.hpp"

#include <cstdlib>
#include <fmt/format.h>
#include <string_view>

namespace minicd::build {

Result<std::string> commit_tag(source::Repository& repository, const TagPolicy& policy) {
    auto sha = repository.short_head_commit(policy.length);
    if (!sha) return fail(sha.error());
    auto state = repository.work_tree_state(5, policy.skip_paths);
    if (!state) return fail(state.error());
    if (!state->dirty()) return *sha;
    if (policy.pushing && policy.in_ci && !policy.allow_dirty) {
        return fail(util::ErrorCode::input,
                    fmt::format("the work tree has uncommitted changes ({}); an image pushed from CI must match its "
                                "commit (--allow-dirty pushes it tagged {}-dirty)",
                                state->describe(), *sha),
                    repository.path());
    }
    return *sha + "-dirty";
}

bool running_in_ci() {
    const char* value = std::getenv("CI");
    if (value == nullptr) return false;
    std::string_view text = value;
    return text == "true" || text == "TRUE" || text == "True" || text == "1";
}

}  // namespace minicd::build
