#include "core/copy_text.hpp"

#include <cstring>

namespace presplit::core {

void append_copy_field(std::string& line, const char* value, bool first) {
    if (!first)
        line += '\t';
    if (value == nullptr) {
        line += "\\N";
        return;
    }
    // Runs without a special byte go in at once. Every server encoding is
    // ASCII-safe: no byte of a multibyte character is one of these.
    for (const char* run = value;;) {
        const size_t plain = std::strcspn(run, "\\\t\n\r");
        line.append(run, plain);
        run += plain;
        switch (*run) {
        case '\0':
            return;
        case '\\':
            line += "\\\\";
            break;
        case '\t':
            line += "\\t";
            break;
        case '\n':
            line += "\\n";
            break;
        case '\r':
            line += "\\r";
            break;
        }
        ++run;
    }
}

} // namespace presplit::core
