// Partition keys as positions on a numeric axis, for the key sampler:
// integers, floats, numeric, date, timestamp and timestamptz, mapped
// monotonically to double (exact for integers up to 2^53; timestamps in
// microseconds). Other key types are not sampled.
#pragma once

extern "C" {
#include "postgres.h"
}

#include <optional>
#include <string>

namespace presplit::analyzer {

bool key_type_supported(Oid type);
std::optional<double> key_to_axis(Datum value, Oid type);
// The key value nearest to a position, in the type's text form.
std::string axis_to_key_text(double position, Oid type);

} // namespace presplit::analyzer
