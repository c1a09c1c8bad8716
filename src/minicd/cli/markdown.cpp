#include "minicd/cli/markdown.hpp"

namespace minicd::cli {

std::string markdown_cell(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == '|') {
            out += "\\|";
        } else if (c == '\n' || c == '\r') {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::string markdown_code(std::string_view text, Place place) {
    const std::string escaped = place == Place::table ? markdown_cell(text) : std::string(text);
    if (escaped.find('`') == std::string::npos) return "`" + escaped + "`";
    return "`` " + escaped + " ``";
}

}  // namespace minicd::cli
