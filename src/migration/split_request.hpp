// What prepare_split is asked to do, validated: the source partition, its
// bounds and the split points, as values of the partition key's type in
// their text form. Every check runs before anything is written.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

#include <optional>
#include <string>
#include <vector>

namespace presplit::migration {

struct SplitRequest {
    Oid parent = InvalidOid;
    Oid source = InvalidOid;
    Oid key_type = InvalidOid;
    std::string key_column;
    std::optional<std::string> lower; // nullopt: MINVALUE
    std::optional<std::string> upper; // nullopt: MAXVALUE
    std::vector<std::string> split_points;
    // Per target (split points + 1), the postgres_fdw server it goes to
    // (nullopt: a local shadow); empty: every target is local
    // (remote/split.hpp checks them).
    std::vector<std::optional<std::string>> servers;
};

// Checks the source (a leaf RANGE partition of a managed table, not the
// default partition, owned by the caller) and locks it and its parent for
// the rest of the transaction. Throws with a clear message otherwise.
// Without managed_only (move_partition), a partition of any table will do;
// then the key and the bounds are left empty, and the check for an active
// split plan is the caller's.
SplitRequest validate_source(Oid source, bool managed_only = true);

// Coerces argument `arg` ("any": an array of any type coercible to the key,
// or an untyped literal such as '{500000}') and checks the points against
// the source's bounds (core::check_split_points).
void resolve_split_points(SplitRequest& request, FunctionCallInfo fcinfo, int arg);

} // namespace presplit::migration
