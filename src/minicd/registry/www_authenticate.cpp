#include "minicd/registry/www_authenticate.hpp"

#include <fmt/core.h>

#include <cctype>
#include <optional>

namespace minicd::registry {
namespace {

// RFC 7230 tchar.
bool is_tchar(char c) {
    if (std::isalnum(static_cast<unsigned char>(c))) return true;
    std::string_view extra = "!#$%&'*+-.^_`|~";
    return extra.find(c) != std::string_view::npos;
}

// RFC 7235 token68 characters, without the trailing '=' padding.
bool is_token68_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' ||
           c == '/';
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

class Parser {
public:
    explicit Parser(std::string_view text) : m_text(text) {}

    Result<std::vector<Challenge>> parse() {
        std::vector<Challenge> challenges;
        while (true) {
            skip_separators();
            if (at_end()) break;
            std::string_view scheme = read_token();
            if (scheme.empty()) return problem("expected an authentication scheme");
            Challenge challenge{.scheme = lowercase(scheme), .params = {}, .token68 = {}};
            skip_spaces();
            if (!at_end() && peek() != ',') {
                if (auto token68 = try_token68()) {
                    challenge.token68 = *token68;
                } else if (auto params = read_params(challenge); !params) {
                    return fail(params.error());
                }
            }
            challenges.push_back(std::move(challenge));
        }
        if (challenges.empty()) return problem("no challenge");
        return challenges;
    }

private:
    bool at_end() const { return m_pos >= m_text.size(); }
    char peek() const { return m_text[m_pos]; }
    void skip_spaces() {
        while (!at_end() && (peek() == ' ' || peek() == '\t')) ++m_pos;
    }
    void skip_separators() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == ',')) ++m_pos;
    }
    std::string_view read_token() {
        std::size_t start = m_pos;
        while (!at_end() && is_tchar(peek())) ++m_pos;
        return m_text.substr(start, m_pos - start);
    }

    tl::unexpected<util::Error> problem(std::string what) const {
        return fail(util::ErrorCode::input,
                    fmt::format("malformed WWW-Authenticate header at offset {}: {}", m_pos, what), "WWW-Authenticate");
    }

    // `Scheme abc+/def==` followed by the end or a comma; leaves the position alone otherwise.
    std::optional<std::string> try_token68() {
        std::size_t pos = m_pos;
        while (pos < m_text.size() && is_token68_char(m_text[pos])) ++pos;
        if (pos == m_pos) return std::nullopt;
        while (pos < m_text.size() && m_text[pos] == '=') ++pos;
        std::size_t end = pos;
        while (pos < m_text.size() && (m_text[pos] == ' ' || m_text[pos] == '\t')) ++pos;
        if (pos < m_text.size() && m_text[pos] != ',') return std::nullopt;
        std::string token(m_text.substr(m_pos, end - m_pos));
        m_pos = pos;
        return token;
    }

    Result<std::string> read_quoted() {
        ++m_pos;  // the opening quote
        std::string value;
        while (!at_end()) {
            char c = peek();
            ++m_pos;
            if (c == '"') return value;
            if (c == '\\') {
                if (at_end()) break;
                c = peek();
                ++m_pos;
            }
            value.push_back(c);
        }
        return problem("unterminated quoted value");
    }

    // name=value pairs until the text ends or the next challenge's scheme begins.
    Result<void> read_params(Challenge& challenge) {
        while (true) {
            std::string_view name = read_token();
            if (name.empty()) return problem("expected a parameter name");
            skip_spaces();
            if (at_end() || peek() != '=') return problem(fmt::format("parameter \"{}\" has no value", name));
            ++m_pos;
            skip_spaces();
            std::string value;
            if (!at_end() && peek() == '"') {
                auto quoted = read_quoted();
                if (!quoted) return fail(quoted.error());
                value = std::move(*quoted);
            } else {
                value = std::string(read_token());
            }
            challenge.params[lowercase(name)] = std::move(value);

            skip_spaces();
            if (at_end()) return {};
            if (peek() != ',') return problem("expected ',' between parameters");
            skip_separators();
            if (at_end()) return {};
            // A token followed by '=' is another parameter; anything else starts the next challenge.
            std::size_t mark = m_pos;
            read_token();
            skip_spaces();
            bool another_param = !at_end() && peek() == '=';
            m_pos = mark;
            if (!another_param) return {};
        }
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
};

}  // namespace

std::string Challenge::param(std::string_view name) const {
    auto found = params.find(lowercase(name));
    return found == params.end() ? std::string() : found->second;
}

Result<std::vector<Challenge>> parse_www_authenticate(std::string_view header) { return Parser(header).parse(); }

}  // namespace minicd::registry
