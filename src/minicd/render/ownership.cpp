#include "minicd/render/ownership.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "minicd/model/json_read.hpp"
#include "minicd/render/phase.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::render {

using util::ErrorCode;

namespace {

// RFC 1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric, at most 63.
bool is_dns_label(std::string_view text) {
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (text.empty() || text.size() > 63 || !alnum(text.front()) || !alnum(text.back())) return false;
    return std::all_of(text.begin(), text.end(), [&](char c) { return alnum(c) || c == '-'; });
}

void set_string(model::Json& object, const char* section, std::string_view key, std::string_view value) {
    model::Json& map = object["metadata"][section];
    if (!map.is_object()) map = model::Json::object();
    map[std::string(key)] = std::string(value);
}

}  // namespace

std::string Target::label_selector() const {
    return fmt::format("{}={},{}={}", k_app_label, app, k_env_label, env);
}

Result<void> validate_target(const Target& target) {
    if (!is_dns_label(target.app)) {
        return fail(ErrorCode::input, fmt::format("app \"{}\" must be a DNS label (lowercase letters, digits, '-', at most 63)", target.app));
    }
    if (!is_dns_label(target.env)) {
        return fail(ErrorCode::input, fmt::format("environment \"{}\" must be a DNS label (lowercase letters, digits, '-', at most 63)", target.env));
    }
    if (!is_dns_label(target.namespace_)) {
        return fail(ErrorCode::input, fmt::format("namespace \"{}\" is not a valid namespace name", target.namespace_));
    }
    return {};
}

std::string desired_hash(const model::Json& object) {
    model::Json copy = object;
    auto annotations = copy.find("metadata");
    if (annotations != copy.end() && annotations->contains("annotations")) {
        (*annotations)["annotations"].erase(std::string(k_hash_annotation));
    }
    // nlohmann::json keeps object keys sorted, so dump() is canonical.
    return util::sha256_hex(copy.dump());
}

Result<std::vector<Desired>> prepare(const std::vector<source::Manifest>& manifests, const Target& target,
                                     const ScopeLookup& namespaced) {
    std::vector<Desired> result;
    result.reserve(manifests.size());
    std::map<model::ObjectId, std::string> seen;
    for (const auto& manifest : manifests) {
        const std::string origin = fmt::format("{}:{}", manifest.file, manifest.line);
        model::Json body = manifest.object.body();
        model::ObjectId id = manifest.object.id();
        auto scoped = namespaced(id);
        if (!scoped) return fail(util::make_error(scoped.error().code, scoped.error().message, origin));

        if (*scoped) {
            const std::string given = id.namespace_;
            if (!given.empty() && given != target.namespace_ && !target.allow_other_namespaces) {
                return fail(ErrorCode::input,
                            fmt::format("{} names namespace \"{}\" but the target namespace is \"{}\" "
                                        "(remove metadata.namespace, or allow other namespaces)",
                                        id.describe(), given, target.namespace_),
                            origin);
            }
            if (given.empty()) body["metadata"]["namespace"] = target.namespace_;
        } else if (body["metadata"].contains("namespace")) {
            // Cluster-scoped objects have no namespace; kubectl ignores it too.
            body["metadata"].erase("namespace");
        }
        id = model::Object(body).id();

        if (const model::Json* labels = model::object_at(body, {"metadata", "labels"});
            labels != nullptr && labels->contains(std::string(k_track_label))) {
            return fail(ErrorCode::input,
                        fmt::format("{} sets the label {}, which minicd keeps for the canary objects it makes and "
                                    "removes when a canary ends; remove it from the manifest",
                                    id.describe(), k_track_label),
                        origin);
        }
        auto phase = phase_of(body);
        if (!phase) return fail(util::make_error(phase.error().code, id.describe() + ": " + phase.error().message, origin));

        if (auto [it, inserted] = seen.emplace(id, origin); !inserted) {
            return fail(ErrorCode::input, fmt::format("{} is declared twice (first at {})", id.describe(), it->second), origin);
        }

        set_string(body, "labels", k_managed_by_label, k_managed_by_value);
        set_string(body, "labels", k_app_label, target.app);
        set_string(body, "labels", k_env_label, target.env);
        set_string(body, "annotations", k_owner_annotation, target.owner());
        // The server must never see fields it would reject in an apply body.
        body["metadata"].erase("managedFields");
        body["metadata"].erase("resourceVersion");
        body["metadata"].erase("uid");
        body["metadata"].erase("creationTimestamp");
        body.erase("status");
        set_string(body, "annotations", k_hash_annotation, desired_hash(body));

        result.push_back(Desired{model::Object(std::move(body)), id, origin, *scoped, *phase});
    }
    return result;
}

}  // namespace minicd::render
