// COPY's text format, for the rows pg_presplit streams to another server
// (docs/multi_server.md, "Copy and sync"): one line per row, columns
// separated by a tab, NULL as \N.
#pragma once

#include <string>

namespace presplit::core {

// Appends one column's value (its type's output text; nullptr for NULL) to
// a row in COPY text format, a tab before it unless it is the row's first.
// What COPY FROM reads back as that text: backslash, tab, newline and
// carriage return escaped.
void append_copy_field(std::string& line, const char* value, bool first);

} // namespace presplit::core
