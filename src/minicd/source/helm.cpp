#include "minicd/source/helm.hpp"

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <unistd.h>

#include <fmt/format.h>

#include "minicd/util/subprocess.hpp"
#include "minicd/util/text.hpp"

namespace minicd::source {

namespace {

namespace fs = std::filesystem;
using util::ErrorCode;

// An OCI chart may be pulled first; a chart that takes longer than this to render is stuck.
constexpr std::chrono::milliseconds k_template_timeout = std::chrono::minutes(3);
constexpr std::chrono::milliseconds k_version_timeout = std::chrono::seconds(30);
constexpr std::string_view k_source_comment = "# Source: ";

std::string needed() { return fmt::format("minicd renders charts with helm {} or newer", k_oldest_helm); }

// The helm executable in PATH, as execvp would find it; "" when there is none.
std::string find_helm() {
    const char* path = std::getenv("PATH");
    for (std::string_view dirs = path != nullptr ? path : ""; !dirs.empty();) {
        const std::size_t colon = dirs.find(':');
        std::string_view dir = dirs.substr(0, colon);
        dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
        const std::string candidate = fmt::format("{}/helm", dir.empty() ? "." : dir);
        std::error_code ignored;
        if (fs::is_regular_file(candidate, ignored) && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

// "v3.14.2" or "v4.0.0-rc.1" as {major, minor, patch}; nullopt for anything else.
std::optional<std::array<int, 3>> parse_version(std::string_view text) {
    if (!text.starts_with('v')) return std::nullopt;
    text.remove_prefix(1);
    std::array<int, 3> parts{};
    for (std::size_t i = 0; i < parts.size(); ++i) {
        std::size_t digits = 0;
        int value = 0;
        while (digits < text.size() && digits < 6 && text[digits] >= '0' && text[digits] <= '9') {
            value = value * 10 + (text[digits] - '0');
            ++digits;
        }
        if (digits == 0) return std::nullopt;
        parts[i] = value;
        text.remove_prefix(digits);
        if (i + 1 < parts.size()) {
            if (!text.starts_with('.')) return std::nullopt;
            text.remove_prefix(1);
        }
    }
    if (!text.empty() && text.front() != '-' && text.front() != '+') return std::nullopt;
    return parts;
}

// helm in PATH, checked to be new enough once per program path.
Result<std::string> checked_helm() {
    static std::mutex lock;
    static std::set<std::string> checked;
    const std::string program = find_helm();
    if (program.empty()) {
        return fail(ErrorCode::input, fmt::format("helm is not installed (not found in PATH): {}", needed()));
    }
    const std::lock_guard<std::mutex> guard(lock);
    if (checked.contains(program)) return program;
    auto run = util::run_checked({.inherit = util::Inherit::renderer,
                                  .argv = {program, "version", "--template", "{{.Version}}"},
                                  .timeout = k_version_timeout});
    if (!run) return fail(run.error().context(fmt::format("checking the helm version ({})", needed())));
    const std::string said = util::trim(run->out);
    const auto version = parse_version(said);
    const auto oldest = parse_version(k_oldest_helm);
    if (!version) {
        return fail(ErrorCode::input,
                    fmt::format("cannot read a version from `helm version` ({}): {}", util::shorten_utf8(said, 80), needed()),
                    program);
    }
    if (*version < *oldest) {
        return fail(ErrorCode::input, fmt::format("helm {} is too old: {}", said, needed()), program);
    }
    checked.insert(program);
    return program;
}

// Where a template's objects came from, as the reader knows the chart: its file when the chart is a
// directory ("deploy/chart/templates/job.yaml"), else the chart and the template.
std::string origin(const ChartRender& request, std::string_view source) {
    std::error_code ignored;
    const std::size_t slash = source.find('/');
    if (slash != std::string_view::npos && fs::is_directory(request.chart, ignored)) {
        return fmt::format("{}/{} (rendered by helm)", request.chart, source.substr(slash + 1));
    }
    if (source.empty()) return fmt::format("{} (rendered by helm)", request.chart);
    return fmt::format("{}: {} (rendered by helm)", request.chart, source);
}

// helm prints every object after a "# Source: <chart>/templates/<file>" line: the output is read
// a template at a time, so errors name the template and a line of its output.
Result<std::vector<Manifest>> read_output(const ChartRender& request, std::string_view output) {
    std::vector<Manifest> manifests;
    std::string source;
    std::size_t start = 0;
    const auto read_chunk = [&](std::size_t end) -> Result<void> {
        auto read = read_manifests(output.substr(start, end - start), origin(request, source));
        if (!read) return fail(read.error());
        for (auto& manifest : *read) manifests.push_back(std::move(manifest));
        return {};
    };
    for (std::size_t at = 0; at < output.size();) {
        const std::size_t end = output.find('\n', at);
        const std::size_t next = end == std::string_view::npos ? output.size() : end + 1;
        std::string_view line = output.substr(at, next - at);
        if (line.starts_with(k_source_comment)) {
            if (auto read = read_chunk(at); !read) return fail(read.error());
            start = at;
            source = util::trim(line.substr(k_source_comment.size()));
        }
        at = next;
    }
    if (auto read = read_chunk(output.size()); !read) return fail(read.error());
    return manifests;
}

}  // namespace

std::string helm_set_value(std::string_view value) {
    std::string escaped;
    for (const char c : value) {
        if (c == '\\' || c == ',') escaped += '\\';
        escaped += c;
    }
    return escaped;
}

Result<std::vector<Manifest>> render_chart(const ChartRender& request) {
    auto helm = checked_helm();
    if (!helm) return fail(helm.error());
    std::vector<std::string> argv = {*helm, "template", request.release, request.chart, "--namespace", request.namespace_,
                                     "--include-crds", "--skip-tests"};
    if (!request.version.empty()) argv.insert(argv.end(), {"--version", request.version});
    if (!request.kube_version.empty()) argv.insert(argv.end(), {"--kube-version", request.kube_version});
    for (const auto& file : request.values) argv.insert(argv.end(), {"--values", file});
    for (const auto& [key, value] : request.set) argv.insert(argv.end(), {"--set", key + "=" + helm_set_value(value)});
    auto rendered = util::run_checked({.inherit = util::Inherit::renderer, .argv = std::move(argv), .timeout = k_template_timeout});
    const std::string doing = fmt::format("rendering chart {} with helm template", request.chart);
    if (!rendered) return fail(rendered.error().context(doing));
    if (rendered->output_truncated) {
        return fail(ErrorCode::subprocess, "helm template printed more output than minicd reads", request.chart);
    }
    return read_output(request, rendered->out);
}

}  // namespace minicd::source
