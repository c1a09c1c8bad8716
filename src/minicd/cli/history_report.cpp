#include "minicd/cli/history_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <string_view>

#include "minicd/deploy/store.hpp"
#include "minicd/util/text.hpp"

namespace minicd::cli {

namespace {

constexpr std::size_t k_commit_length = 12;
constexpr std::size_t k_digest_hex_length = 12;
// Messages explain failures and can run long; the table keeps one line per release (JSON has them whole).
constexpr std::size_t k_message_length = 100;

std::string last_segment(std::string_view name) {
    const auto slash = name.rfind('/');
    return std::string(slash == std::string_view::npos ? name : name.substr(slash + 1));
}

std::string short_image(const std::string& name, const std::string& reference) {
    const auto at = reference.rfind('@');
    if (at == std::string::npos) return last_segment(reference);
    const std::string_view digest = std::string_view(reference).substr(at + 1);
    const auto colon = digest.find(':');
    const std::size_t keep = colon == std::string_view::npos ? k_digest_hex_length : colon + 1 + k_digest_hex_length;
    return fmt::format("{}@{}", last_segment(name), util::utf8_prefix(digest, keep));
}

// One line: a message with line breaks would break the table.
std::string one_line(std::string_view text) {
    std::string line(text);
    std::replace_if(line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
    return util::shorten_utf8(line, k_message_length);
}

std::string or_dash(std::string text) { return text.empty() ? std::string("-") : text; }

}  // namespace

std::string short_images(const std::map<std::string, std::string>& images) {
    std::vector<std::string> parts;
    for (const auto& [name, reference] : images) parts.push_back(short_image(name, reference));
    return parts.empty() ? std::string("-") : fmt::format("{}", fmt::join(parts, ", "));
}

std::string format_duration(double seconds) {
    if (!(seconds > 0)) return "-";
    const long long total = std::llround(seconds);
    if (total < 60) return fmt::format("{}s", total);
    if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
    return fmt::format("{}h{:02}m", total / 3600, total % 3600 / 60);
}

std::string history_table(const std::vector<model::Release>& releases) {
    using Row = std::array<std::string, 8>;
    std::vector<Row> rows = {{"REVISION", "TIME", "OUTCOME", "COMMIT", "IMAGES", "BY", "DURATION", "MESSAGE"}};
    for (const auto& release : releases) {
        std::string outcome(model::to_string(release.outcome));
        // A canary says where it runs, or where it stopped.
        if (release.outcome == model::ReleaseOutcome::canary) {
            outcome += fmt::format(" (step {})", std::max(release.canary_step, 1));
        } else if (release.rollout == model::Rollout::canary) {
            outcome += fmt::format(" (canary, step {})", std::max(release.canary_step, 1));
        } else if (release.rollout == model::Rollout::pre_phase) {
            outcome += " (pre phase)";
        }
        if (model::still_held(releases, release)) outcome += " (hold)";
        rows.push_back({std::to_string(release.revision), or_dash(release.time), outcome,
                        or_dash(std::string(util::utf8_prefix(release.git_sha, k_commit_length))), short_images(release.images),
                        or_dash(release.deployed_by.by), format_duration(release.duration_seconds),
                        one_line(release.message)});
    }
    std::array<std::size_t, 8> widths{};
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    std::string table;
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) line += fmt::format("{:<{}}  ", row[i], widths[i]);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        table += line + "\n";
    }
    return table;
}

model::Json history_json(const render::Target& target, const std::vector<model::Release>& releases) {
    model::Json list = model::Json::array();
    for (const auto& release : releases) {
        model::Json entry = deploy::to_json(release);
        entry["held"] = model::still_held(releases, release);
        list.push_back(std::move(entry));
    }
    return {{"app", target.app}, {"env", target.env}, {"namespace", target.namespace_}, {"releases", list}};
}

}  // namespace minicd::cli
