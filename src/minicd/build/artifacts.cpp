#include "minicd/build/artifacts.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "minicd/model/image_ref.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/text.hpp"

namespace minicd::build {

namespace {

using Json = nlohmann::json;

// A string member of the entry; an error naming "builds[i].<key>" when it has another type.
Result<std::string> string_field(const Json& entry, const std::string& field, const std::string& key,
                                 const std::string& path) {
    auto it = entry.find(key);
    if (it == entry.end() || it->is_null()) return std::string();
    if (!it->is_string()) return fail(util::ErrorCode::input, fmt::format("{}.{}: must be a string", field, key), path);
    return it->get<std::string>();
}

Result<Artifact> parse_entry(const Json& entry, const std::string& field, const std::string& path) {
    if (!entry.is_object()) return fail(util::ErrorCode::input, field + ": must be an object", path);
    auto name = string_field(entry, field, "imageName", path);
    auto reference = string_field(entry, field, "reference", path);
    auto digest = string_field(entry, field, "digest", path);
    auto tag = string_field(entry, field, "tag", path);
    for (const auto* value : {&name, &reference, &digest, &tag}) {
        if (!*value) return fail(value->error());
    }
    Artifact artifact{.image_name = *name, .reference = *reference, .digest = *digest};
    if (artifact.image_name.empty()) return fail(util::ErrorCode::input, field + ".imageName: required", path);

    // A file written by Skaffold carries only "tag" (reference@digest): take the parts from it.
    if (!tag->empty()) {
        auto at = tag->rfind('@');
        if (at == std::string::npos) {
            return fail(util::ErrorCode::input, fmt::format("{}.tag: {:?} has no @digest", field, *tag), path);
        }
        std::string tag_reference = tag->substr(0, at);
        std::string tag_digest = tag->substr(at + 1);
        if (artifact.reference.empty()) artifact.reference = tag_reference;
        if (artifact.digest.empty()) artifact.digest = tag_digest;
        if (artifact.reference != tag_reference || artifact.digest != tag_digest) {
            return fail(util::ErrorCode::input, fmt::format("{}.tag: {:?} disagrees with reference and digest", field, *tag),
                        path);
        }
    }
    if (artifact.reference.empty()) return fail(util::ErrorCode::input, field + ".reference: required", path);
    if (artifact.digest.empty()) return fail(util::ErrorCode::input, field + ".digest: required", path);
    if (!model::is_valid_digest(artifact.digest)) {
        return fail(util::ErrorCode::input,
                    fmt::format("{}.digest: {:?} is not a digest (sha256:<64 hex digits>)", field, artifact.digest), path);
    }
    return artifact;
}

}  // namespace

std::string Artifact::pinned() const { return reference + "@" + digest; }

Result<std::vector<Artifact>> read_artifacts(const std::string& path) {
    auto text = util::read_file(path);
    if (!text) return fail(text.error());
    auto parsed = model::read_json(*text);
    if (!parsed) return fail(util::ErrorCode::input, parsed.error().message, path);
    Json document = std::move(*parsed);
    if (!document.is_object()) return fail(util::ErrorCode::input, "must be a JSON object with \"builds\"", path);
    auto builds = document.find("builds");
    if (builds == document.end() || !builds->is_array()) {
        return fail(util::ErrorCode::input, "builds: required, must be a list", path);
    }
    std::vector<Artifact> artifacts;
    for (std::size_t i = 0; i < builds->size(); ++i) {
        auto artifact = parse_entry((*builds)[i], fmt::format("builds[{}]", i), path);
        if (!artifact) return fail(artifact.error());
        for (const auto& seen : artifacts) {
            if (seen.image_name == artifact->image_name) {
                return fail(util::ErrorCode::input,
                            fmt::format("builds[{}].imageName: {:?} is listed twice", i, artifact->image_name), path);
            }
        }
        artifacts.push_back(std::move(*artifact));
    }
    return artifacts;
}

std::string artifacts_text(const std::vector<Artifact>& artifacts) {
    Json builds = Json::array();
    for (const auto& artifact : artifacts) {
        builds.push_back(Json{{"imageName", artifact.image_name},
                              {"reference", artifact.reference},
                              {"digest", artifact.digest},
                              {"tag", artifact.pinned()}});
    }
    return Json{{"builds", builds}}.dump(2) + "\n";
}

Result<void> write_artifacts(const std::string& path, const std::vector<Artifact>& artifacts) {
    const std::string text = artifacts_text(artifacts);
    // Same directory as the target, so rename() replaces it in one step on the same file system.
    std::string temp = path + ".tmp-XXXXXX";
    int fd = ::mkstemp(temp.data());
    if (fd < 0) return fail(util::ErrorCode::io, fmt::format("cannot create a temporary file: {}", std::strerror(errno)), path);
    auto give_up = [&](std::string_view doing) {
        int saved = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        return fail(util::ErrorCode::io, fmt::format("{}: {}", doing, std::strerror(saved)), path);
    };
    // mkstemp makes the file 0600; the artifact file holds nothing secret and other CI steps read it.
    if (::fchmod(fd, 0644) != 0) return give_up("chmod");
    std::size_t written = 0;
    while (written < text.size()) {
        ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return give_up("write");
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return give_up("fsync");
    if (::close(fd) != 0) {
        int saved = errno;
        ::unlink(temp.c_str());
        return fail(util::ErrorCode::io, fmt::format("close: {}", std::strerror(saved)), path);
    }
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
        int saved = errno;
        ::unlink(temp.c_str());
        return fail(util::ErrorCode::io, fmt::format("rename: {}", std::strerror(saved)), path);
    }
    return {};
}

}  // namespace minicd::build
