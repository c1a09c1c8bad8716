#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minicd/kube/client.hpp"
#include "minicd/model/object.hpp"
#include "minicd/model/release.hpp"
#include "minicd/util/result.hpp"

namespace minicd::deploy {

using model::Release;
using model::ReleaseOutcome;

// What minicd applied for one (app, environment), kept in the target namespace so prune knows
// what it owns. Stored in ConfigMaps named "minicd-<app>-<env>-inventory" and
// "minicd-<app>-<env>-releases" (the release payloads and the digest salt in Secrets, below),
// labelled app.kubernetes.io/managed-by=minicd and
// minicd.io/app, minicd.io/env, minicd.io/role (inventory | releases), and annotated
// minicd.io/owner=<app>/<env>. Well under 1 MiB: writes over 900 KiB of data are refused.
// Because app and env may contain '-', two pairs can map to one name ("a-b"/"c" and "a"/"b-c");
// the owner annotation tells them apart, and a ConfigMap owned by another pair is never read or
// overwritten. One Store per thread (it keeps the history it last saw); concurrent record_release
// calls from Stores of any process each get their own revision.
class Store {
public:
    // `app` and `env` are DNS labels (render::validate_target); the namespace must exist for writes.
    Store(kube::Client& client, std::string namespace_, std::string app, std::string env);

    // The recorded object set, sorted; empty (not an error) when none was ever written. An
    // unreadable inventory is an error, never empty: prune would forget what minicd owns.
    Result<std::vector<model::ObjectId>> load_inventory();
    // Replaces the recorded set (create or update, by server-side apply).
    Result<void> save_inventory(const std::vector<model::ObjectId>& objects);

    // Newest first; empty when none was ever recorded. Always asks the server.
    Result<std::vector<Release>> load_releases();
    // The same, as this Store last read or recorded it (read on first use): for the holder of the
    // deploy lock, under which nobody else records and this Store's own records keep it current.
    Result<std::vector<Release>> releases();
    // Appends the release, keeping the newest `options.keep` (at least 1), and returns it as
    // stored. Its revision is the next one when 0; a revision given must not be recorded yet (unless
    // updating). Sets `time` to now when empty. Recording a release that ran (model::ran: it wrote,
    // and not only a canary) makes every earlier `deployed` one `superseded`; `options.mark` changes the outcomes of
    // earlier revisions in the same write. Payload Secrets of releases that fall out of the history
    // are deleted. Optimistic concurrency: a concurrent writer makes us re-read and try again, so
    // no record is lost.
    // Whether a record is a new release or the conclusion of one recorded before (a canary's).
    enum class RecordMode { append, update };
    struct RecordOptions {
        int keep = 10;
        std::map<int, ReleaseOutcome> mark;  // revision -> new outcome
        RecordMode mode = RecordMode::append;  // update: replaces the record of release.revision, which must be there
    };
    Result<Release> record_release(Release release, const RecordOptions& options);
    Result<Release> record_release(Release release) { return record_release(std::move(release), RecordOptions{}); }

    // The objects a release applied, stored before its record in Secrets named
    // "minicd-<app>-<env>-release-<revision>-<index>" (type minicd.io/release-payload, labelled as
    // the ConfigMaps with role release-payload and minicd.io/revision), gzip-compressed and cut
    // so that no Secret holds over 640 KiB of it (about 850 KiB once base64-encoded). Returns the
    // number of Secrets written. Secrets of that name owned by another pair are never overwritten.
    Result<int> save_payload(int revision, const std::vector<model::Json>& objects);
    // Reads a release's objects back (from the release they are stored under), checking every
    // chunk's owner, the digest of the whole and the record's manifest digest (digest_matches); an
    // error naming the Secret when one is missing, foreign or damaged.
    Result<std::vector<model::Json>> load_payload(const Release& release);

    // The manifest digest a release records for its objects, given as their canonical JSON text (what
    // save_payload stores): "hmac-sha256:<hex>", HMAC-SHA256 keyed with a random salt of this
    // (app, env), so that whoever can read the releases ConfigMap cannot test guesses at the Secret
    // values among those objects. Equal objects get equal digests within one (app, env). The salt
    // is kept in Secret "minicd-<app>-<env>-salt" (type minicd.io/digest-salt, labelled as the
    // ConfigMaps with role digest-salt, owner annotation) and created on first use; a Secret of
    // that name that is not ours is an error, and is never read further or overwritten.
    Result<std::string> manifest_digest(std::string_view objects_text);
    // Whether `recorded` (a release's manifest digest) is the digest of `objects_text`: the keyed form
    // above, or the unsalted "sha256:<hex>" records written before it hold; "" matches nothing. Never
    // creates the salt: a keyed digest whose salt Secret is gone is an error, and so is another form.
    Result<bool> digest_matches(std::string_view recorded, std::string_view objects_text);
    // "minicd-<app>-<env>-salt"; an input error as for the ConfigMaps' names.
    Result<std::string> salt_name() const;

    // "minicd-<app>-<env>-inventory" and "minicd-<app>-<env>-releases"; an input error when the
    // result is not a valid ConfigMap name (or the namespace is not a valid namespace name).
    Result<std::string> inventory_name() const;
    Result<std::string> releases_name() const;

private:
    Result<std::string> config_map_name(std::string_view role) const;
    std::string config_map_path(std::string_view name) const;
    std::string subject(std::string_view name) const;
    std::string owner() const;
    model::Json new_config_map(const std::string& name, std::string_view role, model::Json data) const;

    // The ConfigMap as the server has it; nullopt when there is none. An error when it belongs to
    // another (app, env) pair.
    Result<std::optional<model::Json>> read(const std::string& name);
    // The releases ConfigMap: from the server, or as last seen when `freshness` allows it.
    enum class Freshness { as_seen, from_server };
    Result<std::optional<model::Json>> releases_map(const std::string& name, Freshness freshness);
    Result<std::vector<Release>> history(Freshness freshness);
    // One read-modify-write of the history; nullopt when another writer got there first (409).
    // When releases fall out of the history, `kept_payloads` receives the revisions whose payload
    // Secrets the kept ones use; it stays empty otherwise.
    Result<std::optional<Release>> try_record(const std::string& name, Release release, const RecordOptions& options,
                                              std::vector<int>& kept_payloads);
    Result<std::string> payload_name(int revision, int index) const;
    // Whether salt() makes the salt Secret when there is none.
    enum class CreateSalt { no, yes };
    // The salt of the manifest digests; nullopt when its Secret does not exist and `create` is no.
    Result<std::optional<std::string>> salt(CreateSalt create);
    // The salt in the Secret as the server answered (`body`), after checking it is ours.
    Result<std::string> salt_from(const std::string& body, const std::string& what) const;
    Result<void> write_payload_chunk(const std::string& name, model::Json secret);
    // Deletes our payload Secrets of every revision not in `kept`; problems are logged, not fatal:
    // a Secret left behind costs space, never correctness.
    void delete_payloads_except(const std::vector<int>& kept);

    kube::Client& m_client;
    std::string m_namespace;
    std::string m_app;
    std::string m_env;
    // The releases ConfigMap as last read or written (nullopt inside: there was none); unset until
    // then and after a write of unknown outcome. Records write over it only if it is still what the
    // server has, so a stale copy costs a conflict and a re-read, never a record.
    std::optional<std::optional<model::Json>> m_releases_seen;
};

// Serialization used by the store (exposed for unit tests).
// {"group", "version", "kind", "namespace", "name"}, every key present ("" for the core group or
// a cluster-scoped object).
model::Json to_json(const model::ObjectId& id);
// nullopt unless every member that is present is a string and each is what the API server allows
// in a request path: group "" or a DNS subdomain, version and kind alphanumeric, namespace "" or a
// DNS label, name a valid object name (no "/", "%", whitespace, "." or ".."). Version, kind and name
// are required; group and namespace may be absent (read as "").
std::optional<model::ObjectId> object_id_from_json(const model::Json& json);
// {revision, time, gitSha, images {name: reference}, manifestDigest, outcome, message,
// deployedBy, jobUrl, durationSeconds, rollbackTo, payloadChunks, payloadRevision}.
model::Json to_json(const Release& release);
// nullopt unless revision is an integer >= 1 and every other member present has the right type;
// missing strings read as "", missing images as none.
std::optional<Release> release_from_json(const model::Json& json);

// The text of the inventory's "objects" key: compact JSON, sorted, duplicates dropped, so the
// same set always gives the same bytes whatever order it came in.
std::string inventory_text(std::vector<model::ObjectId> objects);
// Reads that text back; an error saying what is wrong with it (no subject; the caller names the ConfigMap).
Result<std::vector<model::ObjectId>> parse_inventory(std::string_view text);
// The text of the "releases" key: compact JSON, in the order given (the store passes newest first).
std::string releases_text(const std::vector<Release>& releases);
// Reads that text back, newest first; duplicate revisions are an error.
Result<std::vector<Release>> parse_releases(std::string_view text);

}  // namespace minicd::deploy
