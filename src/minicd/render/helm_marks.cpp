#include "minicd/render/helm_marks.hpp"

#include <algorithm>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "minicd/model/json_read.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/text.hpp"

namespace minicd::render {

namespace {

using util::ErrorCode;

struct HookEvents {
    std::vector<std::string> events;  // as written, trimmed
    bool pre = false;                 // pre-install or pre-upgrade among them
    bool post = false;                // post-install or post-upgrade among them
};

// The events of a `helm.sh/hook` value ("pre-install,pre-upgrade"); nullopt without the annotation.
std::optional<HookEvents> hook_events(const model::Json& object) {
    const model::Json* annotations = model::object_at(object, {"metadata", "annotations"});
    if (annotations == nullptr) return std::nullopt;
    const auto found = annotations->find(std::string(k_helm_hook_annotation));
    if (found == annotations->end() || !found->is_string()) return std::nullopt;
    HookEvents hook;
    std::string_view rest = found->get_ref<const std::string&>();
    while (true) {
        const std::size_t comma = rest.find(',');
        std::string event = util::trim(rest.substr(0, comma));
        if (!event.empty()) {
            hook.pre = hook.pre || event == "pre-install" || event == "pre-upgrade";
            hook.post = hook.post || event == "post-install" || event == "post-upgrade";
            hook.events.push_back(std::move(event));
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return hook;
}

bool is_deploy_event(std::string_view event) {
    return event == "pre-install" || event == "pre-upgrade" || event == "post-install" || event == "post-upgrade";
}

// The phase a hook runs in; an error when minicd cannot honour what it asks.
Result<std::string_view> hook_phase(const HookEvents& hook) {
    const auto other = std::find_if_not(hook.events.begin(), hook.events.end(), is_deploy_event);
    if (other != hook.events.end()) {
        return fail(ErrorCode::input,
                    fmt::format("{}: {}: minicd runs the hooks of a deploy only (pre-install, pre-upgrade, "
                                "post-install, post-upgrade); remove \"{}\" from the hook",
                                k_helm_hook_annotation, *other, *other));
    }
    if (hook.pre && hook.post) {
        return fail(ErrorCode::input, fmt::format("{}: a hook runs either before the release (pre-*) or after it "
                                                  "is healthy (post-*), not both",
                                                  k_helm_hook_annotation));
    }
    if (!hook.pre && !hook.post) {
        return fail(ErrorCode::input, fmt::format("{}: names no event", k_helm_hook_annotation));
    }
    return hook.pre ? std::string_view("pre") : std::string_view("post");
}

Result<void> translate(model::Json& body) {
    model::Json& annotations = body["metadata"]["annotations"];
    if (const auto hook = hook_events(body)) {
        auto phase = hook_phase(*hook);
        if (!phase) return fail(phase.error());
        const auto written = annotations.find(std::string(k_phase_annotation));
        if (written != annotations.end() && *written != *phase) {
            return fail(ErrorCode::input, fmt::format("{} {} says the {} phase, {} says {}", k_helm_hook_annotation,
                                                      fmt::join(hook->events, ","), *phase, k_phase_annotation,
                                                      written->dump()));
        }
        annotations[std::string(k_phase_annotation)] = std::string(*phase);
    }
    const auto policy = annotations.find(std::string(k_helm_resource_policy_annotation));
    if (policy != annotations.end() && policy->is_string() && util::trim(policy->get_ref<const std::string&>()) == "keep") {
        annotations[std::string(k_prune_annotation)] = "disabled";
    }
    if (annotations.empty()) body["metadata"].erase("annotations");
    return {};
}

}  // namespace

Result<void> translate_helm_marks(std::vector<source::Manifest>& manifests) {
    for (auto& manifest : manifests) {
        model::Json& body = manifest.object.body();
        if (!body.contains("metadata") || !body["metadata"].is_object()) continue;
        if (body["metadata"].contains("annotations") && !body["metadata"]["annotations"].is_object()) continue;
        if (auto translated = translate(body); !translated) {
            return fail(util::make_error(translated.error().code,
                                         fmt::format("{} {}: {}", manifest.object.kind(), manifest.object.name(),
                                                     translated.error().message),
                                         fmt::format("{}:{}", manifest.file, manifest.line)));
        }
    }
    return {};
}

bool runs_on(const model::Json& object, DeployEvent event) {
    const auto hook = hook_events(object);
    if (!hook) return true;
    const std::string_view name = event == DeployEvent::install ? "install" : "upgrade";
    return std::any_of(hook->events.begin(), hook->events.end(), [&](const std::string& written) {
        return written == fmt::format("pre-{}", name) || written == fmt::format("post-{}", name);
    });
}

}  // namespace minicd::render
