#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "minicd/util/result.hpp"

namespace minicd::config {

// What a `{...}` in a namespace or host template of minicd.yaml stands for.
enum class Placeholder {
    none,    // the part is literal text
    branch,  // the branch, made a DNS label (see pipeline/naming.hpp)
    app,     // the `app` of minicd.yaml
    env,     // the environment's name
};

struct TemplatePart {
    Placeholder placeholder = Placeholder::none;
    std::string literal;  // the text when placeholder is none
};

// A name template such as "shop-{branch}" or "{branch}.dev.example.com", split into parts.
class NameTemplate {
public:
    // Literal text and the placeholders {branch}, {app} and {env}; any other `{` or `}` is an
    // input error whose message says what was wrong (no subject).
    static Result<NameTemplate> parse(std::string_view text);

    const std::vector<TemplatePart>& parts() const { return m_parts; }
    int count(Placeholder placeholder) const;
    bool has_branch() const { return count(Placeholder::branch) > 0; }

    // The text with each placeholder replaced by the given value.
    std::string expand(std::string_view app, std::string_view env, std::string_view branch) const;

private:
    std::vector<TemplatePart> m_parts;
};

// An RFC 1123 label as Kubernetes checks names: 1-63 of [a-z0-9-], alphanumeric at both ends.
bool is_dns_label(std::string_view text);

}  // namespace minicd::config
