#include "minicd/pipeline/naming.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "minicd/config/template.hpp"
#include "minicd/util/encoding.hpp"

namespace minicd::pipeline {

namespace {

constexpr std::size_t k_max_label = 63;
constexpr std::size_t k_max_host = 253;
constexpr std::size_t k_hash_length = 8;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Lowercase [a-z0-9] with single dashes between runs of anything else; bytes of multi-byte
// UTF-8 characters count as "anything else".
std::string slug(std::string_view text) {
    std::string result;
    bool gap = false;
    for (const char c : text) {
        const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        if (!is_lower_alnum(lower)) {
            gap = true;
            continue;
        }
        if (gap && !result.empty()) {
            result += '-';
        }
        gap = false;
        result += lower;
    }
    return result;
}

tl::unexpected<util::Error> template_error(std::string message, std::string_view kind, std::string_view text) {
    return fail(util::ErrorCode::input, std::move(message), fmt::format("{} template \"{}\"", kind, text));
}

// One label's template with its placeholders filled, the branch cut to what room the label leaves.
Result<std::string> expand_label(std::string_view text, const NameValues& values, std::string_view kind) {
    auto parsed = config::NameTemplate::parse(text);
    if (!parsed) {
        return template_error(parsed.error().message, kind, text);
    }
    if (parsed->count(config::Placeholder::branch) > 1) {
        return template_error("{branch} may appear only once", kind, text);
    }
    const auto need = [&](config::Placeholder placeholder, std::string_view value, std::string_view name) {
        return parsed->count(placeholder) > 0 && value.empty() ? fmt::format("no value for {{{}}}", name)
                                                               : std::string();
    };
    for (const std::string& missing : {need(config::Placeholder::app, values.app, "app"),
                                       need(config::Placeholder::env, values.env, "env"),
                                       need(config::Placeholder::branch, values.branch, "branch")}) {
        if (!missing.empty()) {
            return template_error(missing, kind, text);
        }
    }
    if (!parsed->has_branch()) {
        return parsed->expand(values.app, values.env, {});
    }
    const std::size_t fixed = parsed->expand(values.app, values.env, {}).size();
    if (fixed + k_hash_length > k_max_label) {
        return template_error(fmt::format("leaves {} characters for {{branch}}, at least {} are needed",
                                          fixed < k_max_label ? k_max_label - fixed : 0, k_hash_length),
                              kind, text);
    }
    return parsed->expand(values.app, values.env, branch_label(values.branch, k_max_label - fixed));
}

// Whether a label ends the way a hashed one does: 8 hex characters, alone or after a `-`.
bool looks_hashed(std::string_view label) {
    if (label.size() < k_hash_length) {
        return false;
    }
    const std::string_view tail = label.substr(label.size() - k_hash_length);
    const bool hex = std::all_of(tail.begin(), tail.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    return hex && (label.size() == k_hash_length || label[label.size() - k_hash_length - 1] == '-');
}

}  // namespace

std::string branch_label(std::string_view branch, std::size_t max_length) {
    std::string label = slug(branch);
    if (label == branch && label.size() <= max_length && !looks_hashed(label)) {
        return label;
    }
    if (max_length < k_hash_length) {
        return {};
    }
    const std::string hash = util::sha256_hex(branch).substr(0, k_hash_length);
    // What is left of the slug must also leave room for the `-` before the hash.
    const std::size_t keep = max_length > k_hash_length ? max_length - k_hash_length - 1 : 0;
    label.resize(std::min(label.size(), keep));
    while (!label.empty() && label.back() == '-') {
        label.pop_back();
    }
    return label.empty() ? hash : label + "-" + hash;
}

Result<std::string> namespace_name(std::string_view name_template, const NameValues& values) {
    auto name = expand_label(name_template, values, "namespace");
    if (!name) {
        return name;
    }
    if (!config::is_dns_label(*name) || !(name->front() >= 'a' && name->front() <= 'z')) {
        return template_error(fmt::format("\"{}\" is not a namespace name: at most 63 of [a-z0-9-], starting with a "
                                          "letter and ending with a letter or digit",
                                          *name),
                              "namespace", name_template);
    }
    if (name->starts_with("kube-")) {
        return template_error(fmt::format("\"{}\" starts with kube-, which Kubernetes reserves", *name), "namespace",
                              name_template);
    }
    return name;
}

Result<std::string> preview_namespace(std::string_view prefix_or_template, std::string_view branch) {
    const bool is_template = prefix_or_template.find('{') != std::string_view::npos;
    const std::string name_template =
        is_template ? std::string(prefix_or_template) : fmt::format("{}-{{branch}}", prefix_or_template);
    auto parsed = config::NameTemplate::parse(name_template);
    if (parsed && !parsed->has_branch()) {
        return template_error("a preview namespace needs {branch}", "namespace", prefix_or_template);
    }
    return namespace_name(name_template, {.app = {}, .env = {}, .branch = branch});
}

Result<std::string> host_name(std::string_view host_template, const NameValues& values) {
    std::string host;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = host_template.find('.', start);
        const std::string_view piece = host_template.substr(start, dot == std::string_view::npos ? dot : dot - start);
        auto label = expand_label(piece, values, "host");
        if (!label) {
            return template_error(label.error().message, "host", host_template);
        }
        if (!config::is_dns_label(*label)) {
            return template_error(fmt::format("\"{}\" is not a DNS label: 1 to 63 of [a-z0-9-], a letter or digit at "
                                              "both ends",
                                              *label),
                                  "host", host_template);
        }
        host += *label;
        if (dot == std::string_view::npos) {
            break;
        }
        host += '.';
        start = dot + 1;
    }
    if (host.size() > k_max_host) {
        return template_error(fmt::format("\"{}\" is longer than {} characters", host, k_max_host), "host",
                              host_template);
    }
    return host;
}

}  // namespace minicd::pipeline
