// Byte strings whose memcmp order is the key's order (a uuid's bytes, a
// collation's sort key of a text) as positions on the key sampler's axis.
// A leaf's keys all lie between its bounds, so they all begin with the bytes
// the bounds' strings share (the prefix: any string between two strings in
// memcmp order begins with what they share). Stripping it spends the
// double's 53 bits of precision where the leaf's keys differ: the position
// is the first 53 bits after the prefix (zeros past the end), below every
// position if the string sorts before the prefix, above if after.
// Order-preserving, not strictly: strings that agree on the prefix and the
// next 53 bits share a position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace presplit::core {

// The bytes a and b share at the start.
std::string common_prefix(const std::string& a, const std::string& b);

// The position of bytes[0, size) on the axis of a leaf whose prefix is given
// (-inf / +inf outside it). In [0, 2^53) otherwise, an integer.
double byte_position(const uint8_t* bytes, size_t size, const std::string& prefix);

// The 8 bytes after the prefix that a position stands for (its 53 bits,
// then zeros): position -> bytes -> position is the identity for positions
// byte_position returns. Positions outside [0, 2^53) are clamped.
void position_bytes(double position, uint8_t out[8]);

} // namespace presplit::core
