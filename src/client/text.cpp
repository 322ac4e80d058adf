#include "client/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace presplit::client {

std::string format_count(int64_t value) {
    const uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : value;
    const std::string digits = std::to_string(magnitude);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out += ' ';
        out += digits[i];
    }
    return value < 0 ? "-" + out : out;
}

std::string format_number(double value, int digits) {
    if (!std::isfinite(value))
        return "-";
    char text[64];
    double magnitude = std::fabs(value);
    if (magnitude >= 1e15 || (magnitude > 0 && magnitude < 1e-6)) {
        std::snprintf(text, sizeof text, "%.*g", digits, value);
        return text;
    }
    int integer_digits =
        magnitude < 1 ? 1 : static_cast<int>(std::floor(std::log10(magnitude))) + 1;
    int decimals = std::max(0, digits - integer_digits);
    if (magnitude > 0 && magnitude < 1)
        decimals =
            std::max(decimals, static_cast<int>(-std::floor(std::log10(magnitude))) + digits - 1);
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
    std::string out = text;
    if (out.find('.') != std::string::npos) { // 2.50 -> 2.5, 3.00 -> 3
        while (out.back() == '0')
            out.pop_back();
        if (out.back() == '.')
            out.pop_back();
    }
    return out == "-0" ? "0" : out;
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0)
        return "-";
    char text[64];
    if (seconds < 10) {
        std::snprintf(text, sizeof text, "%.1f s", seconds);
    } else if (seconds < 60) {
        std::snprintf(text, sizeof text, "%.0f s", std::floor(seconds));
    } else if (seconds < 3600) {
        long total = static_cast<long>(seconds);
        std::snprintf(text, sizeof text, "%ld min %02ld s", total / 60, total % 60);
    } else {
        long minutes = static_cast<long>(seconds / 60);
        std::snprintf(text, sizeof text, "%ld h %02ld min", minutes / 60, minutes % 60);
    }
    return text;
}

std::string format_bytes(int64_t bytes) {
    static const char* units[] = {"kB", "MB", "GB", "TB", "PB"};
    if (std::llabs(bytes) < 1024)
        return std::to_string(bytes) + " bytes";
    double value = static_cast<double>(bytes) / 1024;
    int unit = 0;
    while (std::fabs(value) >= 1024 && unit < 4) {
        value /= 1024;
        ++unit;
    }
    return format_number(value, 3) + " " + units[unit];
}

std::string format_ms(double ms) {
    if (!std::isfinite(ms))
        return "-";
    return format_number(ms, ms >= 100 ? 4 : 2) + " ms";
}

std::string progress_bar(double fraction, int width, bool unicode) {
    if (!(fraction >= 0))
        fraction = 0;
    fraction = std::min(fraction, 1.0);
    width = std::max(width, 1);
    std::string bar;
    if (!unicode) {
        int filled = static_cast<int>(std::floor(fraction * width + 1e-9));
        bar.append(filled, '#');
        bar.append(width - filled, '-');
        return bar;
    }
    static const char* eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    int total_eighths = static_cast<int>(std::floor(fraction * width * 8 + 1e-9));
    int full = total_eighths / 8;
    int rest = total_eighths % 8;
    for (int i = 0; i < full; ++i)
        bar += "█";
    int used = full;
    if (rest > 0) {
        bar += eighths[rest];
        ++used;
    }
    for (int i = used; i < width; ++i)
        bar += "░";
    return bar;
}

std::string paint(const Style& style, const std::string& sgr, const std::string& text) {
    if (!style.color || text.empty())
        return text;
    return "\x1b[" + sgr + "m" + text + "\x1b[0m";
}

std::string strip_escapes(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\x1b') {
            out += text[i];
            continue;
        }
        if (i + 1 >= text.size())
            break;
        char kind = text[i + 1];
        if (kind == '[') { // CSI: parameters, then a final byte 0x40-0x7e
            size_t j = i + 2;
            while (j < text.size() && !(text[j] >= 0x40 && text[j] <= 0x7e))
                ++j;
            i = j;
        } else if (kind == ']') { // OSC: up to BEL or ESC backslash
            size_t j = i + 2;
            while (j < text.size() && text[j] != '\a' &&
                   !(text[j] == '\x1b' && j + 1 < text.size() && text[j + 1] == '\\'))
                ++j;
            i = (j < text.size() && text[j] == '\x1b') ? j + 1 : j;
        } else {
            i += 1; // ESC and one byte
        }
    }
    return out;
}

size_t display_width(const std::string& text) {
    size_t cells = 0;
    for (unsigned char c : strip_escapes(text))
        if ((c & 0xC0) != 0x80) // not a UTF-8 continuation byte
            ++cells;
    return cells;
}

std::string pad_right(const std::string& text, size_t width) {
    size_t cells = display_width(text);
    return cells >= width ? text : text + std::string(width - cells, ' ');
}

std::string pad_left(const std::string& text, size_t width) {
    size_t cells = display_width(text);
    return cells >= width ? text : std::string(width - cells, ' ') + text;
}

} // namespace presplit::client

namespace presplit::client {

std::string truncate_to_width(const std::string& text, size_t width) {
    if (display_width(text) <= width)
        return text;
    std::string out;
    size_t cells = 0;
    bool cut = false;
    for (size_t i = 0; i < text.size();) {
        if (text[i] == '\x1b') { // copy a whole CSI sequence
            size_t j = i + 1;
            if (j < text.size() && text[j] == '[') {
                ++j;
                while (j < text.size() && !(text[j] >= 0x40 && text[j] <= 0x7e))
                    ++j;
            }
            j = std::min(j + 1, text.size());
            out.append(text, i, j - i);
            i = j;
            continue;
        }
        size_t length = 1;
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0xF0)
            length = 4;
        else if (c >= 0xE0)
            length = 3;
        else if (c >= 0xC0)
            length = 2;
        if (cells >= width) {
            cut = true;
            i += length;
            continue;
        }
        out.append(text, i, length);
        ++cells;
        i += length;
    }
    if (cut && out.find('\x1b') != std::string::npos)
        out += "\x1b[0m";
    return out;
}

} // namespace presplit::client
