#include "minicd/source/manifests.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "minicd/source/yaml.hpp"
#include "minicd/util/subprocess.hpp"

namespace minicd::source {

namespace {

namespace fs = std::filesystem;
using model::Json;
using Status = tl::expected<void, util::Error>;

// The names kustomize itself accepts for a kustomization file.
constexpr std::array<std::string_view, 3> k_kustomization_files = {"kustomization.yaml", "kustomization.yml",
                                                                   "Kustomization"};
// The extensions kubectl reads when given a directory.
constexpr std::array<std::string_view, 3> k_manifest_extensions = {".yaml", ".yml", ".json"};
constexpr std::chrono::milliseconds k_kustomize_timeout = std::chrono::seconds(120);

Result<std::string> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(util::ErrorCode::io, fmt::format("cannot open: {}", std::strerror(errno)), path.string());
    }
    std::string text;
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    in.seekg(0, std::ios::beg);
    if (size > 0) {
        text.resize(static_cast<std::size_t>(size));
        in.read(text.data(), size);
    }
    if (!in) {
        return fail(util::ErrorCode::io, fmt::format("cannot read: {}", std::strerror(errno)), path.string());
    }
    return text;
}

bool has_kustomization(const fs::path& dir) {
    std::error_code ignored;
    return std::any_of(k_kustomization_files.begin(), k_kustomization_files.end(),
                       [&](std::string_view name) { return fs::is_regular_file(dir / name, ignored); });
}

bool is_manifest_file(const fs::directory_entry& entry) {
    const std::string extension = entry.path().extension().string();
    std::error_code ignored;
    return std::find(k_manifest_extensions.begin(), k_manifest_extensions.end(), extension) !=
               k_manifest_extensions.end() &&
           entry.is_regular_file(ignored);
}

std::string_view article(std::string_view noun) {
    return std::string_view("aeiou").find(noun.front()) != std::string_view::npos ? "an" : "a";
}

bool has_text(const Json& object, std::string_view field) {
    const auto found = object.find(field);
    return found != object.end() && found->is_string() && !found->get_ref<const std::string&>().empty();
}

// Collects manifests in input order from files, directories and kustomizations.
class Loader {
public:
    Status load_path(const std::string& path) {
        std::error_code error;
        const fs::file_status status = fs::status(path, error);
        if (status.type() == fs::file_type::not_found) {
            return tl::unexpected(util::make_error(util::ErrorCode::input, "no such file or directory", path));
        }
        if (error) {
            return tl::unexpected(util::make_error(util::ErrorCode::io, error.message(), path));
        }
        if (fs::is_directory(status)) {
            return load_directory(path);
        }
        return load_file(path);
    }

    std::vector<Manifest> take() { return std::move(m_manifests); }

    Status add_documents(std::string_view text, const std::string& file) {
        auto documents = parse_yaml(text, file);
        if (!documents) {
            return tl::unexpected(documents.error());
        }
        for (YamlDocument& document : *documents) {
            // Empty and null documents are skipped, as kubectl's stream visitor does.
            if (document.value.is_null()) {
                continue;
            }
            if (Status status = add_object(std::move(document.value), file, document.line, ""); !status) {
                return status;
            }
        }
        return {};
    }

private:
    // Like `kubectl apply -R`: entries sorted by name, depth first; symlinked directories are not
    // followed. A directory with a kustomization is rendered as one unit.
    Status load_directory(const fs::path& dir) {
        if (has_kustomization(dir)) {
            return load_kustomization(dir);
        }
        std::error_code error;
        std::vector<fs::directory_entry> entries;
        for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
            entries.push_back(*it);
        }
        if (error) {
            return tl::unexpected(util::make_error(util::ErrorCode::io, error.message(), dir.string()));
        }
        std::sort(entries.begin(), entries.end(), [](const fs::directory_entry& a, const fs::directory_entry& b) {
            return a.path().filename().native() < b.path().filename().native();
        });
        for (const fs::directory_entry& entry : entries) {
            std::error_code ignored;
            Status status;
            if (entry.is_directory(ignored) && !entry.is_symlink(ignored)) {
                status = load_directory(entry.path());
            } else if (is_manifest_file(entry)) {
                status = load_file(entry.path());
            }
            if (!status) {
                return status;
            }
        }
        return {};
    }

    Status load_file(const fs::path& path) {
        auto text = read_file(path);
        if (!text) {
            return tl::unexpected(text.error());
        }
        return add_documents(*text, path.string());
    }

    Status load_kustomization(const fs::path& dir) {
        auto rendered =
            util::run_checked({.inherit = util::Inherit::renderer, .argv = {"kubectl", "kustomize", dir.string()}, .timeout = k_kustomize_timeout});
        if (!rendered) {
            const std::string doing = fmt::format("rendering {} with kubectl kustomize", dir.string());
            return tl::unexpected(rendered.error().context(doing));
        }
        if (rendered->output_truncated) {
            return tl::unexpected(util::make_error(util::ErrorCode::subprocess,
                                                   "kubectl kustomize printed more output than minicd reads",
                                                   dir.string()));
        }
        return add_documents(rendered->out, dir.string() + " (kustomize)");
    }

    // `where` prefixes messages about list items ("items[2]: ").
    Status add_object(Json value, const std::string& file, int line, const std::string& where) {
        const auto invalid = [&](std::string_view problem) {
            return tl::unexpected(util::make_error(util::ErrorCode::input, fmt::format("{}{}", where, problem),
                                                   fmt::format("{}:{}", file, line)));
        };
        if (!value.is_object()) {
            const std::string_view type = value.type_name();
            return invalid(fmt::format("manifest is {} {}, not an object", article(type), type));
        }
        // kubectl's builder expands v1 List and every other *List kind that carries items.
        if (const auto kind = value.find("kind"); kind != value.end() && kind->is_string() &&
                                                  kind->get_ref<const std::string&>().ends_with("List")) {
            if (const auto items = value.find("items"); items != value.end() && items->is_array()) {
                auto& list = items->get_ref<Json::array_t&>();
                for (std::size_t i = 0; i < list.size(); ++i) {
                    const std::string item = fmt::format("{}items[{}]: ", where, i);
                    if (Status status = add_object(std::move(list[i]), file, line, item); !status) {
                        return status;
                    }
                }
                return {};
            }
        }
        if (!has_text(value, "apiVersion")) {
            return invalid("object has no apiVersion");
        }
        if (!has_text(value, "kind")) {
            return invalid("object has no kind");
        }
        const auto metadata = value.find("metadata");
        if (metadata == value.end() || !metadata->is_object() || !has_text(*metadata, "name")) {
            return invalid("object has no metadata.name");
        }
        m_manifests.push_back(Manifest{.object = model::Object(std::move(value)), .file = file, .line = line});
        return {};
    }

    std::vector<Manifest> m_manifests;
};

}  // namespace

Result<std::vector<Manifest>> load_manifests(const std::vector<std::string>& paths) {
    Loader loader;
    for (const std::string& path : paths) {
        if (auto status = loader.load_path(path); !status) {
            return tl::unexpected(status.error());
        }
    }
    return loader.take();
}

Result<std::vector<Manifest>> read_manifests(std::string_view text, const std::string& file) {
    Loader loader;
    if (auto status = loader.add_documents(text, file); !status) {
        return tl::unexpected(status.error());
    }
    return loader.take();
}

}  // namespace minicd::source
