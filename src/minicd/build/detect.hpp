#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "minicd/build/builder.hpp"
#include "minicd/util/result.hpp"

namespace minicd::build {

struct DetectOptions {
    std::string search_path;                                 // ':'-separated; "" = $PATH
    std::string kaniko_executor = "/kaniko/executor";        // where the kaniko image keeps it
    std::chrono::milliseconds docker_probe_timeout{10'000};  // `docker version` must answer within this
    std::map<std::string, std::string> env;                  // for the docker probe (DOCKER_HOST, ...)
};

struct DetectedBuilder {
    BuilderKind kind = BuilderKind::buildah;
    std::string program;  // absolute path of the executable
};

// The builder to use: `wanted` when given (an error when it is not installed, or for docker when
// its daemon does not answer), otherwise the first available of buildah, docker (only with a
// daemon that answers: a docker CLI alone cannot build), podman, kaniko.
Result<DetectedBuilder> find_builder(std::optional<BuilderKind> wanted, const DetectOptions& options = {});
// The same with the builder named as configured: "" detects, anything else must be a BuilderKind name.
Result<DetectedBuilder> find_builder(std::string_view name, const DetectOptions& options = {});

}  // namespace minicd::build
