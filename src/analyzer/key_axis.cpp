#include "analyzer/key_axis.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
}

#include <cmath>

namespace presplit::analyzer {

bool key_type_supported(Oid type) {
    switch (type) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case FLOAT4OID:
    case FLOAT8OID:
    case NUMERICOID:
    case DATEOID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
        return true;
    default:
        return false;
    }
}

std::optional<double> key_to_axis(Datum value, Oid type) {
    switch (type) {
    case INT2OID:
        return DatumGetInt16(value);
    case INT4OID:
        return DatumGetInt32(value);
    case INT8OID:
        return static_cast<double>(DatumGetInt64(value));
    case FLOAT4OID:
        return DatumGetFloat4(value);
    case FLOAT8OID:
        return DatumGetFloat8(value);
    case NUMERICOID:
        return pg::call(
            [&] { return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, value)); });
    case DATEOID: {
        DateADT date = DatumGetDateADT(value);
        if (DATE_NOT_FINITE(date))
            return std::nullopt;
        return date;
    }
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: {
        int64 ts = DatumGetInt64(value);
        if (TIMESTAMP_NOT_FINITE(ts))
            return std::nullopt;
        return static_cast<double>(ts);
    }
    default:
        return std::nullopt;
    }
}

std::string axis_to_key_text(double position, Oid type) {
    Datum value;
    switch (type) {
    case INT2OID:
        value = Int16GetDatum(static_cast<int16>(std::llround(position)));
        break;
    case INT4OID:
        value = Int32GetDatum(static_cast<int32>(std::llround(position)));
        break;
    case INT8OID:
        value = Int64GetDatum(static_cast<int64>(std::llround(position)));
        break;
    case FLOAT4OID:
        value = Float4GetDatum(static_cast<float4>(position));
        break;
    case FLOAT8OID:
        value = Float8GetDatum(position);
        break;
    case NUMERICOID:
        value =
            pg::call([&] { return DirectFunctionCall1(float8_numeric, Float8GetDatum(position)); });
        break;
    case DATEOID:
        value = DateADTGetDatum(static_cast<DateADT>(std::llround(position)));
        break;
    case TIMESTAMPOID:
    case TIMESTAMPTZOID:
        value = Int64GetDatum(static_cast<int64>(std::llround(position)));
        break;
    default:
        return std::to_string(position);
    }
    return pg::call([&] {
        Oid output;
        bool varlena;
        getTypeOutputInfo(type, &output, &varlena);
        return OidOutputFunctionCall(output, value);
    });
}

} // namespace presplit::analyzer
