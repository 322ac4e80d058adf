#include "api/arguments.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
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

std::vector<std::optional<std::string>> name_array(FunctionCallInfo fcinfo, int arg,
                                                   const char* name) {
    std::vector<std::optional<std::string>> names;
    pg::call([&] {
        ArrayType* array = PG_GETARG_ARRAYTYPE_P(arg);
        if (ARR_NDIM(array) > 1)
            ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                            errmsg("%s must be a one-dimensional array", name)));
        Datum* values;
        bool* nulls;
        int count;
        deconstruct_array(array, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &values, &nulls,
                          &count);
        for (int i = 0; i < count; ++i) {
            if (nulls[i])
                names.emplace_back();
            else
                names.emplace_back(NameStr(*DatumGetName(values[i])));
        }
    });
    return names;
}

} // namespace presplit::api
