#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

namespace minicd::registry {

// One challenge of a WWW-Authenticate header (RFC 7235): `Bearer realm="...",service="...",scope="..."`.
struct Challenge {
    std::string scheme;                         // lowercased: "bearer", "basic"
    std::map<std::string, std::string> params;  // names lowercased, values unquoted and unescaped
    std::string token68;                        // the rare `Scheme token68` form; empty otherwise

    // The parameter's value, or "" when it is absent.
    std::string param(std::string_view name) const;
    friend bool operator==(const Challenge&, const Challenge&) = default;
};

// Parses one header value, which may hold several challenges separated by commas. Commas and
// escaped quotes inside quoted values stay part of the value. Malformed text is an input error.
Result<std::vector<Challenge>> parse_www_authenticate(std::string_view header);

}  // namespace minicd::registry
