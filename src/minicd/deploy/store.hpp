#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "minicd/kube/client.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/result.hpp"

namespace minicd::deploy {

// One deploy of one (app, environment), as recorded after it finished.
struct Release {
    int revision = 0;                          // 1, 2, ...; assigned by record_release
    std::string time;                          // RFC 3339, UTC
    std::string git_sha;                       // "" when unknown
    std::map<std::string, std::string> images;  // image name -> pinned reference (name@sha256:...)
    std::string manifest_digest;               // sha256 of the applied objects, canonical JSON
    std::string outcome;                       // "succeeded" | "failed"
    std::string message;                       // why it failed, or a short summary
};

// What minicd applied for one (app, environment), kept in the target namespace so prune knows
// what it owns. Stored in ConfigMaps named "minicd-<app>-<env>-inventory" and
// "minicd-<app>-<env>-releases", labelled app.kubernetes.io/managed-by=minicd and
// minicd.io/app, minicd.io/env, minicd.io/role (inventory | releases). Well under 1 MiB.
class Store {
public:
    Store(kube::Client& client, std::string namespace_, std::string app, std::string env);

    // The recorded object set; empty (not an error) when none was ever written.
    Result<std::vector<model::ObjectId>> load_inventory();
    // Replaces the recorded set (create or update).
    Result<void> save_inventory(const std::vector<model::ObjectId>& objects);

    // Newest first.
    Result<std::vector<Release>> load_releases();
    // Appends the release with the next revision number, keeping the newest `keep`; returns it as stored.
    Result<Release> record_release(Release release, int keep = 10);

private:
    kube::Client& m_client;
    std::string m_namespace;
    std::string m_app;
    std::string m_env;
};

// Serialization used by the store (exposed for unit tests).
model::Json to_json(const model::ObjectId& id);
std::optional<model::ObjectId> object_id_from_json(const model::Json& json);
model::Json to_json(const Release& release);
std::optional<Release> release_from_json(const model::Json& json);

}  // namespace minicd::deploy
