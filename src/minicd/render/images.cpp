#include "minicd/render/images.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <functional>
#include <optional>

#include "minicd/model/image_ref.hpp"

namespace minicd::render {

namespace {

using model::Json;
using util::ErrorCode;

// Called with each string found at a path and the concrete path ("spec.containers[0].image").
using Visit = std::function<Result<void>(Json& value, const std::string& path)>;

std::string join_path(const std::string& base, std::string_view field) {
    return base.empty() ? std::string(field) : base + "." + std::string(field);
}

// Walks the segments from `node`; missing fields and values of the wrong shape are skipped, since
// a path configured for a kind need not be filled in every object of it.
Result<void> walk(Json& node, const std::vector<ImagePath::Segment>& segments, std::size_t at, const std::string& path,
                  const Visit& visit) {
    if (at == segments.size()) {
        if (!node.is_string()) return {};
        return visit(node, path);
    }
    const auto& segment = segments[at];
    Json* next = &node;
    std::string next_path = path;
    if (!segment.field.empty()) {
        if (!node.is_object()) return {};
        auto it = node.find(segment.field);
        if (it == node.end()) return {};
        next = &*it;
        next_path = join_path(path, segment.field);
    }
    if (!segment.each) return walk(*next, segments, at + 1, next_path, visit);
    if (next->is_array()) {
        for (std::size_t i = 0; i < next->size(); ++i) {
            auto walked = walk((*next)[i], segments, at + 1, fmt::format("{}[{}]", next_path, i), visit);
            if (!walked) return walked;
        }
    } else if (next->is_object() && segment.field.empty()) {
        for (auto& [key, value] : next->items()) {
            auto walked = walk(value, segments, at + 1, join_path(next_path, key), visit);
            if (!walked) return walked;
        }
    }
    return {};
}

std::vector<ImagePath::Segment> fields(std::initializer_list<std::string_view> names) {
    std::vector<ImagePath::Segment> segments;
    for (auto name : names) segments.push_back({.field = std::string(name)});
    return segments;
}

// Where the pod spec sits in each built-in kind that has one; nullopt for other kinds.
std::optional<std::vector<ImagePath::Segment>> pod_spec_of(const model::ObjectId& id) {
    const std::string& g = id.group;
    const std::string& k = id.kind;
    if (g.empty() && k == "Pod") return fields({"spec"});
    if (g.empty() && k == "PodTemplate") return fields({"template", "spec"});
    if (g.empty() && k == "ReplicationController") return fields({"spec", "template", "spec"});
    if (g == "apps" && (k == "Deployment" || k == "StatefulSet" || k == "DaemonSet" || k == "ReplicaSet")) {
        return fields({"spec", "template", "spec"});
    }
    if (g == "batch" && k == "Job") return fields({"spec", "template", "spec"});
    if (g == "batch" && k == "CronJob") return fields({"spec", "jobTemplate", "spec", "template", "spec"});
    return std::nullopt;
}

// Every path to a container image in the object: its pod spec's containers, then custom paths.
std::vector<std::vector<ImagePath::Segment>> image_paths(const model::ObjectId& id, const std::vector<ImagePath>& custom) {
    std::vector<std::vector<ImagePath::Segment>> paths;
    if (auto pod_spec = pod_spec_of(id)) {
        for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
            auto path = *pod_spec;
            path.push_back({.field = list, .each = true});
            path.push_back({.field = "image"});
            paths.push_back(std::move(path));
        }
    }
    for (const auto& item : custom) {
        if (item.kind == id.kind && (item.group.empty() || item.group == id.group)) paths.push_back(item.segments);
    }
    return paths;
}

// The names an image reference answers to: as written without tag and digest, and normalised.
std::vector<std::string> names_of(std::string_view reference) {
    auto parsed = model::parse_image_ref(reference);
    if (!parsed) return {};
    std::string_view raw = reference.substr(0, reference.find('@'));
    auto slash = raw.rfind('/');
    auto colon = raw.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) raw = raw.substr(0, colon);
    std::vector<std::string> names = {std::string(raw)};
    if (parsed->name() != raw) names.push_back(parsed->name());
    return names;
}

bool shares_a_name(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    return std::any_of(a.begin(), a.end(), [&](const std::string& name) { return std::find(b.begin(), b.end(), name) != b.end(); });
}

struct Known {
    std::string name;  // as the pinning or the configuration gave it
    std::vector<std::string> names;
    const ImagePin* pin = nullptr;  // null when declared but not built
    bool used = false;
};

std::vector<Known> known_images(const ImagePinning& pinning) {
    std::vector<Known> known;
    for (const auto& pin : pinning.images) {
        auto names = names_of(pin.image_name);
        if (names.empty()) names.push_back(pin.image_name);
        for (auto& name : names_of(pin.reference)) names.push_back(std::move(name));
        known.push_back({.name = pin.image_name, .names = std::move(names), .pin = &pin});
    }
    for (const auto& declared : pinning.declared) {
        auto names = names_of(declared);
        if (names.empty()) names.push_back(declared);
        bool built = std::any_of(known.begin(), known.end(),
                                 [&](const Known& item) { return item.pin != nullptr && shares_a_name(item.names, names); });
        if (!built) known.push_back({.name = declared, .names = std::move(names)});
    }
    return known;
}

Result<ImagePath::Segment> parse_segment(std::string_view text, std::string_view whole) {
    if (text == "*") return ImagePath::Segment{.field = "", .each = true};
    ImagePath::Segment segment;
    if (text.ends_with("[]")) {
        segment.each = true;
        text.remove_suffix(2);
    }
    if (text.empty() || text.find_first_of("[]*: ") != std::string_view::npos) {
        return fail(ErrorCode::input, fmt::format("image path {:?}: {:?} is not a field name, \"name[]\" or \"*\"",
                                                  std::string(whole), std::string(text)));
    }
    segment.field = text;
    return segment;
}

}  // namespace

Result<ImagePath> parse_image_path(std::string_view text) {
    const std::string whole(text);
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
        return fail(ErrorCode::input, fmt::format("image path {:?} must be <Kind>[.<group>]:<path>", whole));
    }
    ImagePath path{.text = whole};
    std::string_view kind = text.substr(0, colon);
    auto dot = kind.find('.');
    path.kind = kind.substr(0, dot);
    if (dot != std::string_view::npos) path.group = kind.substr(dot + 1);
    if (path.kind.empty() || (dot != std::string_view::npos && path.group.empty())) {
        return fail(ErrorCode::input, fmt::format("image path {:?}: {:?} is not <Kind>[.<group>]", whole, std::string(kind)));
    }
    std::string_view rest = text.substr(colon + 1);
    while (true) {
        auto end = rest.find('.');
        auto segment = parse_segment(rest.substr(0, end), text);
        if (!segment) return fail(segment.error());
        path.segments.push_back(std::move(*segment));
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
    }
    return path;
}

Result<PinResult> pin_images(std::vector<source::Manifest>& manifests, const ImagePinning& pinning) {
    std::vector<Known> known = known_images(pinning);
    PinResult result;
    for (auto& manifest : manifests) {
        const model::ObjectId id = manifest.object.id();
        const std::string origin = fmt::format("{}:{}", manifest.file, manifest.line);
        Visit visit = [&](Json& value, const std::string& path) -> Result<void> {
            const std::string current = value.get<std::string>();
            auto names = names_of(current);
            auto match = std::find_if(known.begin(), known.end(),
                                      [&](const Known& item) { return shares_a_name(item.names, names); });
            if (match == known.end()) return {};
            match->used = true;
            if (match->pin == nullptr) {
                return fail(ErrorCode::input,
                            fmt::format("{} {}: image {:?} is declared as built by minicd, but no build of {:?} is "
                                        "in the build artifacts",
                                        id.describe(), path, current, match->name),
                            origin);
            }
            const std::string pinned = match->pin->reference + "@" + match->pin->digest;
            if (current != pinned) {
                result.replacements.push_back({.object = id, .path = path, .from = current, .to = pinned});
                value = pinned;
            }
            return {};
        };
        for (const auto& segments : image_paths(id, pinning.custom_paths)) {
            if (auto walked = walk(manifest.object.body(), segments, 0, "", visit); !walked) return fail(walked.error());
        }
    }
    for (const auto& item : known) {
        if (!item.used) result.warnings.push_back(fmt::format("image {:?} is used by no manifest", item.name));
    }
    return result;
}

}  // namespace minicd::render

namespace minicd::render {

std::map<std::string, std::string> digest_pinned_images(const std::vector<source::Manifest>& manifests,
                                                        const std::vector<ImagePath>& custom_paths) {
    std::map<std::string, std::string> found;
    for (const auto& manifest : manifests) {
        const model::ObjectId id = manifest.object.id();
        const auto paths = image_paths(id, custom_paths);
        if (paths.empty()) continue;
        Json body = manifest.object.body();  // walk() visits mutable values; this copy is only read
        const Visit visit = [&](Json& value, const std::string&) -> Result<void> {
            const std::string reference = value.get<std::string>();
            const auto names = names_of(reference);
            if (!names.empty() && reference.find('@') != std::string::npos) found.emplace(names.front(), reference);
            return {};
        };
        for (const auto& path : paths) (void)walk(body, path, 0, "", visit);
    }
    return found;
}

}  // namespace minicd::render
