#include "minicd/source/yaml.hpp"

namespace minicd::source {

Result<std::vector<YamlDocument>> parse_yaml(std::string_view, std::string_view file) {
    return fail(util::ErrorCode::internal, "YAML parsing is not implemented yet", std::string(file));
}

}  // namespace minicd::source
