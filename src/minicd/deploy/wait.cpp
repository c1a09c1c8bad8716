#include "minicd/deploy/wait.hpp"

namespace minicd::deploy {

Result<WaitResult> wait_for_health(kube::Client&, const std::vector<WaitTarget>&, const WaitOptions&) {
    return fail(util::ErrorCode::internal, "waiting for health is not implemented yet");
}

}  // namespace minicd::deploy
