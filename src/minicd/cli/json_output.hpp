#pragma once

#include <string>

#include "minicd/model/object.hpp"

namespace minicd::cli {

// `json` as -o json prints it, indented by two. Bytes that are not UTF-8 (a tool's stderr quoted in
// an error message, say) come out as U+FFFD: nlohmann's strict dump() would throw instead, and the
// whole report would end as an internal error.
inline std::string json_text(const model::Json& json) {
    return json.dump(2, ' ', false, model::Json::error_handler_t::replace);
}

}  // namespace minicd::cli
