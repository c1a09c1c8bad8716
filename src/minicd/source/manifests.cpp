#include "minicd/source/manifests.hpp"

namespace minicd::source {

Result<std::vector<Manifest>> load_manifests(const std::vector<std::string>&) {
    return fail(util::ErrorCode::internal, "manifest loading is not implemented yet");
}

}  // namespace minicd::source
