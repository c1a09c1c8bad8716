#include "minicd/pipeline/guard.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "minicd/kube/kubeconfig.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/text.hpp"

namespace minicd::pipeline {

namespace {

constexpr std::string_view k_identity_path = "/api/v1/namespaces/kube-system";

std::string lowercase(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return result;
}

std::string default_port(std::string_view scheme) {
    if (scheme == "https") return "443";
    if (scheme == "http") return "80";
    return {};
}

std::string context_of(const config::Environment& environment) {
    return environment.cluster.context.empty() ? std::string("(current context)")
                                               : fmt::format("\"{}\"", environment.cluster.context);
}

}  // namespace

std::string normalize_server_url(std::string_view url) {
    std::string text = util::trim(url);
    std::string scheme = "https";
    std::string rest = text;
    if (const std::size_t separator = text.find("://"); separator != std::string::npos) {
        scheme = lowercase(text.substr(0, separator));
        rest = text.substr(separator + 3);
    }
    const std::size_t path_start = rest.find_first_of("/?#");
    std::string authority = lowercase(rest.substr(0, path_start));
    std::string path = path_start == std::string::npos ? std::string() : rest.substr(path_start);

    // The port follows the last ':' unless that ':' is inside an IPv6 literal ("[::1]:6443").
    std::string host = authority;
    std::string port;
    const std::size_t colon = authority.rfind(':');
    const std::size_t bracket = authority.rfind(']');
    if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (port == default_port(scheme)) port.clear();

    // Trailing slashes of the path only; a query keeps its text.
    const std::size_t query = path.find_first_of("?#");
    std::string path_only = path.substr(0, query);
    while (!path_only.empty() && path_only.back() == '/') path_only.pop_back();
    const std::string tail = query == std::string::npos ? std::string() : path.substr(query);
    return fmt::format("{}://{}{}{}{}{}", scheme, host, port.empty() ? "" : ":", port, path_only, tail);
}

Result<ClusterIdentity> observe_identity(kube::Client& client) {
    ClusterIdentity identity{.server = client.config().server, .uid = {}, .uid_problem = {}};
    auto response = client.send({.method = http::Method::get, .path = std::string(k_identity_path)});
    if (!response) return fail(response.error().context("reading the cluster's identity"));
    if (response->status == 403 || response->status == 404) {
        // Users limited to a few namespaces may not read kube-system; a pin on the server URL still works.
        identity.uid_problem = kube::api_error(*response, "namespace kube-system").describe();
        return identity;
    }
    if (response->status < 200 || response->status > 299) {
        return fail(kube::api_error(*response, "namespace kube-system").context("reading the cluster's identity"));
    }
    const model::Json body = model::parse_json(response->body);
    const model::Json::json_pointer uid("/metadata/uid");
    if (!body.contains(uid) || !body.at(uid).is_string() || body.at(uid).get<std::string>().empty()) {
        return fail(util::ErrorCode::api, "the API server's answer has no metadata.uid", "namespace kube-system");
    }
    identity.uid = body.at(uid).get<std::string>();
    return identity;
}

Result<GuardReport> check_identity(const config::Environment& environment, const ClusterIdentity& found) {
    const config::ClusterPin& pin = environment.cluster;
    GuardReport report{.found = found, .warning = {}};
    if (!pin.pinned()) {
        report.warning = fmt::format("environment {} is not pinned to a cluster: context {} is trusted as it is (server "
                                     "{}); run `minicd env pin {}` to refuse any other cluster",
                                     environment.name, context_of(environment), found.server, environment.name);
        return report;
    }

    std::vector<std::string> mismatches;
    if (!pin.server.empty() && normalize_server_url(pin.server) != normalize_server_url(found.server)) {
        mismatches.push_back(fmt::format("server: expected {}, found {}", pin.server, found.server));
    }
    if (!pin.uid.empty() && found.uid.empty()) {
        mismatches.push_back(fmt::format("kube-system uid: expected {}, could not be read ({})", pin.uid,
                                         found.uid_problem.empty() ? "no answer" : found.uid_problem));
    } else if (!pin.uid.empty() && pin.uid != found.uid) {
        mismatches.push_back(fmt::format("kube-system uid: expected {}, found {}", pin.uid, found.uid));
    }
    if (mismatches.empty()) return report;

    return fail(util::ErrorCode::input,
                fmt::format("context {} does not lead to the cluster this environment is pinned to; nothing was "
                            "written. {}. Check that the context points at the intended cluster (`kubectl config "
                            "get-contexts`); if the cluster was rebuilt on purpose, record its new identity with "
                            "`minicd env pin {}`",
                            context_of(environment), fmt::join(mismatches, "; "), environment.name),
                fmt::format("environment {}", environment.name));
}

Result<GuardReport> guard_cluster(kube::Client& client, const config::Environment& environment) {
    auto found = observe_identity(client);
    if (!found) return fail(found.error().context(fmt::format("checking the cluster of environment {}", environment.name)));
    return check_identity(environment, *found);
}

Result<GuardedClient> connect_guarded(const config::Environment& environment, kube::ClientOptions options) {
    auto rest = kube::load_rest_config({.path = environment.cluster.kubeconfig, .context = environment.cluster.context});
    if (!rest) return fail(rest.error().context(fmt::format("environment {}", environment.name)));
    auto client = kube::Client::create(std::move(*rest), options);
    if (!client) return fail(client.error());
    auto report = guard_cluster(**client, environment);
    if (!report) return fail(report.error());
    if (!report->warning.empty()) util::log_warn("{}", report->warning);
    return GuardedClient{.client = std::move(*client), .report = std::move(*report)};
}

}  // namespace minicd::pipeline
