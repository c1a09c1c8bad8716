#pragma once

#include <string>
#include <string_view>

// Text placed in the Markdown a CI shows (step summaries, stored reports).
namespace minicd::cli {

// A table cell: a pipe would end the cell, even inside a code span, and a line break the row.
std::string markdown_cell(std::string_view text);

// Where Markdown goes: only a table cell needs its pipes escaped (inside code spans too).
enum class Place { table, list };

// A code span that holds any text: a longer fence when the text has backticks of its own.
std::string markdown_code(std::string_view text, Place place = Place::table);

}  // namespace minicd::cli
