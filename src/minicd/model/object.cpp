#include "minicd/model/object.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "minicd/model/json_read.hpp"

namespace minicd::model {

std::string ObjectId::api_version() const { return group.empty() ? version : group + "/" + version; }

std::string ObjectId::describe() const {
    std::string text = short_kind(kind) + "/" + name + " (" + api_version() + " " + kind + ")";
    if (!namespace_.empty()) text += " in ns " + namespace_;
    return text;
}

std::string Object::api_version() const { return string_at(m_body, {"apiVersion"}); }
std::string Object::kind() const { return string_at(m_body, {"kind"}); }
std::string Object::name() const { return string_at(m_body, {"metadata", "name"}); }
std::string Object::namespace_() const { return string_at(m_body, {"metadata", "namespace"}); }

ObjectId Object::id() const {
    ObjectId id;
    std::string api = api_version();
    auto slash = api.find('/');
    if (slash == std::string::npos) {
        id.version = api;
    } else {
        id.group = api.substr(0, slash);
        id.version = api.substr(slash + 1);
    }
    id.kind = kind();
    id.namespace_ = namespace_();
    id.name = name();
    return id;
}

std::string short_kind(std::string_view kind) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> k_short{{
        {"ConfigMap", "cm"},
        {"CronJob", "cj"},
        {"CustomResourceDefinition", "crd"},
        {"DaemonSet", "ds"},
        {"Deployment", "deploy"},
        {"HorizontalPodAutoscaler", "hpa"},
        {"Ingress", "ing"},
        {"Namespace", "ns"},
        {"PersistentVolumeClaim", "pvc"},
        {"ReplicaSet", "rs"},
        {"Service", "svc"},
        {"ServiceAccount", "sa"},
    }};
    for (const auto& [full, abbreviation] : k_short) {
        if (full == kind) return std::string(abbreviation);
    }
    std::string lower(kind);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

}  // namespace minicd::model
