#include "minicd/pipeline/pin_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "minicd/source/yaml.hpp"

namespace minicd::pipeline {

namespace {

constexpr std::string_view k_bom = "\xEF\xBB\xBF";
constexpr std::array<std::string_view, 2> k_keys = {"server", "uid"};

// One replacement of [offset, offset + length) by `text`.
struct Edit {
    std::size_t offset = 0;
    std::size_t length = 0;
    std::string text;
};

// A layout this does not edit; carried as a value so the caller can print lines instead.
struct Unsupported {
    std::string why;
};

template <typename T>
using Step = tl::expected<T, Unsupported>;

tl::unexpected<Unsupported> unsupported(std::string why) { return tl::unexpected<Unsupported>(Unsupported{std::move(why)}); }

std::string yaml_quoted(std::string_view value) {
    std::string out = "\"";
    for (const char c : value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

class Text {
public:
    explicit Text(std::string_view text) : m_text(text) {
        m_line_starts.push_back(0);
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\n') m_line_starts.push_back(i + 1);
        }
    }

    std::string_view text() const { return m_text; }

    // The byte offset of a 1-based line and column (columns counted in bytes); nullopt past the end.
    std::optional<std::size_t> offset(const source::SourceMark& mark) const {
        if (mark.line < 1 || static_cast<std::size_t>(mark.line) > m_line_starts.size() || mark.column < 1) return std::nullopt;
        const std::size_t start = m_line_starts[static_cast<std::size_t>(mark.line) - 1];
        const std::size_t at = start + static_cast<std::size_t>(mark.column) - 1;
        if (at > line_end(start)) return std::nullopt;
        return at;
    }

    // Where the line holding `at` ends: the offset of its '\n' (or '\r' before it), or the text's end.
    std::size_t line_end(std::size_t at) const {
        std::size_t end = m_text.find('\n', at);
        if (end == std::string_view::npos) return m_text.size();
        return end > 0 && m_text[end - 1] == '\r' ? end - 1 : end;
    }

    // Where the line after the one holding `at` starts; the text's end for the last line.
    std::size_t next_line(std::size_t at) const {
        const std::size_t end = m_text.find('\n', at);
        return end == std::string_view::npos ? m_text.size() : end + 1;
    }

    std::size_t line_start(std::size_t at) const {
        const std::size_t newline = at == 0 ? std::string_view::npos : m_text.rfind('\n', at - 1);
        return newline == std::string_view::npos ? 0 : newline + 1;
    }

    std::string_view line_ending(std::size_t at) const {
        const std::size_t end = m_text.find('\n', at);
        if (end != std::string_view::npos && end > 0 && m_text[end - 1] == '\r') return "\r\n";
        return "\n";
    }

private:
    std::string_view m_text;
    std::vector<std::size_t> m_line_starts;
};

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Blank or comment-only lines carry no content whatever their indentation.
bool is_blank_or_comment(std::string_view line) {
    const std::size_t first = line.find_first_not_of(" \t\r");
    return first == std::string_view::npos || line[first] == '#';
}

// The end of a one-line scalar starting at `start` (quoted or plain); flow context ends plain
// scalars at , } ] as well.
Step<std::size_t> scalar_end(const Text& text, std::size_t start, bool flow) {
    const std::string_view all = text.text();
    const std::size_t line_end = text.line_end(start);
    if (start >= line_end) return unsupported("an empty value");
    const char first = all[start];
    if (first == '"' || first == '\'') {
        for (std::size_t i = start + 1; i < line_end; ++i) {
            if (first == '"' && all[i] == '\\') {
                ++i;
            } else if (all[i] == first) {
                if (first == '\'' && i + 1 < line_end && all[i + 1] == '\'') {
                    ++i;
                    continue;
                }
                return i + 1;
            }
        }
        return unsupported("a quoted value that goes on over several lines");
    }
    if (std::string_view("|>&*!{[%@`").find(first) != std::string_view::npos) {
        return unsupported(fmt::format("a value starting with '{}'", first));
    }
    std::size_t end = start;
    while (end < line_end) {
        const char c = all[end];
        if (flow && (c == ',' || c == '}' || c == ']')) break;
        if (c == '#' && end > start && is_space(all[end - 1])) break;
        ++end;
    }
    while (end > start && is_space(all[end - 1])) --end;
    return end;
}

// The closing brace of the one-line flow mapping opening at `open`.
Step<std::size_t> flow_mapping_end(const Text& text, std::size_t open) {
    const std::string_view all = text.text();
    const std::size_t line_end = text.line_end(open);
    int depth = 0;
    char quote = 0;
    for (std::size_t i = open; i < line_end; ++i) {
        const char c = all[i];
        if (quote != 0) {
            if (quote == '"' && c == '\\') {
                ++i;
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return i;
        } else if (c == '#' && i > open && is_space(all[i - 1])) {
            break;
        }
    }
    return unsupported("a flow mapping ({...}) that goes on over several lines");
}

// A block scalar continued on deeper-indented lines would be cut by a one-line edit.
bool continues_below(const Text& text, std::size_t at, std::size_t indent) {
    const std::string_view all = text.text();
    for (std::size_t line = text.next_line(at); line < all.size(); line = text.next_line(line)) {
        const std::string_view content = all.substr(line, text.line_end(line) - line);
        if (is_blank_or_comment(content)) continue;
        return content.find_first_not_of(" \t") > indent;
    }
    return false;
}

class PinWriter {
public:
    PinWriter(std::string_view text, const source::PositionTable& positions, const model::Json& document,
              std::string pointer, const PinValues& values)
        : m_text(text), m_positions(positions), m_document(document), m_pointer(std::move(pointer)), m_values(values) {}

    Step<std::vector<Edit>> edits() {
        auto mapping = position_of(m_pointer, true);
        if (!mapping) return tl::unexpected(mapping.error());
        if (m_text.text()[*mapping] == '{') return flow_edits(*mapping);
        return block_edits(*mapping);
    }

private:
    std::string value_of(std::string_view key) const { return key == "server" ? m_values.server : m_values.uid; }

    const model::Json& cluster() const { return m_document.at(model::Json::json_pointer(m_pointer)); }

    // The byte offset of a node's value (or key); unsupported when it was not recorded or the
    // columns do not land where the text says they should.
    Step<std::size_t> position_of(const std::string& pointer, bool value) const {
        auto found = m_positions.find(pointer);
        if (found == m_positions.end()) return unsupported("the value is not written in place (an alias or a merge?)");
        auto at = m_text.offset(value ? found->second.value : found->second.key);
        if (!at || *at >= m_text.text().size()) return unsupported("the recorded position does not match the text");
        return *at;
    }

    Step<Edit> replace_value(const std::string& key, bool flow) const {
        const std::string pointer = m_pointer + "/" + key;
        auto start = position_of(pointer, true);
        if (!start) return tl::unexpected(start.error());
        auto end = scalar_end(m_text, *start, flow);
        if (!end) return tl::unexpected(end.error());
        return Edit{.offset = *start, .length = *end - *start, .text = yaml_quoted(value_of(key))};
    }

    Step<std::vector<Edit>> flow_edits(std::size_t open) const {
        auto close = flow_mapping_end(m_text, open);
        if (!close) return tl::unexpected(close.error());
        std::vector<Edit> edits;
        std::vector<std::string> added;
        for (const std::string_view key : k_keys) {
            if (value_of(key).empty()) continue;
            if (cluster().contains(key)) {
                auto edit = replace_value(std::string(key), true);
                if (!edit) return tl::unexpected(edit.error());
                edits.push_back(std::move(*edit));
            } else {
                added.push_back(fmt::format("{}: {}", key, yaml_quoted(value_of(key))));
            }
        }
        if (!added.empty()) {
            std::size_t last = *close;
            while (last > open && is_space(m_text.text()[last - 1])) --last;
            const char before = m_text.text()[last - 1];
            const std::string separator = before == '{' ? "" : before == ',' ? " " : ", ";
            edits.push_back({.offset = last, .length = 0, .text = separator + fmt::format("{}", fmt::join(added, ", "))});
        }
        return edits;
    }

    Step<std::vector<Edit>> block_edits(std::size_t mapping) const {
        // Every key starts a line of its own at one indentation; that is where new keys go too.
        std::optional<std::size_t> indent;
        for (const auto& [key, value] : cluster().items()) {
            auto at = position_of(m_pointer + "/" + source::pointer_token(key), false);
            if (!at) return tl::unexpected(at.error());
            const std::size_t start = m_text.line_start(*at);
            const std::string_view before = m_text.text().substr(start, *at - start);
            if (before.find_first_not_of(' ') != std::string_view::npos || (indent && *indent != before.size())) {
                return unsupported("the cluster mapping's keys do not each start a line at one indentation");
            }
            indent = before.size();
        }
        if (!indent) return unsupported("the cluster mapping is empty");

        std::vector<Edit> edits;
        std::size_t last_line_end = mapping;
        for (const auto& [key, value] : cluster().items()) {
            if (value.is_object() || value.is_array()) return unsupported(fmt::format("{} holds a nested value", key));
            auto start = position_of(m_pointer + "/" + source::pointer_token(key), true);
            if (!start) return tl::unexpected(start.error());
            auto end = scalar_end(m_text, *start, false);
            if (!end) return tl::unexpected(end.error());
            if (continues_below(m_text, *start, *indent)) return unsupported(fmt::format("{} goes on over several lines", key));
            last_line_end = std::max(last_line_end, *end);
            const bool ours = std::find(k_keys.begin(), k_keys.end(), key) != k_keys.end();
            if (ours && !value_of(key).empty()) {
                edits.push_back({.offset = *start, .length = *end - *start, .text = yaml_quoted(value_of(key))});
            }
        }
        std::string added;
        const std::string_view ending = m_text.line_ending(last_line_end);
        for (const std::string_view key : k_keys) {
            if (value_of(key).empty() || cluster().contains(key)) continue;
            added += fmt::format("{}{}: {}{}", std::string(*indent, ' '), key, yaml_quoted(value_of(key)), ending);
        }
        if (!added.empty()) {
            std::size_t at = m_text.next_line(last_line_end);
            // A last line without a newline gets one, so the new keys start lines of their own.
            if (at == m_text.text().size() && (at == 0 || m_text.text()[at - 1] != '\n')) added = std::string(ending) + added;
            edits.push_back({.offset = at, .length = 0, .text = added});
        }
        return edits;
    }

    Text m_text;
    const source::PositionTable& m_positions;
    const model::Json& m_document;
    std::string m_pointer;
    const PinValues& m_values;
};

}  // namespace

std::vector<std::string> pin_lines(const PinValues& values) {
    std::vector<std::string> lines;
    if (!values.server.empty()) lines.push_back(fmt::format("server: {}", yaml_quoted(values.server)));
    if (!values.uid.empty()) lines.push_back(fmt::format("uid: {}", yaml_quoted(values.uid)));
    return lines;
}

Result<PinEdit> write_pin(std::string_view text, std::string_view file, std::string_view environment, const PinValues& values) {
    const bool bom = text.starts_with(k_bom);
    const std::string_view body = bom ? text.substr(k_bom.size()) : text;
    auto documents = source::parse_yaml(body, file, {.record_positions = true});
    if (!documents) return fail(documents.error());
    if (documents->empty() || !documents->front().value.is_object()) {
        return fail(util::ErrorCode::input, "not a minicd.yaml mapping", std::string(file));
    }
    const source::YamlDocument& document = documents->front();
    const std::string pointer = fmt::format("/environments/{}/cluster", source::pointer_token(environment));
    const model::Json::json_pointer cluster(pointer);
    if (!document.value.contains(cluster) || !document.value.at(cluster).is_object()) {
        return fail(util::ErrorCode::input, fmt::format("environment {} has no cluster: mapping", environment),
                    std::string(file));
    }

    PinWriter writer(body, document.positions, document.value, pointer, values);
    auto edits = writer.edits();
    if (!edits) return PinEdit{.text = std::nullopt, .why = edits.error().why, .changed = false};

    std::string result(body);
    std::sort(edits->begin(), edits->end(), [](const Edit& a, const Edit& b) { return a.offset > b.offset; });
    for (const Edit& edit : *edits) result.replace(edit.offset, edit.length, edit.text);

    // Read back: the file must mean what it meant, with just the pin changed.
    model::Json expected = document.value;
    if (!values.server.empty()) expected[cluster]["server"] = values.server;
    if (!values.uid.empty()) expected[cluster]["uid"] = values.uid;
    auto reread = source::parse_yaml(result, file);
    if (!reread || reread->size() != documents->size() || reread->front().value != expected) {
        return PinEdit{.text = std::nullopt, .why = "the edited file did not read back as intended", .changed = false};
    }
    const bool changed = result != body;
    return PinEdit{.text = (bom ? std::string(k_bom) : std::string()) + result, .why = {}, .changed = changed};
}

}  // namespace minicd::pipeline
