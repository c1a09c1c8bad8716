#pragma once

#include <tl/expected.hpp>

#include "minicd/util/error.hpp"

namespace minicd {

// Every operation that can fail for reasons outside the program returns a Result.
template <typename T>
using Result = tl::expected<T, util::Error>;

// Shorthand for returning a failure: `return fail(ErrorCode::io, "cannot open", path);`
inline tl::unexpected<util::Error> fail(util::ErrorCode code, std::string message, std::string subject = {}) {
    return tl::unexpected<util::Error>(util::make_error(code, std::move(message), std::move(subject)));
}

inline tl::unexpected<util::Error> fail(util::Error error) {
    return tl::unexpected<util::Error>(std::move(error));
}

}  // namespace minicd
