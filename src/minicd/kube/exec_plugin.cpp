#include "minicd/kube/exec_plugin.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "minicd/model/credential_json.hpp"
#include "minicd/model/object.hpp"
#include "minicd/util/encoding.hpp"
#include "minicd/util/subprocess.hpp"
#include "minicd/util/text.hpp"

namespace minicd::kube {

namespace {

using model::Json;
using util::ErrorCode;
using TimePoint = std::chrono::system_clock::time_point;

// The same limit kubectl gives a plugin; one that hangs must not hang the deploy.
constexpr auto k_exec_timeout = std::chrono::seconds(60);
// How much of a failing plugin's stderr goes into the error.
constexpr std::size_t k_stderr_tail_lines = 5;
constexpr std::size_t k_stderr_tail_chars = 2000;
// The ExecCredential versions an error may name (v1alpha1 only to say it is the wrong one).
constexpr std::string_view k_exec_v1 = "client.authentication.k8s.io/v1";
constexpr std::string_view k_exec_v1beta1 = "client.authentication.k8s.io/v1beta1";
constexpr std::string_view k_exec_v1alpha1 = "client.authentication.k8s.io/v1alpha1";


// The last lines of a plugin's stderr, bounded, for an error message.
std::string stderr_tail(const std::string& err) {
    std::string_view text(err);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    std::size_t begin = text.size();
    for (std::size_t lines = 0; begin > 0; --begin) {
        if (text[begin - 1] == '\n' && ++lines == k_stderr_tail_lines) break;
    }
    text.remove_prefix(begin);
    // Kept whole characters, so the message stays valid UTF-8 for JSON output.
    return std::string(util::utf8_suffix(text, k_stderr_tail_chars));
}

// The years parse_rfc3339 accepts: any difference of two such times, or with now(), fits the clock.
constexpr int k_earliest_year = 1970;
constexpr int k_latest_year = 2200;

// Reads exactly `count` digits at `pos`.
bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
    if (pos + count > text.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
        out = out * 10 + (text[i] - '0');
    }
    return true;
}

}  // namespace

std::optional<TimePoint> parse_rfc3339(std::string_view text) {
    using namespace std::chrono;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    if (!read_digits(text, 0, 4, y) || text.size() < 19 || text[4] != '-' || !read_digits(text, 5, 2, mo) ||
        text[7] != '-' || !read_digits(text, 8, 2, d) || (text[10] != 'T' && text[10] != 't') ||
        !read_digits(text, 11, 2, h) || text[13] != ':' || !read_digits(text, 14, 2, mi) || text[16] != ':' ||
        !read_digits(text, 17, 2, s)) {
        return std::nullopt;
    }
    std::size_t pos = 19;
    nanoseconds fraction{0};
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        long long value = 0;
        int digits = 0;
        for (; pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])); ++pos, ++digits) {
            if (digits < 9) value = value * 10 + (text[pos] - '0');  // finer than nanoseconds is dropped
        }
        if (digits == 0) return std::nullopt;
        for (int i = digits; i < 9; ++i) value *= 10;
        fraction = nanoseconds(value);
    }
    if (pos >= text.size()) return std::nullopt;
    minutes offset{0};
    if (text[pos] == 'Z' || text[pos] == 'z') {
        ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
        int oh = 0, om = 0;
        if (!read_digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
            !read_digits(text, pos + 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset = hours(oh) + minutes(om);
        if (text[pos] == '-') offset = -offset;
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != text.size()) return std::nullopt;
    year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
    if (!date.ok() || h > 23 || mi > 59 || s > 59) return std::nullopt;
    // The nanosecond clock spans 1678..2262; years outside ours (Go's zero time "0001-01-01", "9999")
    // would overflow it here or in a difference with now().
    if (y < k_earliest_year || y > k_latest_year) return std::nullopt;
    // Local time minus its offset is UTC.
    auto utc = sys_days(date) + hours(h) + minutes(mi) + seconds(s) - offset;
    return time_point_cast<system_clock::duration>(utc + fraction);
}

namespace {

// The KUBERNETES_EXEC_INFO value: the ExecCredential request, with the cluster only when asked for.
Result<std::string> exec_info(const RestConfig& config) {
    const ExecConfig& exec = *config.exec;
    Json spec = Json::object();
    // Always false: minicd runs unattended, so the plugin must not prompt.
    spec["interactive"] = false;
    if (exec.provide_cluster_info) {
        Json cluster = Json::object();
        cluster["server"] = config.server;
        if (!config.tls_server_name.empty()) cluster["tls-server-name"] = config.tls_server_name;
        if (config.tls.insecure_skip_verify) cluster["insecure-skip-tls-verify"] = true;
        std::string ca_pem = config.tls.ca_pem;
        if (ca_pem.empty() && !config.tls.ca_file.empty()) {
            auto text = util::read_file(config.tls.ca_file);
            if (!text) return fail(text.error().context("reading the certificate authority for the exec plugin"));
            ca_pem = std::move(*text);
        }
        if (!ca_pem.empty()) cluster["certificate-authority-data"] = util::base64_encode(ca_pem);
        if (!config.proxy_url.empty()) cluster["proxy-url"] = config.proxy_url;
        spec["cluster"] = std::move(cluster);
    }
    Json info = Json::object();
    info["apiVersion"] = exec.api_version;
    info["kind"] = "ExecCredential";
    info["spec"] = std::move(spec);
    // A server name that is not UTF-8 cannot travel in JSON; replaced, since dump() would throw.
    return info.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Reads string members of the plugin's JSON and keeps the first wrong type. Absent or null is
// nullopt; any other type is an error naming the member and the type, never the value (the secret).
class StringMembers {
public:
    std::optional<std::string> read(const Json& object, std::string_view parent, const char* key) {
        auto it = object.find(key);
        if (it == object.end() || it->is_null()) return std::nullopt;
        if (!it->is_string()) {
            note(fmt::format("returned {}{} of type {}; it must be a string", parent, key, it->type_name()));
            return std::nullopt;
        }
        return it->get<std::string>();
    }

    void note(std::string problem) {
        if (!m_problem) m_problem = std::move(problem);
    }

    const std::optional<std::string>& problem() const { return m_problem; }

private:
    std::optional<std::string> m_problem;
};

// The plugin's apiVersion as an error may name it: a known version by name, anything else not,
// since the plugin's output is not ours to print.
std::string describe_api_version(const std::string& value) {
    if (value.empty()) return "no apiVersion";
    if (value == k_exec_v1 || value == k_exec_v1beta1 || value == k_exec_v1alpha1) {
        return fmt::format("apiVersion \"{}\"", value);
    }
    return "an unknown apiVersion";
}

// Text that does not even open a JSON object is no broken ExecCredential: no position is worth giving.
bool opens_json_object(std::string_view text) {
    auto first = text.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && text[first] == '{';
}

// Reads the plugin's stdout. Messages never quote it: it holds the credential. Every member is
// type-checked, so no output can make nlohmann throw (on a worker thread, that would terminate).
Result<ExecCredential> parse_exec_output(const std::string& out, const ExecConfig& exec, const std::string& who) {
    auto bad = [&](std::string message) { return fail(ErrorCode::subprocess, who + " " + message, exec.command); };
    if (!opens_json_object(out)) return bad("did not print an ExecCredential JSON object");
    auto document = model::parse_credential_json(out);
    if (!document) return bad("printed invalid JSON at " + document.error().message);
    if (!document->is_object()) return bad("did not print an ExecCredential JSON object");

    StringMembers members;
    const std::string api_version = members.read(*document, "", "apiVersion").value_or("");
    const std::string kind = members.read(*document, "", "kind").value_or("");
    if (members.problem()) return bad(*members.problem());
    if (api_version != exec.api_version) {
        return bad(fmt::format("returned {}, but the kubeconfig asks for \"{}\"", describe_api_version(api_version),
                               exec.api_version));
    }
    if (kind != "ExecCredential") {
        return bad(fmt::format("returned {}, expected \"ExecCredential\"", kind.empty() ? "no kind" : "another kind"));
    }
    auto status = document->find("status");
    if (status == document->end() || status->is_null()) return bad("returned no status");
    if (!status->is_object()) {
        return bad(fmt::format("returned status of type {}; it must be an object", status->type_name()));
    }

    ExecCredential credential;
    credential.material.bearer_token = members.read(*status, "status.", "token").value_or("");
    credential.material.client_cert_pem = members.read(*status, "status.", "clientCertificateData").value_or("");
    credential.material.client_key_pem = members.read(*status, "status.", "clientKeyData").value_or("");
    // Absent or null means no expiry; "" is a time that does not parse, as in client-go.
    const std::optional<std::string> expiry = members.read(*status, "status.", "expirationTimestamp");
    if (members.problem()) return bad(*members.problem());

    if (credential.material.client_cert_pem.empty() != credential.material.client_key_pem.empty()) {
        return bad("returned only one of clientCertificateData and clientKeyData; both are needed");
    }
    if (credential.material.bearer_token.empty() && credential.material.client_cert_pem.empty()) {
        return bad("returned neither a token nor a client certificate and key");
    }
    if (expiry) {
        credential.expires = parse_rfc3339(*expiry);
        if (!credential.expires) {
            return bad("returned a status.expirationTimestamp that is not an RFC 3339 time (2024-05-01T12:00:00Z)");
        }
    }
    return credential;
}

}  // namespace

Result<ExecCredential> run_exec_plugin(const RestConfig& config) {
    const ExecConfig& exec = *config.exec;
    const std::string who =
        config.user_name.empty() ? "exec plugin" : fmt::format("exec plugin of user \"{}\"", config.user_name);
    // minicd runs unattended in CI: a plugin that insists on a terminal can never succeed here.
    if (exec.interactive_mode == "Always") {
        return fail(ErrorCode::input,
                    who + " needs an interactive terminal (interactiveMode: Always), but minicd runs "
                          "non-interactively; use a plugin or setting that works with interactiveMode Never",
                    exec.command);
    }
    auto info = exec_info(config);
    if (!info) return fail(info.error());

    util::SubprocessSpec spec;
    // A plugin signs in with the platform's own variables (AWS_*, GOOGLE_*, ...), as under kubectl.
    spec.inherit = util::Inherit::platform;
    spec.argv.push_back(exec.command);
    spec.argv.insert(spec.argv.end(), exec.args.begin(), exec.args.end());
    for (const auto& [name, value] : exec.env) spec.env[name] = value;
    spec.env["KUBERNETES_EXEC_INFO"] = *info;
    spec.timeout = k_exec_timeout;

    auto run = util::run_subprocess(spec);
    if (!run) {
        std::string message = fmt::format("{} could not be run: {}", who, run.error().message);
        if (!exec.install_hint.empty()) message += "\n" + util::trim(exec.install_hint);
        return fail(ErrorCode::subprocess, std::move(message), exec.command);
    }
    if (!run->succeeded()) {
        // stderr is meant for the user; stdout may hold a credential, so it stays out.
        std::string message = fmt::format("{} {}", who, run->outcome());
        if (std::string tail = stderr_tail(run->err); !tail.empty()) message += ": " + tail;
        return fail(ErrorCode::subprocess, std::move(message), exec.command);
    }
    return parse_exec_output(run->out, exec, who);
}

}  // namespace minicd::kube
