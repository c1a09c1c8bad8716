#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "minicd/build/artifacts.hpp"
#include "minicd/build/detect.hpp"
#include "minicd/build/image_build.hpp"
#include "minicd/build/tag_policy.hpp"
#include "minicd/cli/app.hpp"
#include "minicd/cli/commands.hpp"
#include "minicd/cli/failure.hpp"
#include "minicd/cli/registry_flags.hpp"
#include "minicd/config/load.hpp"
#include "minicd/pipeline/ci.hpp"
#include "minicd/registry/credentials.hpp"
#include "minicd/source/git.hpp"

namespace minicd::cli {

namespace {

struct BuildFlags {
    std::string file = "minicd.yaml";  // read when --image is not given: every image it declares
    bool push = false;
    std::string output_file;
    std::string image;
    std::string repository;
    std::string context = ".";
    std::string dockerfile;
    std::vector<std::string> build_args;
    std::string target;
    std::vector<std::string> extra_tags;
    std::string builder;
    std::vector<std::string> builder_args;
    std::size_t tag_length = 0;  // 0: minicd.yaml's build.tagLength, else 7
    bool allow_dirty = false;
    std::string auth_file;
    std::string cert_dir;
    RegistryFlags registry;
};

// What one run builds: the image of --image, or every image of minicd.yaml.
struct Work {
    std::string checkout;  // the directory whose Git commit gives the tag
    std::string builder;   // "" picks the first found
    std::size_t tag_length = 7;
    bool allow_dirty = false;
    std::vector<build::BuildRequest> requests;  // tags filled in once the commit is known
};

Result<Work> work_of(const BuildFlags& flags) {
    if (!flags.image.empty()) {
        return Work{.checkout = flags.context,
                    .builder = flags.builder,
                    .tag_length = flags.tag_length == 0 ? 7 : flags.tag_length,
                    .allow_dirty = flags.allow_dirty,
                    .requests = {{.image_name = flags.image,
                                  .repository = flags.repository.empty() ? flags.image : flags.repository,
                                  .extra_tags = flags.extra_tags,
                                  .context_dir = flags.context,
                                  .dockerfile = flags.dockerfile,
                                  .build_args = flags.build_args,
                                  .target = flags.target,
                                  .push = flags.push}}};
    }
    auto config = config::load_config(flags.file);
    if (!config) return fail(config.error());
    if (config->images.empty()) {
        return fail(util::ErrorCode::input, "declares no images to build (images: [{name: ...}])", flags.file);
    }
    const std::string config_dir = std::filesystem::absolute(flags.file).parent_path().string();
    Work work{.checkout = config_dir,
              .builder = flags.builder.empty() ? config->build.builder : flags.builder,
              .tag_length = flags.tag_length != 0 ? flags.tag_length : static_cast<std::size_t>(config->build.tag_length),
              .allow_dirty = flags.allow_dirty || config->build.allow_dirty,
              .requests = pipeline::build_requests(*config, config_dir, "")};
    for (auto& request : work.requests) {
        request.extra_tags = flags.extra_tags;
        request.push = flags.push;
    }
    return work;
}

int run_build(const BuildFlags& flags) {
    if (!flags.output_file.empty() && !flags.push) {
        return report_failure(util::make_error(util::ErrorCode::usage, "--output-file needs --push: only pushed images have digests"));
    }
    if (flags.image.empty() && (!flags.repository.empty() || !flags.dockerfile.empty() || !flags.build_args.empty() ||
                                !flags.target.empty())) {
        return report_failure(util::make_error(util::ErrorCode::usage,
                                               "--repository, --dockerfile, --build-arg and --target describe one image: "
                                               "give --image too, or set them in minicd.yaml"));
    }
    // One image from the flags, or every image minicd.yaml declares.
    auto work = work_of(flags);
    if (!work) return report_failure(work.error());
    // The tag comes from the commit the context directory belongs to.
    auto repository = source::Repository::open(work->checkout);
    if (!repository) return report_failure(repository.error());
    // The artifact file of an earlier build (another image, a rerun) does not make the tree dirty.
    std::vector<std::string> skip;
    if (!flags.output_file.empty()) {
        if (auto output = repository->relative_path(flags.output_file)) skip.push_back(*output);
    }
    auto tag = build::commit_tag(*repository, {.length = work->tag_length,
                                               .pushing = flags.push,
                                               .in_ci = build::running_in_ci(),
                                               .allow_dirty = work->allow_dirty,
                                               .skip_paths = skip});
    if (!tag) return report_failure(tag.error());

    // Which builder: the one asked for, or the first usable one on this machine.
    auto builder = build::find_builder(work->builder);
    if (!builder) return report_failure(builder.error());
    // The registry is asked for the digest of what was pushed; the builder's word is not enough.
    auto registry = make_registry_client(flags.registry);
    if (!registry) return report_failure(registry.error());

    std::vector<build::Artifact> artifacts;
    for (auto& request : work->requests) {
        request.tag = *tag;
        // The builder pushes with the credentials minicd itself finds for the registry, unless an auth file is given.
        auto credentials = build::push_credentials(request, flags.auth_file);
        if (!credentials) return report_failure(credentials.error());
        build::BuilderConfig config{.kind = builder->kind,
                                    .program = builder->program,
                                    .global_args = flags.builder_args,
                                    .insecure_registries = flags.registry.insecure_registries,
                                    .auth_file = flags.auth_file,
                                    .credentials = *credentials,
                                    .cert_dir = flags.cert_dir};
        auto artifact = build::build_image(config, request, build::registry_resolver(**registry));
        if (!artifact) return report_failure(artifact.error());
        fmt::print("{} {}\n", artifact->image_name, flags.push ? artifact->pinned() : artifact->reference);
        std::fflush(stdout);
        artifacts.push_back(std::move(*artifact));
    }

    // Later steps (minicd apply --build-artifacts) pin exactly these digests.
    if (!flags.output_file.empty()) {
        if (auto written = build::write_artifacts(flags.output_file, artifacts); !written) {
            return report_failure(written.error());
        }
    }
    return k_exit_ok;
}

}  // namespace

Command add_build_command(CLI::App& app) {
    auto flags = std::make_shared<BuildFlags>();
    CLI::App* cmd = app.add_subcommand("build", "Build an image tagged with the commit, push it, record its digest");
    cmd->add_option("-f,--file", flags->file, "minicd.yaml whose images are built when --image is not given")
        ->capture_default_str();
    cmd->add_option("--image", flags->image, "Build this one image (its name as the manifests use it) instead of minicd.yaml's");
    cmd->add_option("--repository", flags->repository, "Repository to push to, e.g. registry.example/team/app (default: the image name)");
    cmd->add_flag("--push", flags->push, "Push the image and read its digest back from the registry");
    cmd->add_option("--output-file", flags->output_file, "Write the build artifacts (JSON) here; needs --push");
    cmd->add_option("--context", flags->context, "Build context directory; its Git checkout gives the tag")->capture_default_str();
    cmd->add_option("--dockerfile", flags->dockerfile, "Dockerfile (default: <context>/Dockerfile)");
    cmd->add_option("--build-arg", flags->build_args, "KEY=VALUE, or KEY to take the value from the environment");
    cmd->add_option("--target", flags->target, "Stage of a multi-stage Dockerfile to build");
    cmd->add_option("--extra-tag", flags->extra_tags, "Also push this tag (e.g. latest)");
    cmd->add_option("--builder", flags->builder, "buildah, docker, podman or kaniko (default: the first found, in that order)")
        ->check(CLI::IsMember({"buildah", "docker", "podman", "kaniko"}));
    cmd->add_option("--builder-arg", flags->builder_args,
                    "Argument given to the builder before its command, e.g. --builder-arg=--storage-driver=vfs");
    cmd->add_option("--tag-length", flags->tag_length, "Digits of the commit SHA in the tag (default: minicd.yaml's, else 7)")
        ->check(CLI::Range(4, 40));
    cmd->add_flag("--allow-dirty", flags->allow_dirty, "In CI, push even with uncommitted changes (tagged <sha>-dirty)");
    cmd->add_option("--auth-file", flags->auth_file,
                    "Registry credentials for the builder, docker config.json format (default: the ones minicd finds, below)");
    cmd->add_option("--cert-dir", flags->cert_dir, "Directory of registry CA certificates (*.crt) for buildah and podman");
    add_registry_flags(*cmd, flags->registry);
    return Command{cmd, [flags] { return run_build(*flags); }};
}

}  // namespace minicd::cli
