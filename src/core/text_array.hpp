// PostgreSQL's one-dimensional array literal ({a,"b c",NULL}) for text
// values: the thin layer passes arrays to SQL and back as text.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace presplit::core {

using TextArray = std::vector<std::optional<std::string>>; // nullopt is NULL

// Parses what array_out prints for a one-dimensional array. Returns nullopt
// for input that is not such a literal.
std::optional<TextArray> parse_text_array(const std::string& literal);

// Prints a literal that array_in reads back to the same elements.
std::string format_text_array(const TextArray& values);

} // namespace presplit::core
