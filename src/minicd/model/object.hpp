#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace minicd::model {

using Json = nlohmann::json;

// What names one Kubernetes object: group/version/kind plus namespace and name.
struct ObjectId {
    std::string group;      // "" for the core group
    std::string version;    // "v1"
    std::string kind;       // "Deployment"
    std::string namespace_; // "" for cluster-scoped objects (or not yet set)
    std::string name;

    std::string api_version() const;  // "apps/v1", or "v1" for the core group
    // "deploy/web (apps/v1 Deployment) in ns shop": how errors and reports name an object.
    std::string describe() const;

    friend bool operator==(const ObjectId&, const ObjectId&) = default;
    friend auto operator<=>(const ObjectId&, const ObjectId&) = default;
};

// One Kubernetes object as JSON, exactly as the manifest or the API server gave it.
class Object {
public:
    Object() = default;
    explicit Object(Json body) : m_body(std::move(body)) {}

    const Json& body() const { return m_body; }
    Json& body() { return m_body; }

    // Empty strings when a field is missing or not a string.
    std::string api_version() const;
    std::string kind() const;
    std::string name() const;
    std::string namespace_() const;
    ObjectId id() const;

private:
    Json m_body;
};

// Short resource names kubectl users know ("deploy", "svc"); the lowercase kind for the rest.
std::string short_kind(std::string_view kind);

}  // namespace minicd::model
