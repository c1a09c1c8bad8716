#include "minicd/render/preview.hpp"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "minicd/model/json_read.hpp"
#include "minicd/util/text.hpp"

namespace minicd::render {

namespace {

using model::Json;
using util::ErrorCode;

bool is_ingress(const model::ObjectId& id) {
    return id.kind == "Ingress" && (id.group == "networking.k8s.io" || id.group == "extensions");
}

std::string origin(const source::Manifest& manifest) { return fmt::format("{}:{}", manifest.file, manifest.line); }

// The rules merged into one for the host; an error when two rules route the same path.
Result<Json> merged_rule(const Json& rules, const std::string& host, const source::Manifest& manifest) {
    Json paths = Json::array();
    std::set<std::pair<std::string, std::string>> seen;
    for (const auto& rule : rules) {
        if (!rule.is_object()) continue;
        const Json* rule_paths = model::array_at(rule, {"http", "paths"});
        if (rule_paths == nullptr) continue;
        for (const auto& path : *rule_paths) {
            // Fields of another type than the API allows are the server's to refuse; here they only must not throw.
            if (!path.is_object()) {
                paths.push_back(path);
                continue;
            }
            const Json* written = model::find_path(path, {"path"});
            std::string text = written != nullptr && written->is_string() ? written->get<std::string>() : std::string("/");
            std::string type = model::string_at(path, {"pathType"});
            if (!seen.emplace(text, type).second) {
                return fail(ErrorCode::input,
                            fmt::format("{}: the Ingress has several rules routing path \"{}\"; a preview has one host, "
                                        "so they cannot be merged",
                                        manifest.object.id().describe(), text),
                            origin(manifest));
            }
            paths.push_back(path);
        }
    }
    Json rule = {{"host", host}};
    if (!paths.empty()) rule["http"] = {{"paths", paths}};
    return rule;
}

void set_tls(Json& body, const std::string& host, const std::optional<PreviewTls>& tls, const std::string& name) {
    Json& spec = body["spec"];
    if (!tls) {
        // Without an issuer the existing secrets stay: someone provides them (a wildcard certificate).
        if (!spec.contains("tls") || !spec["tls"].is_array()) return;
        for (auto& entry : spec["tls"]) {
            if (entry.is_object()) entry["hosts"] = Json::array({host});
        }
        return;
    }
    Json& annotations = body["metadata"]["annotations"];
    if (!annotations.is_object()) annotations = Json::object();
    if (!tls->cluster_issuer.empty()) {
        annotations[std::string(k_cluster_issuer_annotation)] = tls->cluster_issuer;
        annotations.erase(std::string(k_issuer_annotation));
    } else {
        annotations[std::string(k_issuer_annotation)] = tls->issuer;
        annotations.erase(std::string(k_cluster_issuer_annotation));
    }
    std::string secret = tls->secret_name.empty() ? preview_tls_secret_name(name) : tls->secret_name;
    spec["tls"] = Json::array({{{"hosts", Json::array({host})}, {"secretName", secret}}});
}

}  // namespace

std::string preview_tls_secret_name(std::string_view ingress_name) {
    constexpr std::size_t k_max_name = 253;  // a Secret name is a DNS subdomain
    constexpr std::string_view k_suffix = "-tls";
    // Whole characters only: a name the server will refuse must still travel in valid JSON.
    std::string base(util::utf8_prefix(ingress_name, k_max_name - k_suffix.size()));
    while (!base.empty() && (base.back() == '-' || base.back() == '.')) base.pop_back();
    return base + std::string(k_suffix);
}

Result<PreviewRoutingResult> route_preview(std::vector<source::Manifest>& manifests, const PreviewRouting& routing) {
    if (routing.host.empty()) return fail(ErrorCode::input, "a preview needs a host to route to");
    if (routing.tls && routing.tls->cluster_issuer.empty() == routing.tls->issuer.empty()) {
        return fail(ErrorCode::input, "preview TLS needs exactly one of clusterIssuer and issuer", routing.host);
    }
    PreviewRoutingResult result;
    for (auto& manifest : manifests) {
        const model::ObjectId id = manifest.object.id();
        if (!is_ingress(id)) continue;
        Json& body = manifest.object.body();
        if (!body.contains("spec") || !body["spec"].is_object()) body["spec"] = Json::object();
        Json& spec = body["spec"];
        auto rules = spec.find("rules");
        if (rules == spec.end() || !rules->is_array() || rules->empty()) {
            result.warnings.push_back(fmt::format("{} ({}) has no rules; left as it is", id.describe(), origin(manifest)));
            continue;
        }
        if (rules->size() == 1 && (*rules)[0].is_object()) {
            (*rules)[0]["host"] = routing.host;
        } else {
            auto rule = merged_rule(*rules, routing.host, manifest);
            if (!rule) return fail(rule.error());
            *rules = Json::array({std::move(*rule)});
        }
        set_tls(body, routing.host, routing.tls, id.name);
        result.ingresses.push_back(id.describe());
    }
    return result;
}

}  // namespace minicd::render
