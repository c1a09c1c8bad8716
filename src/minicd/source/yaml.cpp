#include "minicd/source/yaml.hpp"

#include <libfyaml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>

#include "minicd/model/json_read.hpp"
#include "minicd/source/yaml_scalar.hpp"
#include "minicd/util/text.hpp"

namespace minicd::source {

namespace {

using model::Json;
using Status = tl::expected<void, util::Error>;

// What minicd reads from anywhere nests at most this deep: recursive JSON code (dump, copy, diff)
// must stay off the stack's edge. Counted through aliases too, which can nest a deep anchor again.
constexpr std::size_t k_max_depth = model::k_max_json_depth;

util::Error input_error(std::string message, std::string_view file, int line) {
    return util::make_error(util::ErrorCode::input, std::move(message), fmt::format("{}:{}", file, line));
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

// One document's text as apimachinery's YAMLReader cuts the stream: between `---` lines.
struct Chunk {
    std::string_view text;
    int first_line = 1;  // 1-based line of the chunk's first line in the file

    // The 1-based line in the file where the chunk's text ends (after a final newline: the next one).
    int end_line() const { return first_line + static_cast<int>(std::count(text.begin(), text.end(), '\n')); }
};

// Splits like YAMLReader: a line starting with `---` ends a document (even inside a block
// scalar) and may carry only spaces or a comment; a chunk with no bytes at all is dropped.
Result<std::vector<Chunk>> split_chunks(std::string_view text, std::string_view file) {
    std::vector<Chunk> chunks;
    std::size_t chunk_start = 0;
    int chunk_line = 1;
    int line = 1;
    for (std::size_t pos = 0; pos < text.size(); ++line) {
        const std::size_t newline = text.find('\n', pos);
        const std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
        const std::string_view current = text.substr(pos, end - pos);
        if (current.starts_with("---")) {
            const std::string_view rest = trim(current.substr(3));
            if (!rest.empty() && rest.front() != '#') {
                return tl::unexpected(input_error(
                    fmt::format("invalid document separator \"{}\": only a comment may follow ---", trim(current)),
                    file, line));
            }
            if (pos > chunk_start) {
                chunks.push_back({text.substr(chunk_start, pos - chunk_start), chunk_line});
            }
            chunk_start = end;
            chunk_line = line + 1;
        }
        pos = end;
    }
    if (chunk_start < text.size()) {
        chunks.push_back({text.substr(chunk_start), chunk_line});
    }
    return chunks;
}

// The offset of the first control character YAML does not allow (any but tab, line feed and carriage
// return, as go-yaml checks); libfyaml 0.7.12 reads past a NUL after a block scalar's indicator and
// returns bytes that were never in the text.
std::optional<std::size_t> find_control_character(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if ((byte < 0x20U && byte != '\t' && byte != '\n' && byte != '\r') || byte == 0x7FU) return i;
    }
    return std::nullopt;
}

bool is_blank_or_end(std::string_view line, std::size_t i) { return i >= line.size() || is_space(line[i]); }

// libfyaml 0.7.12 frees memory twice (and may crash) when, once an explicit key (`?`) has been
// seen, a `:` is followed by blanks holding a tab and then an indicator (upstream issue #57).
// Returns the 0-based line of such text so it can be refused before libfyaml reads it.
std::optional<int> find_tab_hazard(std::string_view text) {
    if (text.find('\t') == std::string_view::npos || text.find('?') == std::string_view::npos) {
        return std::nullopt;
    }
    bool explicit_key_seen = false;
    int line_number = 0;
    for (std::size_t pos = 0; pos < text.size(); ++line_number) {
        const std::size_t newline = text.find('\n', pos);
        const std::size_t end = newline == std::string_view::npos ? text.size() : newline + 1;
        const std::string_view line = text.substr(pos, end - pos);
        pos = end;
        std::size_t i = 0;
        const auto entry_prefix = [&] {
            return line[i] == ' ' || line[i] == '\t' || (line[i] == '-' && is_blank_or_end(line, i + 1));
        };
        while (i < line.size() && entry_prefix()) {
            ++i;
        }
        explicit_key_seen = explicit_key_seen || (i < line.size() && line[i] == '?' && is_blank_or_end(line, i + 1));
        if (!explicit_key_seen) {
            continue;
        }
        for (std::size_t colon = line.find(':'); colon != std::string_view::npos; colon = line.find(':', colon + 1)) {
            std::size_t next = colon + 1;
            bool tab = false;
            while (next < line.size() && (line[next] == ' ' || line[next] == '\t')) {
                tab = tab || line[next] == '\t';
                ++next;
            }
            const bool indicator =
                next < line.size() && (std::string_view("?:|>").find(line[next]) != std::string_view::npos ||
                                       (line[next] == '-' && is_blank_or_end(line, next + 1)));
            if (tab && indicator) {
                return line_number;
            }
        }
    }
    return std::nullopt;
}

void discard_diagnostic(fy_diag*, void*, const char*, size_t) {}

// A libfyaml event parser whose diagnostics are collected instead of printed, reused per chunk.
class FyParser {
public:
    FyParser() {
        fy_diag_cfg diag_cfg;
        fy_diag_cfg_default(&diag_cfg);
        diag_cfg.fp = nullptr;
        diag_cfg.output_fn = &discard_diagnostic;
        diag_cfg.colorize = false;
        m_diag = fy_diag_create(&diag_cfg);
        if (m_diag == nullptr) {
            return;
        }
        fy_diag_set_collect_errors(m_diag, true);
        fy_parse_cfg cfg{};
        // YAML 1.1, as go-yaml v2 (a libyaml port) reads it.
        cfg.flags = static_cast<fy_parse_cfg_flags>(FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_1);
        cfg.diag = m_diag;
        m_parser = fy_parser_create(&cfg);
    }
    ~FyParser() {
        if (m_diag != nullptr) {
            // libfyaml 0.7.12 frees collected errors only when collection is switched off.
            fy_diag_set_collect_errors(m_diag, false);
        }
        if (m_parser != nullptr) {
            fy_parser_destroy(m_parser);
        }
        if (m_diag != nullptr) {
            fy_diag_unref(m_diag);
        }
    }
    FyParser(const FyParser&) = delete;
    FyParser& operator=(const FyParser&) = delete;

    bool valid() const { return m_parser != nullptr; }

    bool start(std::string_view text) {
        return fy_parser_reset(m_parser) == 0 && fy_parser_set_string(m_parser, text.data(), text.size()) == 0;
    }

    fy_event* next() { return fy_parser_parse(m_parser); }
    void release(fy_event* event) { fy_parser_event_free(m_parser, event); }
    bool failed() { return fy_parser_get_stream_error(m_parser); }

    // The first collected error: its 1-based line within the chunk (0 if unknown) and message.
    std::pair<int, std::string> first_error() {
        void* iterator = nullptr;
        if (const fy_diag_error* error = fy_diag_errors_iterate(m_diag, &iterator); error != nullptr) {
            return {error->line, error->msg != nullptr ? error->msg : "syntax error"};
        }
        return {0, "syntax error"};
    }

private:
    fy_diag* m_diag = nullptr;
    fy_parser* m_parser = nullptr;
};

std::string_view token_text(fy_token* token) {
    std::size_t length = 0;
    const char* text = token != nullptr ? fy_token_get_text(token, &length) : nullptr;
    return text != nullptr ? std::string_view(text, length) : std::string_view();
}

// sigs.k8s.io/yaml hands a float64 to Go's encoding/json, which writes a whole number without a
// fraction (1e3 -> 1000); the API server then accepts it for integer fields. Kept as an integer
// while it fits one; larger whole numbers stay floats.
Json float_json(double value) {
    constexpr double k_two_to_63 = 9223372036854775808.0;
    constexpr double k_two_to_64 = 18446744073709551616.0;
    if (!std::isfinite(value) || std::trunc(value) != value) {
        return Json(value);
    }
    if (value >= -k_two_to_63 && value < k_two_to_63) {
        return Json(static_cast<std::int64_t>(value));
    }
    if (value >= 0 && value < k_two_to_64) {
        return Json(static_cast<std::uint64_t>(value));
    }
    return Json(value);
}

Json scalar_json(const ScalarValue& value, std::string_view text) {
    switch (value.kind) {
        case ScalarValue::Kind::null: return Json(nullptr);
        case ScalarValue::Kind::boolean: return Json(value.boolean);
        case ScalarValue::Kind::integer: return Json(value.integer);
        case ScalarValue::Kind::unsigned_integer: return Json(value.unsigned_integer);
        case ScalarValue::Kind::floating: return float_json(value.floating);
        case ScalarValue::Kind::string: break;
    }
    return Json(std::string(text));
}

bool is_non_finite(const Json& value) { return value.is_number_float() && !std::isfinite(value.get<double>()); }

// The key sigs.k8s.io/yaml makes of an aliased value used as a mapping key.
tl::expected<std::string, std::string> json_key(const Json& value) {
    switch (value.type()) {
        case Json::value_t::string: return value.get<std::string>();
        case Json::value_t::boolean: return std::string(value.get<bool>() ? "true" : "false");
        case Json::value_t::number_integer: return std::to_string(value.get<std::int64_t>());
        case Json::value_t::number_unsigned:
            return tl::unexpected(fmt::format("unsupported map key {} (beyond int64)", value.get<std::uint64_t>()));
        case Json::value_t::number_float: return format_float32_key(value.get<double>());
        case Json::value_t::null: return tl::unexpected(std::string("unsupported map key null"));
        default: return tl::unexpected(std::string("mapping keys must be scalars"));
    }
}

// go-yaml v2.4's allowedAliasRatio: how much of a document may come from alias expansion.
double allowed_alias_ratio(std::uint64_t decoded) {
    constexpr double k_low = 400000.0;
    constexpr double k_high = 4000000.0;
    const auto count = static_cast<double>(decoded);
    if (count <= k_low) {
        return 0.99;
    }
    if (count >= k_high) {
        return 0.10;
    }
    return 0.99 - 0.89 * ((count - k_low) / (k_high - k_low));
}

// Builds one document's JSON straight from libfyaml's events, applying go-yaml v2's decoding.
class DocumentBuilder {
public:
    // Positions go to `positions` when it is not null.
    DocumentBuilder(std::string_view file, const Chunk& chunk, PositionTable* positions)
        : m_file(file), m_first_line(chunk.first_line), m_end_line(chunk.end_line()), m_last_line(chunk.first_line),
          m_root_line(chunk.first_line), m_positions(positions) {}

    Result<YamlDocument> build(FyParser& parser) {
        while (fy_event* event = parser.next()) {
            const Status status = handle(*event);
            parser.release(event);
            if (!status) {
                return tl::unexpected(status.error());
            }
        }
        if (parser.failed()) {
            const auto [line, message] = parser.first_error();
            // libfyaml puts the end of a text without a final newline on the line after it.
            return tl::unexpected(input_error(fmt::format("invalid YAML: {}", message), m_file,
                                              line > 0 ? std::min(m_first_line + line - 1, m_end_line) : m_last_line));
        }
        return YamlDocument{.value = std::move(m_root), .line = m_root_line};
    }

private:
    struct Frame {
        Json value;                  // the object or array being filled
        std::string anchor;          // recorded when the collection ends; empty when none
        std::string key;             // mapping: the key whose value comes next
        // Keys written in this mapping itself, kept only once a merge (<<) has added others.
        std::unique_ptr<std::unordered_set<std::string>> explicit_keys;
        std::uint64_t nodes = 1;     // nodes decoded in this subtree, aliases expanded
        std::size_t height = 1;      // collections on the longest path down this subtree, itself included
        bool is_mapping = false;
        bool expecting_key = true;   // mapping: the next node is a key
        bool merge_pending = false;  // mapping: the pending key is <<
        bool record = false;         // positions of the children are recorded
        std::string pointer;         // JSON pointer of this collection (when recording)
        SourceMark key_mark;         // mapping: where the pending key was written
    };

    struct Anchor {
        Json value;
        std::uint64_t nodes = 1;
        std::size_t height = 0;  // as Frame::height; 0 for a scalar
    };

    util::Error error_at(std::string message, int line) const { return input_error(std::move(message), m_file, line); }

    int event_line(fy_event& event) {
        if (const fy_mark* mark = fy_event_start_mark(&event); mark != nullptr && mark->line >= 0) {
            m_last_line = m_first_line + mark->line;
        }
        return m_last_line;
    }

    SourceMark event_mark(fy_event& event) {
        const int line = event_line(event);
        const fy_mark* mark = fy_event_start_mark(&event);
        return {.line = line, .column = mark != nullptr && mark->column >= 0 ? mark->column + 1 : 1};
    }

    // The JSON pointer the next value of the innermost collection gets; none when its position
    // is not recorded (not asked for, inside a merge, or under a `<<` key).
    std::optional<std::string> next_pointer() const {
        if (m_positions == nullptr) {
            return std::nullopt;
        }
        if (m_frames.empty()) {
            return std::string();
        }
        const Frame& frame = m_frames.back();
        if (!frame.record || frame.merge_pending) {
            return std::nullopt;
        }
        if (!frame.is_mapping) {
            return fmt::format("{}/{}", frame.pointer, frame.value.size());
        }
        return fmt::format("{}/{}", frame.pointer, pointer_token(frame.key));
    }

    // Records where the next value of the innermost collection starts; returns its pointer.
    std::optional<std::string> record_next(SourceMark value) {
        auto pointer = next_pointer();
        if (pointer) {
            const bool member = !m_frames.empty() && m_frames.back().is_mapping;
            m_positions->insert_or_assign(*pointer, NodePosition{.key = member ? m_frames.back().key_mark : value,
                                                                 .value = value});
        }
        return pointer;
    }

    bool at_key() const { return !m_frames.empty() && m_frames.back().is_mapping && m_frames.back().expecting_key; }

    Status handle(fy_event& event) {
        switch (event.type) {
            case FYET_DOCUMENT_START:
                if (++m_documents > 1) {
                    return tl::unexpected(error_at(
                        "a second document follows '...' without a --- line; kubectl would drop it",
                        event_line(event)));
                }
                return {};
            case FYET_MAPPING_START:
                return open(event, true, event.mapping_start.anchor);
            case FYET_SEQUENCE_START:
                return open(event, false, event.sequence_start.anchor);
            case FYET_MAPPING_END:
            case FYET_SEQUENCE_END:
                return close(event_line(event));
            case FYET_SCALAR:
                return scalar(event);
            case FYET_ALIAS:
                return alias(event);
            default:
                return {};
        }
    }

    void note_root(int line) {
        if (m_frames.empty()) {
            m_root_line = line;
        }
    }

    Status open(fy_event& event, bool is_mapping, fy_token* anchor) {
        const SourceMark mark = event_mark(event);
        const int line = mark.line;
        if (at_key()) {
            return tl::unexpected(error_at("mapping keys must be scalars", line));
        }
        if (m_frames.size() >= k_max_depth) {
            return tl::unexpected(error_at(fmt::format("nesting deeper than {} levels", k_max_depth), line));
        }
        note_root(line);
        ++m_decoded;
        Frame frame;
        frame.value = is_mapping ? Json::object() : Json::array();
        frame.anchor = std::string(token_text(anchor));
        frame.is_mapping = is_mapping;
        if (!m_frames.empty() && m_frames.back().merge_pending) {
            // Keys merged in by `<<: {...}` land in the mapping that holds the `<<`.
            frame.record = is_mapping && m_frames.back().record;
            frame.pointer = m_frames.back().pointer;
        } else if (auto pointer = record_next(mark)) {
            frame.record = true;
            frame.pointer = std::move(*pointer);
        }
        m_frames.push_back(std::move(frame));
        return {};
    }

    Status close(int line) {
        Frame frame = std::move(m_frames.back());
        m_frames.pop_back();
        if (!frame.anchor.empty()) {
            m_anchors.insert_or_assign(std::move(frame.anchor), Anchor{frame.value, frame.nodes, frame.height});
        }
        return deliver(std::move(frame.value), frame.nodes, line, false, frame.height);
    }

    Status scalar(fy_event& event) {
        SourceMark mark = event_mark(event);
        const int line = mark.line;
        fy_token* token = event.scalar.value;
        // libfyaml marks a quoted scalar where its text starts; people count the quote.
        const fy_scalar_style style = fy_token_scalar_style(token);
        if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) && mark.column > 1) {
            --mark.column;
        }
        const std::string_view text = token_text(token);
        const ScalarTag tag = event.scalar.tag != nullptr ? classify_tag(token_text(event.scalar.tag))
                              : style == FYSS_PLAIN        ? ScalarTag::implicit
                                                           : ScalarTag::str;
        note_root(line);
        ++m_decoded;
        auto value = resolve_scalar(text, tag);
        if (!value) {
            return tl::unexpected(error_at(value.error(), line));
        }
        const bool keyed = at_key();
        if (keyed && text == "<<" && (tag == ScalarTag::implicit || tag == ScalarTag::merge)) {
            Frame& frame = m_frames.back();
            frame.nodes += 1;
            frame.merge_pending = true;
            frame.expecting_key = false;
            return {};
        }
        if (event.scalar.anchor != nullptr) {
            m_anchors.insert_or_assign(std::string(token_text(event.scalar.anchor)),
                                       Anchor{scalar_json(*value, text), 1, 0});
        }
        if (keyed) {
            auto key = scalar_key(*value, text);
            if (!key) {
                return tl::unexpected(error_at(key.error(), line));
            }
            m_frames.back().key_mark = mark;
            return add_key(std::move(*key), 1, line);
        }
        if (value->kind == ScalarValue::Kind::floating && !std::isfinite(value->floating)) {
            return tl::unexpected(error_at(fmt::format("{} is not a number JSON can hold", text), line));
        }
        record_next(mark);
        return deliver(scalar_json(*value, text), 1, line, false, 0);
    }

    Status alias(fy_event& event) {
        SourceMark mark = event_mark(event);
        const int line = mark.line;
        // libfyaml marks an alias at its name; people count the `*`.
        mark.column = std::max(1, mark.column - 1);
        const std::string name(token_text(event.alias.anchor));
        note_root(line);
        ++m_decoded;
        for (const Frame& frame : m_frames) {
            if (frame.anchor == name) {
                return tl::unexpected(error_at(fmt::format("anchor \"{}\" value contains itself", name), line));
            }
        }
        const auto found = m_anchors.find(name);
        if (found == m_anchors.end()) {
            return tl::unexpected(error_at(fmt::format("unknown anchor \"{}\" referenced", name), line));
        }
        const Anchor& anchor = found->second;
        m_decoded += anchor.nodes;
        m_aliased += anchor.nodes;
        if (m_aliased > 100 && m_decoded > 1000 &&
            static_cast<double>(m_aliased) / static_cast<double>(m_decoded) > allowed_alias_ratio(m_decoded)) {
            return tl::unexpected(error_at("document contains excessive aliasing", line));
        }
        if (at_key()) {
            auto key = json_key(anchor.value);
            if (!key) {
                return tl::unexpected(error_at(key.error(), line));
            }
            m_frames.back().key_mark = mark;
            return add_key(std::move(*key), 1 + anchor.nodes, line);
        }
        if (is_non_finite(anchor.value)) {
            return tl::unexpected(error_at(fmt::format("*{} is not a number JSON can hold", name), line));
        }
        if (m_frames.size() + anchor.height > k_max_depth) {
            return tl::unexpected(
                error_at(fmt::format("nesting deeper than {} levels (through alias *{})", k_max_depth, name), line));
        }
        record_next(mark);
        return deliver(Json(anchor.value), 1 + anchor.nodes, line, true, anchor.height);
    }

    Status add_key(std::string key, std::uint64_t nodes, int line) {
        Frame& frame = m_frames.back();
        frame.nodes += nodes;
        const bool duplicate = frame.explicit_keys ? !frame.explicit_keys->insert(key).second
                                                   : frame.value.get_ref<Json::object_t&>().contains(key);
        if (duplicate) {
            return tl::unexpected(error_at(fmt::format("duplicate key \"{}\"", key), line));
        }
        frame.key = std::move(key);
        frame.expecting_key = false;
        return {};
    }

    // Hands a finished node (`height` as Frame::height) to its parent, or makes it the document's root.
    Status deliver(Json value, std::uint64_t nodes, int line, bool from_alias, std::size_t height) {
        if (m_frames.empty()) {
            m_root = std::move(value);
            return {};
        }
        Frame& frame = m_frames.back();
        frame.nodes += nodes;
        frame.height = std::max(frame.height, height + 1);
        if (!frame.is_mapping) {
            frame.value.get_ref<Json::array_t&>().push_back(std::move(value));
            return {};
        }
        frame.expecting_key = true;
        if (frame.merge_pending) {
            frame.merge_pending = false;
            return merge(frame, std::move(value), from_alias, line);
        }
        auto& object = frame.value.get_ref<Json::object_t&>();
        if (frame.explicit_keys) {
            object.insert_or_assign(std::move(frame.key), std::move(value));
        } else {
            object.emplace(std::move(frame.key), std::move(value));
        }
        return {};
    }

    // go-yaml v2 merges where `<<` stands: it overrides keys written before it, later keys override
    // it, and in a sequence of maps the earlier map wins.
    Status merge(Frame& frame, Json value, bool from_alias, int line) {
        const bool sequence_of_maps =
            value.is_array() && !from_alias &&
            std::all_of(value.begin(), value.end(), [](const Json& item) { return item.is_object(); });
        if (!value.is_object() && !sequence_of_maps) {
            return tl::unexpected(error_at("map merge requires map or sequence of maps as the value", line));
        }
        auto& object = frame.value.get_ref<Json::object_t&>();
        if (!frame.explicit_keys) {
            frame.explicit_keys = std::make_unique<std::unordered_set<std::string>>();
            for (const auto& entry : object) {
                frame.explicit_keys->insert(entry.first);
            }
        }
        const auto apply = [&object](Json& source) {
            for (auto& [key, item] : source.get_ref<Json::object_t&>()) {
                object.insert_or_assign(key, std::move(item));
            }
        };
        if (value.is_object()) {
            apply(value);
            return {};
        }
        auto& items = value.get_ref<Json::array_t&>();
        for (auto item = items.rbegin(); item != items.rend(); ++item) {
            apply(*item);
        }
        return {};
    }

    std::string_view m_file;
    int m_first_line;
    int m_end_line;  // where the chunk's text ends: no error is past it
    int m_last_line;
    int m_root_line;
    int m_documents = 0;
    std::vector<Frame> m_frames;
    std::unordered_map<std::string, Anchor> m_anchors;
    Json m_root;
    std::uint64_t m_decoded = 0;  // nodes decoded, aliases expanded (go-yaml's decodeCount)
    std::uint64_t m_aliased = 0;  // of which came from alias expansion (go-yaml's aliasCount)
    PositionTable* m_positions;   // null when positions are not recorded
};

// Builds JSON from nlohmann's SAX events so that a repeated key is an error, not a silent overwrite.
class JsonSaxBuilder final : public nlohmann::json_sax<Json> {
public:
    bool null() override { return place(Json(nullptr)); }
    bool boolean(bool value) override { return place(Json(value)); }
    bool number_integer(number_integer_t value) override { return place(Json(value)); }
    bool number_unsigned(number_unsigned_t value) override {
        // Same number types as the YAML path: unsigned only beyond int64.
        if (value <= static_cast<number_unsigned_t>(std::numeric_limits<std::int64_t>::max())) {
            return place(Json(static_cast<std::int64_t>(value)));
        }
        return place(Json(value));
    }
    bool number_float(number_float_t value, const string_t& text) override {
        if (!std::isfinite(value)) {
            m_problem = fmt::format("number {} is out of range", text);
            return false;
        }
        return place(float_json(value));
    }
    bool string(string_t& value) override { return place(Json(std::move(value))); }
    bool binary(binary_t&) override { return false; }
    bool start_object(std::size_t) override { return open(Json::object()); }
    bool key(string_t& key) override {
        auto& object = m_stack.back()->get_ref<Json::object_t&>();
        const auto [slot, inserted] = object.try_emplace(key, nullptr);
        if (!inserted) {
            m_problem = fmt::format("duplicate key \"{}\"", key);
            m_duplicate_key_index = m_keys;
            return false;
        }
        ++m_keys;
        m_slot = &slot->second;
        return true;
    }
    bool end_object() override {
        m_stack.pop_back();
        return true;
    }
    bool start_array(std::size_t) override { return open(Json::array()); }
    bool end_array() override {
        m_stack.pop_back();
        return true;
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& error) override {
        // nlohmann's own line/column are relative to the slice; keep only what went wrong.
        const std::string_view what = error.what();
        const std::size_t colon = what.find(": ");
        m_problem = colon != std::string_view::npos ? std::string(what.substr(colon + 2)) : std::string(what);
        m_error_position = position;
        return false;
    }

    Json take_root() { return std::move(m_root); }
    const std::string& problem() const { return m_problem; }
    std::optional<std::size_t> duplicate_key_index() const { return m_duplicate_key_index; }
    std::optional<std::size_t> error_position() const { return m_error_position; }

private:
    Json* place(Json value) {
        if (m_stack.empty()) {
            m_root = std::move(value);
            return &m_root;
        }
        Json& parent = *m_stack.back();
        if (parent.is_array()) {
            auto& array = parent.get_ref<Json::array_t&>();
            array.push_back(std::move(value));
            return &array.back();
        }
        *m_slot = std::move(value);
        return m_slot;
    }
    bool open(Json container) {
        if (m_stack.size() >= k_max_depth) {
            m_problem = fmt::format("nesting deeper than {} levels", k_max_depth);
            return false;
        }
        m_stack.push_back(place(std::move(container)));
        return true;
    }

    Json m_root;
    std::vector<Json*> m_stack;  // open containers; their addresses stay put while children are added
    Json* m_slot = nullptr;      // the member the next object value goes to
    std::size_t m_keys = 0;
    std::string m_problem;
    std::optional<std::size_t> m_duplicate_key_index;
    std::optional<std::size_t> m_error_position;
};

// Where the JSON value starting at `start` ends: bracket matching outside strings, or the
// extent of a bare literal. Lets several values follow each other as a JSON stream.
std::size_t json_value_end(std::string_view text, std::size_t start) {
    const char first = text[start];
    if (first == '{' || first == '[' || first == '"') {
        int depth = 0;
        bool in_string = false;
        for (std::size_t i = start; i < text.size(); ++i) {
            const char c = text[i];
            if (in_string) {
                if (c == '\\') {
                    ++i;
                } else if (c == '"') {
                    in_string = false;
                    if (depth == 0) {
                        return i + 1;
                    }
                }
            } else if (c == '"') {
                in_string = true;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if ((c == '}' || c == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return text.size();
    }
    constexpr std::string_view k_delimiters = "{}[],:\"";
    std::size_t i = start;
    while (i < text.size() && !is_space(text[i]) && k_delimiters.find(text[i]) == std::string_view::npos) {
        ++i;
    }
    return std::max(i, start + 1);
}

// The 0-based line offset, within a JSON value, of its n-th object key (in reading order).
int json_key_line(std::string_view text, std::size_t wanted) {
    int line = 0;
    std::size_t seen = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
        } else if (text[i] == '"') {
            const int key_line = line;
            std::size_t j = i + 1;
            for (; j < text.size() && text[j] != '"'; ++j) {
                if (text[j] == '\\') {
                    ++j;
                } else if (text[j] == '\n') {
                    ++line;
                }
            }
            std::size_t next = j + 1;
            while (next < text.size() && is_space(text[next])) {
                line += text[next] == '\n' ? 1 : 0;
                ++next;
            }
            if (next < text.size() && text[next] == ':' && seen++ == wanted) {
                return key_line;
            }
            i = next - 1;
        }
    }
    return line;
}

int count_lines(std::string_view text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

Result<std::vector<YamlDocument>> parse_json_stream(std::string_view text, std::string_view file,
                                                    YamlOptions options) {
    std::vector<YamlDocument> documents;
    int line = 1;
    std::size_t pos = 0;
    while (true) {
        const std::size_t start = pos;
        while (pos < text.size() && is_space(text[pos])) {
            ++pos;
        }
        line += count_lines(text.substr(start, pos - start));
        if (pos == text.size()) {
            return documents;
        }
        const std::size_t end = json_value_end(text, pos);
        const std::string_view value_text = text.substr(pos, end - pos);
        JsonSaxBuilder builder;
        if (!Json::sax_parse(value_text.begin(), value_text.end(), &builder)) {
            int error_line = line;
            if (const auto index = builder.duplicate_key_index()) {
                error_line += json_key_line(value_text, *index);
            } else if (const auto position = builder.error_position(); position && *position > 0) {
                error_line += count_lines(value_text.substr(0, std::min(*position - 1, value_text.size())));
            }
            return tl::unexpected(input_error(fmt::format("invalid JSON: {}", builder.problem()), file, error_line));
        }
        documents.push_back({.value = builder.take_root(), .line = line});
        if (options.record_positions) {
            documents.back().positions.emplace("", NodePosition{.key = {line, 1}, .value = {line, 1}});
        }
        line += count_lines(value_text);
        pos = end;
    }
}

bool looks_like_json(std::string_view text) {
    const std::string_view content = trim(text);
    return !content.empty() && (content.front() == '{' || content.front() == '[');
}

}  // namespace

std::string pointer_token(std::string_view key) {
    std::string token;
    token.reserve(key.size());
    for (const char c : key) {
        if (c == '~') {
            token += "~0";
        } else if (c == '/') {
            token += "~1";
        } else {
            token += c;
        }
    }
    return token;
}

Result<std::vector<YamlDocument>> parse_yaml(std::string_view text, std::string_view file, YamlOptions options) {
    if (text.starts_with("\xEF\xBB\xBF")) {
        text.remove_prefix(3);
    }
    // Kubernetes' reader refuses such bytes anywhere; libfyaml 0.7.12 loops for ever on them in a
    // directive line ("%...").
    if (const auto invalid = util::find_invalid_utf8(text)) {
        return fail(util::ErrorCode::input, "invalid YAML: bytes that are not UTF-8",
                    fmt::format("{}:{}", file, util::position_at(text, *invalid).line));
    }
    if (const auto control = find_control_character(text)) {
        return fail(util::ErrorCode::input,
                    fmt::format("invalid YAML: control character 0x{:02X}", static_cast<unsigned char>(text[*control])),
                    fmt::format("{}:{}", file, util::position_at(text, *control).line));
    }
    if (looks_like_json(text)) {
        return parse_json_stream(text, file, options);
    }
    auto chunks = split_chunks(text, file);
    if (!chunks) {
        return tl::unexpected(chunks.error());
    }
    FyParser parser;
    if (!parser.valid()) {
        return fail(util::ErrorCode::internal, "cannot create a YAML parser", std::string(file));
    }
    std::vector<YamlDocument> documents;
    documents.reserve(chunks->size());
    for (const Chunk& chunk : *chunks) {
        if (const auto hazard = find_tab_hazard(chunk.text)) {
            return fail(util::ErrorCode::input,
                        "invalid YAML: a tab after ':' in an explicit-key (?) block; use spaces",
                        fmt::format("{}:{}", file, chunk.first_line + *hazard));
        }
        if (!parser.start(chunk.text)) {
            return fail(util::ErrorCode::internal, "cannot start the YAML parser", std::string(file));
        }
        PositionTable positions;
        auto document =
            DocumentBuilder(file, chunk, options.record_positions ? &positions : nullptr).build(parser);
        if (!document) {
            return tl::unexpected(document.error());
        }
        document->positions = std::move(positions);
        documents.push_back(std::move(*document));
    }
    return documents;
}

}  // namespace minicd::source
