#include "minicd/build/builder.hpp"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "minicd/model/image_ref.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::build {

namespace {

constexpr std::string_view k_docker_config_dir = "docker-config";

std::string default_program(BuilderKind kind) {
    switch (kind) {
    case BuilderKind::buildah: return "buildah";
    case BuilderKind::docker: return "docker";
    case BuilderKind::podman: return "podman";
    case BuilderKind::kaniko: return "/kaniko/executor";
    }
    return {};
}

Result<void> validate(const BuildRequest& request) {
    auto input_error = [&](std::string message) { return fail(util::ErrorCode::input, std::move(message), request.image_name); };
    if (request.image_name.empty()) return fail(util::ErrorCode::input, "an image name is required");
    auto repository = model::parse_image_ref(request.repository);
    if (!repository) return fail(repository.error());
    if (!repository->tag.empty() || !repository->digest.empty()) {
        return input_error(fmt::format("repository {:?} must not carry a tag or digest", request.repository));
    }
    for (const auto& tag : request.extra_tags) {
        if (!model::is_valid_tag(tag)) return input_error(fmt::format("{:?} is not a valid tag", tag));
    }
    if (!model::is_valid_tag(request.tag)) return input_error(fmt::format("{:?} is not a valid tag", request.tag));
    for (const auto& arg : request.build_args) {
        std::string_view key = std::string_view(arg).substr(0, arg.find('='));
        if (key.empty() || key.find_first_of(" \t\n") != std::string_view::npos) {
            return input_error(fmt::format("build arg {:?} must be KEY=VALUE or KEY", arg));
        }
    }
    if (request.context_dir.empty()) return input_error("a build context directory is required");
    return {};
}

// A path as a builder argument: a relative one starting with "-" ("-x" from minicd.yaml) gets "./" in
// front, so that the builder reads a path there and never an option.
std::string path_argument(const std::string& path) {
    return path.starts_with('-') ? "./" + path : path;
}

std::string context_of(const BuildRequest& request) { return path_argument(request.context_dir); }

std::string dockerfile_of(const BuildRequest& request) {
    if (!request.dockerfile.empty()) return path_argument(request.dockerfile);
    return path_argument((std::filesystem::path(request.context_dir) / "Dockerfile").string());
}

bool is_insecure(const BuilderConfig& config, const std::string& reference) {
    auto ref = model::parse_image_ref(reference);
    if (!ref) return false;
    return std::find(config.insecure_registries.begin(), config.insecure_registries.end(), ref->registry) !=
           config.insecure_registries.end();
}

// Shared by every call: program, global arguments, environment, timeout.
Invocation start(const BuilderConfig& config, std::string what) {
    Invocation invocation;
    invocation.what = std::move(what);
    invocation.spec.argv.push_back(config.program.empty() ? default_program(config.kind) : config.program);
    invocation.spec.argv.insert(invocation.spec.argv.end(), config.global_args.begin(), config.global_args.end());
    invocation.spec.inherit = util::Inherit::builder;
    invocation.spec.env = config.env;
    invocation.spec.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout);
    return invocation;
}

void append(std::vector<std::string>& argv, std::initializer_list<std::string> items) {
    argv.insert(argv.end(), items.begin(), items.end());
}

// Every builder spells these the same way. A bare build argument ("NAME") takes its value from the
// builder's environment, so that name is passed on to the builder.
void append_build_inputs(Invocation& invocation, const BuildRequest& request) {
    auto& argv = invocation.spec.argv;
    for (const auto& arg : request.build_args) {
        append(argv, {"--build-arg", arg});
        if (arg.find('=') == std::string::npos) invocation.spec.env_keep.push_back(arg);
    }
    if (!request.target.empty()) append(argv, {"--target", request.target});
}

// buildah and podman share their command lines: "bud"/"build" then one "push" per reference.
BuildPlan plan_containers_tool(const BuilderConfig& config, const BuildRequest& request, const std::string& scratch_dir,
                               std::string_view build_verb) {
    const auto references = image_references(request);
    BuildPlan plan;
    Invocation build = start(config, "build " + references.front());
    auto& argv = build.spec.argv;
    append(argv, {std::string(build_verb), "-f", dockerfile_of(request)});
    for (const auto& reference : references) append(argv, {"-t", reference});
    append_build_inputs(build, request);
    // Base images may come from private registries too.
    if (!config.auth_file.empty()) append(argv, {"--authfile", config.auth_file});
    if (!config.cert_dir.empty()) append(argv, {"--cert-dir", config.cert_dir});
    argv.push_back(context_of(request));
    plan.invocations.push_back(std::move(build));
    if (!request.push) return plan;

    for (std::size_t i = 0; i < references.size(); ++i) {
        const auto& reference = references[i];
        Invocation push = start(config, "push " + reference);
        push.digest_file = fmt::format("{}/digest-{}", scratch_dir, i);
        push.pushes = {reference};
        auto& push_argv = push.spec.argv;
        push_argv.push_back("push");
        if (is_insecure(config, reference)) push_argv.push_back("--tls-verify=false");
        if (!config.auth_file.empty()) append(push_argv, {"--authfile", config.auth_file});
        if (!config.cert_dir.empty()) append(push_argv, {"--cert-dir", config.cert_dir});
        append(push_argv, {"--digestfile", push.digest_file, reference, "docker://" + reference});
        plan.invocations.push_back(std::move(push));
    }
    return plan;
}

// Docker and kaniko want a directory holding config.json.
std::optional<std::string> docker_config_dir(const BuilderConfig& config, const std::string& scratch_dir,
                                             BuildPlan& plan) {
    if (config.auth_file.empty()) return std::nullopt;
    std::filesystem::path auth(config.auth_file);
    if (auth.filename() == "config.json") return auth.parent_path().string();
    std::string dir = fmt::format("{}/{}", scratch_dir, k_docker_config_dir);
    plan.docker_config_link = std::make_pair(dir + "/config.json", config.auth_file);
    return dir;
}

BuildPlan plan_docker(const BuilderConfig& config, const BuildRequest& request, const std::string& scratch_dir) {
    const auto references = image_references(request);
    BuildPlan plan;
    auto config_dir = docker_config_dir(config, scratch_dir, plan);
    auto with_config = [&](Invocation invocation) {
        if (config_dir) invocation.spec.env["DOCKER_CONFIG"] = *config_dir;
        return invocation;
    };
    Invocation build = start(config, "build " + references.front());
    auto& argv = build.spec.argv;
    append(argv, {"build", "-f", dockerfile_of(request)});
    for (const auto& reference : references) append(argv, {"-t", reference});
    append_build_inputs(build, request);
    argv.push_back(context_of(request));
    plan.invocations.push_back(with_config(std::move(build)));
    if (!request.push) return plan;

    for (const auto& reference : references) {
        Invocation push = start(config, "push " + reference);
        push.pushes = {reference};
        append(push.spec.argv, {"push", reference});
        plan.invocations.push_back(with_config(std::move(push)));
    }
    return plan;
}

BuildPlan plan_kaniko(const BuilderConfig& config, const BuildRequest& request, const std::string& scratch_dir) {
    const auto references = image_references(request);
    BuildPlan plan;
    auto config_dir = docker_config_dir(config, scratch_dir, plan);
    // Kaniko builds and pushes in one call.
    Invocation build = start(config, (request.push ? "build and push " : "build ") + references.front());
    if (config_dir) build.spec.env["DOCKER_CONFIG"] = *config_dir;
    auto& argv = build.spec.argv;
    append(argv, {"--context", context_of(request), "--dockerfile", dockerfile_of(request)});
    for (const auto& reference : references) append(argv, {"--destination", reference});
    append_build_inputs(build, request);
    if (request.push) {
        build.digest_file = scratch_dir + "/digest";
        build.pushes = references;
        append(argv, {"--digest-file", build.digest_file});
        for (const auto& registry : config.insecure_registries) append(argv, {"--insecure-registry", registry});
    } else {
        argv.push_back("--no-push");
    }
    plan.invocations.push_back(std::move(build));
    return plan;
}

}  // namespace

std::string_view to_string(BuilderKind kind) {
    switch (kind) {
    case BuilderKind::buildah: return "buildah";
    case BuilderKind::docker: return "docker";
    case BuilderKind::podman: return "podman";
    case BuilderKind::kaniko: return "kaniko";
    }
    return "unknown";
}

Result<BuilderKind> parse_builder_kind(std::string_view name) {
    for (auto kind : {BuilderKind::buildah, BuilderKind::docker, BuilderKind::podman, BuilderKind::kaniko}) {
        if (to_string(kind) == name) return kind;
    }
    return fail(util::ErrorCode::input,
                fmt::format("unknown builder {:?}: expected buildah, docker, podman or kaniko", std::string(name)));
}

std::vector<std::string> image_references(const BuildRequest& request) {
    std::vector<std::string> references;
    auto repository = model::parse_image_ref(request.repository);
    const std::string name = repository ? repository->name() : request.repository;
    references.push_back(name + ":" + request.tag);
    for (const auto& tag : request.extra_tags) {
        std::string reference = name + ":" + tag;
        if (std::find(references.begin(), references.end(), reference) == references.end()) references.push_back(reference);
    }
    return references;
}

Result<BuildPlan> plan_build(const BuilderConfig& config, const BuildRequest& request, const std::string& scratch_dir) {
    if (auto valid = validate(request); !valid) return fail(valid.error());
    BuilderConfig effective = config;
    std::string generated;
    if (effective.auth_file.empty() && effective.credentials) {
        // Named config.json in its own directory, so docker and kaniko can use it as DOCKER_CONFIG too.
        generated = fmt::format("{}/{}/config.json", scratch_dir, k_docker_config_dir);
        effective.auth_file = generated;
    }
    BuildPlan plan;
    switch (config.kind) {
    case BuilderKind::buildah: plan = plan_containers_tool(effective, request, scratch_dir, "bud"); break;
    case BuilderKind::podman: plan = plan_containers_tool(effective, request, scratch_dir, "build"); break;
    case BuilderKind::docker: plan = plan_docker(effective, request, scratch_dir); break;
    case BuilderKind::kaniko: plan = plan_kaniko(effective, request, scratch_dir); break;
    }
    plan.auth_file_to_write = generated;
    return plan;
}

std::string auth_file_text(const std::string& registry, const registry::Credentials& credentials) {
    nlohmann::json entry = nlohmann::json::object();
    if (!credentials.password.empty()) {
        entry["auth"] = util::base64_encode(credentials.username + ":" + credentials.password.reveal());
    }
    if (!credentials.identity_token.empty()) entry["identitytoken"] = credentials.identity_token.reveal();
    // Docker Hub's key in docker's own files; other tools accept it as well.
    const std::string key = registry == "docker.io" ? "https://index.docker.io/v1/" : registry;
    return nlohmann::json{{"auths", {{key, entry}}}}.dump();
}

std::string digest_from_docker_push(std::string_view output) {
    constexpr std::string_view marker = "digest: ";
    std::string_view::size_type at = output.find(marker);
    if (at == std::string_view::npos) return {};
    std::string_view rest = output.substr(at + marker.size());
    return std::string(rest.substr(0, rest.find_first_of(" \t\r\n")));
}

}  // namespace minicd::build
