#include "minicd/registry/client.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "minicd/util/log.hpp"

namespace minicd::registry {
namespace {

using util::ErrorCode;

std::string manifest_path(const model::ImageRef& ref, std::string_view reference) {
    return fmt::format("/v2/{}/manifests/{}", ref.repository, reference);
}

// What a manifest request names: the digest when there is one (exact), else the tag, else "latest" as docker does.
std::string reference_of(const model::ImageRef& ref) {
    if (!ref.digest.empty()) return ref.digest;
    return ref.tag.empty() ? "latest" : ref.tag;
}

std::int64_t content_length(const http::Response& response) {
    auto header = response.header("content-length");
    if (!header) return -1;
    try {
        return std::stoll(std::string(*header));
    } catch (const std::exception&) {
        return -1;
    }
}

std::string bare_content_type(const http::Response& response) {
    std::string type(response.header("content-type").value_or(""));
    return type.substr(0, std::min(type.find(';'), type.size()));
}

}  // namespace

std::string repository_scope(const model::ImageRef& ref, std::string_view actions) {
    return fmt::format("repository:{}:{}", ref.repository, actions);
}

Client::Client(ClientOptions options, std::shared_ptr<http::HttpClient> http)
    : m_options(std::move(options)), m_http(std::move(http)) {}

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
    std::shared_ptr<http::HttpClient> http = options.http;
    if (!http) {
        auto made = http::make_curl_client({.tls = {.ca_file = options.ca_file}, .request_timeout = options.request_timeout});
        if (!made) return fail(made.error());
        http = std::move(*made);
    }
    if (options.upload_chunk_bytes == 0) return fail(ErrorCode::internal, "upload_chunk_bytes must be positive");
    return std::unique_ptr<Client>(new Client(std::move(options), std::move(http)));
}

Session& Client::session(const std::string& registry) {
    std::lock_guard lock(m_mutex);
    auto& slot = m_sessions[registry];
    if (!slot) {
        Transport transport = Transport::https;
        const auto& insecure = m_options.insecure_registries;
        if (std::find(insecure.begin(), insecure.end(), registry) != insecure.end()) {
            transport = Transport::http;
        } else if (is_loopback_registry(registry)) {
            transport = Transport::http_or_https;
        }
        CredentialLookup lookup = m_options.credential_lookup;
        if (!lookup) {
            lookup = [options = m_options.credentials](std::string_view host) { return find_credentials(host, options); };
        }
        slot = std::make_unique<Session>(registry, m_http,
                                         SessionOptions{.transport = transport,
                                                        .retry = m_options.retry,
                                                        .credentials = std::move(lookup),
                                                        .request_timeout = m_options.request_timeout});
    }
    return *slot;
}

Result<std::optional<Descriptor>> Client::find_manifest(const model::ImageRef& ref) {
    Session& registry = session(ref.registry);
    const std::string reference = reference_of(ref);
    auto head = registry.send({.method = http::Method::head,
                               .target = manifest_path(ref, reference),
                               .headers = {{"Accept", manifest_accept()}},
                               .scopes = {repository_scope(ref, "pull")}});
    if (!head) return fail(head.error());
    if (head->status == 404) return std::nullopt;
    if (head->status != 200) {
        return fail(response_error(*head, ref.registry, ref.repository, "HEAD manifest " + reference));
    }
    std::string digest(head->header("docker-content-digest").value_or(""));
    std::string type = bare_content_type(*head);
    if (!digest.empty() && is_manifest_media_type(type) && (ref.digest.empty() || digest == ref.digest)) {
        return Descriptor{.media_type = type, .digest = digest, .size = content_length(*head)};
    }
    // Some registries leave the digest out of HEAD answers; the bytes tell.
    auto manifest = get_manifest(ref);
    if (!manifest) return fail(manifest.error());
    return descriptor_of(*manifest);
}

Result<Descriptor> Client::resolve(const model::ImageRef& ref) {
    auto found = find_manifest(ref);
    if (!found) return fail(found.error());
    if (!*found) {
        return fail(ErrorCode::api, fmt::format("manifest {} not found (HTTP 404)", reference_of(ref)),
                    fmt::format("registry {}, repository {}", ref.registry, ref.repository));
    }
    return **found;
}

Result<Manifest> Client::get_manifest(const model::ImageRef& ref) {
    Session& registry = session(ref.registry);
    const std::string reference = reference_of(ref);
    auto got = registry.send({.method = http::Method::get,
                              .target = manifest_path(ref, reference),
                              .headers = {{"Accept", manifest_accept()}},
                              .scopes = {repository_scope(ref, "pull")}});
    if (!got) return fail(got.error());
    if (got->status != 200) return fail(response_error(*got, ref.registry, ref.repository, "GET manifest " + reference));

    Manifest manifest{.bytes = std::move(got->body), .media_type = {}, .digest = {}};
    manifest.media_type = manifest_media_type(bare_content_type(*got), manifest.bytes);
    if (!is_manifest_media_type(manifest.media_type)) {
        return fail(ErrorCode::api,
                    fmt::format("{} is not an image manifest or index (media type \"{}\")", reference,
                                manifest.media_type),
                    ref.str());
    }
    // Our own hash of the bytes decides: the digest asked for, else the one the registry claims.
    std::string expected = ref.digest.empty() ? std::string(got->header("docker-content-digest").value_or("")) : ref.digest;
    if (expected.empty()) {
        manifest.digest = sha256_digest(manifest.bytes);
        return manifest;
    }
    if (auto verified = verify_digest(manifest.bytes, expected, ref.str()); !verified) return fail(verified.error());
    manifest.digest = expected;
    return manifest;
}

Result<Descriptor> Client::put_manifest(const model::ImageRef& ref, std::string_view bytes, std::string_view media_type) {
    const std::string digest = sha256_digest(bytes);
    if (!ref.digest.empty() && ref.digest != digest) {
        return fail(ErrorCode::input, fmt::format("the manifest bytes hash to {}, not to the digest in the reference", digest),
                    ref.str());
    }
    const std::string reference = ref.tag.empty() ? digest : ref.tag;
    Session& registry = session(ref.registry);
    auto put = registry.send({.method = http::Method::put,
                              .target = manifest_path(ref, reference),
                              .headers = {{"Content-Type", std::string(media_type)}},
                              .body = std::string(bytes),
                              .scopes = {repository_scope(ref, "pull,push")}});
    if (!put) return fail(put.error());
    if (put->status < 200 || put->status >= 300) {
        return fail(response_error(*put, ref.registry, ref.repository, "PUT manifest " + reference));
    }
    std::string stored(put->header("docker-content-digest").value_or(""));
    if (!stored.empty() && stored != digest) {
        return fail(ErrorCode::api,
                    fmt::format("the registry stored manifest {} as {}, although its bytes hash to {}", reference,
                                stored, digest),
                    fmt::format("registry {}, repository {}", ref.registry, ref.repository));
    }
    return Descriptor{.media_type = std::string(media_type), .digest = digest,
                      .size = static_cast<std::int64_t>(bytes.size())};
}

Result<std::optional<PromoteResult>> Client::guard_tag(const model::ImageRef& dst, const Manifest& manifest,
                                                       TagOptions options, std::string& previous) {
    if (dst.tag.empty()) return std::nullopt;  // a push by digest moves no tag
    const Descriptor wanted = descriptor_of(manifest);
    auto existing = find_manifest(dst.with_tag(dst.tag));
    if (!existing) return fail(existing.error());
    if (!*existing) return std::nullopt;
    if ((*existing)->digest == wanted.digest) {
        util::log_debug("{} already points at {}; nothing to do", dst.with_tag(dst.tag).str(), wanted.digest);
        return PromoteResult{.destination = dst.with_tag(dst.tag).with_digest(wanted.digest),
                             .descriptor = wanted,
                             .unchanged = true,
                             .previous_digest = wanted.digest,
                             .stats = {}};
    }
    if (!options.allow_overwrite) {
        return fail(ErrorCode::api,
                    fmt::format("tag {} already points at {}; refusing to move it to {} (tags are immutable unless "
                                "overwriting is allowed)",
                                dst.tag, (*existing)->digest, wanted.digest),
                    fmt::format("registry {}, repository {}", dst.registry, dst.repository));
    }
    util::log_debug("moving tag {} from {} to {}", dst.with_tag(dst.tag).str(), (*existing)->digest, wanted.digest);
    previous = (*existing)->digest;
    return std::nullopt;
}

Result<PromoteResult> Client::retag(const model::ImageRef& src, const std::string& new_tag, TagOptions options) {
    if (!model::is_valid_tag(new_tag)) {
        return fail(ErrorCode::input, fmt::format("invalid tag \"{}\": must match [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}", new_tag),
                    src.name());
    }
    auto manifest = get_manifest(src);
    if (!manifest) return fail(manifest.error());
    const model::ImageRef dst = src.with_tag(new_tag);
    std::string previous;
    auto guarded = guard_tag(dst, *manifest, options, previous);
    if (!guarded) return fail(guarded.error());
    if (*guarded) return std::move(**guarded);

    // The same bytes with the same Content-Type: no blob moves and the digest cannot change.
    auto put = put_manifest(dst, manifest->bytes, manifest->media_type);
    if (!put) return fail(put.error());
    return PromoteResult{.destination = dst.with_digest(put->digest),
                         .descriptor = *put,
                         .unchanged = false,
                         .previous_digest = previous,
                         .stats = {.manifests_written = 1}};
}

Result<Descriptor> Client::push_blob(const model::ImageRef& repository, std::string_view bytes,
                                     std::string_view media_type) {
    Descriptor blob{.media_type = std::string(media_type), .digest = sha256_digest(bytes),
                    .size = static_cast<std::int64_t>(bytes.size())};
    auto exists = blob_exists(repository, blob.digest);
    if (!exists) return fail(exists.error());
    if (*exists) return blob;
    auto location = start_upload(repository);
    if (!location) return fail(location.error());
    Session& registry = session(repository.registry);
    std::string target = *location + (location->find('?') == std::string::npos ? "?" : "&") + "digest=" + blob.digest;
    auto put = registry.send({.method = http::Method::put,
                              .target = target,
                              .headers = {{"Content-Type", "application/octet-stream"}},
                              .body = std::string(bytes),
                              .scopes = {repository_scope(repository, "pull,push")},
                              .replay = Replay::unsafe});
    if (!put) return fail(put.error());
    if (put->status != 201) {
        return fail(response_error(*put, repository.registry, repository.repository, "PUT blob " + blob.digest));
    }
    return blob;
}

}  // namespace minicd::registry
