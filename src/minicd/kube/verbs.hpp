#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minicd/kube/client.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

// The REST verbs minicd speaks, once each: every phase that reads, applies or deletes goes through
// these, so paging, dry runs and preconditions are written in one place.
namespace minicd::kube {

// True for a 2xx answer.
bool ok(const ApiResponse& response);
inline bool ok(long status) { return status >= 200 && status < 300; }

// One path segment (a namespace or an object name) as it may appear in a request path: every byte
// outside RFC 3986's unreserved set percent-encoded. "." and ".." are refused by the name checks
// before any path is built (see is_valid_object_name); this keeps everything else literal.
std::string path_segment(std::string_view text);

// Object names the API server accepts in a path: non-empty, at most 253 characters, printable
// ASCII without '/', '%' and whitespace, and neither "." nor "..". (Most kinds are stricter; RBAC
// names such as "system:controller:x" are not DNS names, so this is the common floor.)
bool is_valid_object_name(std::string_view name);
// RFC 1123 label: what namespace names are.
bool is_dns_label(std::string_view text);
// RFC 1123 subdomain: API groups and most object names.
bool is_dns_subdomain(std::string_view text);

// How much of each object a read returns.
enum class View {
    full,
    metadata,  // PartialObjectMetadata: labels, annotations, managedFields, uid; no spec or status
};

struct ListOptions {
    std::string label_selector;  // "" lists everything
    View view = View::full;
    int page_size = 500;
};

// Every item of a collection, following continue tokens. Items of a metadata view carry
// apiVersion meta.k8s.io/v1 and kind PartialObjectMetadata, not the listed kind.
Result<std::vector<model::Json>> list_all(Client& client, std::string_view collection, const ListOptions& options = {});

// GET of one object; the response as the server gave it (404 included).
Result<ApiResponse> get(Client& client, std::string_view object_path, View view = View::full);

// The API server's version as /version gives it ("v1.33.13"): what renderers that ask for the
// cluster's version (helm's --kube-version) are told.
Result<std::string> server_version(Client& client);

enum class DryRun { no, yes };
// Whether an apply takes fields other managers own (server-side apply's force).
enum class Force { no, yes };

// Server-side apply as `field_manager` with strict field validation.
Result<ApiResponse> apply(Client& client, std::string_view object_path, const model::Json& body,
                          std::string_view field_manager, DryRun dry_run, Force force = Force::yes);

// What must still hold for a delete to happen: the object we judged, not one re-created since.
struct Preconditions {
    std::string uid;               // required
    std::string resource_version;  // "" for none
};

// DELETE with background propagation and the preconditions (a 409 when they no longer hold).
// Not replayed on a lost answer: the caller reads back.
Result<ApiResponse> delete_object(Client& client, std::string_view object_path, const Preconditions& preconditions,
                                  DryRun dry_run = DryRun::no);

}  // namespace minicd::kube
