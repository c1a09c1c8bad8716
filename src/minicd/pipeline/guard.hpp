#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "minicd/config/config.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/util/result.hpp"

// Cluster identity guards: an environment names its cluster by kube context and pins what that
// cluster must look like, so a context that points somewhere else is refused before any write.
namespace minicd::pipeline {

// What a kube context resolves to right now.
struct ClusterIdentity {
    std::string server;       // the API server URL the context names, as written in the kubeconfig
    std::string uid;          // metadata.uid of namespace kube-system; "" when it could not be read
    std::string uid_problem;  // why uid is "" (e.g. the user may not read kube-system); "" otherwise
};

// The outcome of a passed check.
struct GuardReport {
    ClusterIdentity found;
    // Set when the environment pins nothing: the caller logs it; the deploy goes on.
    std::string warning;
};

// The URL as compared with a pin: scheme and host lowercased, the scheme's default port (443, 80)
// and trailing slashes dropped, https assumed when there is no scheme; path and query kept.
std::string normalize_server_url(std::string_view url);

// Reads the identity through the client: its configured server and kube-system's uid. Forbidden or
// missing kube-system leaves uid empty (with the reason); other failures are errors.
Result<ClusterIdentity> observe_identity(kube::Client& client);

// Compares what was found with the environment's pin: the server URL normalised, the uid exactly.
// A mismatch (or a pinned uid that could not be read) is an input error naming the environment,
// its context, what was expected, what was found and how to fix it; an unpinned environment passes
// with a warning.
Result<GuardReport> check_identity(const config::Environment& environment, const ClusterIdentity& found);

// observe_identity + check_identity: call it before the first write to the environment's cluster.
Result<GuardReport> guard_cluster(kube::Client& client, const config::Environment& environment);

// A client for the environment's cluster that has passed the guard.
struct GuardedClient {
    std::unique_ptr<kube::Client> client;
    GuardReport report;
};

// Loads the environment's context (cluster.kubeconfig, relative paths against the current
// directory as kubectl takes --kubeconfig, else $KUBECONFIG or ~/.kube/config), connects and
// guards. An unpinned environment's warning is logged here.
Result<GuardedClient> connect_guarded(const config::Environment& environment, kube::ClientOptions options = {});

}  // namespace minicd::pipeline
