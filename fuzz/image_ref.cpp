// Feeds bytes to model::parse_image_ref as an image reference ("nginx", "reg:5000/app:v1@sha256:...").
// Checks that a parsed reference's text parses back to the same reference and that its tag and
// digest are valid ones.

#include "fuzz_support.hpp"
#include "minicd/model/image_ref.hpp"

using minicd::fuzz::require;
using minicd::model::is_valid_digest;
using minicd::model::is_valid_tag;
using minicd::model::parse_image_ref;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = minicd::fuzz::as_text(data, size);
    is_valid_tag(text);
    is_valid_digest(text);
    auto ref = parse_image_ref(text);
    if (!ref) {
        require(ref.error().code == minicd::util::ErrorCode::input, "a bad reference is an input error");
        return 0;
    }
    require(!ref->registry.empty() && !ref->repository.empty(), "a reference has a registry and a repository");
    require(ref->tag.empty() || is_valid_tag(ref->tag), "a parsed tag is valid");
    require(ref->digest.empty() || is_valid_digest(ref->digest), "a parsed digest is valid");
    auto again = parse_image_ref(ref->str());
    require(again.has_value(), "a reference's text parses");
    require(*again == *ref, "a reference's text reads back the same");
    auto named = parse_image_ref(ref->name());
    require(named.has_value() && named->name() == ref->name(), "a reference's name reads back the same");
    return 0;
}
