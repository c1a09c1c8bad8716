#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "minicd/http/http_client.hpp"
#include "minicd/model/image_ref.hpp"
#include "minicd/registry/credentials.hpp"
#include "minicd/registry/manifest.hpp"
#include "minicd/registry/retry.hpp"
#include "minicd/registry/session.hpp"
#include "minicd/util/result.hpp"

namespace minicd::registry {

// Transport: every registry is spoken to over verified HTTPS, except
//  - hosts in `insecure_registries`, which get plain HTTP only;
//  - loopback registries (localhost, 127.0.0.0/8, [::1]), which docker also lets speak plain HTTP:
//    an anonymous GET /v2/ over HTTP decides; a registry answering it (200 or 401) is spoken to over
//    HTTP, anything else (a TLS server answers 400) over verified HTTPS. Probing HTTP first costs a
//    TLS registry one quick round trip, where a TLS hello to a plain server costs ~100 ms.
struct ClientOptions {
    std::vector<std::string> insecure_registries;  // "host:port" as in image references
    // A PEM bundle trusted instead of the system store for every registry (private CAs); empty: system store.
    std::string ca_file;
    RetryPolicy retry;
    std::chrono::milliseconds request_timeout{60'000};
    // A whole streamed blob transfer may take this long.
    std::chrono::milliseconds blob_timeout{std::chrono::hours(1)};
    // Uploads are sent in PATCH chunks of this size; it bounds the memory a blob copy holds.
    std::size_t upload_chunk_bytes = std::size_t{8} << 20;
    int concurrency = 4;  // blobs copied at once
    CredentialOptions credentials;
    // Finds credentials per registry; empty: find_credentials(registry, credentials).
    CredentialLookup credential_lookup;
    // The HTTP client to use; empty: make_curl_client with ca_file and request_timeout.
    std::shared_ptr<http::HttpClient> http;
};

// Decides what happens when the destination tag already exists and points at another digest.
struct TagOptions {
    bool allow_overwrite = false;  // false: refuse to move an existing tag (tags are treated as immutable)
};

// What a copy moved, for reports and tests.
struct CopyStats {
    int manifests_written = 0;  // child manifests and the top manifest
    int blobs_present = 0;      // already in the destination repository
    int blobs_mounted = 0;      // cross-repository mounts inside one registry
    int blobs_uploaded = 0;     // streamed through this process
    std::int64_t bytes_uploaded = 0;
};

struct PromoteResult {
    model::ImageRef destination;  // with the digest it now points at
    Descriptor descriptor;
    bool unchanged = false;        // the tag already pointed at this digest: nothing was written
    std::string previous_digest;   // what the tag pointed at before it was moved; empty if it was new
    CopyStats stats;
};

// An OCI distribution client: resolve, read and write manifests, re-tag and copy images between
// repositories and registries without ever re-serialising a manifest. Thread-safe.
class Client {
public:
    static Result<std::unique_ptr<Client>> create(ClientOptions options = {});

    // The manifest's descriptor: a HEAD with the full Accept list, a GET when HEAD gives no digest.
    Result<Descriptor> resolve(const model::ImageRef& ref);

    // The exact bytes, verified against the digest asked for (by digest) or the registry's
    // Docker-Content-Digest (by tag).
    Result<Manifest> get_manifest(const model::ImageRef& ref);

    // PUTs the bytes to the ref's tag (or its digest when it has no tag) and checks the digest the
    // registry reports.
    Result<Descriptor> put_manifest(const model::ImageRef& ref, std::string_view bytes, std::string_view media_type);

    // Uploads a small blob in one request (configs, test layers); a blob already there is not sent.
    Result<Descriptor> push_blob(const model::ImageRef& repository, std::string_view bytes,
                                 std::string_view media_type = "application/octet-stream");

    // Points `new_tag` of src's repository at src's manifest: the same bytes PUT again, so indexes
    // stay indexes and the digest is kept.
    Result<PromoteResult> retag(const model::ImageRef& src, const std::string& new_tag, TagOptions options = {});

    // Copies src to dst (another repository, same or another registry): blobs that are missing are
    // mounted or streamed, child manifests go before their index, the tag last. dst needs a tag or
    // a digest; the same repository is a retag.
    Result<PromoteResult> copy(const model::ImageRef& src, const model::ImageRef& dst, TagOptions options = {});

private:
    explicit Client(ClientOptions options, std::shared_ptr<http::HttpClient> http);
    Session& session(const std::string& registry);
    Result<std::optional<Descriptor>> find_manifest(const model::ImageRef& ref);
    // nullopt when the tag may be written (`previous` then names what it pointed at, if anything);
    // a finished result when it already points at the manifest; an error when it may not move.
    Result<std::optional<PromoteResult>> guard_tag(const model::ImageRef& dst, const Manifest& manifest,
                                                   TagOptions options, std::string& previous);
    struct CopyJob;
    Result<void> copy_tree(CopyJob& job, const Manifest& manifest);
    Result<void> copy_blob(CopyJob& job, const Descriptor& blob);
    Result<bool> blob_exists(const model::ImageRef& repository, const std::string& digest);
    Result<std::optional<std::string>> try_mount(CopyJob& job, const Descriptor& blob);
    Result<std::string> start_upload(const model::ImageRef& repository);
    Result<std::int64_t> stream_blob(CopyJob& job, const Descriptor& blob, std::string location);

    ClientOptions m_options;
    std::shared_ptr<http::HttpClient> m_http;
    std::mutex m_mutex;
    std::map<std::string, std::unique_ptr<Session>> m_sessions;
};

// "repository:<name>:<actions>", the token scope for one repository.
std::string repository_scope(const model::ImageRef& ref, std::string_view actions);

}  // namespace minicd::registry
