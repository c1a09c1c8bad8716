#pragma once

// Helpers shared by the health unit tests (not compiled into minicd_health: only *_test.cpp include it).

#include <ostream>
#include <string_view>

#include "minicd/health/health.hpp"
#include "minicd/model/object.hpp"

namespace minicd::health {

// GoogleTest prints this when an expectation fails, so a wrong message is shown in full.
inline void PrintTo(const Health& health, std::ostream* out) {
    *out << "{" << to_string(health.state) << ", \"" << health.reason << "\", \"" << health.message << "\"}";
}

namespace testing_support {

// A recorded object with part of it replaced (RFC 7386 merge patch: objects merge, arrays and scalars are
// replaced, null removes a field), so each case shows only the status it is about.
inline model::Json with(model::Json object, std::string_view patch) {
    object.merge_patch(model::Json::parse(patch));
    return object;
}

}  // namespace testing_support

}  // namespace minicd::health
