#include "minicd/kube/verbs.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "minicd/model/json_read.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::kube {

using model::Json;

namespace {

constexpr std::size_t k_max_subdomain_length = 253;
constexpr std::size_t k_max_label_length = 63;
constexpr std::string_view k_metadata_list_accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
constexpr std::string_view k_metadata_accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

std::string with_query(std::string_view path, std::string_view query) {
    return fmt::format("{}{}{}", path, path.find('?') == std::string_view::npos ? '?' : '&', query);
}

}  // namespace

bool ok(const ApiResponse& response) { return ok(response.status); }

std::string path_segment(std::string_view text) { return util::percent_encode(text); }

bool is_valid_object_name(std::string_view name) {
    if (name.empty() || name.size() > k_max_subdomain_length || name == "." || name == "..") return false;
    return std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c < 0x7f && c != '/' && c != '%'; });
}

bool is_dns_label(std::string_view text) {
    if (text.empty() || text.size() > k_max_label_length) return false;
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(text.front()) || !alnum(text.back())) return false;
    return std::all_of(text.begin(), text.end(), [&](char c) { return alnum(c) || c == '-'; });
}

bool is_dns_subdomain(std::string_view text) {
    if (text.empty() || text.size() > k_max_subdomain_length) return false;
    for (std::size_t start = 0;;) {
        std::size_t dot = text.find('.', start);
        if (!is_dns_label(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) {
            return false;
        }
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

Result<std::vector<Json>> list_all(Client& client, std::string_view collection, const ListOptions& options) {
    std::vector<Json> items;
    std::string next;
    do {
        std::string path = with_query(collection, fmt::format("limit={}", options.page_size));
        if (!options.label_selector.empty()) path += "&labelSelector=" + util::percent_encode(options.label_selector);
        if (!next.empty()) path += "&continue=" + util::percent_encode(next);
        auto response = client.send({.path = path,
                                     .accept = std::string(options.view == View::metadata ? k_metadata_list_accept
                                                                                          : "application/json")});
        if (!response) return fail(response.error());
        if (!ok(*response)) return fail(api_error(*response, fmt::format("listing {}", collection)));
        auto page = model::parse_json(response->body);
        if (!page.is_object()) {
            return fail(util::ErrorCode::api, "the list is not a JSON object", fmt::format("listing {}", collection));
        }
        if (auto found = page.find("items"); found != page.end() && found->is_array()) {
            for (auto& item : *found) {
                if (item.is_object()) items.push_back(std::move(item));
            }
        }
        next.clear();
        if (auto metadata = page.find("metadata"); metadata != page.end() && metadata->is_object()) {
            if (auto token = metadata->find("continue"); token != metadata->end() && token->is_string()) {
                next = token->get<std::string>();
            }
        }
    } while (!next.empty());
    return items;
}

Result<ApiResponse> get(Client& client, std::string_view object_path, View view) {
    return client.send({.path = std::string(object_path),
                        .accept = std::string(view == View::metadata ? k_metadata_accept : "application/json")});
}

Result<std::string> server_version(Client& client) {
    auto response = client.send({.path = "/version", .accept = "application/json"});
    if (!response) return fail(response.error());
    if (!ok(*response)) return fail(api_error(*response, "/version"));
    const std::string version = model::string_at(model::parse_json(response->body), {"gitVersion"});
    if (version.empty()) return fail(util::ErrorCode::api, "the answer names no gitVersion", "/version");
    return version;
}

Result<ApiResponse> apply(Client& client, std::string_view object_path, const Json& body, std::string_view field_manager,
                          DryRun dry_run, Force force) {
    std::string path = with_query(object_path, fmt::format("fieldManager={}&fieldValidation=Strict", util::percent_encode(field_manager)));
    if (force == Force::yes) path += "&force=true";
    if (dry_run == DryRun::yes) path += "&dryRun=All";
    // Applying the same body twice is idempotent, so a lost answer may be sent again.
    return client.send({.method = http::Method::patch,
                        .path = std::move(path),
                        .body = body.dump(),
                        .content_type = "application/apply-patch+yaml",
                        .replay = Replay::safe});
}

Result<ApiResponse> delete_object(Client& client, std::string_view object_path, const Preconditions& preconditions,
                                  DryRun dry_run) {
    Json options = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"propagationPolicy", "Background"}};
    options["preconditions"]["uid"] = preconditions.uid;
    if (!preconditions.resource_version.empty()) options["preconditions"]["resourceVersion"] = preconditions.resource_version;
    if (dry_run == DryRun::yes) options["dryRun"] = Json::array({"All"});
    return client.send({.method = http::Method::delete_,
                        .path = std::string(object_path),
                        .body = options.dump(),
                        .content_type = "application/json",
                        .replay = Replay::unsafe});
}

}  // namespace minicd::kube
