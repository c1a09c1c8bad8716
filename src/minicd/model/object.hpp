#pragma once

#include <nlohmann/json.hpp>

#include <compare>
#include <string>
#include <string_view>
#include <tuple>

namespace minicd::model {

using Json = nlohmann::json;

// What names one Kubernetes object: group, kind, namespace and name. The version is carried along
// as the representation we speak to the object in, never as part of who it is: the same Gadget
// read as v1beta1 and as v1 is one object, so ==, < and hashing ignore `version`.
struct ObjectId {
    std::string group;      // "" for the core group
    std::string version;    // "v1": how we read and write it; not identity
    std::string kind;       // "Deployment"
    std::string namespace_; // "" for cluster-scoped objects (or not yet set)
    std::string name;

    std::string api_version() const;  // "apps/v1", or "v1" for the core group
    // "deploy/web (apps/v1 Deployment) in ns shop": how errors and reports name an object.
    std::string describe() const;

    friend bool operator==(const ObjectId& a, const ObjectId& b) { return a.key() == b.key(); }
    friend std::strong_ordering operator<=>(const ObjectId& a, const ObjectId& b) { return a.key() <=> b.key(); }

private:
    using Key = std::tuple<const std::string&, const std::string&, const std::string&, const std::string&>;
    Key key() const { return std::tie(group, kind, namespace_, name); }
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
