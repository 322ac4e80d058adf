#include "pg/backend_random.hpp"

#include "core/random.hpp"

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "utils/timestamp.h"
}

namespace presplit::pg {
namespace {
core::SplitMix64 stream{0};
}

uint64_t backend_random() {
    if (stream.state == 0)
        stream.state =
            static_cast<uint64_t>(MyProcPid) << 32 ^ static_cast<uint64_t>(GetCurrentTimestamp());
    return stream.next();
}

} // namespace presplit::pg
