// Small SQL-callable functions behind the views and constraints.
#include "config.hpp"
#include "core/plan_state.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"

extern "C" {
#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(presplit_worker_status);
PG_FUNCTION_INFO_V1(presplit_is_valid_plan_transition);
}

#include <string>

namespace presplit {
namespace {

Datum worker_status(FunctionCallInfo fcinfo) {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "presplit._worker_status must return a record");
    desc = BlessTupleDesc(desc);

    LWLockAcquire(pg::shared_lock(), LW_SHARED);
    pg::WorkerHeartbeat beat = pg::shared_state()->worker;
    LWLockRelease(pg::shared_lock());

    Datum values[7] = {};
    bool nulls[7] = {};
    values[0] = Int32GetDatum(beat.pid);
    nulls[0] = beat.pid == 0;
    values[1] = CStringGetTextDatum(config::worker_database);
    values[2] = TimestampTzGetDatum(beat.started_at);
    nulls[2] = beat.started_at == 0;
    values[3] = TimestampTzGetDatum(beat.last_beat);
    nulls[3] = beat.last_beat == 0;
    values[4] = Int64GetDatum(static_cast<int64>(beat.loops));
    values[5] = Int64GetDatum(static_cast<int64>(beat.starts));
    values[6] = BoolGetDatum(beat.extension_present);
    PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

// Strict: both arguments are non-NULL text. Unknown state names are errors,
// not "false", so a typo in SQL cannot pass for a refused transition.
core::PlanState state_argument(FunctionCallInfo fcinfo, int arg) {
    const char* name = text_to_cstring(PG_GETARG_TEXT_PP(arg));
    std::optional<core::PlanState> state = core::parse_plan_state(name);
    if (!state)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("unknown split plan state \"%s\"", name)));
    return *state;
}

Datum is_valid_plan_transition(FunctionCallInfo fcinfo) {
    core::PlanState from = state_argument(fcinfo, 0);
    core::PlanState to = state_argument(fcinfo, 1);
    PG_RETURN_BOOL(core::can_transition(from, to));
}

} // namespace
} // namespace presplit

Datum presplit_worker_status(PG_FUNCTION_ARGS) {
    return presplit::pg::guarded<presplit::worker_status>(fcinfo);
}
Datum presplit_is_valid_plan_transition(PG_FUNCTION_ARGS) {
    return presplit::pg::guarded<presplit::is_valid_plan_transition>(fcinfo);
}
