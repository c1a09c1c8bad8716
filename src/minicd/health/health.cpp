#include "minicd/health/health.hpp"

namespace minicd::health {

std::string_view to_string(State state) {
    switch (state) {
    case State::current: return "Current";
    case State::in_progress: return "InProgress";
    case State::failed: return "Failed";
    }
    return "Unknown";
}

Health assess(const model::Json&, std::span<const model::Json>, const AssessOptions&) {
    return Health{State::current, "", "health rules are not implemented yet"};
}

bool selector_matches(const model::Json&, const model::Json&) { return false; }

}  // namespace minicd::health
