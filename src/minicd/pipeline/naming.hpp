#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "minicd/util/result.hpp"

namespace minicd::pipeline {

// What the placeholders of a name template stand for ({app}, {env}, {branch}).
struct NameValues {
    std::string_view app;
    std::string_view env;
    std::string_view branch;  // as Git spells it; made a label by branch_label
};

// The branch as (part of) one DNS label of at most `max_length` characters: lowercased, every
// character outside [a-z0-9] turned into `-`, runs of `-` collapsed, none at either end. When that
// changed the name in any way, or it had to be cut, `-` and 8 hex characters of the SHA-256 of
// the original name follow (just the 8 characters when nothing is left), so `feature/a`,
// `Feature/A` and `feature-a` never share a label. A name that already ends like a hashed one
// (`-` and 8 hex characters, or is just 8) gets a hash too, so no branch can name itself into
// another's label. Empty when max_length < 8 (no room for a hash).
std::string branch_label(std::string_view branch, std::size_t max_length);

// The namespace a template such as "shop-{branch}" or "{app}-{env}" names. Input errors (subject:
// the template) when the template has an unknown placeholder or {branch} twice, leaves no room for
// the branch, a value it needs is empty, or the name would not be a DNS-1123 label that starts
// with a letter, or would start with the reserved "kube-".
Result<std::string> namespace_name(std::string_view name_template, const NameValues& values);

// The preview namespace of a branch: a template containing {branch}, or a plain prefix that
// becomes "prefix-{branch}". The name is only a slug: the branch itself goes in the namespace's
// render::k_branch_annotation.
Result<std::string> preview_namespace(std::string_view prefix_or_template, std::string_view branch);

// The host a template such as "{branch}.dev.example.com" names: each dot-separated label a DNS
// label of at most 63 characters (the branch cut to fit its label), at most 253 in all.
Result<std::string> host_name(std::string_view host_template, const NameValues& values);

}  // namespace minicd::pipeline
