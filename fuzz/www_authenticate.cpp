// Feeds bytes to registry::parse_www_authenticate as the value of a WWW-Authenticate header of a
// registry's 401 answer. Checks that schemes and parameter names come out lowercased.

#include <cctype>

#include "fuzz_support.hpp"
#include "minicd/registry/www_authenticate.hpp"

using minicd::fuzz::require;

namespace {

bool lowercase(std::string_view text) {
    for (char c : text) {
        if (std::isupper(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto challenges = minicd::registry::parse_www_authenticate(minicd::fuzz::as_text(data, size));
    if (!challenges) {
        require(challenges.error().code == minicd::util::ErrorCode::input, "a bad header is an input error");
        return 0;
    }
    for (const auto& challenge : *challenges) {
        require(!challenge.scheme.empty() && lowercase(challenge.scheme), "a scheme is there and lowercased");
        for (const auto& [name, value] : challenge.params) {
            require(!name.empty() && lowercase(name), "a parameter name is there and lowercased");
            require(challenge.param(name) == value, "a parameter is found by its name");
        }
    }
    return 0;
}
