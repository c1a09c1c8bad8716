// Copying images between repositories: child manifests before their index, blobs by HEAD, mount
// or a bounded-memory stream, the tag last.
#include <fmt/format.h>
#include <openssl/evp.h>

#include <memory>
#include <set>

#include "minicd/registry/client.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/parallel.hpp"

namespace minicd::registry {

using util::ErrorCode;

namespace {

bool is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// Failures worth a fresh upload session: the network or the registry, not a refusal.
bool worth_restarting(const util::Error& error) {
    return error.code == ErrorCode::network || error.code == ErrorCode::timeout || error.code == ErrorCode::http;
}

// SHA-256 over a stream of chunks.
class Sha256Stream {
public:
    Sha256Stream() : m_context(EVP_MD_CTX_new(), &EVP_MD_CTX_free) { reset(); }
    void reset() { EVP_DigestInit_ex(m_context.get(), EVP_sha256(), nullptr); }
    void update(std::string_view bytes) { EVP_DigestUpdate(m_context.get(), bytes.data(), bytes.size()); }
    std::string digest() {
        unsigned char hash[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        EVP_DigestFinal_ex(m_context.get(), hash, &length);
        std::string hex = "sha256:";
        for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", hash[i]);
        return hex;
    }

private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> m_context;
};

model::ImageRef by_digest(const model::ImageRef& repository, const std::string& digest) {
    return repository.with_tag("").with_digest(digest);
}

}  // namespace

struct Client::CopyJob {
    model::ImageRef src;  // repositories; tags and digests are not used
    model::ImageRef dst;
    Session& src_session;
    Session& dst_session;
    bool same_registry = false;
    std::mutex mutex;  // guards the members below
    CopyStats stats;
    std::set<std::string> blobs_started;
};

Result<PromoteResult> Client::copy(const model::ImageRef& src, const model::ImageRef& dst, TagOptions options) {
    if (dst.tag.empty() && dst.digest.empty()) {
        return fail(ErrorCode::input, "the destination needs a tag (or a digest)", dst.str());
    }
    if (src.registry == dst.registry && src.repository == dst.repository && !dst.tag.empty()) {
        return retag(src, dst.tag, options);
    }
    auto manifest = get_manifest(src);
    if (!manifest) return fail(manifest.error());
    if (!dst.digest.empty() && dst.digest != manifest->digest) {
        return fail(ErrorCode::input, fmt::format("the source is {}, not the digest the destination names", manifest->digest),
                    dst.str());
    }
    std::string previous;
    auto guarded = guard_tag(dst, *manifest, options, previous);
    if (!guarded) return fail(guarded.error());
    if (*guarded) return std::move(**guarded);

    CopyJob job{.src = src,
                .dst = dst,
                .src_session = session(src.registry),
                .dst_session = session(dst.registry),
                .same_registry = src.registry == dst.registry,
                .mutex = {},
                .stats = {},
                .blobs_started = {}};
    if (auto copied = copy_tree(job, *manifest); !copied) return fail(copied.error());

    model::ImageRef target = dst.tag.empty() ? by_digest(dst, manifest->digest) : dst.with_tag(dst.tag);
    auto put = put_manifest(target, manifest->bytes, manifest->media_type);
    if (!put) return fail(put.error());
    std::lock_guard lock(job.mutex);
    ++job.stats.manifests_written;
    return PromoteResult{.destination = target.with_digest(put->digest),
                         .descriptor = *put,
                         .unchanged = false,
                         .previous_digest = previous,
                         .stats = job.stats};
}

Result<void> Client::copy_tree(CopyJob& job, const Manifest& manifest) {
    auto references = manifest_references(manifest);
    if (!references) return fail(references.error().context(fmt::format("reading manifest {} of {}", manifest.digest, job.src.name())));

    // Children first: a registry refuses an index whose manifests it does not have.
    for (const Descriptor& child : references->manifests) {
        model::ImageRef child_dst = by_digest(job.dst, child.digest);
        auto present = find_manifest(child_dst);
        if (!present) return fail(present.error());
        if (*present) continue;
        auto child_manifest = get_manifest(by_digest(job.src, child.digest));
        if (!child_manifest) return fail(child_manifest.error());
        if (auto copied = copy_tree(job, *child_manifest); !copied) return copied;
        auto put = put_manifest(child_dst, child_manifest->bytes, child_manifest->media_type);
        if (!put) return fail(put.error());
        std::lock_guard lock(job.mutex);
        ++job.stats.manifests_written;
    }

    const std::vector<Descriptor>& blobs = references->blobs;
    std::vector<Result<void>> outcomes(blobs.size());
    util::parallel_for(blobs.size(), m_options.concurrency, [&](std::size_t i) { outcomes[i] = copy_blob(job, blobs[i]); });
    for (auto& outcome : outcomes) {
        if (!outcome) return outcome;
    }
    return {};
}

Result<bool> Client::blob_exists(const model::ImageRef& repository, const std::string& digest) {
    Session& registry = session(repository.registry);
    auto head = registry.send({.method = http::Method::head,
                               .target = fmt::format("/v2/{}/blobs/{}", repository.repository, digest),
                               .scopes = {repository_scope(repository, "pull")}});
    if (!head) return fail(head.error());
    if (head->status == 200) return true;
    if (head->status == 404) return false;
    return fail(response_error(*head, repository.registry, repository.repository, "HEAD blob " + digest));
}

Result<std::string> Client::start_upload(const model::ImageRef& repository) {
    Session& registry = session(repository.registry);
    auto post = registry.send({.method = http::Method::post,
                               .target = fmt::format("/v2/{}/blobs/uploads/", repository.repository),
                               .scopes = {repository_scope(repository, "pull,push")}});
    if (!post) return fail(post.error());
    auto location = post->header("location");
    if (post->status != 202 || !location) {
        return fail(response_error(*post, repository.registry, repository.repository, "POST blob upload"));
    }
    return registry.url(*location);
}

Result<std::optional<std::string>> Client::try_mount(CopyJob& job, const Descriptor& blob) {
    // One token must allow pushing here and pulling from the source: two scopes in one request.
    auto post = job.dst_session.send(
        {.method = http::Method::post,
         .target = fmt::format("/v2/{}/blobs/uploads/?mount={}&from={}", job.dst.repository, blob.digest, job.src.repository),
         .scopes = {repository_scope(job.dst, "pull,push"), repository_scope(job.src, "pull")}});
    if (!post) return fail(post.error());
    if (post->status == 201) return std::nullopt;
    auto location = post->header("location");
    if (post->status == 202 && location) {
        // The registry would not mount and opened an upload session instead; use it.
        util::log_debug("{}: mount of {} from {} not done; uploading", job.dst.name(), blob.digest, job.src.repository);
        auto url = job.dst_session.url(*location);
        if (!url) return fail(url.error());
        return std::optional<std::string>(std::move(*url));
    }
    util::log_debug("{}: mount of {} refused ({}); uploading", job.dst.name(), blob.digest, describe_response(*post));
    auto started = start_upload(job.dst);
    if (!started) return fail(started.error());
    return std::optional<std::string>(std::move(*started));
}

Result<void> Client::copy_blob(CopyJob& job, const Descriptor& blob) {
    {
        std::lock_guard lock(job.mutex);
        // Children of an index often share their config or layers.
        if (!job.blobs_started.insert(blob.digest).second) return {};
    }
    auto present = blob_exists(job.dst, blob.digest);
    if (!present) return fail(present.error());
    if (*present) {
        std::lock_guard lock(job.mutex);
        ++job.stats.blobs_present;
        return {};
    }
    const RetryPolicy& retry = m_options.retry;
    for (int attempt = 1;; ++attempt) {
        std::string location;
        if (job.same_registry) {
            auto mounted = try_mount(job, blob);
            if (!mounted) return fail(mounted.error());
            if (!*mounted) {
                std::lock_guard lock(job.mutex);
                ++job.stats.blobs_mounted;
                return {};
            }
            location = std::move(**mounted);
        } else {
            auto started = start_upload(job.dst);
            if (!started) return fail(started.error());
            location = std::move(*started);
        }
        auto streamed = stream_blob(job, blob, location);
        if (streamed) {
            std::lock_guard lock(job.mutex);
            ++job.stats.blobs_uploaded;
            job.stats.bytes_uploaded += *streamed;
            return {};
        }
        if (attempt >= retry.max_attempts || !worth_restarting(streamed.error())) return fail(streamed.error());
        util::log_debug("copying blob {} failed ({}); starting over", blob.digest, streamed.error().describe());
        wait(retry, retry_delay(retry, attempt, std::nullopt, random_jitter()));
    }
}

Result<std::int64_t> Client::stream_blob(CopyJob& job, const Descriptor& blob, std::string location) {
    const std::size_t chunk = m_options.upload_chunk_bytes;
    const std::vector<std::string> push_scopes = {repository_scope(job.dst, "pull,push")};
    Sha256Stream hash;
    std::string buffer;
    std::int64_t received = 0;
    std::int64_t sent = 0;
    std::optional<util::Error> upload_error;

    // Sends the buffer as the next chunk of the upload; the registry answers with the next location.
    auto send_chunk = [&]() -> bool {
        const auto size = static_cast<std::int64_t>(buffer.size());
        auto patch = job.dst_session.send({.method = http::Method::patch,
                                           .target = location,
                                           .headers = {{"Content-Type", "application/octet-stream"},
                                                       {"Content-Range", fmt::format("{}-{}", sent, sent + size - 1)}},
                                           .body = std::move(buffer),
                                           .scopes = push_scopes,
                                           .replay = Replay::unsafe,
                                           .timeout = m_options.blob_timeout});
        buffer = std::string();
        if (!patch) {
            upload_error = patch.error();
            return false;
        }
        auto next = patch->header("location");
        if (patch->status != 202 || !next) {
            upload_error = response_error(*patch, job.dst.registry, job.dst.repository, "PATCH blob " + blob.digest);
            return false;
        }
        auto url = job.dst_session.url(*next);
        if (!url) {
            upload_error = url.error();
            return false;
        }
        location = std::move(*url);
        sent += size;
        return true;
    };
    auto on_data = [&](std::string_view data) {
        received += static_cast<std::int64_t>(data.size());
        hash.update(data);
        if (buffer.capacity() < chunk) buffer.reserve(chunk);
        buffer.append(data);
        return buffer.size() < chunk || send_chunk();
    };

    Call get{.method = http::Method::get,
             .target = fmt::format("/v2/{}/blobs/{}", job.src.repository, blob.digest),
             .scopes = {repository_scope(job.src, "pull")},
             .timeout = m_options.blob_timeout};
    for (int attempt = 1;; ++attempt) {
        hash.reset();
        buffer.clear();
        received = 0;
        auto answer = job.src_session.stream(get, on_data);
        if (upload_error) return fail(*upload_error);
        if (!answer) {
            if (sent == 0 && worth_restarting(answer.error()) && attempt < m_options.retry.max_attempts) {
                wait(m_options.retry, retry_delay(m_options.retry, attempt, std::nullopt, random_jitter()));
                continue;
            }
            return fail(answer.error().context("downloading blob " + blob.digest));
        }
        if (answer->status == 200) break;
        // Error and redirect bodies are small, so nothing of them has been uploaded.
        if (sent == 0 && is_redirect(answer->status) && answer->header("location") && attempt < m_options.retry.max_attempts) {
            auto next = job.src_session.url(*answer->header("location"));
            if (!next) return fail(next.error());
            get.target = std::move(*next);
            continue;
        }
        if (sent == 0) {
            auto again = job.src_session.prepare_retry(get, *answer, attempt);
            if (!again) return fail(again.error());
            if (*again) continue;
        }
        http::Response failed = *answer;
        failed.body = buffer;
        return fail(response_error(failed, job.src.registry, job.src.repository, "GET blob " + blob.digest));
    }

    if (!buffer.empty() && !send_chunk()) return fail(*upload_error);
    if (blob.digest.starts_with("sha256:")) {
        std::string actual = hash.digest();
        if (actual != blob.digest) {
            return fail(ErrorCode::api, fmt::format("blob {} arrived with digest {}", blob.digest, actual),
                        fmt::format("registry {}, repository {}", job.src.registry, job.src.repository));
        }
    }
    if (blob.size >= 0 && received != blob.size) {
        return fail(ErrorCode::api, fmt::format("blob {} has {} bytes, the manifest says {}", blob.digest, received, blob.size),
                    fmt::format("registry {}, repository {}", job.src.registry, job.src.repository));
    }
    std::string finish = location + (location.find('?') == std::string::npos ? "?" : "&") + "digest=" + blob.digest;
    auto put = job.dst_session.send({.method = http::Method::put,
                                     .target = finish,
                                     .headers = {{"Content-Type", "application/octet-stream"}},
                                     .scopes = push_scopes,
                                     .replay = Replay::unsafe});
    if (!put) return fail(put.error());
    if (put->status != 201) {
        return fail(response_error(*put, job.dst.registry, job.dst.repository, "PUT blob " + blob.digest));
    }
    util::log_debug("{}: uploaded blob {} ({} bytes)", job.dst.name(), blob.digest, received);
    return received;
}

}  // namespace minicd::registry
