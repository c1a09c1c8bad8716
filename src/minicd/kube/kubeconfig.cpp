#include "minicd/kube/kubeconfig.hpp"

namespace minicd::kube {

Result<RestConfig> load_rest_config(const KubeconfigOptions&) {
    return fail(util::ErrorCode::internal, "kubeconfig loading is not implemented yet");
}

Result<RestConfig> in_cluster_config(const std::string&) {
    return fail(util::ErrorCode::internal, "in-cluster configuration is not implemented yet");
}

}  // namespace minicd::kube
