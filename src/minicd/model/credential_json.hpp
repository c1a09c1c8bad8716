#pragma once

#include <string_view>

#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::model {

// Parses JSON that may hold credentials: a kubeconfig, the ExecCredential a plugin prints, docker's
// config.json. A syntax error is ErrorCode::input without a subject, saying "line L, column C: <kind
// of mistake>" in fixed words and never quoting the text (nlohmann's own message shows the bytes it
// last read: here, a secret). Never throws, not even for a number too large for a double.
Result<Json> parse_credential_json(std::string_view text);

}  // namespace minicd::model
