// Rows of a set-returning SQL function, materialized (InitMaterializedSRF).
#pragma once

#include "pg/guard.hpp"

extern "C" {
#include "postgres.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
}

#include <string>

namespace presplit::api {

struct ResultRows {
    ReturnSetInfo* info;
    explicit ResultRows(FunctionCallInfo fcinfo) {
        pg::call([&] { InitMaterializedSRF(fcinfo, 0); });
        info = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    }
    void add(Datum* values, bool* nulls) {
        pg::call([&] { tuplestore_putvalues(info->setResult, info->setDesc, values, nulls); });
    }
};

inline Datum text_datum(const std::string& text) {
    return pg::call([&] { return CStringGetTextDatum(text.c_str()); });
}

} // namespace presplit::api
