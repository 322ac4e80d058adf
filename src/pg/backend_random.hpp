// One random stream per backend (splitmix64 seeded from the pid and the
// time), for sampling decisions: the analyzer's statement sampling and the
// switchover's channel draws. Independent of SQL's random()/setseed().
#pragma once

#include <cstdint>

namespace presplit::pg {

uint64_t backend_random();

} // namespace presplit::pg
