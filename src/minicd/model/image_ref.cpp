#include "minicd/model/image_ref.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <optional>

namespace minicd::model {
namespace {

constexpr std::string_view k_default_registry = "docker.io";
constexpr std::string_view k_official_namespace = "library/";
constexpr std::size_t k_max_name_length = 255;
constexpr std::size_t k_max_tag_length = 128;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

bool all_of(std::string_view text, bool (*pred)(char)) { return std::all_of(text.begin(), text.end(), pred); }

// One path component: lowercase alphanumeric runs joined by ".", "_", "__" or a run of "-".
std::optional<std::string> path_component_problem(std::string_view component) {
    if (component.empty()) return "empty path component";
    if (std::any_of(component.begin(), component.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
        return fmt::format("repository must be lowercase, got \"{}\"", component);
    if (!is_lower_alnum(component.front()) || !is_lower_alnum(component.back()))
        return fmt::format("path component \"{}\" must start and end with a letter or digit", component);
    std::size_t i = 0;
    while (i < component.size()) {
        if (is_lower_alnum(component[i])) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < component.size() && !is_lower_alnum(component[end])) ++end;
        std::string_view separator = component.substr(i, end - i);
        bool ok = separator == "." || separator == "_" || separator == "__" ||
                  all_of(separator, [](char c) { return c == '-'; });
        if (!ok) return fmt::format("path component \"{}\" has an invalid separator \"{}\"", component, separator);
        i = end;
    }
    return std::nullopt;
}

// A DNS-like host label: alphanumerics with inner dashes.
bool is_domain_component(std::string_view label) {
    if (label.empty() || !is_alnum(label.front()) || !is_alnum(label.back())) return false;
    return all_of(label, [](char c) { return is_alnum(c) || c == '-'; });
}

// "host", "host:port", "[v6]" or "[v6]:port".
std::optional<std::string> registry_problem(std::string_view registry) {
    std::string_view host = registry;
    std::string_view port;
    if (host.starts_with('[')) {
        std::size_t close = host.find(']');
        if (close == std::string_view::npos) return "unterminated IPv6 address in registry host";
        std::string_view address = host.substr(1, close - 1);
        bool ok = address.find(':') != std::string_view::npos &&
                  all_of(address, [](char c) { return is_digit(c) || (c >= 'a' && c <= 'f') ||
                                                      (c >= 'A' && c <= 'F') || c == ':' || c == '.'; });
        if (!ok) return fmt::format("invalid IPv6 address \"{}\" in registry host", address);
        std::string_view rest = host.substr(close + 1);
        if (!rest.empty()) {
            if (!rest.starts_with(':')) return "unexpected characters after IPv6 address in registry host";
            port = rest.substr(1);
            if (port.empty()) return "empty port in registry host";
        }
    } else {
        std::size_t colon = host.find(':');
        if (colon != std::string_view::npos) {
            port = host.substr(colon + 1);
            host = host.substr(0, colon);
            if (port.empty()) return "empty port in registry host";
        }
        std::size_t start = 0;
        while (true) {
            std::size_t dot = host.find('.', start);
            std::string_view label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
            if (!is_domain_component(label)) return fmt::format("invalid registry host \"{}\"", host);
            if (dot == std::string_view::npos) break;
            start = dot + 1;
        }
    }
    if (!port.empty() && !all_of(port, is_digit)) return fmt::format("invalid port \"{}\" in registry host", port);
    return std::nullopt;
}

// Docker's rule: the first component names a registry when it has "." or ":", is "localhost",
// or has uppercase letters (repositories cannot).
bool looks_like_registry(std::string_view first) {
    return first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
           std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; }) ||
           first.starts_with('[');
}

Result<ImageRef> invalid(std::string_view text, std::string what) {
    return fail(util::ErrorCode::input, "invalid image reference: " + what, std::string(text));
}

}  // namespace

std::string ImageRef::name() const { return registry + "/" + repository; }

std::string ImageRef::str() const {
    std::string out = name();
    if (!tag.empty()) out += ":" + tag;
    if (!digest.empty()) out += "@" + digest;
    return out;
}

ImageRef ImageRef::with_tag(std::string new_tag) const {
    return ImageRef{.registry = registry, .repository = repository, .tag = std::move(new_tag), .digest = {}};
}

ImageRef ImageRef::with_digest(std::string new_digest) const {
    return ImageRef{.registry = registry, .repository = repository, .tag = tag, .digest = std::move(new_digest)};
}

bool is_valid_tag(std::string_view tag) {
    if (tag.empty() || tag.size() > k_max_tag_length) return false;
    auto word = [](char c) { return is_alnum(c) || c == '_'; };
    if (!word(tag.front())) return false;
    return std::all_of(tag.begin(), tag.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool is_valid_digest(std::string_view digest) {
    std::size_t colon = digest.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view algorithm = digest.substr(0, colon);
    std::string_view hex = digest.substr(colon + 1);
    if (!all_of(hex, is_lower_hex)) return false;
    if (algorithm == "sha256") return hex.size() == 64;
    if (algorithm == "sha512") return hex.size() == 128;
    // Other algorithms: OCI's grammar for the name, and at least 128 bits of hex.
    if (algorithm.empty() || !is_lower_alnum(algorithm.front()) || !is_lower_alnum(algorithm.back())) return false;
    bool name_ok = all_of(algorithm, [](char c) { return is_lower_alnum(c) || c == '+' || c == '.' || c == '_' ||
                                                         c == '-'; });
    return name_ok && hex.size() >= 32;
}

Result<ImageRef> parse_image_ref(std::string_view text) {
    if (text.empty()) return invalid(text, "empty reference");
    if (std::any_of(text.begin(), text.end(), [](char c) { return c <= ' ' || c == 0x7f; }))
        return invalid(text, "contains whitespace or control characters");

    ImageRef ref;
    std::string_view rest = text;
    if (std::size_t at = rest.find('@'); at != std::string_view::npos) {
        std::string_view digest = rest.substr(at + 1);
        if (!is_valid_digest(digest))
            return invalid(text, fmt::format("digest \"{}\" is not algorithm:hex (sha256 needs 64 lowercase hex "
                                             "digits)", digest));
        ref.digest = std::string(digest);
        rest = rest.substr(0, at);
    }

    // The tag separator is the last ':' after the last '/', so a registry port is not taken for a tag.
    std::size_t last_slash = rest.rfind('/');
    std::size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash) &&
        !(rest.starts_with('[') && last_slash == std::string_view::npos && colon < rest.find(']'))) {
        std::string_view tag = rest.substr(colon + 1);
        std::string_view before = rest.substr(0, colon);
        if (last_slash == std::string_view::npos && !tag.empty() && all_of(tag, is_digit) &&
            (before.find('.') != std::string_view::npos || before == "localhost" || before.starts_with('[')))
            return invalid(text, "names a registry host and port but no repository path");
        if (tag.empty()) return invalid(text, "empty tag after ':'");
        if (!is_valid_tag(tag))
            return invalid(text, tag.size() > k_max_tag_length
                                     ? fmt::format("tag is longer than {} characters", k_max_tag_length)
                                     : fmt::format("tag \"{}\" must match [A-Za-z0-9_][A-Za-z0-9._-]*", tag));
        ref.tag = std::string(tag);
        rest = before;
    }
    if (rest.empty()) return invalid(text, "no repository name");

    std::string_view path = rest;
    std::size_t first_slash = rest.find('/');
    if (first_slash != std::string_view::npos && looks_like_registry(rest.substr(0, first_slash))) {
        std::string_view registry = rest.substr(0, first_slash);
        if (auto problem = registry_problem(registry)) return invalid(text, *problem);
        ref.registry = std::string(registry);
        path = rest.substr(first_slash + 1);
        if (path.empty()) return invalid(text, "no repository path after the registry host");
    } else if (rest.starts_with('[') || (first_slash == std::string_view::npos && rest.find(']') != std::string_view::npos)) {
        return invalid(text, "names a registry host but no repository path");
    } else {
        ref.registry = std::string(k_default_registry);
    }
    // Docker Hub's old API host names the same registry.
    if (ref.registry == "index.docker.io") ref.registry = std::string(k_default_registry);

    std::size_t start = 0;
    while (true) {
        std::size_t slash = path.find('/', start);
        std::string_view component = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
        if (auto problem = path_component_problem(component)) return invalid(text, *problem);
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    ref.repository = std::string(path);
    if (ref.registry == k_default_registry && path.find('/') == std::string_view::npos)
        ref.repository = std::string(k_official_namespace) + ref.repository;

    if (ref.name().size() > k_max_name_length)
        return invalid(text, fmt::format("name is longer than {} characters", k_max_name_length));
    return ref;
}

}  // namespace minicd::model
