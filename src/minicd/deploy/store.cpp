#include "minicd/deploy/store.hpp"

namespace minicd::deploy {

Store::Store(kube::Client& client, std::string namespace_, std::string app, std::string env)
    : m_client(client), m_namespace(std::move(namespace_)), m_app(std::move(app)), m_env(std::move(env)) {}

Result<std::vector<model::ObjectId>> Store::load_inventory() { return std::vector<model::ObjectId>{}; }
Result<void> Store::save_inventory(const std::vector<model::ObjectId>&) { return {}; }
Result<std::vector<Release>> Store::load_releases() { return std::vector<Release>{}; }
Result<Release> Store::record_release(Release release, int) { return release; }

model::Json to_json(const model::ObjectId&) { return nullptr; }
std::optional<model::ObjectId> object_id_from_json(const model::Json&) { return std::nullopt; }
model::Json to_json(const Release&) { return nullptr; }
std::optional<Release> release_from_json(const model::Json&) { return std::nullopt; }

}  // namespace minicd::deploy
