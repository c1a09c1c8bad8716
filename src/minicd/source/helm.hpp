#pragma once

#include <map>
#include <string>
#include <vector>

#include "minicd/source/manifests.hpp"
#include "minicd/util/result.hpp"

namespace minicd::source {

// The oldest helm minicd renders charts with: `helm template` reads OCI charts from v3.8.0 on.
inline constexpr std::string_view k_oldest_helm = "v3.8.0";

// One `helm template` run.
struct ChartRender {
    std::string chart;                       // a chart directory, a .tgz or an oci:// reference
    std::vector<std::string> values;         // values files, in order
    std::map<std::string, std::string> set;  // helm --set, in key order, after the values files
    std::string version;                     // the chart version of an oci:// chart; "" takes the newest
    std::string release;                     // .Release.Name: the app
    std::string namespace_;                  // .Release.Namespace: the environment's namespace
    std::string kube_version;                // .Capabilities.KubeVersion: the cluster's; "" leaves helm's default
};

// Renders a chart with `helm template`, CRDs of its crds/ directory included and its test hooks left
// out, as `helm install` would install it; the objects are read by the rules of load_manifests.
// Each object's origin is the template that made it ("deploy/chart/templates/job.yaml (rendered by
// helm)", the line counted in that template's output). helm is looked for in PATH; none, or one older
// than k_oldest_helm, is an input error that says which version is needed.
Result<std::vector<Manifest>> render_chart(const ChartRender& request);

// The text helm --set reads as exactly `value`: backslashes and commas escaped.
std::string helm_set_value(std::string_view value);

}  // namespace minicd::source
