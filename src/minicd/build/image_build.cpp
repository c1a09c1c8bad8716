#include "minicd/build/image_build.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include "minicd/util/interrupt.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/text.hpp"

namespace minicd::build {

namespace {

namespace fs = std::filesystem;

// A private directory for digest files, removed when done.
class ScratchDir {
public:
    static Result<ScratchDir> create() {
        std::string pattern = (fs::temp_directory_path() / "minicd-build-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            return fail(util::ErrorCode::io, fmt::format("cannot create a temporary directory: {}", std::strerror(errno)),
                        pattern);
        }
        return ScratchDir(pattern);
    }
    ScratchDir(ScratchDir&& other) noexcept : m_path(std::move(other.m_path)) { other.m_path.clear(); }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    ScratchDir& operator=(ScratchDir&&) = delete;
    ~ScratchDir() {
        std::error_code ignored;
        if (!m_path.empty()) fs::remove_all(m_path, ignored);
    }
    const std::string& path() const { return m_path; }

private:
    explicit ScratchDir(std::string path) : m_path(std::move(path)) {}
    std::string m_path;
};

// Written before any builder runs and removed with the scratch directory; readable by us alone.
Result<void> write_private_file(const std::string& path, const std::string& text) {
    std::error_code error;
    fs::create_directories(fs::path(path).parent_path(), error);
    if (error) return fail(util::ErrorCode::io, fmt::format("cannot create the directory: {}", error.message()), path);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return fail(util::ErrorCode::io, fmt::format("cannot create: {}", std::strerror(errno)), path);
    std::size_t written = 0;
    while (written < text.size()) {
        ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int saved = errno;
            ::close(fd);
            return fail(util::ErrorCode::io, fmt::format("write: {}", std::strerror(saved)), path);
        }
        written += static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) return fail(util::ErrorCode::io, fmt::format("close: {}", std::strerror(errno)), path);
    return {};
}

Result<void> make_link(const std::pair<std::string, std::string>& link) {
    std::error_code error;
    fs::create_directories(fs::path(link.first).parent_path(), error);
    if (!error) fs::create_symlink(fs::absolute(link.second), link.first, error);
    if (error) return fail(util::ErrorCode::io, fmt::format("cannot link the auth file: {}", error.message()), link.first);
    return {};
}

// What the builder said it pushed; "" when it did not say.
std::string reported_digest(const Invocation& invocation, const util::SubprocessResult& result) {
    if (invocation.digest_file.empty()) return digest_from_docker_push(result.out);
    auto text = util::read_file(invocation.digest_file);
    return text ? util::trim(*text) : std::string();
}

Result<std::string> verified_digest(const std::string& reference, const std::string& reported, const std::string& builder,
                                    const DigestResolver& resolve) {
    auto ref = model::parse_image_ref(reference);
    if (!ref) return fail(ref.error());
    auto served = resolve(*ref);
    if (!served) return fail(served.error().context("reading back the digest of " + reference));
    if (!reported.empty() && reported != *served) {
        return fail(util::ErrorCode::api,
                    fmt::format("the registry serves {} but {} reported pushing {}", *served, builder, reported), reference);
    }
    return *served;
}

}  // namespace

Result<std::optional<registry::Credentials>> push_credentials(const BuildRequest& request, const std::string& auth_file,
                                                              const registry::CredentialOptions& options) {
    if (!request.push || !auth_file.empty()) return std::nullopt;
    auto target = model::parse_image_ref(request.repository);
    if (!target) return fail(target.error());
    auto found = registry::find_credentials(target->registry, options);
    if (!found) return fail(found.error());
    if (*found) util::log_debug("pushing to {} with the credentials from {}", target->registry, (*found)->source);
    return *found;
}

DigestResolver registry_resolver(registry::Client& client) {
    return [&client](const model::ImageRef& ref) -> Result<std::string> {
        auto descriptor = client.resolve(ref);
        if (!descriptor) return fail(descriptor.error());
        return descriptor->digest;
    };
}

Result<Artifact> build_image(const BuilderConfig& config, const BuildRequest& request, const DigestResolver& resolve) {
    auto scratch = ScratchDir::create();
    if (!scratch) return fail(scratch.error());
    auto plan = plan_build(config, request, scratch->path());
    if (!plan) return fail(plan.error());
    // A cancelled job must not leave registry credentials in /tmp. Declared after `scratch`, so it is
    // dismissed first: during an interrupt that removes the directory (and says so), else ~ScratchDir does.
    const std::string contents = plan->auth_file_to_write.empty() ? "build directory" : "registry credentials";
    util::InterruptCleanup remove_on_interrupt(
        fmt::format("remove the temporary {} {}", contents, scratch->path()), [contents, path = scratch->path()] {
            std::error_code error;
            fs::remove_all(path, error);
            if (error) return fmt::format("could not remove the temporary {} {}: {}", contents, path, error.message());
            return fmt::format("removed the temporary {} {}", contents, path);
        });
    if (!plan->auth_file_to_write.empty()) {
        auto target = model::parse_image_ref(request.repository);
        if (!target) return fail(target.error());
        auto written = write_private_file(plan->auth_file_to_write, auth_file_text(target->registry, *config.credentials));
        if (!written) return fail(written.error());
    }
    if (plan->docker_config_link) {
        if (auto linked = make_link(*plan->docker_config_link); !linked) return fail(linked.error());
    }

    const std::string builder(to_string(config.kind));
    Artifact artifact{.image_name = request.image_name, .reference = image_references(request).front()};
    for (const auto& invocation : plan->invocations) {
        util::log_info("{}: {}", builder, invocation.what);
        // The builder's own output is what explains a failed RUN step: shown as it comes, indented.
        util::LineSplitter lines([&builder](util::OutputStream, std::string_view line) { util::log_info("  {}| {}", builder, line); });
        util::SubprocessSpec spec = invocation.spec;
        spec.on_output = [&lines](util::OutputStream stream, std::string_view chunk) { lines.feed(stream, chunk); };
        auto result = util::run_checked(spec);
        lines.flush();
        if (!result) return fail(result.error().context(invocation.what));

        const std::string reported = reported_digest(invocation, *result);
        for (const auto& reference : invocation.pushes) {
            auto digest = verified_digest(reference, reported, builder, resolve);
            if (!digest) return fail(digest.error());
            if (reference == artifact.reference) {
                artifact.digest = *digest;
            } else if (*digest != artifact.digest) {
                util::log_warn("{} names {}, not {} like {}", reference, *digest, artifact.digest, artifact.reference);
            }
            // The artifact's own reference is the caller's to report (`minicd build` prints it, a step
            // names it in its line); only other tags pushed with it are said here.
            if (reference != artifact.reference) util::log_info("pushed {}@{}", reference, *digest);
        }
    }
    return artifact;
}

}  // namespace minicd::build
