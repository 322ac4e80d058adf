// Finding a plan for a SQL function: it exists, and the caller owns its table.
#pragma once

#include "catalog/catalog.hpp"

#include <cstdint>
#include <string>

namespace presplit::api {

// The plan, locked (FOR UPDATE) for the rest of the transaction, after
// checking that the caller owns its source table (or is superuser).
// ERROR 42704 for an unknown plan, 42501 for a non-owner.
catalog::Plan owned_plan(int64_t id);

} // namespace presplit::api
