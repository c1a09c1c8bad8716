#include "minicd/canary/workloads.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>

#include "minicd/model/json_read.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::canary {

using model::Json;

namespace {

// Where a pod template names a ConfigMap or Secret: the object holding the name, and its key.
enum class RefKind { config_map, secret };
using RefVisitor = std::function<void(RefKind kind, Json& holder, const char* key)>;

// Calls `visit` for every reference to a ConfigMap or Secret in the pod template, so one walk
// serves both reading the names and renaming them.
void visit_refs(Json& pod_template, const RefVisitor& visit) {
    auto at = [](Json& parent, const char* key) -> Json* {
        if (!parent.is_object()) return nullptr;
        auto found = parent.find(key);
        return found == parent.end() ? nullptr : &*found;
    };
    Json* spec = at(pod_template, "spec");
    if (spec == nullptr) return;
    auto with_name = [&](Json* holder, RefKind kind, const char* key) {
        if (holder != nullptr && holder->is_object()) visit(kind, *holder, key);
    };
    if (Json* volumes = at(*spec, "volumes"); volumes != nullptr && volumes->is_array()) {
        for (auto& volume : *volumes) {
            with_name(at(volume, "configMap"), RefKind::config_map, "name");
            with_name(at(volume, "secret"), RefKind::secret, "secretName");
            Json* projected = at(volume, "projected");
            Json* sources = projected != nullptr ? at(*projected, "sources") : nullptr;
            if (sources == nullptr || !sources->is_array()) continue;
            for (auto& source : *sources) {
                with_name(at(source, "configMap"), RefKind::config_map, "name");
                with_name(at(source, "secret"), RefKind::secret, "name");
            }
        }
    }
    for (const char* list : {"initContainers", "containers"}) {
        Json* containers = at(*spec, list);
        if (containers == nullptr || !containers->is_array()) continue;
        for (auto& container : *containers) {
            if (Json* env = at(container, "env"); env != nullptr && env->is_array()) {
                for (auto& variable : *env) {
                    Json* from = at(variable, "valueFrom");
                    if (from == nullptr) continue;
                    with_name(at(*from, "configMapKeyRef"), RefKind::config_map, "name");
                    with_name(at(*from, "secretKeyRef"), RefKind::secret, "name");
                }
            }
            if (Json* env_from = at(container, "envFrom"); env_from != nullptr && env_from->is_array()) {
                for (auto& source : *env_from) {
                    with_name(at(source, "configMapRef"), RefKind::config_map, "name");
                    with_name(at(source, "secretRef"), RefKind::secret, "name");
                }
            }
        }
    }
}

Json& labels_of(Json& object) {
    Json& metadata = object["metadata"];
    if (!metadata.contains("labels") || !metadata["labels"].is_object()) metadata["labels"] = Json::object();
    return metadata["labels"];
}

// Canary marks on a copy of one of the release's objects: the track label and the original's
// name; what steers the original (its desired hash, pruning) does not apply to the copy.
void mark_as_canary(Json& object, const std::string& original) {
    labels_of(object)[std::string(k_track_label)] = k_track_canary;
    Json& metadata = object["metadata"];
    if (!metadata.contains("annotations") || !metadata["annotations"].is_object()) metadata["annotations"] = Json::object();
    Json& annotations = metadata["annotations"];
    annotations.erase(std::string(render::k_hash_annotation));
    annotations.erase(std::string(render::k_prune_annotation));
    annotations.erase(std::string(render::k_recreate_annotation));
    annotations[std::string(k_canary_of_annotation)] = original;
    metadata.erase("resourceVersion");
    metadata.erase("uid");
    metadata.erase("creationTimestamp");
    metadata.erase("managedFields");
    metadata.erase("generation");
}

std::string name_of(const Json& object) {
    if (!object.is_object() || !object.contains("metadata")) return {};
    const Json& metadata = object["metadata"];
    auto name = metadata.find("name");
    return name != metadata.end() && name->is_string() ? name->get<std::string>() : std::string();
}

}  // namespace

std::string canary_name(std::string_view workload) { return std::string(workload) + "-canary"; }

ConfigRefs config_refs(const Json& pod_template) {
    ConfigRefs refs;
    Json copy = pod_template;
    visit_refs(copy, [&](RefKind kind, Json& holder, const char* key) {
        auto name = holder.find(key);
        if (name == holder.end() || !name->is_string()) return;
        (kind == RefKind::config_map ? refs.config_maps : refs.secrets).insert(name->get<std::string>());
    });
    return refs;
}

Json config_copy(const Json& config) {
    // What the pods read: equal content gives the same name, so a resumed canary finds its copy.
    Json content = Json::object();
    for (const char* key : {"data", "binaryData", "stringData", "type"}) {
        if (config.contains(key)) content[key] = config[key];
    }
    const std::string original = name_of(config);
    Json copy = config;
    mark_as_canary(copy, original);
    copy["metadata"]["name"] = original + "-canary-" + util::sha256_hex(content.dump()).substr(0, 10);
    return copy;
}

Json canary_deployment(const CanaryInput& input) {
    const std::string original = name_of(input.deployment);
    Json canary = input.deployment;
    mark_as_canary(canary, original);
    canary["metadata"]["name"] = canary_name(original);
    canary.erase("status");
    Json& spec = canary["spec"];
    spec["replicas"] = input.replicas;
    // Its own pods only: the track label tells them from the stable's, which lack it.
    Json& selector = spec["selector"];
    if (!selector.contains("matchLabels") || !selector["matchLabels"].is_object()) selector["matchLabels"] = Json::object();
    selector["matchLabels"][std::string(k_track_label)] = k_track_canary;
    Json& pod_template = spec["template"];
    labels_of(pod_template)[std::string(k_track_label)] = k_track_canary;
    visit_refs(pod_template, [&](RefKind kind, Json& holder, const char* key) {
        auto name = holder.find(key);
        if (name == holder.end() || !name->is_string()) return;
        const auto& copies = kind == RefKind::config_map ? input.config_map_copies : input.secret_copies;
        if (auto copy = copies.find(name->get<std::string>()); copy != copies.end()) *name = copy->second;
    });
    return canary;
}

bool template_changed(const Json& live, const Json& planned) {
    auto pod_template = [](const Json& deployment) -> Json {
        if (!deployment.is_object() || !deployment.contains("spec") || !deployment["spec"].is_object()) return nullptr;
        const Json& spec = deployment["spec"];
        return spec.contains("template") ? spec["template"] : Json(nullptr);
    };
    return pod_template(live) != pod_template(planned);
}

std::string state_text(const CanaryState& state) {
    return Json{{"release", state.release}, {"step", state.step}, {"steps", state.steps}, {"weight", state.weight}}.dump();
}

std::optional<CanaryState> parse_state(std::string_view text) {
    const Json json = model::parse_json(text);
    if (!json.is_object()) return std::nullopt;
    auto number = [&](const char* key) -> std::optional<int> {
        auto found = json.find(key);
        if (found == json.end() || !found->is_number_integer()) return std::nullopt;
        const auto value = found->get<std::int64_t>();
        if (value < 0 || value > 1'000'000) return std::nullopt;
        return static_cast<int>(value);
    };
    auto release = number("release");
    auto step = number("step");
    auto steps = number("steps");
    auto weight = number("weight");
    if (!release || !step || !steps || !weight || *release < 1 || *step >= *steps) return std::nullopt;
    return CanaryState{.release = *release, .step = *step, .steps = *steps, .weight = *weight};
}

int replicas_of(const Json& deployment) {
    if (!deployment.is_object() || !deployment.contains("spec") || !deployment["spec"].is_object()) return 1;
    const Json& spec = deployment["spec"];
    auto replicas = spec.find("replicas");
    if (replicas == spec.end() || !replicas->is_number_integer()) return 1;
    return static_cast<int>(std::max<std::int64_t>(0, std::min<std::int64_t>(replicas->get<std::int64_t>(), 100'000)));
}

}  // namespace minicd::canary
