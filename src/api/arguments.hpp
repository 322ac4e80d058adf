// Argument checks shared by the SQL-callable functions.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

#include <optional>
#include <string>
#include <vector>

namespace presplit::api {

// The argument, or ERROR 22004 "<name> must not be NULL".
Oid required_oid(FunctionCallInfo fcinfo, int arg, const char* name);
int64 required_int64(FunctionCallInfo fcinfo, int arg, const char* name);
std::string required_text(FunctionCallInfo fcinfo, int arg, const char* name);

// A name[] argument's elements (a NULL element: nullopt); ERROR 2202E if
// the array has more than one dimension. `name` is the argument's name.
std::vector<std::optional<std::string>> name_array(FunctionCallInfo fcinfo, int arg,
                                                   const char* name);

// A relation's unqualified name for messages ("OID n" if it is gone).
std::string relation_name(Oid relid);

} // namespace presplit::api
