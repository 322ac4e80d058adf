// How numbers, times and bars are written for a person, and the terminal's
// escape codes (pure: unit-tested in test/unit/client_text_test.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace presplit::client {

// What the output may contain: colours and Unicode bars on a terminal,
// neither in a pipe or a file.
struct Style {
    bool color = false;
    bool unicode = false;
};

// 1234567 -> "1 234 567" (a space between thousands, as the README writes them).
std::string format_count(int64_t value);
// Seconds -> "0.4 s", "12 s", "3 min 05 s", "2 h 07 min".
std::string format_duration(double seconds);
// Bytes -> "512 bytes", "4.3 MB", "250 GB": 1024-based, three significant digits.
std::string format_bytes(int64_t bytes);
// Milliseconds with three significant digits at most: "0.012 ms", "3.1 ms", "250 ms".
std::string format_ms(double ms);
// A number with at most `digits` significant digits, no exponent below 1e15.
std::string format_number(double value, int digits = 3);

// A bar `width` cells wide filled to `fraction` (clamped to 0..1): eighths of
// a block in Unicode ("███▍    "), '#' and '-' in ASCII ("###-----").
std::string progress_bar(double fraction, int width, bool unicode);

// ANSI SGR: wraps text in an escape code (e.g. "1;32") when colours are on.
std::string paint(const Style& style, const std::string& sgr, const std::string& text);
// Removes ANSI escape sequences (CSI, OSC, and two-byte ones).
std::string strip_escapes(const std::string& text);
// Cells a UTF-8 string takes on a terminal, escape codes not counted (every
// code point counts one: the client writes no wide characters).
size_t display_width(const std::string& text);
// Pads (or does not cut) to `width` cells, on the right or on the left.
std::string pad_right(const std::string& text, size_t width);
std::string pad_left(const std::string& text, size_t width);

} // namespace presplit::client

namespace presplit::client {
// Cuts text to at most `width` cells, keeping its escape codes (and closing
// colours with a reset if it cut anything while one was on).
std::string truncate_to_width(const std::string& text, size_t width);
} // namespace presplit::client
