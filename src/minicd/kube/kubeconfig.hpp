#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "minicd/http/http_client.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::kube {

// users[].user.exec of a kubeconfig: a credential plugin.
struct ExecConfig {
    std::string api_version;  // client.authentication.k8s.io/v1 or /v1beta1
    std::string command;      // resolved: relative paths with a '/' against the kubeconfig's folder
    std::vector<std::string> args;
    std::vector<std::pair<std::string, std::string>> env;
    bool provide_cluster_info = false;
    std::string interactive_mode;  // Never | IfAvailable | Always ("" for v1beta1 means IfAvailable)
    std::string install_hint;
};

// Everything needed to talk to one API server as one user: the resolved result of kubeconfig
// (or in-cluster) loading.
struct RestConfig {
    std::string server;           // "https://host:port", no trailing slash
    std::string tls_server_name;  // name to verify the server certificate against; "" = host of server
    http::TlsOptions tls;         // CA, client certificate/key (files resolved to absolute paths, or PEM data)
    std::string token;            // static bearer token (wins over token_file)
    std::string token_file;       // bearer token re-read from this file (rotating service-account tokens)
    std::optional<ExecConfig> exec;
    std::string proxy_url;
    std::string namespace_ = "default";  // the context's namespace
    std::string context;                 // the context used; "" for in-cluster config
    std::string cluster_name;            // the kubeconfig cluster entry's name
    std::string user_name;               // the kubeconfig user entry's name
};

// Where to read the configuration from, as kubectl's flags say.
struct KubeconfigOptions {
    std::string path;     // --kubeconfig: only this file, no merging; "" = $KUBECONFIG or ~/.kube/config
    std::string context;  // --context: "" = current-context
};

// Loads the configuration as kubectl does: --kubeconfig, else $KUBECONFIG (list, merged, first file
// to set a value wins), else ~/.kube/config; falls back to in-cluster config when none of these
// exists and the process runs in a pod. Errors name the file and the entry.
Result<RestConfig> load_rest_config(const KubeconfigOptions& options);

// The configuration of a pod's service account (KUBERNETES_SERVICE_HOST/PORT and the files under
// `root`, by default /var/run/secrets/kubernetes.io/serviceaccount).
Result<RestConfig> in_cluster_config(const std::string& root = "/var/run/secrets/kubernetes.io/serviceaccount");

}  // namespace minicd::kube
