#include "minicd/config/load.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <tuple>

#include "minicd/config/template.hpp"
#include "minicd/source/yaml.hpp"
#include "minicd/util/child_env.hpp"
#include "minicd/util/duration.hpp"
#include "minicd/util/log.hpp"
#include "minicd/util/text.hpp"

namespace minicd::config {

namespace {

using model::Json;
using source::SourceMark;

constexpr std::size_t k_max_label = 63;
constexpr std::size_t k_max_host = 253;
constexpr std::size_t k_branch_room = 8;  // the hash pipeline/naming.cpp appends to a changed branch name

// The keys per place in the file; known_keys() hands out the same table.
const std::map<std::string, std::vector<std::string_view>> k_keys = {
    {"", {"app", "registry", "images", "manifests", "build", "allowTagOverwrite", "mainBranch", "imagePaths", "environments"}},
    {"images[]", {"name", "context", "dockerfile", "buildArgs", "target"}},
    {"build", {"builder", "tagLength", "allowDirty"}},
    {"imagePaths[]", {"kind", "group", "path"}},
    {"manifests", {"helm"}},
    {"manifests.helm", {"chart", "values", "set", "version"}},
    {"environments.*",
     {"cluster", "on", "namespace", "host", "tls", "ttl", "promoteFrom", "prune", "timeout", "waitForAddresses",
      "adopt", "history", "onFailure", "drift", "manifests", "gc", "strategy"}},
    {"environments.*.cluster", {"context", "server", "uid", "kubeconfig"}},
    {"environments.*.manifests", {"helm"}},
    {"environments.*.manifests.helm", {"chart", "values", "set", "version"}},
    {"environments.*.on", {"branch", "tag"}},
    {"environments.*.tls", {"clusterIssuer", "issuer", "secretName"}},
    {"environments.*.gc", {"enabled", "maxDeletions", "branches", "remote", "tokenEnv"}},
    {"environments.*.strategy", {"canary"}},
    {"environments.*.strategy.canary", {"workloads", "steps", "analysis"}},
    {"environments.*.strategy.canary.steps[]", {"weight", "pause"}},
    {"environments.*.strategy.canary.analysis", {"prometheus", "interval", "metrics", "noData"}},
    {"environments.*.strategy.canary.analysis.prometheus", {"address", "tokenEnv", "headers"}},
    {"environments.*.strategy.canary.analysis.metrics[]",
     {"name", "query", "successCondition", "failureCondition", "failureLimit", "consecutiveErrorLimit"}},
};

// The analysis block's places; an analysis file's top level is the first.
const std::string k_analysis_place = "environments.*.strategy.canary.analysis";
const std::string k_prometheus_place = k_analysis_place + ".prometheus";
const std::string k_metric_place = k_analysis_place + ".metrics[]";

// A metric's failureLimit and consecutiveErrorLimit at most: past any number of measurements a canary takes.
constexpr int k_max_limit = 10'000;

// How much of an unknown placeholder an error quotes.
constexpr std::size_t k_max_quoted_placeholder = 60;

// What a metric's query may hold in {{...}}; the canary fills them in for each workload and step.
using model::k_query_placeholders;

// Which end of a mapping member an error points at.
enum class Where { key, value };

// A value of the document with where it is: its JSON pointer and its name for people.
struct Node {
    const Json* value = nullptr;
    std::string pointer;  // "/environments/preview/on"
    std::string field;    // "environments.preview.on"

    const Json& json() const { return *value; }
    bool has(std::string_view key) const { return value->is_object() && value->contains(key); }

    Node child(const std::string& key) const {
        return {&value->at(key), pointer + "/" + source::pointer_token(key), field.empty() ? key : field + "." + key};
    }
    Node item(std::size_t index) const {
        return {&value->at(index), fmt::format("{}/{}", pointer, index), fmt::format("{}[{}]", field, index)};
    }
    // Where a key that is missing would be named.
    std::string field_of(std::string_view key) const {
        return field.empty() ? std::string(key) : field + "." + std::string(key);
    }
};

std::string lowercase(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return result;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

// The known key a misspelt one was probably meant as: same letters ignoring case, `_` and `-`,
// or a couple of edits away; "" when none is close.
std::string suggestion(std::string_view key, const std::vector<std::string_view>& known) {
    const auto squash = [](std::string_view text) {
        std::string result;
        for (const char c : text) {
            if (c != '_' && c != '-') {
                result += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
        }
        return result;
    };
    std::string best;
    std::size_t best_distance = key.size() < 5 ? 2 : 3;  // one past the largest distance accepted
    for (const std::string_view candidate : known) {
        if (squash(candidate) == squash(key)) {
            return std::string(candidate);
        }
        const std::size_t distance = edit_distance(lowercase(key), lowercase(candidate));
        if (distance < best_distance) {
            best_distance = distance;
            best = std::string(candidate);
        }
    }
    return best;
}

std::string found_text(const Json& value) {
    switch (value.type()) {
        case Json::value_t::null: return "nothing";
        case Json::value_t::object: return "a mapping";
        case Json::value_t::array: return "a list";
        // Text is not repeated: a misplaced line may hold a secret.
        case Json::value_t::string: return "text";
        default: return value.dump();
    }
}

bool is_build_arg_name(std::string_view text) {
    return !text.empty() && (std::isalpha(static_cast<unsigned char>(text[0])) || text[0] == '_') &&
           std::all_of(text.begin(), text.end(),
                       [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// How environment variables holding secrets are named: GITHUB_TOKEN. A pasted token is not.
bool is_variable_name(std::string_view text) {
    return !text.empty() && !std::isdigit(static_cast<unsigned char>(text[0])) &&
           std::all_of(text.begin(), text.end(), [](unsigned char c) {
               return std::isupper(c) || std::isdigit(c) || c == '_';
           });
}

bool has_space(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); });
}

// Why a branch or tag pattern cannot match a Git ref name; "" when it can.
std::string pattern_problem(std::string_view pattern) {
    const std::string_view body = pattern.starts_with('!') ? pattern.substr(1) : pattern;
    if (body.empty()) {
        return "an empty pattern matches nothing";
    }
    if (body.starts_with('!')) {
        return "one ! excludes; !! is not a pattern";
    }
    if (body.starts_with("refs/")) {
        return "write the short name (main, v*), not the full ref";
    }
    if (has_space(body)) {
        return "Git names cannot hold spaces or control characters";
    }
    for (const char c : std::string_view("?[\\~^:")) {
        if (body.find(c) != std::string_view::npos) {
            return fmt::format("'{}' cannot be in a Git name; `*` is the only wildcard", c);
        }
    }
    if (body.find("..") != std::string_view::npos || body.find("//") != std::string_view::npos ||
        body.find("@{") != std::string_view::npos) {
        return "Git names cannot hold '..', '//' or '@{'";
    }
    if (body.starts_with('/') || body.ends_with('/') || body.ends_with('.') || body.ends_with(".lock")) {
        return "Git names cannot start or end with '/' or end with '.' or '.lock'";
    }
    return {};
}

bool literal_chars_ok(const NameTemplate& name_template, std::string_view allowed_extra) {
    for (const TemplatePart& part : name_template.parts()) {
        for (const char c : part.literal) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  allowed_extra.find(c) != std::string_view::npos)) {
                return false;
            }
        }
    }
    return true;
}

// Why a namespace template cannot give a namespace name; "" when it can.
std::string namespace_problem(const NameTemplate& name_template, std::string_view app, std::string_view env) {
    const auto& parts = name_template.parts();
    const bool has_placeholders = std::any_of(parts.begin(), parts.end(), [](const TemplatePart& part) {
        return part.placeholder != Placeholder::none;
    });
    if (has_placeholders && !literal_chars_ok(name_template, "")) {
        return "only lowercase letters, digits and '-' may stand around the placeholders";
    }
    if (name_template.count(Placeholder::branch) > 1) {
        return "{branch} may appear only once";
    }
    if (!name_template.parts().empty() && name_template.parts().front().placeholder == Placeholder::branch) {
        return "must not start with {branch}: a branch may start with a digit; put a prefix first, e.g. "
               "\"shop-{branch}\"";
    }
    const std::size_t fixed = name_template.expand(app, env, "").size();
    if (name_template.has_branch() && fixed + k_branch_room > k_max_label) {
        return fmt::format("leaves {} characters for {{branch}}; at least {} are needed (63 in all)",
                           fixed < k_max_label ? k_max_label - fixed : 0, k_branch_room);
    }
    const std::string sample = name_template.expand(app, env, "b");
    if (!is_dns_label(sample) || !std::isalpha(static_cast<unsigned char>(sample.front()))) {
        return fmt::format("gives \"{}\", which is not a namespace name (at most 63 of a-z, 0-9 and '-', starting "
                           "with a letter, not ending with '-')",
                           sample);
    }
    if (sample.starts_with("kube-")) {
        return "names starting with kube- are reserved by Kubernetes";
    }
    return {};
}

// Why a host template cannot give a host name; "" when it can.
std::string host_problem(const NameTemplate& name_template, std::string_view app, std::string_view env) {
    if (!literal_chars_ok(name_template, ".")) {
        return "only lowercase letters, digits, '-', '.' and the placeholders may be used";
    }
    if (name_template.count(Placeholder::branch) > 1) {
        return "{branch} may appear only once";
    }
    // Each label on its own: the branch gets the room its label leaves.
    std::vector<std::vector<TemplatePart>> labels(1);
    for (const TemplatePart& part : name_template.parts()) {
        std::string_view rest = part.literal;
        if (part.placeholder != Placeholder::none) {
            labels.back().push_back(part);
            continue;
        }
        for (std::size_t dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
            labels.back().push_back({.placeholder = Placeholder::none, .literal = std::string(rest.substr(0, dot))});
            labels.emplace_back();
            rest.remove_prefix(dot + 1);
        }
        labels.back().push_back({.placeholder = Placeholder::none, .literal = std::string(rest)});
    }
    std::size_t total = labels.size() - 1;
    for (const auto& label : labels) {
        std::string fixed;   // the label without the branch
        std::string sample;  // the label with a one-letter branch
        bool branch = false;
        for (const TemplatePart& part : label) {
            const std::string value = part.placeholder == Placeholder::app   ? std::string(app)
                                      : part.placeholder == Placeholder::env ? std::string(env)
                                                                             : part.literal;
            branch = branch || part.placeholder == Placeholder::branch;
            fixed += value;
            sample += part.placeholder == Placeholder::branch ? std::string("b") : value;
        }
        if (branch && fixed.size() + k_branch_room > k_max_label) {
            return fmt::format("the label with {{branch}} leaves {} characters for it; at least {} are needed",
                               fixed.size() < k_max_label ? k_max_label - fixed.size() : 0, k_branch_room);
        }
        if (!is_dns_label(sample)) {
            return fmt::format("\"{}\" is not a DNS label (1 to 63 of a-z, 0-9 and '-', not starting or ending with "
                               "'-')",
                               fixed.empty() ? std::string("(empty)") : fixed);
        }
        total += branch ? k_max_label : fixed.size();
    }
    if (total > k_max_host) {
        return fmt::format("can give names of {} characters; at most {} are allowed", total, k_max_host);
    }
    return {};
}

bool valid_uid(std::string_view uid) {
    if (uid.size() != 36) {
        return false;
    }
    for (std::size_t i = 0; i < uid.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? uid[i] != '-' : !std::isxdigit(static_cast<unsigned char>(uid[i]))) {
            return false;
        }
    }
    return true;
}

// An OCI repository path: lowercase components joined by `/`, separators inside components.
bool valid_repository(std::string_view name) {
    if (name.empty() || name.front() == '/' || name.back() == '/') {
        return false;
    }
    bool component_start = true;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (alnum) {
            component_start = false;
            continue;
        }
        const bool separator = c == '.' || c == '_' || c == '-' || c == '/';
        if (!separator || component_start || i + 1 == name.size()) {
            return false;
        }
        component_start = true;
    }
    return true;
}

// Without the spaces and tabs around it: what the canary trims from a placeholder when it fills the query in.
std::string_view trim_blanks(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// Why a metric's query cannot be filled in, one line per problem: placeholders other than the known
// ones ({{ namespace }} with spaces is {{namespace}}), or a {{ that is not closed.
std::vector<std::string> query_problems(std::string_view query) {
    std::vector<std::string> problems;
    std::set<std::string> reported;
    const auto known_text = [] {
        std::vector<std::string> names;
        for (const std::string_view name : k_query_placeholders) {
            names.push_back(fmt::format("{{{{{}}}}}", name));
        }
        return fmt::format("{}", fmt::join(names, " "));
    };
    bool unclosed = false;
    for (std::size_t open = query.find("{{"); open != std::string_view::npos; open = query.find("{{", open)) {
        const std::size_t close = query.find("}}", open + 2);
        const std::size_t next = query.find("{{", open + 2);
        if (close == std::string_view::npos || next < close) {
            if (!unclosed) {
                problems.push_back(fmt::format("a {{{{ is not closed by }}}}; placeholders are {}", known_text()));
                unclosed = true;
            }
            open += 2;
            continue;
        }
        const std::string_view name = trim_blanks(query.substr(open + 2, close - open - 2));
        const bool known = std::find(k_query_placeholders.begin(), k_query_placeholders.end(), name) !=
                           k_query_placeholders.end();
        if (!known && reported.insert(std::string(name)).second) {
            problems.push_back(fmt::format("unknown placeholder {{{{{}}}}} (known: {})",
                                           util::shorten_utf8(name, k_max_quoted_placeholder), known_text()));
        }
        open = close + 2;
    }
    return problems;
}

// Why a Prometheus address is not an http(s) URL with a host; "" when it is.
std::string address_problem(std::string_view address) {
    const std::string_view example = "e.g. http://prometheus.monitoring:9090";
    std::string_view rest = address;
    if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else {
        return fmt::format("expected an http:// or https:// URL, {}", example);
    }
    if (has_space(address)) {
        return fmt::format("a URL has no spaces or control characters, {}", example);
    }
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    // Never echo the address: credentials in it are why it is refused.
    if (authority.find('@') != std::string_view::npos) {
        return "must not hold credentials (user:password@): name an environment variable holding a bearer token "
               "with tokenEnv";
    }
    const std::size_t port_colon =
        authority.starts_with('[') ? authority.find(':', authority.find(']')) : authority.rfind(':');
    const std::string_view host = authority.substr(0, port_colon);
    if (host.empty() || host == "[]") {
        return fmt::format("the URL has no host, {}", example);
    }
    if (port_colon != std::string_view::npos) {
        const std::string_view port = authority.substr(port_colon + 1);
        const bool digits = !port.empty() && port.size() <= 5 &&
                            std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
        if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
            return fmt::format("the port after the host must be a number from 1 to 65535, {}", example);
        }
    }
    return {};
}

// An HTTP header name as minicd sends one: letters, digits and '-'.
bool is_header_name(std::string_view name) {
    return !name.empty() &&
           std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '-'; });
}

class Checker {
public:
    Checker(std::string_view text, std::string_view file, const source::PositionTable& positions)
        : m_file(file), m_positions(positions) {
        for (std::size_t start = 0; start <= text.size();) {
            const std::size_t end = text.find('\n', start);
            m_lines.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
            if (end == std::string_view::npos) {
                break;
            }
            start = end + 1;
        }
    }

    SourceMark mark(const std::string& pointer, Where where) const {
        std::string at = pointer;
        while (true) {
            if (const auto found = m_positions.find(at); found != m_positions.end()) {
                return where == Where::key ? found->second.key : found->second.value;
            }
            if (at.empty()) {
                return {};
            }
            // Inside an alias or merge: the nearest ancestor that was written is the best place.
            at.erase(at.rfind('/'));
            where = Where::value;
        }
    }

    void report(Severity severity, const Node& node, Where where, std::string message) {
        report_at(severity, node.field, mark(node.pointer, where), std::move(message));
    }
    void error(const Node& node, std::string message, Where where = Where::value) {
        report(Severity::error, node, where, std::move(message));
    }
    void warning(const Node& node, std::string message, Where where = Where::key, Restated restated = Restated::no) {
        report(Severity::warning, node, where, std::move(message));
        m_diagnostics.back().restated = restated;
    }
    void report_at(Severity severity, std::string field, SourceMark at, std::string message) {
        m_diagnostics.push_back({.severity = severity,
                                 .file = std::string(m_file),
                                 .line = at.line,
                                 .column = at.column,
                                 .field = std::move(field),
                                 .message = std::move(message)});
    }
    void missing(const Node& parent, std::string_view key, std::string_view what) {
        report_at(Severity::error, parent.field_of(key), mark(parent.pointer, Where::key),
                  fmt::format("missing: {}", what));
    }

    bool has_errors() const {
        return std::any_of(m_diagnostics.begin(), m_diagnostics.end(),
                           [](const Diagnostic& diagnostic) { return diagnostic.severity == Severity::error; });
    }

    std::vector<Diagnostic> take() {
        std::stable_sort(m_diagnostics.begin(), m_diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
            return std::tie(a.line, a.column) < std::tie(b.line, b.column);
        });
        return std::move(m_diagnostics);
    }

    // The key as written at its position: `on` reaches us as "true" (YAML 1.1 reads it so).
    std::string written_key(const Node& member) const {
        const SourceMark at = mark(member.pointer, Where::key);
        if (at.line < 1 || static_cast<std::size_t>(at.line) > m_lines.size() || at.column < 1) {
            return {};
        }
        std::string_view line = m_lines[static_cast<std::size_t>(at.line - 1)];
        if (static_cast<std::size_t>(at.column - 1) >= line.size()) {
            return {};
        }
        line.remove_prefix(static_cast<std::size_t>(at.column - 1));
        const std::size_t end = line.find_first_of(": \t");
        return std::string(line.substr(0, end));
    }

    bool mapping(const Node& node) {
        if (node.json().is_object()) {
            return true;
        }
        error(node, fmt::format("expected a mapping (key: value lines), found {}", found_text(node.json())));
        return false;
    }

    // Reports keys that are not in `place`'s list.
    void keys(const Node& node, const std::string& place) {
        const auto& known = k_keys.at(place);
        for (const auto& [key, value] : node.json().items()) {
            if (std::find(known.begin(), known.end(), key) != known.end()) {
                continue;
            }
            // YAML 1.1 turned `yes:` into "true": name the key as it was written.
            const std::string written = written_key(node.child(key));
            const std::string& shown = key == "true" || key == "false" ? (written.empty() ? key : written) : key;
            const std::string hint = suggestion(shown, known);
            error(node.child(key),
                  hint.empty() ? fmt::format("unknown key \"{}\" (known here: {})", shown, fmt::join(known, ", "))
                               : fmt::format("unknown key \"{}\"; did you mean \"{}\"?", shown, hint),
                  Where::key);
        }
    }

    std::optional<std::string> string(const Node& node) {
        const Json& value = node.json();
        if (value.is_string()) {
            return value.get<std::string>();
        }
        std::string hint;
        if (value.is_boolean()) {
            hint = " (YAML reads unquoted yes/no/on/off/y/n/true/false as booleans: quote the text)";
        } else if (value.is_number()) {
            hint = " (quote it to keep it as written)";
        }
        error(node, fmt::format("expected text, found {}{}", found_text(value), hint));
        return std::nullopt;
    }

    // Text that must not be empty.
    std::optional<std::string> text(const Node& node) {
        auto value = string(node);
        if (value && util::trim(*value).empty()) {
            error(node, "must not be empty");
            return std::nullopt;
        }
        return value;
    }

    std::optional<bool> boolean(const Node& node) {
        if (node.json().is_boolean()) {
            return node.json().get<bool>();
        }
        error(node, fmt::format("expected true or false, found {}", found_text(node.json())));
        return std::nullopt;
    }

    std::optional<int> integer(const Node& node, int low, int high) {
        const Json& value = node.json();
        if (!value.is_number_integer()) {
            error(node, fmt::format("expected a whole number from {} to {}, found {}", low, high, found_text(value)));
            return std::nullopt;
        }
        if (value.get<std::int64_t>() < low || value.get<std::int64_t>() > high) {
            error(node, fmt::format("must be between {} and {}, found {}", low, high, found_text(value)));
            return std::nullopt;
        }
        return static_cast<int>(value.get<std::int64_t>());
    }

    std::optional<std::chrono::seconds> duration(const Node& node) {
        const Json& value = node.json();
        if (value.is_number_integer()) {
            // Through the text, so the range check is parse_duration's own: a bare count of seconds
            // near int64's end would overflow every clock it is added to.
            const std::string seconds = value.is_number_unsigned() ? std::to_string(value.get<std::uint64_t>())
                                                                   : std::to_string(value.get<std::int64_t>());
            auto parsed = util::parse_duration(seconds);
            if (parsed && parsed->count() > 0) {
                return std::chrono::duration_cast<std::chrono::seconds>(*parsed);
            }
        }
        if (value.is_string()) {
            auto parsed = util::parse_duration(value.get<std::string>());
            if (parsed && parsed->count() > 0) {
                return std::chrono::duration_cast<std::chrono::seconds>(*parsed);
            }
        }
        error(node, fmt::format("expected a duration such as 90s, 10m, 1h30m or 7d, found {}", found_text(value)));
        return std::nullopt;
    }

    // A duration of at least `minimum` (0 allowed when that is 0), to the millisecond; a bare number is seconds.
    std::optional<std::chrono::milliseconds> duration_ms(const Node& node, std::chrono::milliseconds minimum) {
        const Json& value = node.json();
        std::optional<std::chrono::milliseconds> parsed;
        if (value.is_number_integer()) {
            // Through the text, so the range check is parse_duration's own.
            const std::string seconds = value.is_number_unsigned() ? std::to_string(value.get<std::uint64_t>())
                                                                   : std::to_string(value.get<std::int64_t>());
            if (auto read = util::parse_duration(seconds)) {
                parsed = *read;
            }
        } else if (value.is_string()) {
            if (auto read = util::parse_duration(value.get<std::string>())) {
                parsed = *read;
            }
        }
        if (!parsed) {
            error(node, fmt::format("expected a duration such as 30s, 2m or 1h30m, found {}", found_text(value)));
            return std::nullopt;
        }
        if (*parsed < minimum) {
            error(node, minimum.count() % 1000 == 0 ? fmt::format("must be at least {}s", minimum.count() / 1000)
                                                    : fmt::format("must be at least {}ms", minimum.count()));
            return std::nullopt;
        }
        return parsed;
    }

    // Optional members: absent or wrong (and reported) leaves `target` at its default.
    void optional_text(const Node& parent, const std::string& key, std::string& target) {
        assign(parent, key, target, [this](const Node& node) { return text(node); });
    }
    void optional_boolean(const Node& parent, const std::string& key, bool& target) {
        assign(parent, key, target, [this](const Node& node) { return boolean(node); });
    }
    void optional_duration(const Node& parent, const std::string& key, std::chrono::seconds& target) {
        assign(parent, key, target, [this](const Node& node) { return duration(node); });
    }
    void optional_integer(const Node& parent, const std::string& key, int& target, int low, int high) {
        assign(parent, key, target, [this, low, high](const Node& node) { return integer(node, low, high); });
    }

    // Text that must be there and not be empty; reports `what` when it is missing.
    std::optional<std::string> required_text(const Node& parent, const std::string& key, std::string_view what) {
        if (!parent.has(key)) {
            missing(parent, key, what);
            return std::nullopt;
        }
        return text(parent.child(key));
    }

    // The items of a list that are mappings with only `place`'s keys; reports everything else.
    std::vector<Node> mapping_items(const Node& node, std::string_view what, const std::string& place) {
        std::vector<Node> items;
        if (!node.json().is_array()) {
            error(node, fmt::format("expected a list of {}, found {}", what, found_text(node.json())));
            return items;
        }
        for (std::size_t i = 0; i < node.json().size(); ++i) {
            Node item = node.item(i);
            if (mapping(item)) {
                keys(item, place);
                items.push_back(std::move(item));
            }
        }
        return items;
    }

    // A string or a list of strings.
    std::vector<std::pair<Node, std::string>> string_list(const Node& node) {
        std::vector<std::pair<Node, std::string>> items;
        if (node.json().is_array()) {
            if (node.json().empty()) {
                error(node, "an empty list selects nothing; leave the key out instead");
            }
            for (std::size_t i = 0; i < node.json().size(); ++i) {
                if (auto value = string(node.item(i))) {
                    items.emplace_back(node.item(i), std::move(*value));
                }
            }
        } else if (auto value = string(node)) {
            items.emplace_back(node, std::move(*value));
        }
        return items;
    }

private:
    template <typename T, typename Read>
    void assign(const Node& parent, const std::string& key, T& target, Read read) {
        if (parent.has(key)) {
            if (auto value = read(parent.child(key))) {
                target = std::move(*value);
            }
        }
    }

    std::string_view m_file;
    const source::PositionTable& m_positions;
    std::vector<std::string_view> m_lines;
    std::vector<Diagnostic> m_diagnostics;
};

// Reads the file's values into a Config, reporting what is wrong as it goes.
class Reader {
public:
    explicit Reader(Checker& checker) : m_check(checker) {}

    Config read(const Node& root) {
        Config config;
        if (!m_check.mapping(root)) {
            return config;
        }
        m_check.keys(root, "");
        read_top(root, config);
        if (root.has("images")) {
            read_images(root.child("images"), config);
        }
        if (root.has("build")) {
            read_build(root.child("build"), config.build);
        }
        if (root.has("imagePaths")) {
            read_image_paths(root.child("imagePaths"), config);
        }
        if (!root.has("environments")) {
            m_check.missing(root, "environments", "at least one environment (e.g. preview, staging, production)");
        } else {
            read_environments(root.child("environments"), config);
            check_across(config);
        }
        return config;
    }

    // The `analysis:` block of a canary, in minicd.yaml or as a file of its own.
    std::optional<model::Analysis> read_analysis(const Node& node) {
        if (!m_check.mapping(node)) {
            return std::nullopt;
        }
        m_check.keys(node, k_analysis_place);
        model::Analysis analysis;
        if (!node.has("prometheus")) {
            m_check.missing(node, "prometheus", "where the queries go, e.g. prometheus: {address: "
                                                "\"http://prometheus:9090\"}");
        } else {
            read_prometheus(node.child("prometheus"), analysis.prometheus);
        }
        if (node.has("interval")) {
            if (auto interval = m_check.duration_ms(node.child("interval"), std::chrono::seconds(1))) {
                analysis.interval = *interval;
            }
        }
        if (!node.has("metrics")) {
            m_check.missing(node, "metrics", "the PromQL checks, e.g. metrics: [{name: success-rate, query: ..., "
                                             "successCondition: \">= 0.99\"}]");
        } else {
            analysis.metrics = read_metrics(node.child("metrics"));
        }
        if (node.has("noData")) {
            if (auto policy = read_no_data(node.child("noData"))) {
                analysis.no_data = *policy;
            }
        }
        return analysis;
    }

    // An analysis file: what `analysis:` holds, at the top.
    std::optional<model::Analysis> read_analysis_file(const Node& root) {
        // Copied from minicd.yaml with its key: say what to do rather than list the known keys.
        if (root.json().is_object() && root.json().size() == 1 && root.has("analysis")) {
            m_check.error(root.child("analysis"), "the file holds what analysis: holds in minicd.yaml: put "
                                                  "prometheus, interval, metrics and noData at the top, without "
                                                  "analysis:",
                          Where::key);
            return std::nullopt;
        }
        return read_analysis(root);
    }

private:
    void read_top(const Node& root, Config& config) {
        if (auto app = m_check.required_text(root, "app", "the application's name, e.g. app: shop")) {
            config.app = *app;
            if (!is_dns_label(*app) || !std::isalpha(static_cast<unsigned char>(app->front()))) {
                m_check.error(root.child("app"),
                              "must be a DNS label: at most 63 of a-z, 0-9 and '-', starting with a letter");
                config.app.clear();
            }
        }
        if (auto registry =
                m_check.required_text(root, "registry", "where images are pushed, e.g. registry: ghcr.io/acme")) {
            config.registry = *registry;
            check_registry(root.child("registry"), *registry);
        }
        if (root.has("manifests")) {
            if (auto manifests = read_manifests(root.child("manifests"), "manifests")) config.manifests = std::move(*manifests);
        }
        m_check.optional_boolean(root, "allowTagOverwrite", config.allow_tag_overwrite);
        m_check.optional_text(root, "mainBranch", config.main_branch);
        if (root.has("mainBranch") && !valid_branch_name(config.main_branch)) {
            m_check.error(root.child("mainBranch"), "must be a branch name as Git spells it, e.g. main or master (no "
                                                    "refs/ prefix, spaces, '..' or leading '-')");
        }
    }

    static bool valid_branch_name(std::string_view name) {
        if (name.empty() || name.front() == '-' || name.front() == '/' || name.back() == '/' || name.starts_with("refs/")) {
            return false;
        }
        if (name.find("..") != std::string_view::npos || name.ends_with(".lock")) return false;
        return std::none_of(name.begin(), name.end(), [](char c) {
            return static_cast<unsigned char>(c) <= ' ' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' ||
                   c == '[' || c == '\\';
        });
    }

    void check_registry(const Node& node, std::string_view registry) {
        const std::size_t slash = registry.find('/');
        const std::string_view path = slash == std::string_view::npos ? std::string_view() : registry.substr(slash + 1);
        if (registry.find("://") != std::string_view::npos) {
            m_check.error(node, "write the registry without a scheme, e.g. ghcr.io/acme");
        } else if (has_space(registry) || registry.find('@') != std::string_view::npos ||
                   path.find(':') != std::string_view::npos) {
            m_check.error(node, "expected host[:port]/path without a tag or digest, e.g. ghcr.io/acme");
        } else if (!path.empty() && !valid_repository(path)) {
            m_check.error(node, "the path after the host must be lowercase a-z, 0-9 and . _ - / between them");
        }
    }

    void read_images(const Node& node, Config& config) {
        std::set<std::string> names;
        for (const Node& item : m_check.mapping_items(node, "images (- name: ...)", "images[]")) {
            Image image;
            if (auto name = m_check.required_text(item, "name", "the image name the manifests use")) {
                image.name = *name;
                if (!valid_repository(*name)) {
                    m_check.error(item.child("name"),
                                  "must be a repository name: lowercase a-z, 0-9 and . _ - / between them");
                } else if (!names.insert(*name).second) {
                    m_check.error(item.child("name"), fmt::format("image \"{}\" is listed twice", *name));
                }
            }
            m_check.optional_text(item, "context", image.context);
            m_check.optional_text(item, "dockerfile", image.dockerfile);
            m_check.optional_text(item, "target", image.target);
            if (item.has("buildArgs")) {
                read_build_args(item.child("buildArgs"), image);
            }
            config.images.push_back(std::move(image));
        }
    }

    // `manifests: PATH` or `manifests: {helm: {chart, values, set, version}}`.
    std::optional<ManifestSource> read_manifests(const Node& node, const std::string& place) {
        if (!node.json().is_object()) {
            auto path = m_check.text(node);
            if (!path) return std::nullopt;
            return ManifestSource{.path = std::move(*path), .helm = std::nullopt};
        }
        m_check.keys(node, place);
        if (!node.has("helm")) {
            m_check.missing(node, "helm", "a path (manifests: k8s) or a chart (manifests: {helm: {chart: deploy/chart}})");
            return std::nullopt;
        }
        auto chart = read_helm(node.child("helm"), place + ".helm");
        if (!chart) return std::nullopt;
        return ManifestSource{.path = {}, .helm = std::move(*chart)};
    }

    std::optional<HelmChart> read_helm(const Node& node, const std::string& place) {
        if (!m_check.mapping(node)) return std::nullopt;
        m_check.keys(node, place);
        HelmChart chart;
        auto path = m_check.required_text(node, "chart", "the chart: a directory relative to minicd.yaml or an oci:// "
                                                         "reference, e.g. chart: deploy/chart");
        if (!path) return std::nullopt;
        chart.chart = std::move(*path);
        const bool from_registry = chart.chart.starts_with("oci://");
        if (!from_registry && chart.chart.find("://") != std::string::npos) {
            m_check.error(node.child("chart"), "expected a path relative to minicd.yaml or an oci:// reference (charts "
                                               "from http repositories: pull them into the repository, or push them "
                                               "to an OCI registry)");
        }
        if (node.has("values")) {
            for (auto& [item, file] : m_check.string_list(node.child("values"))) {
                if (util::trim(file).empty()) {
                    m_check.error(item, "must not be empty");
                } else {
                    chart.values.push_back(std::move(file));
                }
            }
        }
        if (node.has("set")) read_helm_set(node.child("set"), chart);
        if (node.has("version")) {
            if (auto version = m_check.text(node.child("version"))) {
                if (from_registry) {
                    chart.version = *version;
                } else {
                    // helm ignores --version for a local chart: a pin nobody checks is worse than none.
                    m_check.error(node.child("version"), "applies to oci:// charts; a chart in the repository is the "
                                                         "version its Chart.yaml says (leave version out)");
                }
            }
        }
        return chart;
    }

    // `set: {image.tag: v2, replicaCount: 3}`: scalars, kept as helm --set reads text.
    void read_helm_set(const Node& node, HelmChart& chart) {
        if (!m_check.mapping(node)) return;
        for (const auto& [key, value] : node.json().items()) {
            const Node item = node.child(key);
            if (key.empty() || key.find_first_of("=,") != std::string::npos) {
                m_check.error(item, "a value's path may not be empty or hold '=' or ','", Where::key);
                continue;
            }
            if (value.is_string()) {
                chart.set.emplace(key, value.get<std::string>());
            } else if (value.is_boolean() || value.is_number()) {
                chart.set.emplace(key, value.dump());
            } else {
                m_check.error(item, fmt::format("expected text, a number or true/false, found {} (a list or mapping "
                                                "belongs in a values file)",
                                                found_text(value)));
            }
        }
    }

    void read_build_args(const Node& node, Image& image) {
        if (!m_check.mapping(node)) {
            return;
        }
        for (const auto& [key, value] : node.json().items()) {
            const Node arg = node.child(key);
            if (!is_build_arg_name(key)) {
                m_check.error(arg, "build argument names are letters, digits and _, not starting with a digit",
                              Where::key);
            }
            if (auto text = m_check.string(arg)) {
                image.build_args.emplace(key, *text);
            }
        }
    }

    void read_build(const Node& node, Build& build) {
        if (!m_check.mapping(node)) {
            return;
        }
        m_check.keys(node, "build");
        if (node.has("builder")) {
            if (auto builder = m_check.string(node.child("builder"))) {
                build.builder = *builder;
                const std::set<std::string> known = {"buildah", "docker", "podman", "kaniko"};
                if (!known.contains(*builder)) {
                    m_check.error(node.child("builder"), "expected buildah, docker, podman or kaniko (or leave it out "
                                                         "to use the first found)");
                }
            }
        }
        m_check.optional_integer(node, "tagLength", build.tag_length, 4, 40);
        m_check.optional_boolean(node, "allowDirty", build.allow_dirty);
    }

    void read_image_paths(const Node& node, Config& config) {
        for (const Node& item : m_check.mapping_items(node, "{kind, path}", "imagePaths[]")) {
            ImagePath path;
            if (auto kind = m_check.required_text(item, "kind", "the kind of resource, e.g. kind: CronTab")) {
                path.kind = *kind;
                if (!std::isupper(static_cast<unsigned char>(kind->front())) || has_space(*kind)) {
                    m_check.error(item.child("kind"), "a kind is written as in manifests, e.g. CronTab");
                }
            }
            m_check.optional_text(item, "group", path.group);
            if (auto text = m_check.required_text(item, "path", "where the image is, e.g. path: spec.runtime.image")) {
                path.path = *text;
                if (has_space(*text)) {
                    m_check.error(item.child("path"), "a path has no spaces, e.g. spec.containers[].image");
                }
            }
            config.image_paths.push_back(std::move(path));
        }
    }

    void read_environments(const Node& node, Config& config) {
        if (!m_check.mapping(node)) {
            return;
        }
        if (node.json().empty()) {
            m_check.error(node, "at least one environment is needed");
            return;
        }
        // JSON objects are sorted by key; the file's order is what people wrote and read.
        std::vector<std::pair<SourceMark, std::string>> names;
        for (const auto& [name, value] : node.json().items()) {
            names.emplace_back(m_check.mark(node.child(name).pointer, Where::key), name);
        }
        std::stable_sort(names.begin(), names.end(), [](const auto& a, const auto& b) {
            return std::tie(a.first.line, a.first.column) < std::tie(b.first.line, b.first.column);
        });
        for (const auto& [mark, name] : names) {
            const Node member = node.child(name);
            if (!is_dns_label(name) || !std::isalpha(static_cast<unsigned char>(name.front()))) {
                m_check.error(member,
                              "an environment name must be a DNS label: at most 63 of a-z, 0-9 and '-', starting "
                              "with a letter",
                              Where::key);
            }
            if (m_check.mapping(member)) {
                config.environments.push_back(read_environment(member, name, config.app));
                m_environment_nodes.push_back(member);
            }
        }
    }

    Environment read_environment(const Node& node, const std::string& name, const std::string& app) {
        Environment environment;
        environment.name = name;
        const std::optional<Node> on = on_node(node);
        // A plain `on` key reaches us as "true"; any other spelling of true is a mistake.
        Json renamed;
        Node view = node;
        if (on && on->pointer.ends_with("/true")) {
            if (node.has("on")) {
                m_check.error(node.child("on"), "\"on\" is given twice", Where::key);
            }
            renamed = node.json();
            renamed.erase("true");
            renamed["on"] = nullptr;
            view.value = &renamed;
        }
        m_check.keys(view, "environments.*");
        if (!node.has("cluster")) {
            m_check.missing(node, "cluster", "the kube context to deploy with, e.g. cluster: {context: prd}");
        } else {
            read_cluster(node.child("cluster"), environment);
        }
        if (on) {
            environment.on = read_trigger(*on);
        }
        if (auto text = m_check.required_text(node, "namespace", "the namespace to deploy to, e.g. namespace: "
                                                                 "shop-{branch}")) {
            environment.namespace_ = *text;
            check_template(node.child("namespace"), *text, app, name, namespace_problem);
        }
        if (node.has("host")) {
            if (auto text = m_check.text(node.child("host"))) {
                environment.host = *text;
                check_template(node.child("host"), *text, app, name, host_problem);
            }
        }
        if (node.has("tls")) {
            environment.tls = read_tls(node.child("tls"), !environment.host.empty());
        }
        m_check.optional_duration(node, "ttl", environment.ttl);
        m_check.optional_text(node, "promoteFrom", environment.promote_from);
        m_check.optional_boolean(node, "prune", environment.prune);
        m_check.optional_duration(node, "timeout", environment.timeout);
        m_check.optional_boolean(node, "waitForAddresses", environment.wait_for_addresses);
        m_check.optional_boolean(node, "adopt", environment.adopt);
        m_check.optional_integer(node, "history", environment.history, 1, 100);
        if (node.has("onFailure")) {
            environment.on_failure = read_on_failure(node.child("onFailure"));
        }
        if (node.has("drift")) {
            environment.drift = read_drift(node.child("drift")).value_or(DriftAction::report);
        }
        if (node.has("manifests")) {
            environment.manifests = read_manifests(node.child("manifests"), "environments.*.manifests");
        }
        if (node.has("gc")) {
            read_gc(node.child("gc"), environment.gc);
        }
        if (node.has("strategy")) {
            auto canary = read_strategy(node.child("strategy"));
            // Checked all the same; a preview is one developer's, with no users to shield from a bad version.
            if (environment.per_branch()) {
                m_check.warning(node.child("strategy"), "is not used by previews: they deploy the release at once, "
                                                        "without a canary");
            } else {
                environment.canary = std::move(canary);
            }
        }
        return environment;
    }

    std::optional<OnFailure> read_on_failure(const Node& node) {
        auto policy = m_check.string(node);
        if (!policy) {
            return std::nullopt;
        }
        if (*policy == "rollback") {
            return OnFailure::rollback;
        }
        if (*policy == "keep") {
            return OnFailure::keep;
        }
        m_check.error(node, "expected rollback (re-apply the last healthy release) or keep (leave the failed rollout "
                            "as it is)");
        return std::nullopt;
    }

    std::optional<DriftAction> read_drift(const Node& node) {
        auto action = m_check.string(node);
        if (!action) {
            return std::nullopt;
        }
        if (*action == "report") {
            return DriftAction::report;
        }
        if (*action == "fix") {
            return DriftAction::fix;
        }
        m_check.error(node, "expected report (name what drifted, exit 3) or fix (re-apply the last release's version "
                            "of what drifted)");
        return std::nullopt;
    }

    using TemplateCheck = std::string (*)(const NameTemplate&, std::string_view, std::string_view);

    void check_template(const Node& node, const std::string& text, const std::string& app, const std::string& env,
                        TemplateCheck check) {
        auto parsed = NameTemplate::parse(text);
        if (!parsed) {
            m_check.error(node, parsed.error().message);
            return;
        }
        // An invalid app was reported already; a stand-in keeps this report about the template.
        const std::string problem = check(*parsed, app.empty() ? "app" : app, env);
        if (!problem.empty()) {
            m_check.error(node, problem);
        }
    }

    void read_cluster(const Node& node, Environment& environment) {
        if (!m_check.mapping(node)) {
            return;
        }
        m_check.keys(node, "environments.*.cluster");
        ClusterPin& cluster = environment.cluster;
        cluster.context =
            m_check.required_text(node, "context", "the kubeconfig context, e.g. context: prd").value_or("");
        if (node.has("server")) {
            if (auto server = m_check.text(node.child("server"))) {
                cluster.server = *server;
                if (!server->starts_with("https://") && !server->starts_with("http://")) {
                    m_check.error(node.child("server"), "expected the API server URL, e.g. https://10.0.0.1:6443");
                }
            }
        }
        if (node.has("uid")) {
            if (auto uid = m_check.text(node.child("uid"))) {
                cluster.uid = *uid;
                if (!valid_uid(*uid)) {
                    m_check.error(node.child("uid"), "expected the kube-system namespace's UID "
                                                     "(8-4-4-4-12 hex digits, as `minicd env pin` records it)");
                }
            }
        }
        m_check.optional_text(node, "kubeconfig", cluster.kubeconfig);
        if (!cluster.pinned() && !node.has("server") && !node.has("uid")) {
            m_check.warning(node,
                            fmt::format("the cluster's identity is not pinned: run `minicd env pin {}` to "
                                        "record its server and uid",
                                        environment.name),
                            Where::key, Restated::on_connect);
        }
    }

    Trigger read_trigger(const Node& node) {
        Trigger trigger;
        if (!m_check.mapping(node)) {
            return trigger;
        }
        m_check.keys(node, "environments.*.on");
        if (!node.has("branch") && !node.has("tag")) {
            m_check.error(node, "give branch and/or tag patterns, e.g. on: {branch: main}", Where::key);
        }
        const auto read_patterns = [&](const char* key, RefPatterns& patterns) {
            if (!node.has(key)) {
                return;
            }
            for (auto& [item, pattern] : m_check.string_list(node.child(key))) {
                if (const std::string problem = pattern_problem(pattern); !problem.empty()) {
                    m_check.error(item, fmt::format("bad pattern \"{}\": {}", pattern, problem));
                } else {
                    patterns.patterns.push_back(std::move(pattern));
                }
            }
        };
        read_patterns("branch", trigger.branch);
        read_patterns("tag", trigger.tag);
        return trigger;
    }

    std::optional<Tls> read_tls(const Node& node, bool has_host) {
        if (!m_check.mapping(node)) {
            return std::nullopt;
        }
        m_check.keys(node, "environments.*.tls");
        Tls tls;
        m_check.optional_text(node, "clusterIssuer", tls.cluster_issuer);
        m_check.optional_text(node, "issuer", tls.issuer);
        if (node.has("clusterIssuer") == node.has("issuer")) {
            m_check.error(node, "give exactly one of clusterIssuer and issuer", Where::key);
        }
        if (node.has("secretName")) {
            if (auto name = m_check.text(node.child("secretName"))) {
                tls.secret_name = *name;
                if (!is_dns_label(*name)) {
                    m_check.error(node.child("secretName"), "expected a Secret name: a-z, 0-9 and '-'");
                }
            }
        }
        if (!has_host) {
            m_check.error(node, "tls needs a host to make a certificate for", Where::key);
        }
        return tls;
    }

    void read_gc(const Node& node, PreviewGc& gc) {
        if (!m_check.mapping(node)) {
            return;
        }
        m_check.keys(node, "environments.*.gc");
        m_check.optional_boolean(node, "enabled", gc.enabled);
        m_check.optional_integer(node, "maxDeletions", gc.max_deletions, 1, 1000);
        if (node.has("branches")) {
            if (auto source = m_check.string(node.child("branches"))) {
                if (*source == "remote") {
                    gc.branches = BranchSource::remote;
                } else if (*source == "refs") {
                    gc.branches = BranchSource::refs;
                } else {
                    m_check.error(node.child("branches"),
                                  "expected remote (git ls-remote) or refs (refs/remotes/* after a fetch)");
                }
            }
        }
        m_check.optional_text(node, "remote", gc.remote);
        read_token_env(node, gc.token_env, "GITHUB_TOKEN");
    }

    // `tokenEnv`: the name of the environment variable that holds a token.
    void read_token_env(const Node& parent, std::string& target, std::string_view example) {
        if (!parent.has("tokenEnv")) {
            return;
        }
        if (auto name = m_check.string(parent.child("tokenEnv"))) {
            // Never echo the value: someone may have pasted the token itself.
            if (!is_variable_name(*name)) {
                m_check.error(parent.child("tokenEnv"),
                              fmt::format("expected the NAME of an environment variable holding the token (A-Z, 0-9 "
                                          "and _), e.g. {}",
                                          example));
            } else {
                target = *name;
            }
        }
    }

    std::optional<model::CanaryStrategy> read_strategy(const Node& node) {
        if (!m_check.mapping(node)) {
            return std::nullopt;
        }
        m_check.keys(node, "environments.*.strategy");
        if (!node.has("canary")) {
            return std::nullopt;
        }
        const Node canary_node = node.child("canary");
        if (!m_check.mapping(canary_node)) {
            return std::nullopt;
        }
        m_check.keys(canary_node, "environments.*.strategy.canary");
        model::CanaryStrategy canary;
        if (canary_node.has("workloads")) {
            canary.workloads = read_workloads(canary_node.child("workloads"));
        }
        if (!canary_node.has("steps")) {
            m_check.missing(canary_node, "steps", "the canary's steps, e.g. steps: [{weight: 10, pause: 2m}]");
        } else {
            canary.steps = read_steps(canary_node.child("steps"));
        }
        if (canary_node.has("analysis")) {
            canary.analysis = read_analysis(canary_node.child("analysis"));
        }
        return canary;
    }

    std::vector<std::string> read_workloads(const Node& node) {
        std::vector<std::string> names;
        if (!node.json().is_array()) {
            m_check.error(node, fmt::format("expected a list of Deployment names, e.g. [web], found {}",
                                            found_text(node.json())));
            return names;
        }
        if (node.json().empty()) {
            m_check.error(node, "an empty list canaries nothing; leave workloads out to canary every Deployment");
        }
        for (std::size_t i = 0; i < node.json().size(); ++i) {
            const Node item = node.item(i);
            auto name = m_check.string(item);
            if (!name) {
                continue;
            }
            if (!is_dns_label(*name)) {
                m_check.error(item, "expected a Deployment's name: at most 63 of a-z, 0-9 and '-', not starting or "
                                    "ending with '-'");
            } else if (std::find(names.begin(), names.end(), *name) != names.end()) {
                m_check.error(item, fmt::format("\"{}\" is listed twice", *name));
            } else {
                names.push_back(std::move(*name));
            }
        }
        return names;
    }

    std::vector<model::CanaryStep> read_steps(const Node& node) {
        std::vector<model::CanaryStep> steps;
        bool complete = node.json().is_array();  // every step read without a problem
        int previous = 0;                         // the weight of the step before
        for (const Node& item :
             m_check.mapping_items(node, "steps (- weight: 10, pause: 2m)", "environments.*.strategy.canary.steps[]")) {
            model::CanaryStep step;
            if (!item.has("weight")) {
                m_check.missing(item, "weight", "the percent of pods on the new version, e.g. weight: 10");
                complete = false;
            } else if (auto weight = m_check.integer(item.child("weight"), 1, 99)) {
                step.weight = *weight;
                if (*weight <= previous) {
                    m_check.error(item.child("weight"),
                                  fmt::format("must be more than the weight of the step before ({}): weights grow "
                                              "from step to step",
                                              previous));
                    complete = false;
                }
                previous = *weight;
            } else {
                complete = false;
            }
            if (item.has("pause")) {
                if (auto pause = m_check.duration_ms(item.child("pause"), std::chrono::milliseconds(0))) {
                    step.pause = *pause;
                } else {
                    complete = false;
                }
            }
            steps.push_back(step);
        }
        complete = complete && steps.size() == node.json().size();
        // The model's rule decides what the steps above did not: an empty list, so far.
        if (complete) {
            if (const std::string problem = model::canary_steps_problem(steps); !problem.empty()) {
                m_check.error(node, problem);
            }
        }
        return steps;
    }

    std::optional<model::NoData> read_no_data(const Node& node) {
        auto text = m_check.string(node);
        if (!text) {
            return std::nullopt;
        }
        if (auto policy = model::parse_no_data(*text)) {
            return policy;
        }
        m_check.error(node, "expected fail (a query without data fails the measurement), pass (it succeeds) or "
                            "inconclusive (neither; a step whose last measurement had no data fails)");
        return std::nullopt;
    }

    void read_prometheus(const Node& node, model::PrometheusEndpoint& prometheus) {
        if (!m_check.mapping(node)) {
            return;
        }
        m_check.keys(node, k_prometheus_place);
        if (auto address = m_check.required_text(node, "address",
                                                 "the Prometheus URL, e.g. address: \"http://prometheus:9090\"")) {
            prometheus.address = *address;
            if (const std::string problem = address_problem(*address); !problem.empty()) {
                m_check.error(node.child("address"), problem);
            }
        }
        read_token_env(node, prometheus.token_env, "PROMETHEUS_TOKEN");
        if (node.has("headers")) {
            read_headers(node.child("headers"), prometheus.headers);
        }
    }

    void read_headers(const Node& node, std::map<std::string, std::string>& headers) {
        if (!m_check.mapping(node)) {
            return;
        }
        for (const auto& [name, value] : node.json().items()) {
            const Node header = node.child(name);
            if (!is_header_name(name)) {
                m_check.error(header, "a header name is letters, digits and '-'", Where::key);
                continue;
            }
            // Not an error, as Basic auth has no other way; but the file is in Git.
            if (lowercase(name) == "authorization") {
                m_check.warning(header, "puts a credential in this file; tokenEnv names an environment variable "
                                        "holding a bearer token instead");
            }
            if (auto text = m_check.string(header)) {
                if (std::any_of(text->begin(), text->end(), [](unsigned char c) { return std::iscntrl(c); })) {
                    m_check.error(header, "a header value cannot hold line breaks or control characters");
                } else {
                    headers.emplace(name, std::move(*text));
                }
            }
        }
    }

    std::optional<model::Condition> read_condition(const Node& parent, const std::string& key) {
        if (!parent.has(key)) {
            return std::nullopt;
        }
        const Node node = parent.child(key);
        if (!node.json().is_string()) {
            m_check.error(node, fmt::format("expected a comparison in quotes such as \">= 0.99\", found {}",
                                            found_text(node.json())));
            return std::nullopt;
        }
        auto condition = model::parse_condition(node.json().get<std::string>());
        if (!condition) {
            m_check.error(node, condition.error().message);
            return std::nullopt;
        }
        return *condition;
    }

    std::vector<model::Metric> read_metrics(const Node& node) {
        std::vector<model::Metric> metrics;
        if (node.json().is_array() && node.json().empty()) {
            m_check.error(node, "at least one metric is needed; without analysis the steps wait for healthy canary "
                                "pods only");
            return metrics;
        }
        std::set<std::string> names;
        for (const Node& item : m_check.mapping_items(node, "metrics (- name: ..., query: ...)", k_metric_place)) {
            model::Metric metric;
            if (auto name = m_check.required_text(item, "name", "the metric's name, e.g. name: success-rate")) {
                metric.name = *name;
                if (!names.insert(*name).second) {
                    m_check.error(item.child("name"), fmt::format("metric \"{}\" is listed twice", *name));
                }
            }
            if (auto query = m_check.required_text(item, "query", "the PromQL query whose value is checked")) {
                metric.query = *query;
                for (std::string& problem : query_problems(*query)) {
                    m_check.error(item.child("query"), std::move(problem));
                }
            }
            metric.success = read_condition(item, "successCondition");
            metric.failure = read_condition(item, "failureCondition");
            if (!item.has("successCondition") && !item.has("failureCondition")) {
                m_check.error(item, "give successCondition and/or failureCondition, e.g. successCondition: \">= "
                                    "0.99\"",
                              Where::key);
            }
            m_check.optional_integer(item, "failureLimit", metric.failure_limit, 0, k_max_limit);
            m_check.optional_integer(item, "consecutiveErrorLimit", metric.consecutive_error_limit, 0, k_max_limit);
            metrics.push_back(std::move(metric));
        }
        return metrics;
    }

    // What only the whole file can tell.
    void check_across(const Config& config) {
        for (std::size_t i = 0; i < config.environments.size(); ++i) {
            const Environment& environment = config.environments[i];
            const Node& node = m_environment_nodes[i];
            check_branch_use(environment, node);
            check_promotion(config, environment, node);
        }
        check_promotion_cycles(config);
        check_overlaps(config);
        check_shared_namespaces(config);
    }

    void check_branch_use(const Environment& environment, const Node& node) {
        const auto uses_branch = [](const std::string& text) {
            auto parsed = NameTemplate::parse(text);
            return parsed && parsed->has_branch();
        };
        const bool namespace_branch = uses_branch(environment.namespace_);
        const bool host_branch = uses_branch(environment.host);
        const bool branch_trigger = environment.on && !environment.on->branch.empty();
        if ((namespace_branch || host_branch) && !branch_trigger) {
            m_check.error(node.child(namespace_branch ? "namespace" : "host"),
                          environment.on && !environment.on->tag.empty()
                              ? "uses {branch} but the environment is deployed on tags only; there is no branch"
                              : "uses {branch}: add on: {branch: ...} to say which branches get one");
        }
        if (!namespace_branch) {
            for (const char* key : {"ttl", "gc"}) {
                if (node.has(key)) {
                    m_check.error(node.child(key), "applies only to per-branch environments ({branch} in namespace)",
                                  Where::key);
                }
            }
        }
        // Not an error: the setting is harmless, but whoever wrote it expects previews to be checked.
        if (namespace_branch && node.has("drift")) {
            m_check.warning(node.child("drift"), "is not used by previews: a scheduled minicd ci checks fixed "
                                                 "environments for drift");
        }
        if (node.has("gc") && environment.gc.branches == BranchSource::refs && !environment.gc.token_env.empty()) {
            m_check.warning(node.child("gc").child("tokenEnv"), "is not used with branches: refs");
        }
    }

    void check_promotion(const Config& config, const Environment& environment, const Node& node) {
        if (environment.promote_from.empty()) {
            return;
        }
        const Node from = node.child("promoteFrom");
        const Environment* source = config.find(environment.promote_from);
        if (environment.promote_from == environment.name) {
            m_check.error(from, "an environment cannot promote from itself");
        } else if (source == nullptr) {
            std::vector<std::string_view> names;
            for (const Environment& other : config.environments) {
                names.push_back(other.name);
            }
            const std::string hint = suggestion(environment.promote_from, names);
            m_check.error(from, fmt::format("no environment \"{}\"{}", environment.promote_from,
                                            hint.empty() ? fmt::format(" (environments: {})", fmt::join(names, ", "))
                                                         : fmt::format("; did you mean \"{}\"?", hint)));
        } else if (source->per_branch()) {
            m_check.error(from, fmt::format("\"{}\" has one namespace per branch: which one's images would be promoted "
                                            "is not defined",
                                            source->name));
        }
        if (environment.per_branch()) {
            m_check.error(from, "a per-branch environment builds its own images; it cannot promote");
        }
    }

    void check_promotion_cycles(const Config& config) {
        std::set<std::string> reported;
        for (std::size_t i = 0; i < config.environments.size(); ++i) {
            std::vector<std::string> chain = {config.environments[i].name};
            const Environment* current = &config.environments[i];
            while (current != nullptr && !current->promote_from.empty() && current->promote_from != current->name) {
                const std::string& next = current->promote_from;
                const auto seen = std::find(chain.begin(), chain.end(), next);
                if (seen != chain.end()) {
                    // Report a circle once, at the environment where it was entered from the file's start.
                    if (seen == chain.begin() && !reported.contains(chain.front())) {
                        for (const std::string& member : chain) {
                            reported.insert(member);
                        }
                        chain.push_back(next);
                        m_check.error(m_environment_nodes[i].child("promoteFrom"),
                                      fmt::format("promoteFrom goes round in a circle: {}", fmt::join(chain, " -> ")));
                    }
                    break;
                }
                chain.push_back(next);
                current = config.find(next);
            }
        }
    }

    // Two environments that one push deploys both are allowed, but rarely meant.
    void check_overlaps(const Config& config) {
        const auto samples = [](const RefPatterns& patterns) {
            std::vector<std::string> names;
            for (const std::string& pattern : patterns.patterns) {
                const std::string body = pattern.starts_with('!') ? pattern.substr(1) : pattern;
                std::string empty_star;
                std::string x_star;
                for (const char c : body) {
                    empty_star += c == '*' ? std::string() : std::string(1, c);
                    x_star += c == '*' ? std::string("x") : std::string(1, c);
                }
                names.push_back(empty_star);
                names.push_back(x_star);
            }
            names.push_back("some-other-name");
            return names;
        };
        const auto overlap = [&](const RefPatterns& a, const RefPatterns& b) -> std::optional<std::string> {
            if (a.empty() || b.empty()) {
                return std::nullopt;
            }
            for (const auto* side : {&a, &b}) {
                for (const std::string& name : samples(*side)) {
                    if (!name.empty() && a.matches(name) && b.matches(name)) {
                        return name;
                    }
                }
            }
            return std::nullopt;
        };
        for (std::size_t i = 0; i < config.environments.size(); ++i) {
            for (std::size_t j = i + 1; j < config.environments.size(); ++j) {
                const Environment& first = config.environments[i];
                const Environment& second = config.environments[j];
                if (!first.on || !second.on) {
                    continue;
                }
                const auto branch = overlap(first.on->branch, second.on->branch);
                const auto tag = overlap(first.on->tag, second.on->tag);
                if (branch || tag) {
                    m_check.warning(*on_node(m_environment_nodes[j]),
                                    fmt::format("{} \"{}\" deploys both {} and {}", branch ? "branch" : "tag",
                                                branch ? *branch : *tag, first.name, second.name));
                }
            }
        }
    }

    // The environment's `on`, which YAML 1.1 hands over as "true" unless it was quoted.
    std::optional<Node> on_node(const Node& environment) const {
        if (environment.has("true") && lowercase(m_check.written_key(environment.child("true"))) == "on") {
            Node on = environment.child("true");
            on.field = environment.field_of("on");
            return on;
        }
        if (environment.has("on")) {
            return environment.child("on");
        }
        return std::nullopt;
    }

    void check_shared_namespaces(const Config& config) {
        std::map<std::pair<std::string, std::string>, std::string> seen;
        for (std::size_t i = 0; i < config.environments.size(); ++i) {
            const Environment& environment = config.environments[i];
            if (environment.namespace_.empty() || environment.cluster.context.empty() || environment.per_branch()) {
                continue;
            }
            auto parsed = NameTemplate::parse(environment.namespace_);
            if (!parsed) {
                continue;
            }
            const auto key =
                std::make_pair(environment.cluster.context, parsed->expand(config.app, environment.name, ""));
            const auto [found, inserted] = seen.emplace(key, environment.name);
            if (!inserted) {
                m_check.warning(m_environment_nodes[i].child("namespace"),
                                fmt::format("namespace \"{}\" on context \"{}\" is also {}'s", key.second, key.first,
                                            found->second),
                                Where::value);
            }
        }
    }

    Checker& m_check;
    std::vector<Node> m_environment_nodes;  // parallel to Config::environments
};

}  // namespace

namespace {

// How a diagnostic reads, with or without its severity after the place.
enum class Label { severity, none };

std::string describe_diagnostic(const Diagnostic& diagnostic, Label label) {
    std::string text = diagnostic.file;
    if (diagnostic.line > 0) {
        text += fmt::format(":{}", diagnostic.line);
        if (diagnostic.column > 0) {
            text += fmt::format(":{}", diagnostic.column);
        }
    }
    text += ": ";
    if (label == Label::severity && diagnostic.severity == Severity::warning) {
        text += "warning: ";
    }
    if (!diagnostic.field.empty()) {
        text += diagnostic.field + ": ";
    }
    return text + diagnostic.message;
}

}  // namespace

std::string Diagnostic::describe() const { return describe_diagnostic(*this, Label::severity); }

std::string Diagnostic::describe_unlabelled() const { return describe_diagnostic(*this, Label::none); }

namespace {

// Parses `text` as one YAML document and reads its root with `read(reader, root)`; `value` is set
// when nothing is wrong but warnings. `what` names the kind of file in messages.
template <typename Value, typename Read>
void check_document(std::string_view text, std::string_view file, std::string_view what, std::string_view empty,
                    std::optional<Value>& value, std::vector<Diagnostic>& diagnostics, Read read) {
    if (text.starts_with("\xEF\xBB\xBF")) {
        text.remove_prefix(3);
    }
    auto documents = source::parse_yaml(text, file, {.record_positions = true});
    if (!documents) {
        // The parser names "file:line" as its subject; keep its line for the report.
        const std::string& subject = documents.error().subject;
        const std::size_t colon = subject.rfind(':');
        int line = 0;
        if (colon != std::string::npos) {
            try {
                line = std::stoi(subject.substr(colon + 1));
            } catch (const std::exception&) {
                line = 0;
            }
        }
        diagnostics.push_back({.severity = Severity::error,
                               .file = std::string(file),
                               .line = line,
                               .column = 0,
                               .field = {},
                               .message = documents.error().message});
        return;
    }
    if (documents->empty() || (documents->size() == 1 && documents->front().value.is_null())) {
        diagnostics.push_back({.severity = Severity::error,
                               .file = std::string(file),
                               .line = 1,
                               .column = 1,
                               .field = {},
                               .message = std::string(empty)});
        return;
    }
    const source::YamlDocument& document = documents->front();
    Checker checker(text, file, document.positions);
    if (documents->size() > 1) {
        checker.report_at(Severity::error, {}, {.line = (*documents)[1].line, .column = 1},
                          fmt::format("{} holds one document; remove the second (after ---)", what));
    }
    Reader reader(checker);
    std::optional<Value> read_value = read(reader, Node{&document.value, "", ""});
    const bool failed = checker.has_errors();
    diagnostics = checker.take();
    if (!failed) {
        value = std::move(read_value);
    }
}

// The text of the file at `path` checked with `check`; an unreadable file is one error without a place.
template <typename Checked, typename Check>
Checked check_file(const std::string& path, Check check) {
    auto text = util::read_file(path);
    if (!text) {
        Checked checked;
        checked.diagnostics.push_back({.severity = Severity::error,
                                       .file = path,
                                       .line = 0,
                                       .column = 0,
                                       .field = {},
                                       .message = text.error().message});
        return checked;
    }
    return check(*text, path);
}

// The value, or an input error listing every error; warnings are logged (but those the cluster
// guard says when connecting).
template <typename Value>
Result<Value> value_or_errors(std::optional<Value>& value, const std::vector<Diagnostic>& diagnostics,
                              const std::string& path, std::string_view what) {
    std::vector<std::string> errors;
    for (const Diagnostic& diagnostic : diagnostics) {
        if (diagnostic.severity == Severity::warning) {
            if (diagnostic.restated == Restated::no) util::log_warn("{}", diagnostic.describe_unlabelled());
        } else {
            errors.push_back(diagnostic.describe());
        }
    }
    if (!value) {
        return fail(util::ErrorCode::input,
                    fmt::format("{} error{} in {}:\n{}", errors.size(), errors.size() == 1 ? "" : "s", what,
                                fmt::join(errors, "\n")),
                    path);
    }
    return std::move(*value);
}

}  // namespace

CheckedConfig check_config(std::string_view text, std::string_view file) {
    CheckedConfig checked;
    check_document(text, file, "minicd.yaml", "the file is empty; app, registry and environments are needed",
                   checked.config, checked.diagnostics,
                   [](Reader& reader, const Node& root) { return std::optional<Config>(reader.read(root)); });
    return checked;
}

CheckedConfig check_config_file(const std::string& path) {
    return check_file<CheckedConfig>(path, check_config);
}

Result<Config> load_config(const std::string& path) {
    CheckedConfig checked = check_config_file(path);
    auto config = value_or_errors(checked.config, checked.diagnostics, path, "the configuration");
    if (!config) return config;
    // Tokens minicd reads itself: no program it runs sees them.
    for (const auto& environment : config->environments) {
        util::withhold_from_children(environment.gc.token_env);
        if (environment.canary && environment.canary->analysis) {
            util::withhold_from_children(environment.canary->analysis->prometheus.token_env);
        }
    }
    return config;
}

CheckedAnalysis check_analysis(std::string_view text, std::string_view file) {
    CheckedAnalysis checked;
    check_document(text, file, "an analysis file", "the file is empty; prometheus and metrics are needed",
                   checked.analysis, checked.diagnostics,
                   [](Reader& reader, const Node& root) { return reader.read_analysis_file(root); });
    return checked;
}

CheckedAnalysis check_analysis_file(const std::string& path) {
    return check_file<CheckedAnalysis>(path, check_analysis);
}

Result<model::Analysis> load_analysis(const std::string& path) {
    CheckedAnalysis checked = check_analysis_file(path);
    auto analysis = value_or_errors(checked.analysis, checked.diagnostics, path, "the analysis file");
    if (analysis) util::withhold_from_children(analysis->prometheus.token_env);
    return analysis;
}

const std::map<std::string, std::vector<std::string_view>>& known_keys() { return k_keys; }

}  // namespace minicd::config
