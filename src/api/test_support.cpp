// Test-only functions: the C++/PostgreSQL error boundary (sql/02_guard.sql),
// the lifetime of per-execution state (sql/15_analyzer_lifetime.sql), the
// plan states C++ knows (sql/04_catalog.sql), a size sample at a given
// time (sql/19_size_history.sql, test/t/016_size_history.pl) and a predicted
// plan made as the predictive manager makes it (sql/20_prediction.sql).
// The extension script does not create them; the regression tests do, with
// CREATE FUNCTION ... AS 'pg_presplit' (which only a superuser may).
#include "analyzer/inserted_keys.hpp"
#include "analyzer/maintenance.hpp"
#include "analyzer/recorder.hpp"
#include "api/result_rows.hpp"
#include "core/plan_state.hpp"
#include "predictor/manager.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(presplit_test_throw_cpp);
PG_FUNCTION_INFO_V1(presplit_test_throw_error);
PG_FUNCTION_INFO_V1(presplit_test_throw_inside_call);
PG_FUNCTION_INFO_V1(presplit_test_pg_error_in_guard);
PG_FUNCTION_INFO_V1(presplit_test_spi_error_in_guard);
PG_FUNCTION_INFO_V1(presplit_test_destructor_count);
PG_FUNCTION_INFO_V1(presplit_test_analyzer_tracked);
PG_FUNCTION_INFO_V1(presplit_test_plan_states);
PG_FUNCTION_INFO_V1(presplit_test_sample_sizes);
PG_FUNCTION_INFO_V1(presplit_test_create_predicted_plan);
}

#include <optional>
#include <stdexcept>
#include <string>

namespace {

// Counts destructor runs in this backend: the transaction aborts, the count
// stays.
int destructors_run = 0;

struct DestructorProbe {
    std::string payload = "a C++ object that owns memory";
    ~DestructorProbe() { ++destructors_run; }
};

} // namespace

using namespace presplit;

Datum presplit_test_throw_cpp(PG_FUNCTION_ARGS) {
    return pg::entry([&]() -> Datum {
        std::string message = pg::call([&] { return text_to_cstring(PG_GETARG_TEXT_PP(0)); });
        throw std::runtime_error(message);
    });
}

Datum presplit_test_throw_error(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    return pg::entry([&]() -> Datum {
        throw pg::Error(ERRCODE_CHECK_VIOLATION, "an error of pg_presplit's own",
                        "Raised as a C++ exception.", "Nothing to do: this is a test.");
    });
}

Datum presplit_test_throw_inside_call(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    return pg::entry([&]() -> Datum {
        DestructorProbe probe;
        pg::call([] { throw std::logic_error("thrown inside pg::call"); });
        PG_RETURN_VOID();
    });
}

Datum presplit_test_pg_error_in_guard(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    return pg::entry([&]() -> Datum {
        DestructorProbe outer;
        {
            DestructorProbe inner;
            pg::call(
                [] { return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
        }
        PG_RETURN_VOID();
    });
}

Datum presplit_test_spi_error_in_guard(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    return pg::entry([&]() -> Datum {
        DestructorProbe probe;
        pg::call([] {
            SPI_connect();
            SPI_execute("SELECT 1 / 0", false, 0);
            SPI_finish();
        });
        PG_RETURN_VOID();
    });
}

Datum presplit_test_destructor_count(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    PG_RETURN_INT32(destructors_run);
}

// How much per-execution state the analyzer of this backend holds: the
// executions it tracks and the plan nodes whose inserted rows it samples.
// Superuser only: it says something about other statements of the session.
Datum presplit_test_analyzer_tracked(PG_FUNCTION_ARGS) {
    (void)fcinfo;
    return pg::entry([&]() -> Datum {
        if (!pg::call([] { return superuser(); }))
            throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                            "presplit_test_analyzer_tracked is for superusers");
        PG_RETURN_INT64(
            static_cast<int64>(analyzer::tracked_executions() + analyzer::sampled_insert_nodes()));
    });
}

// Every plan state of core/plan_state.hpp, with whether it has ended
// (core::is_terminal): what the SQL side must agree with.
Datum presplit_test_plan_states(PG_FUNCTION_ARGS) {
    return pg::entry([&]() -> Datum {
        api::ResultRows rows(fcinfo);
        for (core::PlanState state : core::all_plan_states()) {
            Datum values[2] = {api::text_datum(core::to_string(state)),
                               BoolGetDatum(core::is_terminal(state))};
            bool nulls[2] = {};
            rows.add(values, nulls);
        }
        return Datum(0);
    });
}

// Samples the size of every managed partition of this database now, as the
// worker does every hour, but recorded as taken at the given time, so that a
// test can build a history of several hours. Superuser only: it writes the
// analyzer's statistics of every table.
Datum presplit_test_sample_sizes(PG_FUNCTION_ARGS) {
    return pg::entry([&]() -> Datum {
        if (!pg::call([] { return superuser(); }))
            throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                            "presplit_test_sample_sizes is for superusers");
        if (PG_ARGISNULL(0))
            throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "at must not be NULL");
        const TimestampTz at = PG_GETARG_TIMESTAMPTZ(0);
        const int64_t seconds = pg::call([&] { return timestamptz_to_time_t(at); });
        PG_RETURN_INT32(analyzer::sample_sizes(seconds));
    });
}

// A predicted plan of `source` at `split_point` (held or not; of a split
// kind, 'load' unless given), created as the manager's round creates one: as
// the table's owner. NULL, with a NOTICE saying why, when none is created (no
// predict server can take it).
Datum presplit_test_create_predicted_plan(PG_FUNCTION_ARGS) {
    return pg::entry([&]() -> Datum {
        if (!pg::call([] { return superuser(); }))
            throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                            "presplit_test_create_predicted_plan is for superusers");
        const Oid source = PG_GETARG_OID(0);
        const std::string point = pg::call([&] { return text_to_cstring(PG_GETARG_TEXT_PP(1)); });
        const bool held = PG_GETARG_BOOL(2);
        // An optional fourth argument: the split kind ('load', 'size', 'append').
        std::optional<core::SplitKind> kind = core::SplitKind::load_balance;
        if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
            kind = core::parse_split_kind(
                pg::call([&] { return text_to_cstring(PG_GETARG_TEXT_PP(3)); }));
        if (!kind || *kind == core::SplitKind::none)
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "unknown split kind");
        const predictor::PredictedPlan created =
            predictor::create_predicted_plan(source, point, held, *kind);
        if (!created.note.empty())
            pg::call([&] { ereport(NOTICE, (errmsg("%s", created.note.c_str()))); });
        if (!created.id)
            PG_RETURN_NULL();
        PG_RETURN_INT64(*created.id);
    });
}
