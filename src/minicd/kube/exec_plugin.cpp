#include "minicd/kube/exec_plugin.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

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


// The last lines of a plugin's stderr, bounded, for an error message.
std::string stderr_tail(const std::string& err) {
    std::string_view text(err);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    std::size_t begin = text.size();
    for (std::size_t lines = 0; begin > 0; --begin) {
        if (text[begin - 1] == '\n' && ++lines == k_stderr_tail_lines) break;
    }
    text.remove_prefix(begin);
    if (text.size() > k_stderr_tail_chars) text.remove_prefix(text.size() - k_stderr_tail_chars);
    return std::string(text);
}

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
    return info.dump();
}

std::string string_at(const Json& object, const char* key) {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Reads the plugin's stdout. Messages never quote it: it holds the credential.
Result<ExecCredential> parse_exec_output(const std::string& out, const ExecConfig& exec, const std::string& who) {
    auto bad = [&](std::string message) { return fail(ErrorCode::subprocess, who + " " + message, exec.command); };
    Json document = Json::parse(out, nullptr, false);
    if (document.is_discarded() || !document.is_object()) return bad("did not print an ExecCredential JSON object");
    std::string api_version = string_at(document, "apiVersion");
    if (api_version != exec.api_version) {
        return bad(fmt::format("returned apiVersion \"{}\", but the kubeconfig asks for \"{}\"", api_version,
                               exec.api_version));
    }
    if (std::string kind = string_at(document, "kind"); kind != "ExecCredential") {
        return bad(fmt::format("returned kind \"{}\", expected \"ExecCredential\"", kind));
    }
    auto status = document.find("status");
    if (status == document.end() || !status->is_object()) return bad("returned no status");

    ExecCredential credential;
    credential.material.bearer_token = string_at(*status, "token");
    credential.material.client_cert_pem = string_at(*status, "clientCertificateData");
    credential.material.client_key_pem = string_at(*status, "clientKeyData");
    if (credential.material.client_cert_pem.empty() != credential.material.client_key_pem.empty()) {
        return bad("returned only one of clientCertificateData and clientKeyData; both are needed");
    }
    if (credential.material.bearer_token.empty() && credential.material.client_cert_pem.empty()) {
        return bad("returned neither a token nor a client certificate and key");
    }
    if (auto expiry = status->find("expirationTimestamp"); expiry != status->end() && !expiry->is_null()) {
        std::optional<TimePoint> parsed;
        if (expiry->is_string()) parsed = parse_rfc3339(expiry->get<std::string>());
        if (!parsed) return bad(fmt::format("returned an invalid expirationTimestamp {}", expiry->dump()));
        credential.expires = parsed;
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
