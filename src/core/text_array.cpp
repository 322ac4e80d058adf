#include "core/text_array.hpp"

#include <cctype>

#include "core/cpp_only.hpp"

namespace presplit::core {

std::optional<TextArray> parse_text_array(const std::string& literal) {
    if (literal.size() < 2 || literal.front() != '{' || literal.back() != '}')
        return std::nullopt;
    TextArray values;
    size_t i = 1;
    const size_t end = literal.size() - 1;
    if (i == end)
        return values;
    while (true) {
        std::string element;
        bool quoted = false;
        if (literal[i] == '"') {
            quoted = true;
            ++i;
            while (i < end && literal[i] != '"') {
                if (literal[i] == '\\' && i + 1 < end)
                    ++i;
                element += literal[i++];
            }
            if (i >= end)
                return std::nullopt; // unterminated quote
            ++i;
        } else {
            while (i < end && literal[i] != ',') {
                if (literal[i] == '{' || literal[i] == '"')
                    return std::nullopt; // nested arrays are not supported
                if (literal[i] == '\\' && i + 1 < end)
                    ++i;
                element += literal[i++];
            }
        }
        if (!quoted && element == "NULL")
            values.emplace_back(std::nullopt);
        else
            values.emplace_back(std::move(element));
        if (i == end)
            return values;
        if (literal[i] != ',')
            return std::nullopt;
        ++i;
    }
}

std::string format_text_array(const TextArray& values) {
    std::string out = "{";
    for (size_t i = 0; i < values.size(); ++i) {
        if (i > 0)
            out += ',';
        if (!values[i]) {
            out += "NULL";
            continue;
        }
        out += '"';
        for (char c : *values[i]) {
            if (c == '"' || c == '\\')
                out += '\\';
            out += c;
        }
        out += '"';
    }
    out += '}';
    return out;
}

} // namespace presplit::core
