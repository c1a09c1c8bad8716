#include "minicd/config/template.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace minicd::config {

namespace {

constexpr std::size_t k_max_label = 63;

bool is_label_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

}  // namespace

Result<NameTemplate> NameTemplate::parse(std::string_view text) {
    NameTemplate result;
    std::string literal;
    const auto flush = [&] {
        if (!literal.empty()) {
            result.m_parts.push_back({.placeholder = Placeholder::none, .literal = std::move(literal)});
            literal.clear();
        }
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '}') {
            return fail(util::ErrorCode::input, "unmatched '}'");
        }
        if (text[i] != '{') {
            literal += text[i];
            continue;
        }
        const std::size_t close = text.find('}', i);
        if (close == std::string_view::npos) {
            return fail(util::ErrorCode::input, "unmatched '{'");
        }
        const std::string_view name = text.substr(i + 1, close - i - 1);
        Placeholder placeholder = Placeholder::none;
        if (name == "branch") {
            placeholder = Placeholder::branch;
        } else if (name == "app") {
            placeholder = Placeholder::app;
        } else if (name == "env") {
            placeholder = Placeholder::env;
        } else {
            return fail(util::ErrorCode::input,
                        fmt::format("unknown placeholder {{{}}} (known: {{branch}}, {{app}}, {{env}})", name));
        }
        flush();
        result.m_parts.push_back({.placeholder = placeholder, .literal = {}});
        i = close;
    }
    flush();
    return result;
}

int NameTemplate::count(Placeholder placeholder) const {
    return static_cast<int>(std::count_if(m_parts.begin(), m_parts.end(), [placeholder](const TemplatePart& part) {
        return part.placeholder == placeholder;
    }));
}

std::string NameTemplate::expand(std::string_view app, std::string_view env, std::string_view branch) const {
    std::string text;
    for (const TemplatePart& part : m_parts) {
        switch (part.placeholder) {
            case Placeholder::none: text += part.literal; break;
            case Placeholder::branch: text += branch; break;
            case Placeholder::app: text += app; break;
            case Placeholder::env: text += env; break;
        }
    }
    return text;
}

bool is_dns_label(std::string_view text) {
    return !text.empty() && text.size() <= k_max_label && std::all_of(text.begin(), text.end(), is_label_char) &&
           text.front() != '-' && text.back() != '-';
}

}  // namespace minicd::config
