#include "minicd/build/detect.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fmt/format.h>

#include "minicd/util/log.hpp"
#include "minicd/util/subprocess.hpp"

namespace minicd::build {

namespace {

bool is_executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

// The first executable file named `name` in the ':'-separated list; "" when there is none.
std::string find_in_path(const std::string& name, const std::string& search_path) {
    std::string_view rest = search_path;
    while (true) {
        auto colon = rest.find(':');
        std::string_view dir = rest.substr(0, colon);
        // An empty entry means the current directory, as for execvp.
        std::string candidate = fmt::format("{}/{}", dir.empty() ? "." : dir, name);
        if (is_executable(candidate)) return candidate;
        if (colon == std::string_view::npos) return {};
        rest.remove_prefix(colon + 1);
    }
}

std::string locate(BuilderKind kind, const DetectOptions& options, const std::string& search_path) {
    if (kind == BuilderKind::kaniko) return is_executable(options.kaniko_executor) ? options.kaniko_executor : "";
    return find_in_path(std::string(to_string(kind)), search_path);
}

// Whether the docker daemon answers; the reason when it does not.
Result<void> probe_docker(const std::string& program, const DetectOptions& options) {
    auto result = util::run_checked({.inherit = util::Inherit::builder, .argv = {program, "version", "--format", "{{.Server.Version}}"},
                                     .env = options.env,
                                     .timeout = options.docker_probe_timeout});
    if (!result) return fail(result.error().context("the docker daemon does not answer"));
    return {};
}

}  // namespace

Result<DetectedBuilder> find_builder(std::optional<BuilderKind> wanted, const DetectOptions& options) {
    std::string search_path = options.search_path;
    if (search_path.empty()) {
        const char* path = std::getenv("PATH");
        search_path = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    }

    if (wanted) {
        std::string program = locate(*wanted, options, search_path);
        if (program.empty()) {
            return fail(util::ErrorCode::input,
                        *wanted == BuilderKind::kaniko ? fmt::format("kaniko: {} is not there", options.kaniko_executor)
                                                       : fmt::format("{}: not found in PATH", to_string(*wanted)));
        }
        if (*wanted == BuilderKind::docker) {
            if (auto probe = probe_docker(program, options); !probe) return fail(probe.error());
        }
        return DetectedBuilder{.kind = *wanted, .program = program};
    }

    for (auto kind : {BuilderKind::buildah, BuilderKind::docker, BuilderKind::podman, BuilderKind::kaniko}) {
        std::string program = locate(kind, options, search_path);
        if (program.empty()) continue;
        if (kind == BuilderKind::docker) {
            if (auto probe = probe_docker(program, options); !probe) {
                util::log_debug("not using docker: {}", probe.error().describe());
                continue;
            }
        }
        util::log_debug("using {} ({})", to_string(kind), program);
        return DetectedBuilder{.kind = kind, .program = program};
    }
    return fail(util::ErrorCode::input,
                fmt::format("no image builder found: looked for buildah, docker (with a daemon that answers) and podman "
                            "in PATH, and kaniko at {}",
                            options.kaniko_executor));
}

Result<DetectedBuilder> find_builder(std::string_view name, const DetectOptions& options) {
    if (name.empty()) return find_builder(std::nullopt, options);
    auto kind = parse_builder_kind(name);
    if (!kind) return fail(kind.error());
    return find_builder(*kind, options);
}

}  // namespace minicd::build
