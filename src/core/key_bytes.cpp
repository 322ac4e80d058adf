#include "core/key_bytes.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/cpp_only.hpp"

namespace presplit::core {

namespace {
constexpr int kDropped = 64 - 53; // bits of the 8 bytes a double cannot hold
constexpr double kTop = 0x1.0p53;
} // namespace

std::string common_prefix(const std::string& a, const std::string& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n])
        n++;
    return a.substr(0, n);
}

double byte_position(const uint8_t* bytes, size_t size, const std::string& prefix) {
    const size_t common = size < prefix.size() ? size : prefix.size();
    const int order = common == 0 ? 0 : std::memcmp(bytes, prefix.data(), common);
    if (order < 0 || (order == 0 && size < prefix.size()))
        return -std::numeric_limits<double>::infinity();
    if (order > 0)
        return std::numeric_limits<double>::infinity();
    uint64_t value = 0;
    for (size_t i = 0; i < 8; i++) {
        const size_t at = prefix.size() + i;
        value = (value << 8) | (at < size ? bytes[at] : 0);
    }
    return static_cast<double>(value >> kDropped);
}

void position_bytes(double position, uint8_t out[8]) {
    double clamped = std::floor(position);
    if (!(clamped >= 0)) // also NaN
        clamped = 0;
    if (clamped >= kTop)
        clamped = kTop - 1;
    uint64_t value = static_cast<uint64_t>(clamped) << kDropped;
    for (int i = 7; i >= 0; i--) {
        out[i] = static_cast<uint8_t>(value & 0xff);
        value >>= 8;
    }
}

} // namespace presplit::core
