// Partition keys as positions on the key sampler's axis (a double; order
// preserving, not strictly where the type has more values than a double).
// docs/analyzer.md ("Keys") has the reasoning.
//   number  integers, floats, numeric, date, timestamp, timestamptz mapped to
//           double (exact for integers up to 2^53; timestamps in
//           microseconds). Positions turn back into keys.
//   uuid    the 16 bytes in uuid's own order (memcmp). The bytes the leaf's
//           bounds share are stripped and the next 53 bits are the position.
//           Positions turn back into keys: those bits, then zeros.
//   text    text and varchar: the collation's sort key (the bytes under C or
//           POSIX and the pattern operator classes; ICU's sort key; libc's
//           strxfrm), whose byte order is the collation's order; the bytes
//           the leaf's bounds share stripped, the next 53 bits. Sort keys do
//           not turn back into text, so an access also carries its ends as
//           real keys (core::KeyEnd) and a suggested split is one of them.
// Other types, and partition keys under a non-default operator class (other
// than the pattern ones), are not sampled.
#pragma once

#include "core/key_sampler.hpp"

extern "C" {
#include "postgres.h"
}

#include <optional>
#include <string>

namespace presplit::analyzer {

struct KeyAxis {
    enum class Kind : uint8_t { unsupported, number, uuid, text };
    Kind kind = Kind::unsupported;
    Oid type = InvalidOid;          // the partition key's type
    Oid opfamily = InvalidOid;      // its btree operator family
    Oid collation = InvalidOid;     // text: the collation whose order positions follow
    bool collation_matters = false; // text under text_ops: scan keys must use it
    std::string prefix;             // uuid, text: sort-key bytes every key of the leaf shares
};

// The axis of a partition key (type, operator class, collation), before
// narrowing to a leaf. Looks up the catalogs: call inside pg::call.
KeyAxis key_axis_for(Oid type, Oid opclass, Oid collation);

// Narrows an axis to a leaf's bounds (either may be null: unbounded): uuid
// and text strip the sort-key bytes both bounds share, for resolution.
void narrow_axis(KeyAxis& axis, const Datum* lower, const Datum* upper);

// A key placed on the axis: its position and, where positions cannot be
// turned back into keys (text), the key as an access's end.
struct PlacedKey {
    double position;
    bool has_end;
    core::KeyEnd end;
};

// value of type value_type (a scan key's type may differ from the key's:
// int8 against an int4 key). nullopt: cannot be placed (another type,
// infinite dates). Outside the leaf's shared prefix a uuid or text key is
// placed at -inf or +inf.
std::optional<PlacedKey> place_key(const KeyAxis& axis, Datum value, Oid value_type);

// Whether positions turn back into keys (number, uuid).
bool positions_are_keys(const KeyAxis& axis);
// The key at a position, in the type's text form (positions_are_keys).
std::string position_text(const KeyAxis& axis, double position);
// A key image in the type's text form (text: its bytes).
std::string image_text(const core::KeyImage& image);

} // namespace presplit::analyzer
