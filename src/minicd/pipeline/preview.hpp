#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/config/config.hpp"
#include "minicd/kube/client.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

// Preview namespaces (one per branch): how they are recognised, listed, torn down and reached.
// A namespace is a preview of (app, env) only when it carries every label below with exactly these
// values; nothing here deletes or reads as a preview a namespace that lacks one.
namespace minicd::pipeline {

using Clock = std::chrono::system_clock;

// Whose previews: the app of minicd.yaml and the per-branch environment.
struct PreviewOwner {
    std::string app;
    std::string env;

    // "app.kubernetes.io/managed-by=minicd,minicd.io/app=<app>,minicd.io/env=<env>,minicd.io/preview=true"
    std::string label_selector() const;
};

// A namespace as read from the API server, reduced to what preview handling looks at.
struct PreviewNamespace {
    std::string name;
    std::string uid;
    std::string resource_version;
    std::map<std::string, std::string> labels;
    std::map<std::string, std::string> annotations;
    std::optional<Clock::time_point> created;  // metadata.creationTimestamp; nullopt when missing or unreadable
    bool terminating = false;                  // metadata.deletionTimestamp is set

    // The minicd.io/branch annotation (the branch as Git spells it); "" when missing.
    std::string branch() const;
    // The minicd.io/last-deployed annotation as written; "" when missing.
    std::string last_deployed_text() const;
    // It parsed (RFC 3339); nullopt when missing or unreadable.
    std::optional<Clock::time_point> last_deployed() const;
};

// Reads a Namespace object (as the API returns it); fields it lacks stay empty.
PreviewNamespace preview_namespace_from_json(const model::Json& object);

// "" when the namespace carries every preview label of `owner` and a branch annotation; otherwise
// what is missing or different, for messages ("label minicd.io/app is \"blog\", not \"shop\"").
std::string preview_label_problem(const PreviewNamespace& ns, const PreviewOwner& owner);

// The Namespace object a preview is created as (the `minicd ci` deploy applies it before the
// manifests): the labels above, the branch annotation, and minicd.io/last-deployed set to `deployed`.
model::Json preview_namespace_object(const PreviewOwner& owner, std::string_view name, std::string_view branch,
                                     Clock::time_point deployed);

// Creates the preview namespace of `branch`, or refreshes its last-deployed time. A namespace of
// that name that is not already this preview (a label of `owner` or the branch annotation differs,
// or it is being deleted) is refused with an input error and left untouched: taking it over would
// let preview gc delete it with everything in it later.
Result<void> ensure_preview_namespace(kube::Client& client, const PreviewOwner& owner, const std::string& name,
                                      std::string_view branch, Clock::time_point deployed);

// Read-only versions of the two below, for checks before anything is written: the same refusals,
// and nothing when the namespace does not exist yet.
Result<void> check_preview_namespace(kube::Client& client, const PreviewOwner& owner, const std::string& name,
                                     std::string_view branch);
Result<void> check_environment_namespace(kube::Client& client, const std::string& name);

// For an environment with a fixed namespace: creates `name` (labelled managed-by minicd) when it is
// missing and leaves it as it is otherwise, except that a preview namespace is refused (input
// error): deploying into it would hand the environment to preview gc.
Result<void> ensure_environment_namespace(kube::Client& client, const std::string& name);

// A duration as kubectl shows ages: "45s", "12m", "3h20m", "5d4h", "12d"; negative counts as 0.
std::string format_age(std::chrono::seconds age);

// RFC 3339 in UTC with second precision: "2024-05-01T12:00:00Z".
std::string format_rfc3339(Clock::time_point time);

// The per-branch environment of minicd.yaml (namespace template with {branch}): the one named by
// `env` when given (an input error when it is not per-branch), else the only one (an input error
// when there are none, or several, listing them).
Result<const config::Environment*> preview_environment(const config::Config& config, std::string_view env);

// The preview namespaces of `owner`, sorted by name. The server filters by label selector; each
// item is checked again here and one without every label is left out (logged at debug level).
Result<std::vector<PreviewNamespace>> list_previews(kube::Client& client, const PreviewOwner& owner);

// The namespace a branch's preview lives in (from the environment's namespace template).
Result<std::string> preview_namespace_name(const config::Config& config, const config::Environment& environment,
                                           std::string_view branch);

// "https://<host>" (http:// without tls) of a branch's preview; an input error when the environment
// has no host template.
Result<std::string> preview_url(const config::Config& config, const config::Environment& environment,
                                std::string_view branch);

// What tear_down_preview did.
enum class TearDown {
    deleted,      // the server accepted the deletion (the namespace may still be terminating unless waited for)
    absent,       // there was no such namespace
    terminating,  // it was already being deleted
};

struct TearDownOptions {
    bool wait = false;  // wait until the namespace is gone
    std::chrono::seconds timeout{120};
};

// Deletes `namespace_` when it is a preview of `owner` for `branch` (labels and the branch
// annotation checked; an input error naming what is wrong otherwise, nothing deleted), with its
// uid and resourceVersion as preconditions so a namespace re-created or changed since it was read
// is left alone (an api error). The inventory and release history live in the namespace and go with it.
Result<TearDown> tear_down_preview(kube::Client& client, const PreviewOwner& owner, const std::string& namespace_,
                                   std::string_view branch, const TearDownOptions& options = {});

// Deletes one namespace read by list_previews, preconditions as above; absent counts as done.
Result<TearDown> delete_preview(kube::Client& client, const PreviewNamespace& ns);

// Waits until each namespace (name, uid) is gone or `timeout` passes; returns those still there,
// each "name (why: the namespace's conditions, or Terminating)".
Result<std::vector<std::string>> wait_until_gone(kube::Client& client, const std::vector<PreviewNamespace>& namespaces,
                                                 std::chrono::seconds timeout);

// `kubectl port-forward` for a preview.
struct PortForward {
    std::string service;  // Service name in the preview namespace
    std::string ports;    // "LOCAL:REMOTE"
    std::vector<std::string> argv;
};

struct PortForwardRequest {
    std::string namespace_;
    std::string service;  // "" picks the only Service of the app (label minicd.io/app) in the namespace
    std::string ports;    // "LOCAL:REMOTE", "PORT" or ""; "" forwards the Service's first port to the same local port
    std::string context;
    std::string kubeconfig;  // "" leaves kubectl to $KUBECONFIG or ~/.kube/config
};

// Finds the Service (and port) and builds the kubectl command line. Input errors: no or several
// Services of the app (named), a Service without ports, a malformed --port.
Result<PortForward> plan_port_forward(kube::Client& client, const PortForwardRequest& request, const PreviewOwner& owner);

// The command line alone, for a known Service and ports.
std::vector<std::string> port_forward_argv(const PortForwardRequest& request, std::string_view service,
                                           std::string_view ports);

}  // namespace minicd::pipeline
