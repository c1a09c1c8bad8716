#pragma once

#include <optional>
#include <string>
#include <vector>

#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

namespace minicd::render {

inline constexpr std::string_view k_cluster_issuer_annotation = "cert-manager.io/cluster-issuer";
inline constexpr std::string_view k_issuer_annotation = "cert-manager.io/issuer";

// The cert-manager issuer that signs the preview host's certificate: exactly one issuer is set.
struct PreviewTls {
    std::string cluster_issuer;
    std::string issuer;
    std::string secret_name;  // "" gives each Ingress "<ingress name>-tls"
};

// Where a preview answers.
struct PreviewRouting {
    std::string host;                // "feature-x.dev.example.com"
    std::optional<PreviewTls> tls;   // none: existing `tls:` entries only get the host
};

struct PreviewRoutingResult {
    std::vector<std::string> ingresses;  // "ing/web (networking.k8s.io/v1 Ingress)" rewritten
    std::vector<std::string> warnings;   // Ingresses left as they were, and why
};

// Points every Ingress (networking.k8s.io or extensions) at the preview host. An Ingress with one
// rule (the common case) gets that rule's host replaced. With several rules, the rules are merged
// into one rule for the preview host whose paths are all the rules' paths in order, since a
// preview has one host; the same path (and pathType) in two rules is an input error naming
// file:line. An Ingress without rules (defaultBackend only) is left alone with a warning.
// With TLS, the issuer annotation is set (the other issuer annotation removed) and `tls:` becomes
// one entry for the host with the secret name; without, existing `tls:` entries keep their
// secret names and get the host. Pure: no I/O.
Result<PreviewRoutingResult> route_preview(std::vector<source::Manifest>& manifests, const PreviewRouting& routing);

// The secret name an Ingress's certificate is kept in when the configuration names none.
std::string preview_tls_secret_name(std::string_view ingress_name);

}  // namespace minicd::render
