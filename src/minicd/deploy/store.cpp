#include "minicd/deploy/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <limits>
#include <random>
#include <thread>
#include <utility>

#include "minicd/kube/verbs.hpp"
#include "minicd/model/json_read.hpp"
#include "minicd/util/compress.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/render/ownership.hpp"
#include "minicd/util/log.hpp"

namespace minicd::deploy {

using model::Json;
using model::member;
using util::ErrorCode;

namespace {

constexpr std::string_view k_role_label = "minicd.io/role";
constexpr std::string_view k_inventory_role = "inventory";
constexpr std::string_view k_releases_role = "releases";
constexpr std::string_view k_inventory_key = "objects";
constexpr std::string_view k_releases_key = "releases";
constexpr std::string_view k_payload_role = "release-payload";
constexpr std::string_view k_payload_type = "minicd.io/release-payload";
constexpr std::string_view k_payload_key = "objects.json.gz";
constexpr std::string_view k_revision_label = "minicd.io/revision";
constexpr std::string_view k_payload_digest_annotation = "minicd.io/payload-sha256";
constexpr std::string_view k_chunk_annotation = "minicd.io/chunk";
constexpr std::string_view k_salt_role = "digest-salt";
constexpr std::string_view k_salt_type = "minicd.io/digest-salt";
constexpr std::string_view k_salt_key = "salt";
// Random bytes of a new salt; a salt read back must have at least k_min_salt_bytes.
constexpr std::size_t k_salt_bytes = 32;
constexpr std::size_t k_min_salt_bytes = 16;
// How manifest digests begin: keyed with the salt now, a plain hash in records written before.
constexpr std::string_view k_keyed_digest_prefix = "hmac-sha256:";
constexpr std::string_view k_plain_digest_prefix = "sha256:";
// Compressed bytes per Secret: base64 makes 640 KiB about 854 KiB, under the ~900 KiB we allow.
constexpr std::size_t k_payload_chunk_bytes = 640 * 1024;
// What a payload may expand to when read back: far above 1000 large objects, far below harm.
constexpr std::size_t k_max_payload_bytes = 512ULL * 1024 * 1024;
constexpr int k_max_payload_chunks = 1000;
// The API server refuses objects over 1 MiB; the rest of the budget is metadata and managedFields.
constexpr std::size_t k_max_data_bytes = 900 * 1024;
// Re-reads after a 409 before giving up; a writer only loses a round when another one won it.
constexpr int k_conflict_retries = 5;
constexpr std::size_t k_max_subdomain_length = 253;

std::string now_rfc3339() {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

// A short random pause after a conflict, so writers that collided do not collide again in lockstep.
void pause_after_conflict(int attempt) {
    thread_local std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<int> milliseconds(10, 30 * (attempt + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds(random)));
}

std::string annotation(const Json& object, std::string_view key) {
    return model::string_at(object, {"metadata", "annotations", key});
}

// Copies an optional string member into `out`; false when it is present but not a string.
bool read_string(const Json& object, std::string_view key, std::string& out) {
    const Json* value = member(object, key);
    if (value == nullptr) return true;
    if (!value->is_string()) return false;
    out = value->get<std::string>();
    return true;
}

std::optional<int> positive_int(const Json& value) {
    constexpr auto k_max = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
    if (value.is_number_unsigned()) {
        auto number = value.get<std::uint64_t>();
        if (number >= 1 && number <= k_max) return static_cast<int>(number);
    } else if (value.is_number_integer()) {
        auto number = value.get<std::int64_t>();
        if (number >= 1 && static_cast<std::uint64_t>(number) <= k_max) return static_cast<int>(number);
    }
    return std::nullopt;
}

// Bytes the API server counts against the object for data and binaryData: keys plus values.
std::size_t data_bytes(const Json& config_map) {
    std::size_t total = 0;
    for (std::string_view field : {"data", "binaryData"}) {
        const Json* data = member(config_map, field);
        if (data == nullptr || !data->is_object()) continue;
        for (const auto& [key, value] : data->items()) {
            total += key.size() + (value.is_string() ? value.get_ref<const std::string&>().size() : value.dump().size());
        }
    }
    return total;
}

Result<void> check_size(const Json& config_map, const std::string& subject, std::string_view remedy) {
    std::size_t bytes = data_bytes(config_map);
    if (bytes <= k_max_data_bytes) return {};
    return fail(ErrorCode::input,
                fmt::format("refusing to write {} KiB of data, over the {} KiB minicd allows (the API server "
                            "rejects objects over 1 MiB); {}",
                            (bytes + 1023) / 1024, k_max_data_bytes / 1024, remedy),
                subject);
}

// The string stored under `key` in the ConfigMap's data; nullopt when missing or not a string.
std::optional<std::string> data_value(const Json& config_map, std::string_view key) {
    const Json* data = member(config_map, "data");
    const Json* value = data ? member(*data, key) : nullptr;
    if (value == nullptr || !value->is_string()) return std::nullopt;
    return value->get<std::string>();
}

Result<std::vector<Release>> releases_in(const Json& config_map, const std::string& subject) {
    auto text = data_value(config_map, k_releases_key);
    Result<std::vector<Release>> releases =
        fail(ErrorCode::api, fmt::format("there is no data key \"{}\"", k_releases_key));
    if (text) releases = parse_releases(*text);
    if (!releases) {
        return fail(ErrorCode::api,
                    fmt::format("the release history is unreadable: {}; repair it, or delete the ConfigMap to "
                                "start the history over",
                                releases.error().message),
                    subject);
    }
    return releases;
}

// Every part of an id goes into a request path: each must be what the API server itself allows
// there, so an edited inventory cannot steer a request anywhere else ("../..", "%2F", spaces).
bool is_valid_entry(const model::ObjectId& id) {
    auto kind_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    auto version_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    bool kind_ok = !id.kind.empty() && id.kind.size() <= k_max_subdomain_length &&
                   std::all_of(id.kind.begin(), id.kind.end(), kind_char);
    bool version_ok = !id.version.empty() && id.version.size() <= 63 &&
                      std::all_of(id.version.begin(), id.version.end(), version_char);
    bool group_ok = id.group.empty() || kube::is_dns_subdomain(id.group);
    bool namespace_ok = id.namespace_.empty() || kube::is_dns_label(id.namespace_);
    return kind_ok && version_ok && group_ok && namespace_ok && kube::is_valid_object_name(id.name);
}

}  // namespace

Store::Store(kube::Client& client, std::string namespace_, std::string app, std::string env)
    : m_client(client), m_namespace(std::move(namespace_)), m_app(std::move(app)), m_env(std::move(env)) {}

Result<std::string> Store::inventory_name() const { return config_map_name(k_inventory_role); }
Result<std::string> Store::releases_name() const { return config_map_name(k_releases_role); }

Result<std::string> Store::config_map_name(std::string_view role) const {
    // The namespace goes into request paths, so it must be a plain name too.
    if (!kube::is_dns_label(m_namespace)) {
        return fail(ErrorCode::input, fmt::format("\"{}\" is not a valid namespace name (RFC 1123 label)", m_namespace));
    }
    std::string name = fmt::format("minicd-{}-{}-{}", m_app, m_env, role);
    if (name.size() > k_max_subdomain_length) {
        return fail(ErrorCode::input,
                    fmt::format("the {} ConfigMap name would be {} characters long, over the {} Kubernetes allows; "
                                "shorten the app or environment name",
                                role, name.size(), k_max_subdomain_length),
                    owner());
    }
    if (!kube::is_dns_subdomain(name)) {
        return fail(ErrorCode::input,
                    fmt::format("\"{}\" is not a valid ConfigMap name (RFC 1123 subdomain); app and environment "
                                "must be lowercase DNS labels",
                                name),
                    owner());
    }
    return name;
}

std::string Store::config_map_path(std::string_view name) const {
    return fmt::format("/api/v1/namespaces/{}/configmaps/{}", m_namespace, name);
}

std::string Store::subject(std::string_view name) const { return fmt::format("configmap {}/{}", m_namespace, name); }

std::string Store::owner() const { return m_app + "/" + m_env; }

Json Store::new_config_map(const std::string& name, std::string_view role, Json data) const {
    Json labels = {{std::string(render::k_managed_by_label), std::string(render::k_managed_by_value)},
                   {std::string(render::k_app_label), m_app},
                   {std::string(render::k_env_label), m_env},
                   {std::string(k_role_label), std::string(role)}};
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata",
             {{"name", name},
              {"namespace", m_namespace},
              {"labels", std::move(labels)},
              {"annotations", {{std::string(render::k_owner_annotation), owner()}}}}},
            {"data", std::move(data)}};
}

Result<std::optional<Json>> Store::read(const std::string& name) {
    auto response = m_client.send({.path = config_map_path(name)});
    if (!response) return fail(response.error().context("reading " + subject(name)));
    if (response->status == 404) return std::optional<Json>{};
    if (!kube::ok(response->status)) return fail(kube::api_error(*response, subject(name)));
    auto config_map = model::parse_json(response->body);
    if (!config_map.is_object()) {
        return fail(ErrorCode::api, "the server answered with something that is not a JSON object", subject(name));
    }
    // Another (app, env) pair whose name joins to the same string owns it: neither may use the other's.
    std::string found = annotation(config_map, render::k_owner_annotation);
    if (found != owner()) {
        std::string whose = found.empty() ? fmt::format("it has no {} annotation", render::k_owner_annotation)
                                          : fmt::format("it belongs to \"{}\"", found);
        return fail(ErrorCode::input,
                    fmt::format("not minicd's record for \"{}\" ({}); minicd neither reads nor overwrites it. "
                                "If two app/environment pairs map to this name, rename one of them",
                                owner(), whose),
                    subject(name));
    }
    return std::optional<Json>(std::move(config_map));
}

Result<std::vector<model::ObjectId>> Store::load_inventory() {
    auto name = inventory_name();
    if (!name) return fail(name.error());
    auto config_map = read(*name);
    if (!config_map) return fail(config_map.error());
    if (!*config_map) return std::vector<model::ObjectId>{};

    auto text = data_value(**config_map, k_inventory_key);
    Result<std::vector<model::ObjectId>> objects =
        fail(ErrorCode::api, fmt::format("there is no data key \"{}\"", k_inventory_key));
    if (text) objects = parse_inventory(*text);
    if (!objects) {
        return fail(ErrorCode::api,
                    fmt::format("the inventory is unreadable: {}; minicd will not treat it as empty, because prune "
                                "would then forget which objects it owns. Repair it, or delete the ConfigMap once "
                                "you have checked what it listed",
                                objects.error().message),
                    subject(*name));
    }
    return objects;
}

Result<void> Store::save_inventory(const std::vector<model::ObjectId>& objects) {
    auto name = inventory_name();
    if (!name) return fail(name.error());
    // Server-side apply would overwrite anyone's ConfigMap of that name; read first to check the owner.
    auto existing = read(*name);
    if (!existing) return fail(existing.error());

    Json config_map = new_config_map(*name, k_inventory_role, {{std::string(k_inventory_key), inventory_text(objects)}});
    auto fits = check_size(config_map, subject(*name),
                           fmt::format("{} objects are too many for one inventory; split the app", objects.size()));
    if (!fits) return fail(fits.error());

    // Applying the same body twice gives the same result, so the client may replay it.
    auto response = kube::apply(m_client, config_map_path(*name), config_map, render::k_field_manager, kube::DryRun::no);
    if (!response) return fail(response.error().context("writing " + subject(*name)));
    if (!kube::ok(response->status)) return fail(kube::api_error(*response, subject(*name)));
    return {};
}

Result<std::optional<Json>> Store::releases_map(const std::string& name, Freshness freshness) {
    if (freshness == Freshness::as_seen && m_releases_seen) return *m_releases_seen;
    auto config_map = read(name);
    if (!config_map) return fail(config_map.error());
    m_releases_seen = *config_map;
    return config_map;
}

Result<std::vector<Release>> Store::history(Freshness freshness) {
    auto name = releases_name();
    if (!name) return fail(name.error());
    auto config_map = releases_map(*name, freshness);
    if (!config_map) return fail(config_map.error());
    if (!*config_map) return std::vector<Release>{};
    return releases_in(**config_map, subject(*name));
}

Result<std::vector<Release>> Store::load_releases() { return history(Freshness::from_server); }

Result<std::vector<Release>> Store::releases() { return history(Freshness::as_seen); }

Result<Release> Store::record_release(Release release, const RecordOptions& options) {
    if (options.keep < 1) {
        return fail(ErrorCode::input, fmt::format("releases to keep must be at least 1, not {}", options.keep), owner());
    }
    auto name = releases_name();
    if (!name) return fail(name.error());
    if (release.time.empty()) release.time = now_rfc3339();

    for (int attempt = 0;; ++attempt) {
        std::vector<int> kept_payloads;
        auto recorded = try_record(*name, release, options, kept_payloads);
        if (!recorded) return fail(recorded.error());
        if (*recorded) {
            if (!kept_payloads.empty()) delete_payloads_except(kept_payloads);
            return **recorded;
        }
        if (attempt == k_conflict_retries) {
            return fail(ErrorCode::api,
                        fmt::format("gave up recording the release after {} attempts: other writers kept changing "
                                    "the history at the same time",
                                    attempt + 1),
                        subject(*name));
        }
        util::log_debug("{}: written by someone else since we read it; reading it again", subject(*name));
        pause_after_conflict(attempt);
    }
}

Result<std::optional<Release>> Store::try_record(const std::string& name, Release release, const RecordOptions& options,
                                                 std::vector<int>& kept_payloads) {
    // What we saw last: the write below is refused if anyone changed it since.
    auto existing = releases_map(name, Freshness::as_seen);
    if (!existing) return fail(existing.error());
    std::vector<Release> history;
    if (*existing) {
        auto loaded = releases_in(**existing, subject(name));
        if (!loaded) return fail(loaded.error());
        history = std::move(*loaded);
    }

    int newest = 0;
    for (const auto& old : history) newest = std::max(newest, old.revision);
    if (options.mode == RecordMode::update) {
        // A canary's record, concluded: its place in the history stays.
        auto same = std::find_if(history.begin(), history.end(), [&](const Release& old) { return old.revision == release.revision; });
        if (same == history.end()) {
            return fail(ErrorCode::api, fmt::format("release {} is no longer in the history: it cannot be concluded", release.revision),
                        subject(name));
        }
        history.erase(same);
    } else if (release.revision == 0) {
        release.revision = newest + 1;
    } else if (release.revision <= newest) {
        // Its objects were stored under that revision: recording it under another would mismatch them.
        return fail(ErrorCode::api,
                    fmt::format("release {} was recorded by someone else meanwhile (the history is at {}); was the "
                                "deploy lock taken over?",
                                release.revision, newest),
                    subject(name));
    }
    // What runs now is the newest release that ran: an older "deployed" one no longer does.
    for (auto& old : history) {
        if (model::ran(release) && old.outcome == ReleaseOutcome::deployed && old.revision < release.revision) {
            old.outcome = ReleaseOutcome::superseded;
        }
        if (auto marked = options.mark.find(old.revision); marked != options.mark.end()) old.outcome = marked->second;
    }
    // Newest first, an updated record included.
    auto place = std::find_if(history.begin(), history.end(), [&](const Release& old) { return old.revision < release.revision; });
    history.insert(place, release);
    if (history.size() > static_cast<std::size_t>(options.keep)) {
        history.resize(static_cast<std::size_t>(options.keep));
        // The objects of every release kept stay, wherever they are stored.
        for (const auto& kept : history) kept_payloads.push_back(kept.stored_under());
    }
    std::string text = releases_text(history);

    // Create when missing; otherwise update what we read, so the server refuses (409) if anyone
    // wrote since, and labels or annotations others added survive.
    kube::Call call{.path = fmt::format("{}?fieldManager={}", config_map_path(name), render::k_field_manager),
                    .content_type = "application/json",
                    .replay = kube::Replay::unsafe};
    Json config_map;
    if (*existing) {
        config_map = std::move(**existing);
        config_map["metadata"].erase("managedFields");  // left out: the server keeps and updates them
        Json fresh = new_config_map(name, k_releases_role, Json::object());
        for (const auto& [key, value] : fresh["metadata"]["labels"].items()) config_map["metadata"]["labels"][key] = value;
        config_map["data"][std::string(k_releases_key)] = std::move(text);
        call.method = http::Method::put;
    } else {
        config_map = new_config_map(name, k_releases_role, {{std::string(k_releases_key), std::move(text)}});
        call.method = http::Method::post;
        call.path = fmt::format("/api/v1/namespaces/{}/configmaps?fieldManager={}", m_namespace, render::k_field_manager);
    }
    auto fits = check_size(config_map, subject(name),
                           fmt::format("keep fewer releases than {}, or record shorter messages", options.keep));
    if (!fits) return fail(fits.error());
    call.body = config_map.dump();

    // Until the server says what it has now, nothing we saw is current.
    m_releases_seen.reset();
    auto response = m_client.send(call);
    // Not replayed on a lost connection: whether it landed is unknown, and a blind retry could record it twice.
    if (!response) return fail(response.error().context("writing " + subject(name)));
    // Conflict on update (someone wrote since we read) or AlreadyExists on create (someone created it first).
    if (response->status == 409) return std::optional<Release>{};
    if (!kube::ok(response->status)) return fail(kube::api_error(*response, subject(name)));
    // The server answers with the ConfigMap as written: the next record starts from it.
    if (auto written = model::parse_json(response->body); written.is_object()) {
        m_releases_seen = std::optional<Json>(std::move(written));
    }
    return std::optional<Release>(std::move(release));
}

Result<std::string> Store::payload_name(int revision, int index) const {
    auto base = config_map_name("release");
    if (!base) return fail(base.error());
    std::string name = fmt::format("{}-{}-{}", *base, revision, index);
    if (!kube::is_dns_subdomain(name)) {
        return fail(ErrorCode::input, fmt::format("\"{}\" is not a valid Secret name; shorten the app or environment name", name),
                    owner());
    }
    return name;
}

Result<int> Store::save_payload(int revision, const std::vector<Json>& objects) {
    Json list = Json::array();
    for (const auto& object : objects) list.push_back(object);
    const std::string packed = util::gzip(list.dump());
    const std::string digest = util::sha256_hex(packed);
    const std::size_t count = std::max<std::size_t>(1, (packed.size() + k_payload_chunk_bytes - 1) / k_payload_chunk_bytes);
    if (count > static_cast<std::size_t>(k_max_payload_chunks)) {
        return fail(ErrorCode::input,
                    fmt::format("the release's objects take {} MiB compressed, more than minicd stores; split the app",
                                packed.size() >> 20),
                    owner());
    }
    for (std::size_t index = 0; index < count; ++index) {
        auto name = payload_name(revision, static_cast<int>(index));
        if (!name) return fail(name.error());
        Json secret = new_config_map(*name, k_payload_role, Json::object());
        secret["kind"] = "Secret";
        secret["type"] = std::string(k_payload_type);
        secret.erase("data");
        secret["metadata"]["labels"][std::string(k_revision_label)] = std::to_string(revision);
        secret["metadata"]["annotations"][std::string(k_payload_digest_annotation)] = digest;
        secret["metadata"]["annotations"][std::string(k_chunk_annotation)] = fmt::format("{}/{}", index + 1, count);
        const std::string_view chunk = std::string_view(packed).substr(index * k_payload_chunk_bytes, k_payload_chunk_bytes);
        secret["data"] = {{std::string(k_payload_key), util::base64_encode(chunk)}};
        if (auto written = write_payload_chunk(*name, std::move(secret)); !written) return fail(written.error());
    }
    return static_cast<int>(count);
}

Result<void> Store::write_payload_chunk(const std::string& name, Json secret) {
    const std::string path = fmt::format("/api/v1/namespaces/{}/secrets/{}", m_namespace, name);
    const std::string what = fmt::format("secret {}/{}", m_namespace, name);
    auto created = m_client.send({.method = http::Method::post,
                                  .path = fmt::format("/api/v1/namespaces/{}/secrets?fieldManager={}", m_namespace,
                                                      render::k_field_manager),
                                  .body = secret.dump(),
                                  .content_type = "application/json"});
    if (!created) return fail(created.error().context("writing " + what));
    if (kube::ok(created->status)) return {};
    if (created->status != 409) return fail(kube::api_error(*created, what));

    // Left by a deploy that stopped before recording this revision, or someone else's: only ours is replaced.
    auto existing = kube::get(m_client, path, kube::View::metadata);
    if (!existing) return fail(existing.error().context("reading " + what));
    if (!kube::ok(existing->status)) return fail(kube::api_error(*existing, what));
    auto live = model::parse_json(existing->body);
    const std::string found = annotation(live, render::k_owner_annotation);
    if (found != owner()) {
        return fail(ErrorCode::input,
                    fmt::format("a Secret of this name exists and is not minicd's for \"{}\"; minicd does not "
                                "overwrite it",
                                owner()),
                    what);
    }
    const Json* metadata = member(live, "metadata");
    const Json* version = metadata ? member(*metadata, "resourceVersion") : nullptr;
    if (version && version->is_string()) secret["metadata"]["resourceVersion"] = *version;
    auto replaced = m_client.send({.method = http::Method::put,
                                   .path = fmt::format("{}?fieldManager={}", path, render::k_field_manager),
                                   .body = secret.dump(),
                                   .content_type = "application/json"});
    if (!replaced) return fail(replaced.error().context("writing " + what));
    if (!kube::ok(replaced->status)) return fail(kube::api_error(*replaced, what));
    return {};
}

Result<std::vector<Json>> Store::load_payload(const Release& release) {
    if (release.payload_chunks < 1) {
        return fail(ErrorCode::input,
                    fmt::format("release {} has no stored objects (it stopped before writing, or was recorded by a "
                                "minicd that did not store them)",
                                release.revision),
                    owner());
    }
    if (release.payload_chunks > k_max_payload_chunks) {
        return fail(ErrorCode::api, fmt::format("release {} claims {} payload Secrets", release.revision, release.payload_chunks),
                    owner());
    }
    std::string packed;
    std::string digest;
    const int stored_under = release.stored_under();
    for (int index = 0; index < release.payload_chunks; ++index) {
        auto name = payload_name(stored_under, index);
        if (!name) return fail(name.error());
        const std::string what = fmt::format("secret {}/{}", m_namespace, *name);
        auto response = kube::get(m_client, fmt::format("/api/v1/namespaces/{}/secrets/{}", m_namespace, *name));
        if (!response) return fail(response.error().context("reading " + what));
        if (response->status == 404) {
            return fail(ErrorCode::api, fmt::format("the objects of release {} are gone (Secret missing)", release.revision),
                        what);
        }
        if (!kube::ok(response->status)) return fail(kube::api_error(*response, what));
        auto secret = model::parse_json(response->body);
        const std::string found = annotation(secret, render::k_owner_annotation);
        const std::string chunk_digest = annotation(secret, k_payload_digest_annotation);
        if (found != owner() || chunk_digest.empty() || (index > 0 && chunk_digest != digest)) {
            return fail(ErrorCode::api, fmt::format("not a payload Secret of \"{}\" release {}", owner(), stored_under),
                        what);
        }
        digest = chunk_digest;
        const Json* data = member(secret, "data");
        const Json* value = data ? member(*data, k_payload_key) : nullptr;
        if (value == nullptr || !value->is_string()) {
            return fail(ErrorCode::api, fmt::format("there is no data key \"{}\"", k_payload_key), what);
        }
        auto bytes = util::base64_decode(value->get_ref<const std::string&>());
        if (!bytes) return fail(ErrorCode::api, "its data is not base64", what);
        packed += *bytes;
    }
    const std::string subject_of_all = fmt::format("release {} of {}", release.revision, owner());
    if (util::sha256_hex(packed) != digest) {
        return fail(ErrorCode::api, "its stored objects do not match their digest: a payload Secret was changed", subject_of_all);
    }
    auto text = util::gunzip(packed, k_max_payload_bytes);
    if (!text) return fail(ErrorCode::api, "its stored objects are unreadable: " + text.error().message, subject_of_all);
    // The record's manifest digest is over the same text: neither can be swapped without the other.
    if (!release.manifest_digest.empty()) {
        auto matches = digest_matches(release.manifest_digest, *text);
        if (!matches) {
            return fail(matches.error().context(fmt::format("checking the objects of release {}", release.revision)));
        }
        if (!*matches) {
            return fail(ErrorCode::api,
                        "its stored objects are not the ones its record describes (manifest digest differs)",
                        subject_of_all);
        }
    }
    auto list = model::read_json(*text);
    if (!list) return fail(ErrorCode::api, "its stored objects are unreadable: " + list.error().message, subject_of_all);
    if (!list->is_array()) return fail(ErrorCode::api, "its stored objects are not a JSON array", subject_of_all);
    std::vector<Json> objects;
    objects.reserve(list->size());
    for (auto& object : *list) {
        if (!object.is_object()) return fail(ErrorCode::api, "its stored objects hold something that is not an object", subject_of_all);
        // Rendering writes into metadata; an edited record must not make that throw.
        if (model::object_at(object, {"metadata"}) == nullptr) {
            return fail(ErrorCode::api, "its stored objects hold one whose metadata is not an object", subject_of_all);
        }
        objects.push_back(std::move(object));
    }
    return objects;
}

Result<std::string> Store::salt_name() const { return config_map_name("salt"); }

Result<std::string> Store::salt_from(const std::string& body, const std::string& what) const {
    auto secret = Json::parse(body, nullptr, false);
    // Another (app, env) pair whose name joins to the same string, or someone else: its data is not looked at.
    const std::string found = annotation(secret, render::k_owner_annotation);
    if (found != owner()) {
        const std::string whose = found.empty() ? fmt::format("it has no {} annotation", render::k_owner_annotation)
                                                : fmt::format("it belongs to \"{}\"", found);
        return fail(ErrorCode::input,
                    fmt::format("not minicd's digest salt for \"{}\" ({}); minicd neither reads nor overwrites it. "
                                "If two app/environment pairs map to this name, rename one of them",
                                owner(), whose),
                    what);
    }
    const Json* data = member(secret, "data");
    const Json* value = data ? member(*data, k_salt_key) : nullptr;
    std::optional<std::string> salt;
    if (value != nullptr && value->is_string()) {
        if (auto decoded = util::base64_decode(value->get_ref<const std::string&>())) salt = std::move(*decoded);
    }
    if (!salt || salt->size() < k_min_salt_bytes) {
        return fail(ErrorCode::api,
                    fmt::format("the digest salt is damaged (data key \"{}\" must hold at least {} bytes in "
                                "base64); the manifest digests of this environment cannot be computed or checked",
                                k_salt_key, k_min_salt_bytes),
                    what);
    }
    return std::move(*salt);
}

Result<std::optional<std::string>> Store::salt(CreateSalt create) {
    auto name = salt_name();
    if (!name) return fail(name.error());
    const std::string path = fmt::format("/api/v1/namespaces/{}/secrets/{}", m_namespace, *name);
    const std::string what = fmt::format("secret {}/{}", m_namespace, *name);
    // Twice at most: a writer that created it between our read and our create wins, and we read theirs.
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto existing = kube::get(m_client, path);
        if (!existing) return fail(existing.error().context("reading " + what));
        if (kube::ok(existing->status)) {
            auto found = salt_from(existing->body, what);
            if (!found) return fail(found.error());
            return std::optional<std::string>(std::move(*found));
        }
        if (existing->status != 404) return fail(kube::api_error(*existing, what));
        if (create == CreateSalt::no) return std::optional<std::string>{};

        auto fresh = util::random_bytes(k_salt_bytes);
        if (!fresh) return fail(fresh.error());
        Json secret = new_config_map(*name, k_salt_role, Json::object());
        secret["kind"] = "Secret";
        secret["type"] = std::string(k_salt_type);
        secret["data"] = {{std::string(k_salt_key), util::base64_encode(*fresh)}};
        auto created = m_client.send({.method = http::Method::post,
                                      .path = fmt::format("/api/v1/namespaces/{}/secrets?fieldManager={}", m_namespace,
                                                          render::k_field_manager),
                                      .body = secret.dump(),
                                      .content_type = "application/json",
                                      .replay = kube::Replay::unsafe});
        if (!created) return fail(created.error().context("writing " + what));
        if (kube::ok(created->status)) return std::optional<std::string>(std::move(*fresh));
        // 409: someone created one meanwhile (ours or not): read it again, never overwrite it.
        if (created->status != 409) return fail(kube::api_error(*created, what));
    }
    return fail(ErrorCode::api, "the digest salt was created and then disappeared while it was read", what);
}

Result<std::string> Store::manifest_digest(std::string_view objects_text) {
    auto key = salt(CreateSalt::yes);
    if (!key) return fail(key.error());
    if (!*key) return fail(ErrorCode::internal, "no digest salt after creating it", owner());
    auto mac = util::hmac_sha256_hex(**key, objects_text);
    if (!mac) return fail(mac.error());
    return std::string(k_keyed_digest_prefix) + *mac;
}

Result<bool> Store::digest_matches(std::string_view recorded, std::string_view objects_text) {
    if (recorded.empty()) return false;
    if (recorded.starts_with(k_plain_digest_prefix)) {
        // Written before digests were keyed: still a faithful check of the objects.
        return recorded.substr(k_plain_digest_prefix.size()) == util::sha256_hex(objects_text);
    }
    if (!recorded.starts_with(k_keyed_digest_prefix)) {
        return fail(ErrorCode::api, "the manifest digest recorded is neither hmac-sha256:... nor sha256:...", owner());
    }
    auto key = salt(CreateSalt::no);
    if (!key) return fail(key.error());
    if (!*key) {
        auto name = salt_name();
        return fail(ErrorCode::api,
                    fmt::format("the manifest digest recorded is keyed with the salt in Secret {}, which is gone, "
                                "so the stored objects cannot be checked against it",
                                name ? *name : std::string("minicd-<app>-<env>-salt")),
                    owner());
    }
    auto mac = util::hmac_sha256_hex(**key, objects_text);
    if (!mac) return fail(mac.error());
    return recorded.substr(k_keyed_digest_prefix.size()) == *mac;
}

void Store::delete_payloads_except(const std::vector<int>& kept) {
    const std::string selector = fmt::format("{}={},{}={},{}={}", render::k_app_label, m_app, render::k_env_label, m_env,
                                             k_role_label, k_payload_role);
    auto secrets = kube::list_all(m_client, fmt::format("/api/v1/namespaces/{}/secrets", m_namespace),
                                  {.label_selector = selector, .view = kube::View::metadata});
    if (!secrets) {
        util::log_warn("release objects of releases no longer kept stay for now: {}", secrets.error().describe());
        return;
    }
    for (const auto& secret : *secrets) {
        if (annotation(secret, render::k_owner_annotation) != owner()) continue;
        const Json* metadata = member(secret, "metadata");
        const Json* labels = metadata ? member(*metadata, "labels") : nullptr;
        const Json* revision = labels ? member(*labels, k_revision_label) : nullptr;
        const Json* name = metadata ? member(*metadata, "name") : nullptr;
        const Json* uid = metadata ? member(*metadata, "uid") : nullptr;
        if (!revision || !revision->is_string() || !name || !name->is_string() || !uid || !uid->is_string()) continue;
        int number = 0;
        try {
            number = std::stoi(revision->get<std::string>());
        } catch (const std::exception&) {
            continue;
        }
        if (std::find(kept.begin(), kept.end(), number) != kept.end()) continue;
        const std::string path = fmt::format("/api/v1/namespaces/{}/secrets/{}", m_namespace,
                                             kube::path_segment(name->get<std::string>()));
        auto deleted = kube::delete_object(m_client, path, {.uid = uid->get<std::string>()});
        if (!deleted || (!kube::ok(deleted->status) && deleted->status != 404)) {
            util::log_warn("could not delete secret {}/{} of a release no longer kept", m_namespace, name->get<std::string>());
        }
    }
}

Json to_json(const model::ObjectId& id) {
    return {{"group", id.group}, {"version", id.version}, {"kind", id.kind}, {"namespace", id.namespace_}, {"name", id.name}};
}

std::optional<model::ObjectId> object_id_from_json(const Json& json) {
    if (!json.is_object()) return std::nullopt;
    model::ObjectId id;
    bool typed = read_string(json, "group", id.group) && read_string(json, "version", id.version) &&
                 read_string(json, "kind", id.kind) && read_string(json, "namespace", id.namespace_) &&
                 read_string(json, "name", id.name);
    if (!typed || !is_valid_entry(id)) return std::nullopt;
    return id;
}

Json to_json(const Release& release) {
    Json images = Json::object();
    for (const auto& [image, reference] : release.images) images[image] = reference;
    return {{"revision", release.revision},
            {"time", release.time},
            {"gitSha", release.git_sha},
            {"images", std::move(images)},
            {"manifestDigest", release.manifest_digest},
            {"outcome", std::string(model::to_string(release.outcome))},
            {"message", release.message},
            {"deployedBy", release.deployed_by.by},
            {"jobUrl", release.deployed_by.job_url},
            {"durationSeconds", release.duration_seconds},
            {"rollbackTo", release.rollback_to},
            {"payloadChunks", release.payload_chunks},
            {"payloadRevision", release.payload_revision},
            {"rollout", std::string(model::to_string(release.rollout))},
            {"canaryStep", release.canary_step}};
}

std::optional<Release> release_from_json(const Json& json) {
    const Json* revision = member(json, "revision");
    auto number = revision ? positive_int(*revision) : std::nullopt;
    if (!number) return std::nullopt;
    Release release;
    release.revision = *number;
    std::string outcome;
    bool typed = read_string(json, "time", release.time) && read_string(json, "gitSha", release.git_sha) &&
                 read_string(json, "manifestDigest", release.manifest_digest) && read_string(json, "outcome", outcome) &&
                 read_string(json, "message", release.message) && read_string(json, "deployedBy", release.deployed_by.by) &&
                 read_string(json, "jobUrl", release.deployed_by.job_url);
    if (!typed) return std::nullopt;
    if (const Json* duration = member(json, "durationSeconds")) {
        if (!duration->is_number() || duration->get<double>() < 0) return std::nullopt;
        release.duration_seconds = duration->get<double>();
    }
    // Revisions and chunk counts: absent in records older than these fields, else small non-negative integers.
    for (auto [key, out] : {std::pair{"rollbackTo", &release.rollback_to}, std::pair{"payloadChunks", &release.payload_chunks},
                            std::pair{"payloadRevision", &release.payload_revision},
                            std::pair{"canaryStep", &release.canary_step}}) {
        const Json* value = member(json, key);
        if (value == nullptr) continue;
        if (value->is_number_integer() && value->get<std::int64_t>() == 0) continue;
        auto number = positive_int(*value);
        if (!number) return std::nullopt;
        *out = *number;
    }
    // A record without an outcome never counts as healthy.
    auto parsed = outcome.empty() ? std::optional(ReleaseOutcome::failed) : model::parse_release_outcome(outcome);
    if (!parsed) return std::nullopt;
    release.outcome = *parsed;
    std::string rollout;
    if (!read_string(json, "rollout", rollout)) return std::nullopt;
    auto reached = model::parse_rollout(rollout);
    if (!reached) return std::nullopt;
    release.rollout = *reached;
    if (const Json* images = member(json, "images")) {
        if (!images->is_object()) return std::nullopt;
        for (const auto& [image, reference] : images->items()) {
            if (!reference.is_string()) return std::nullopt;
            release.images[image] = reference.get<std::string>();
        }
    }
    return release;
}

std::string inventory_text(std::vector<model::ObjectId> objects) {
    std::sort(objects.begin(), objects.end());
    objects.erase(std::unique(objects.begin(), objects.end()), objects.end());
    Json list = Json::array();
    for (const auto& id : objects) list.push_back(to_json(id));
    return list.dump();
}

Result<std::vector<model::ObjectId>> parse_inventory(std::string_view text) {
    auto parsed = model::read_json(text);
    if (!parsed) return fail(ErrorCode::api, "it is " + parsed.error().message);
    const Json& list = *parsed;
    if (!list.is_array()) return fail(ErrorCode::api, "it is not a JSON array");
    std::vector<model::ObjectId> objects;
    objects.reserve(list.size());
    for (std::size_t index = 0; index < list.size(); ++index) {
        auto id = object_id_from_json(list[index]);
        if (!id) {
            return fail(ErrorCode::api,
                        fmt::format("entry {} is not an object id {{group, version, kind, namespace, name}}", index));
        }
        objects.push_back(std::move(*id));
    }
    std::sort(objects.begin(), objects.end());
    return objects;
}

std::string releases_text(const std::vector<Release>& releases) {
    Json list = Json::array();
    for (const auto& release : releases) list.push_back(to_json(release));
    return list.dump();
}

Result<std::vector<Release>> parse_releases(std::string_view text) {
    auto parsed = model::read_json(text);
    if (!parsed) return fail(ErrorCode::api, "it is " + parsed.error().message);
    const Json& list = *parsed;
    if (!list.is_array()) return fail(ErrorCode::api, "it is not a JSON array");
    std::vector<Release> releases;
    releases.reserve(list.size());
    for (std::size_t index = 0; index < list.size(); ++index) {
        auto release = release_from_json(list[index]);
        if (!release) return fail(ErrorCode::api, fmt::format("entry {} is not a release with a revision >= 1", index));
        releases.push_back(std::move(*release));
    }
    std::stable_sort(releases.begin(), releases.end(),
                     [](const Release& a, const Release& b) { return a.revision > b.revision; });
    auto twice = std::adjacent_find(releases.begin(), releases.end(),
                                    [](const Release& a, const Release& b) { return a.revision == b.revision; });
    if (twice != releases.end()) return fail(ErrorCode::api, fmt::format("revision {} appears twice", twice->revision));
    return releases;
}

}  // namespace minicd::deploy
