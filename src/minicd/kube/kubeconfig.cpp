#include "minicd/kube/kubeconfig.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>

#include "minicd/model/json_read.hpp"
#include "minicd/model/object.hpp"
#include "minicd/source/yaml.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/text.hpp"

namespace minicd::kube {

namespace {

namespace fs = std::filesystem;
using model::Json;
using util::ErrorCode;

constexpr std::string_view k_exec_v1 = "client.authentication.k8s.io/v1";
constexpr std::string_view k_exec_v1beta1 = "client.authentication.k8s.io/v1beta1";
constexpr std::string_view k_exec_group = "client.authentication.k8s.io/";
// Longer than any Kubernetes version name ("v1beta1", "v2alpha3"); bounds what an error may quote.
constexpr std::size_t k_max_version_length = 12;

// One named cluster, user or context, with the file that defined it (relative paths resolve
// against that file's folder, and errors name it).
struct Entry {
    Json body;         // the inner object ("cluster", "user" or "context"); an empty object when null
    std::string file;  // absolute path
};

// What the files of $KUBECONFIG (or the single file) add up to, kubectl's way: the first file to
// define a name or current-context wins, and entries are never merged field by field.
struct MergedConfig {
    std::map<std::string, Entry> clusters;
    std::map<std::string, Entry> users;
    std::map<std::string, Entry> contexts;
    std::string current_context;     // "" when no file sets it
    std::vector<std::string> files;  // every file read, in order, for errors
};

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

std::string absolute_path(const std::string& path) {
    std::error_code ignored;
    fs::path absolute = fs::absolute(path, ignored);
    return (absolute.empty() ? fs::path(path) : absolute).lexically_normal().string();
}

bool is_regular_file(const std::string& path) {
    std::error_code ignored;
    return fs::is_regular_file(path, ignored);
}


// How a value's type reads in an error, in the words of a YAML kubeconfig; never the value itself.
std::string_view type_words(const Json& value) {
    if (value.is_object()) return "a mapping";
    if (value.is_array()) return "a list";
    if (value.is_string()) return "a string";
    if (value.is_boolean()) return "true or false";
    if (value.is_number()) return "a number";
    if (value.is_null()) return "null";
    return "binary data";
}

// nlohmann's description of a JSON syntax error, reduced to fixed words. Only the part before
// "; last read: '...'" is looked at, so the quoted bytes (a secret, here) cannot steer the choice.
std::string_view json_mistake(std::string_view what) {
    what = what.substr(0, what.find("; last read:"));
    struct Mistake {
        std::string_view marker;  // a fragment of nlohmann's message; the first one found wins
        std::string_view says;
    };
    static constexpr Mistake k_mistakes[] = {
        {"control character", "a string holds a raw control character such as a line break; it must be escaped"},
        {"ill-formed UTF-8", "a string holds bytes that are not UTF-8"},
        {"missing closing quote", "a string has no closing quote"},
        {"invalid string", "a string holds an invalid escape sequence"},
        {"unexpected end of input", "the text ends before the JSON value does"},
        {"expected end of input", "more text follows the JSON value"},
        {"number overflow", "a number is too large"},
        {"invalid number", "a number is malformed"},
        {"invalid literal", "a bare word that is not true, false or null (text needs quotes)"},
    };
    for (const auto& mistake : k_mistakes) {
        if (what.find(mistake.marker) != std::string_view::npos) return mistake.says;
    }
    return "syntax error";
}

// Reads JSON only to find its first syntax error, where it is and what kind. nlohmann reports every
// error here, number overflow included, which Json::parse would throw as out_of_range: no exception.
class SyntaxCheck final : public nlohmann::json_sax<Json> {
public:
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    // `last_token` is the content around the error: deliberately unused.
    bool parse_error(std::size_t position, const std::string& /*last_token*/, const Json::exception& error) override {
        m_offset = position > 0 ? position - 1 : 0;
        m_mistake = json_mistake(error.what());
        return false;
    }

    std::size_t offset() const { return m_offset; }  // 0-based, of the byte where reading failed
    std::string_view mistake() const { return m_mistake; }

private:
    std::size_t m_offset = 0;
    std::string_view m_mistake = "syntax error";  // points into json_mistake's table
};

// parse_yaml puts the line into the subject ("<file>:12"); 0 when it is not there.
int yaml_error_line(std::string_view subject, std::string_view file) {
    if (subject.size() <= file.size() + 1 || !subject.starts_with(file) || subject[file.size()] != ':') return 0;
    const std::string_view digits = subject.substr(file.size() + 1);
    int line = 0;
    auto [end, problem] = std::from_chars(digits.data(), digits.data() + digits.size(), line);
    return problem == std::errc() && end == digits.data() + digits.size() ? line : 0;
}

// The YAML reader's message reduced to fixed words: it may quote a scalar, an anchor, a tag or a
// key, and in a kubeconfig any of them can be a secret out of place (a token starting with '*').
std::string_view yaml_mistake(std::string_view message) {
    // The one message that starts with the scalar itself.
    if (message.ends_with("is not a number JSON can hold")) {
        return "a number JSON cannot hold (quote it to keep it text)";
    }
    struct Mistake {
        std::string_view prefix;  // how parse_yaml's message starts; the first match wins
        std::string_view says;
    };
    static constexpr Mistake k_mistakes[] = {
        {"invalid YAML: a tab after ':'", "a tab after ':' in an explicit-key (?) block; use spaces"},
        {"invalid document separator", "only a comment may follow ---"},
        {"duplicate key", "a key appears twice in one mapping"},
        {"unknown anchor", "an alias (a value starting with *) names no anchor; quote the value if it is text"},
        {"anchor \"", "an anchor's value contains itself"},
        {"unsupported map key", "a mapping key must be text or a number"},
        {"mapping keys must be scalars", "mapping keys must be scalars"},
        {"nesting deeper than", "nesting is too deep"},
        {"document contains excessive aliasing", "too much aliasing"},
        {"map merge requires", "a merge (<<) needs a mapping or a list of mappings"},
        {"a second document follows", "a second document follows '...' without a --- line"},
        {"!!binary", "!!binary values are not supported (write the base64 text without the tag)"},
        {"cannot decode", "a value does not fit its !! tag"},
        {"cannot create", "the YAML reader could not start"},
        {"cannot start", "the YAML reader could not start"},
    };
    for (const auto& mistake : k_mistakes) {
        if (message.starts_with(mistake.prefix)) return mistake.says;
    }
    return "syntax error";
}

// A YAML reader error as a credential file may show it: the file, the line and a fixed description.
util::Error yaml_error_without_content(const util::Error& error, const std::string& file) {
    const int line = yaml_error_line(error.subject, file);
    const std::string where = line > 0 ? fmt::format("line {}: ", line) : std::string();
    const std::string_view what =
        error.code == ErrorCode::input ? "not a valid YAML kubeconfig" : "cannot read the kubeconfig as YAML";
    return util::make_error(error.code, fmt::format("{}: {}{}", what, where, yaml_mistake(error.message)), file);
}

// The text after a UTF-8 byte order mark, which editors on Windows like to add.
std::string_view without_bom(std::string_view text) {
    constexpr std::string_view k_bom = "\xEF\xBB\xBF";
    return text.starts_with(k_bom) ? text.substr(k_bom.size()) : text;
}

// kubectl accepts JSON kubeconfigs too; JSON is read directly, everything else goes through the YAML
// reader, which applies the same scalar rules as the Kubernetes machinery. Errors point at a line
// but never quote the file: it holds tokens and keys.
Result<Json> parse_document(const std::string& text, const std::string& file) {
    const std::string_view content = without_bom(text);
    auto first = content.find_first_not_of(" \t\r\n");
    // client-go reads an empty file as an empty configuration (kubectl creates such files).
    if (first == std::string_view::npos) return Json(nullptr);
    // '[' too: a list is no kubeconfig, but the YAML reader's messages for JSON quote the text.
    if (content[first] == '{' || content[first] == '[') {
        auto document = parse_credential_json(content);
        if (!document) return fail(ErrorCode::input, "not a valid JSON kubeconfig: " + document.error().message, file);
        return document;
    }
    auto documents = source::parse_yaml(content, file);
    if (!documents) return fail(yaml_error_without_content(documents.error(), file));
    if (documents->empty()) return Json(nullptr);
    if (documents->size() > 1) {
        return fail(ErrorCode::input, fmt::format("expected one YAML document, found {}", documents->size()), file);
    }
    return std::move(documents->front().value);
}

// Reads fields of one entry and keeps the first type error, so the caller checks once at the end.
class EntryReader {
public:
    EntryReader(const Entry& entry, std::string where) : m_entry(entry), m_where(std::move(where)) {}

    // "" when absent or null.
    std::string string(const char* key) {
        const Json* value = find(key);
        if (value == nullptr) return {};
        if (!value->is_string()) {
            note(fmt::format("{} must be a string, not {}", key, type_words(*value)));
            return {};
        }
        return value->get<std::string>();
    }

    bool boolean(const char* key) {
        const Json* value = find(key);
        if (value == nullptr) return false;
        if (!value->is_boolean()) {
            note(fmt::format("{} must be true or false, not {}", key, type_words(*value)));
            return false;
        }
        return value->get<bool>();
    }

    // The base64 `*-data` field decoded, "" when absent. Go's decoder skips line breaks, so we do too.
    std::string base64(const char* key) {
        std::string encoded = string(key);
        if (encoded.empty()) return {};
        std::string compact;
        for (char c : encoded) {
            if (c != '\n' && c != '\r' && c != ' ' && c != '\t') compact.push_back(c);
        }
        auto decoded = util::base64_decode(compact);
        if (!decoded) {
            note(fmt::format("{} is not valid base64", key));
            return {};
        }
        return *decoded;
    }

    // A path field, resolved against the folder of the file that defined the entry.
    std::string path(const char* key) {
        std::string value = string(key);
        if (value.empty()) return {};
        return resolve(value);
    }

    std::string resolve(const std::string& relative) const {
        fs::path path(relative);
        if (path.is_absolute()) return relative;
        return (fs::path(m_entry.file).parent_path() / path).lexically_normal().string();
    }

    // Null when absent or null; notes an error when present but not an object.
    const Json* object(const char* key) {
        const Json* value = find(key);
        if (value == nullptr) return nullptr;
        if (!value->is_object()) {
            note(fmt::format("{} must be a mapping, not {}", key, type_words(*value)));
            return nullptr;
        }
        return value;
    }

    bool has(const char* key) const { return find(key) != nullptr; }

    void note(std::string message) {
        if (!m_error) m_error = error(std::move(message));
    }

    util::Error error(std::string message) const {
        return util::make_error(ErrorCode::input, fmt::format("{}: {}", m_where, message), m_entry.file);
    }

    const std::optional<util::Error>& first_error() const { return m_error; }

private:
    const Json* find(const char* key) const {
        auto it = m_entry.body.find(key);
        if (it == m_entry.body.end() || it->is_null()) return nullptr;
        return &*it;
    }

    const Entry& m_entry;
    std::string m_where;
    std::optional<util::Error> m_error;
};

// Adds one named list ("clusters" with inner key "cluster", ...) of a file; names already known win.
Result<void> merge_list(const Json& document, const char* list_key, const char* inner_key,
                        std::map<std::string, Entry>& into, const std::string& file) {
    auto list = document.find(list_key);
    if (list == document.end() || list->is_null()) return {};
    if (!list->is_array()) {
        return fail(ErrorCode::input, fmt::format("{} must be a list, not {}", list_key, type_words(*list)), file);
    }
    std::map<std::string, bool> seen_here;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const Json& item = (*list)[i];
        auto name = item.is_object() ? item.find("name") : item.end();
        if (!item.is_object() || name == item.end() || !name->is_string()) {
            return fail(ErrorCode::input, fmt::format("{}[{}]: an entry needs a name", list_key, i), file);
        }
        const std::string key = name->get<std::string>();
        // client-go refuses duplicates inside one file; across files the first one wins.
        if (seen_here[key]) {
            return fail(ErrorCode::input, fmt::format("{}: \"{}\" is defined twice", list_key, key), file);
        }
        seen_here[key] = true;
        auto inner = item.find(inner_key);
        Json body = Json::object();
        if (inner != item.end() && !inner->is_null()) {
            if (!inner->is_object()) {
                return fail(ErrorCode::input,
                            fmt::format("{} \"{}\": {} must be a mapping, not {}", inner_key, key, inner_key,
                                        type_words(*inner)),
                            file);
            }
            body = *inner;
        }
        into.try_emplace(key, Entry{std::move(body), file});
    }
    return {};
}

Result<void> merge_file(MergedConfig& merged, const std::string& file) {
    auto text = util::read_file(file);
    if (!text) return fail(text.error());
    auto document = parse_document(*text, file);
    if (!document) return fail(document.error());
    merged.files.push_back(file);
    if (document->is_null()) return {};  // an empty file is an empty configuration
    if (!document->is_object()) {
        return fail(ErrorCode::input, fmt::format("a kubeconfig must be a mapping, not {}", type_words(*document)),
                    file);
    }

    if (auto merged_list = merge_list(*document, "clusters", "cluster", merged.clusters, file); !merged_list) {
        return merged_list;
    }
    if (auto merged_list = merge_list(*document, "users", "user", merged.users, file); !merged_list) {
        return merged_list;
    }
    if (auto merged_list = merge_list(*document, "contexts", "context", merged.contexts, file); !merged_list) {
        return merged_list;
    }
    auto current = document->find("current-context");
    if (current != document->end() && !current->is_null()) {
        if (!current->is_string()) {
            return fail(ErrorCode::input, fmt::format("current-context must be a string, not {}", type_words(*current)),
                        file);
        }
        if (merged.current_context.empty()) merged.current_context = current->get<std::string>();
    }
    return {};
}

// The schemes client-go's proxy support understands.
bool has_proxy_scheme(std::string_view url) {
    return url.starts_with("http://") || url.starts_with("https://") || url.starts_with("socks5://");
}

// An exec apiVersion an error may quote: one of the auth group's versions (v1alpha1 and the like).
// Anything else is text out of place in a credential file, and might be a secret.
bool is_auth_group_version(std::string_view value) {
    if (!value.starts_with(k_exec_group)) return false;
    const std::string_view version = value.substr(k_exec_group.size());
    auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    return !version.empty() && version.size() <= k_max_version_length &&
           std::all_of(version.begin(), version.end(), lower_or_digit);
}

// Why an exec apiVersion is refused, naming it only when is_auth_group_version allows.
std::string unsupported_api_version(std::string_view value) {
    const std::string named =
        is_auth_group_version(value) ? fmt::format("apiVersion \"{}\"", value) : std::string("this apiVersion");
    return fmt::format("{} is not supported (use {} or {})", named, k_exec_v1, k_exec_v1beta1);
}

Result<void> apply_cluster(const std::string& name, const Entry& entry, RestConfig& config) {
    EntryReader reader(entry, fmt::format("cluster \"{}\"", name));
    std::string server = reader.string("server");
    std::string ca_pem = reader.base64("certificate-authority-data");
    std::string ca_file = ca_pem.empty() ? reader.path("certificate-authority") : std::string();
    bool insecure = reader.boolean("insecure-skip-tls-verify");
    config.tls_server_name = reader.string("tls-server-name");
    config.proxy_url = reader.string("proxy-url");
    if (reader.first_error()) return fail(*reader.first_error());

    if (server.empty()) return fail(reader.error("no server"));
    // client-go assumes https when the scheme is left out.
    if (server.find("://") == std::string::npos) server = "https://" + server;
    while (server.ends_with('/')) server.pop_back();
    // client-go refuses this pair: a CA that is then ignored would only mislead the reader.
    if (insecure && (!ca_pem.empty() || !ca_file.empty())) {
        return fail(reader.error("insecure-skip-tls-verify cannot be combined with a certificate authority"));
    }
    // Not quoted: without "://" the whole URL, user:password@ included, would read as its scheme.
    if (!config.proxy_url.empty() && !has_proxy_scheme(config.proxy_url)) {
        return fail(reader.error("proxy-url must start with http://, https:// or socks5://"));
    }
    config.server = std::move(server);
    config.tls.ca_pem = std::move(ca_pem);
    config.tls.ca_file = std::move(ca_file);
    config.tls.insecure_skip_verify = insecure;
    return {};
}

Result<ExecConfig> parse_exec(const std::string& user_name, const Json& body, const std::string& file) {
    Entry exec_entry{body, file};
    EntryReader reader(exec_entry, fmt::format("user \"{}\": exec", user_name));
    ExecConfig exec;
    exec.api_version = reader.string("apiVersion");
    exec.command = reader.string("command");
    exec.install_hint = reader.string("installHint");
    exec.provide_cluster_info = reader.boolean("provideClusterInfo");
    exec.interactive_mode = reader.string("interactiveMode");
    if (reader.first_error()) return fail(*reader.first_error());

    if (exec.command.empty()) return fail(reader.error("command is required"));
    // A bare name goes through PATH; a relative path belongs to the kubeconfig's folder.
    if (exec.command.find('/') != std::string::npos) exec.command = reader.resolve(exec.command);

    if (exec.api_version.empty()) return fail(reader.error("apiVersion is required"));
    if (exec.api_version != k_exec_v1 && exec.api_version != k_exec_v1beta1) {
        return fail(reader.error(unsupported_api_version(exec.api_version)));
    }
    if (exec.interactive_mode.empty() && exec.api_version == k_exec_v1) {
        return fail(reader.error(fmt::format("interactiveMode is required for {}", k_exec_v1)));
    }
    if (!exec.interactive_mode.empty() && exec.interactive_mode != "Never" && exec.interactive_mode != "IfAvailable" &&
        exec.interactive_mode != "Always") {
        return fail(reader.error("interactiveMode must be Never, IfAvailable or Always"));
    }

    if (auto args = body.find("args"); args != body.end() && !args->is_null()) {
        if (!args->is_array()) {
            return fail(reader.error(fmt::format("args must be a list of strings, not {}", type_words(*args))));
        }
        for (std::size_t i = 0; i < args->size(); ++i) {
            const Json& arg = (*args)[i];
            if (!arg.is_string()) {
                return fail(reader.error(fmt::format("args[{}] must be a string, not {}", i, type_words(arg))));
            }
            exec.args.push_back(arg.get<std::string>());
        }
    }
    if (auto env = body.find("env"); env != body.end() && !env->is_null()) {
        if (!env->is_array()) {
            return fail(reader.error(fmt::format("env must be a list of {{name, value}}, not {}", type_words(*env))));
        }
        for (const auto& item : *env) {
            auto name = item.is_object() ? item.find("name") : item.end();
            if (!item.is_object() || name == item.end() || !name->is_string() || name->get<std::string>().empty()) {
                return fail(reader.error("every env entry needs a name"));
            }
            auto value = item.find("value");
            if (value != item.end() && !value->is_null() && !value->is_string()) {
                return fail(reader.error(fmt::format("env \"{}\": value must be a string, not {}",
                                                     name->get<std::string>(), type_words(*value))));
            }
            exec.env.emplace_back(name->get<std::string>(),
                                  value == item.end() || value->is_null() ? std::string() : value->get<std::string>());
        }
    }
    return exec;
}

Result<void> apply_user(const std::string& name, const Entry& entry, RestConfig& config) {
    EntryReader reader(entry, fmt::format("user \"{}\"", name));
    std::string token = reader.string("token");
    std::string token_file = reader.path("tokenFile");
    std::string cert_pem = reader.base64("client-certificate-data");
    std::string cert_file = cert_pem.empty() ? reader.path("client-certificate") : std::string();
    std::string key_pem = reader.base64("client-key-data");
    std::string key_file = key_pem.empty() ? reader.path("client-key") : std::string();
    bool basic = !reader.string("username").empty() || !reader.string("password").empty();
    const Json* exec = reader.object("exec");
    bool auth_provider = reader.has("auth-provider");
    if (reader.first_error()) return fail(*reader.first_error());

    bool has_cert = !cert_pem.empty() || !cert_file.empty();
    bool has_key = !key_pem.empty() || !key_file.empty();
    std::vector<std::string> methods;
    if (!token.empty() || !token_file.empty()) methods.emplace_back("token");
    if (basic) methods.emplace_back("username/password");
    if (auth_provider) methods.emplace_back("auth-provider");
    if (exec != nullptr) methods.emplace_back("exec");
    // A client certificate may accompany a token (client-go allows mutual TLS plus a bearer token),
    // but not an exec plugin, which can return a certificate of its own.
    if ((has_cert || has_key) && exec != nullptr) methods.emplace_back("client certificate");
    if (methods.size() > 1) {
        return fail(reader.error(fmt::format("more than one authentication method ({}); only one is allowed",
                                             join(methods, ", "))));
    }
    if (basic) return fail(reader.error("username/password (basic) authentication is not supported"));
    if (auth_provider) {
        return fail(reader.error("auth-provider is not supported (kubectl removed it too); use an exec plugin"));
    }
    if (has_cert != has_key) {
        return fail(reader.error(has_cert ? "client-certificate is set without client-key"
                                          : "client-key is set without client-certificate"));
    }

    if (exec != nullptr) {
        auto parsed = parse_exec(name, *exec, entry.file);
        if (!parsed) return fail(parsed.error());
        config.exec = std::move(*parsed);
    }
    config.token = token;
    // token wins over tokenFile, as in client-go; keep only the one that is used.
    config.token_file = token.empty() ? token_file : std::string();
    config.tls.client_cert_pem = std::move(cert_pem);
    config.tls.client_cert_file = std::move(cert_file);
    config.tls.client_key_pem = std::move(key_pem);
    config.tls.client_key_file = std::move(key_file);
    return {};
}

Result<RestConfig> resolve(const MergedConfig& merged, const KubeconfigOptions& options) {
    const std::string files = join(merged.files, ", ");
    const std::string& context_name = options.context.empty() ? merged.current_context : options.context;
    if (context_name.empty()) {
        return fail(ErrorCode::input, "no context: current-context is not set and no --context was given", files);
    }
    auto context_it = merged.contexts.find(context_name);
    if (context_it == merged.contexts.end()) {
        return fail(ErrorCode::input, fmt::format("context \"{}\" not found", context_name), files);
    }
    const Entry& context = context_it->second;
    EntryReader reader(context, fmt::format("context \"{}\"", context_name));
    std::string cluster_name = reader.string("cluster");
    std::string user_name = reader.string("user");
    std::string namespace_ = reader.string("namespace");
    if (reader.first_error()) return fail(*reader.first_error());

    if (cluster_name.empty()) return fail(reader.error("no cluster"));
    auto cluster = merged.clusters.find(cluster_name);
    if (cluster == merged.clusters.end()) {
        return fail(reader.error(fmt::format("cluster \"{}\" not found in {}", cluster_name, files)));
    }
    RestConfig config;
    config.context = context_name;
    config.cluster_name = cluster_name;
    config.user_name = user_name;
    if (!namespace_.empty()) config.namespace_ = namespace_;
    if (auto applied = apply_cluster(cluster_name, cluster->second, config); !applied) return fail(applied.error());

    // A context without a user talks to the server anonymously (or with the cluster's TLS only).
    if (!user_name.empty()) {
        auto user = merged.users.find(user_name);
        if (user == merged.users.end()) {
            return fail(reader.error(fmt::format("user \"{}\" not found in {}", user_name, files)));
        }
        if (auto applied = apply_user(user_name, user->second, config); !applied) return fail(applied.error());
    }
    return config;
}

bool in_cluster_environment() {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    return host != nullptr && *host != '\0' && port != nullptr && *port != '\0';
}

// The files to merge when --kubeconfig is not given, and how to describe the search when none exists.
struct Search {
    std::vector<std::string> existing;
    std::string tried;
};

Search find_files() {
    Search search;
    const char* env = std::getenv("KUBECONFIG");
    if (env != nullptr && *env != '\0') {
        std::vector<std::string> listed;
        std::string_view rest(env);
        while (true) {
            auto colon = rest.find(':');
            std::string item(rest.substr(0, colon));
            if (!item.empty()) listed.push_back(item);
            if (colon == std::string_view::npos) break;
            rest.remove_prefix(colon + 1);
        }
        if (!listed.empty()) {
            // client-go skips entries that do not exist, so one list works on machines with different files.
            for (const auto& item : listed) {
                std::string absolute = absolute_path(item);
                if (is_regular_file(absolute) &&
                    std::find(search.existing.begin(), search.existing.end(), absolute) == search.existing.end()) {
                    search.existing.push_back(absolute);
                }
            }
            search.tried = fmt::format("$KUBECONFIG ({})", join(listed, ":"));
            return search;
        }
    }
    const char* home = std::getenv("HOME");
    if (home != nullptr && *home != '\0') {
        std::string path = (fs::path(home) / ".kube" / "config").string();
        if (is_regular_file(path)) search.existing.push_back(absolute_path(path));
        search.tried = path;
    } else {
        search.tried = "~/.kube/config ($HOME is not set)";
    }
    return search;
}

}  // namespace

Result<Json> parse_credential_json(std::string_view text) {
    // A first pass finds syntax errors without exceptions and without keeping any of the text.
    SyntaxCheck check;
    if (!Json::sax_parse(text, &check)) {
        const util::TextPosition at = util::position_at(text, check.offset());
        return fail(ErrorCode::input, fmt::format("line {}, column {}: {}", at.line, at.column, check.mistake()));
    }
    // The text passed the check; what is left to refuse is nesting deeper than minicd reads.
    auto document = model::read_json(text);
    if (!document) return fail(ErrorCode::input, document.error().message);
    return document;
}

Result<RestConfig> load_rest_config(const KubeconfigOptions& options) {
    MergedConfig merged;
    if (!options.path.empty()) {
        // --kubeconfig names exactly one file: no merging, and no fallback when it is missing.
        std::string path = absolute_path(options.path);
        if (!is_regular_file(path)) return fail(ErrorCode::input, "kubeconfig file does not exist", options.path);
        if (auto read = merge_file(merged, path); !read) return fail(read.error());
        return resolve(merged, options);
    }

    Search search = find_files();
    if (search.existing.empty()) {
        // A pod without a kubeconfig uses its service account, unless a context was asked for by name.
        if (in_cluster_environment() && options.context.empty()) return in_cluster_config();
        return fail(ErrorCode::input,
                    fmt::format("no kubeconfig found (looked at {}) and not running in a cluster", search.tried));
    }
    for (const auto& file : search.existing) {
        if (auto read = merge_file(merged, file); !read) return fail(read.error());
    }
    return resolve(merged, options);
}

Result<RestConfig> in_cluster_config(const std::string& root) {
    if (!in_cluster_environment()) {
        return fail(ErrorCode::input,
                    "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
    }
    std::string host = std::getenv("KUBERNETES_SERVICE_HOST");
    std::string port = std::getenv("KUBERNETES_SERVICE_PORT");
    // An IPv6 address needs brackets before the port.
    if (host.find(':') != std::string::npos && !host.starts_with('[')) host = "[" + host + "]";

    RestConfig config;
    config.server = fmt::format("https://{}:{}", host, port);
    // Keep the path, not the token: projected service-account tokens rotate and must be re-read.
    config.token_file = (fs::path(root) / "token").string();
    if (!is_regular_file(config.token_file)) {
        return fail(ErrorCode::input, "in-cluster configuration: the service account token does not exist",
                    config.token_file);
    }
    // Without the CA file client-go falls back to the system roots; so do we.
    std::string ca_file = (fs::path(root) / "ca.crt").string();
    if (is_regular_file(ca_file)) config.tls.ca_file = ca_file;

    const char* pod_namespace = std::getenv("POD_NAMESPACE");
    if (pod_namespace != nullptr && *pod_namespace != '\0') {
        config.namespace_ = pod_namespace;
    } else if (auto text = util::read_file((fs::path(root) / "namespace").string()); text && !util::trim(*text).empty()) {
        config.namespace_ = util::trim(*text);
    }
    return config;
}

}  // namespace minicd::kube
