#include "minicd/model/release.hpp"

namespace minicd::model {

std::string_view to_string(ReleaseOutcome outcome) {
    switch (outcome) {
    case ReleaseOutcome::deployed: return "deployed";
    case ReleaseOutcome::failed: return "failed";
    }
    return "failed";
}

std::optional<ReleaseOutcome> parse_release_outcome(std::string_view text) {
    if (text == "deployed" || text == "succeeded") return ReleaseOutcome::deployed;
    if (text == "failed") return ReleaseOutcome::failed;
    return std::nullopt;
}

}  // namespace minicd::model
