#pragma once

#include <string>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::model {

// A container image reference in the docker grammar, normalised the way docker does it:
// "nginx" is docker.io/library/nginx, "localhost:5000/app" is registry localhost:5000.
struct ImageRef {
    std::string registry;    // "docker.io", "127.0.0.1:5000", "[::1]:5000", "asia-docker.pkg.dev"
    std::string repository;  // "library/nginx", "acme-cr/apps/shop"
    std::string tag;         // empty when none was given
    std::string digest;      // "sha256:<hex>", empty when none was given

    std::string name() const;  // registry + "/" + repository
    std::string str() const;   // name()[:tag][@digest]
    ImageRef with_tag(std::string tag) const;        // same name, this tag, no digest
    ImageRef with_digest(std::string digest) const;  // same name and tag, this digest

    friend bool operator==(const ImageRef&, const ImageRef&) = default;
};

// Errors name the reference and what is wrong with it (ErrorCode::input).
Result<ImageRef> parse_image_ref(std::string_view text);

// `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
bool is_valid_tag(std::string_view tag);

// "algorithm:hex" with lowercase hex; sha256 needs exactly 64 digits and sha512 128.
bool is_valid_digest(std::string_view digest);

}  // namespace minicd::model
