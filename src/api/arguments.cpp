#include "api/arguments.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

namespace presplit::api {
namespace {

void require_not_null(FunctionCallInfo fcinfo, int arg, const char* name) {
    if (PG_ARGISNULL(arg))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, std::string(name) + " must not be NULL");
}

} // namespace

Oid required_oid(FunctionCallInfo fcinfo, int arg, const char* name) {
    require_not_null(fcinfo, arg, name);
    return PG_GETARG_OID(arg);
}

int64 required_int64(FunctionCallInfo fcinfo, int arg, const char* name) {
    require_not_null(fcinfo, arg, name);
    return PG_GETARG_INT64(arg);
}

std::string required_text(FunctionCallInfo fcinfo, int arg, const char* name) {
    require_not_null(fcinfo, arg, name);
    return pg::call([&] { return text_to_cstring(PG_GETARG_TEXT_PP(arg)); });
}

std::string relation_name(Oid relid) {
    const char* name = pg::call([&] { return get_rel_name(relid); });
    return name ? name : "OID " + std::to_string(relid);
}

} // namespace presplit::api
