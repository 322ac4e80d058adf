// presplit.move_partition, presplit.rollback_move, presplit.finalize_move
// (docs/multi_server.md).
#include "api/arguments.hpp"
#include "catalog/catalog.hpp"
#include "pg/guard.hpp"
#include "remote/move.hpp"
#include "worker/worker.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(presplit_move_partition);
PG_FUNCTION_INFO_V1(presplit_rollback_move);
PG_FUNCTION_INFO_V1(presplit_finalize_move);
}

namespace presplit {
namespace {

// What these functions do on the other server (create or drop a table, a
// subscription) no rollback here would undo: like CREATE SUBSCRIPTION, they
// stand alone.
void require_autocommit(const char* function) {
    if (pg::call([] { return IsTransactionBlock(); }))
        throw pg::Error(ERRCODE_ACTIVE_SQL_TRANSACTION,
                        std::string(function) + " cannot run inside a transaction block",
                        "What it does on the other server would not be undone by a rollback "
                        "here.",
                        "Call it on its own (autocommit).");
}

Datum move_partition(FunctionCallInfo fcinfo) {
    const Oid source = api::required_oid(fcinfo, 0, "partition");
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "server must not be NULL");
    const std::string server = NameStr(*PG_GETARG_NAME(1));
    catalog::require_extension();
    require_autocommit("move_partition");
    const int64_t id = remote::move_partition(source, server);
    worker::wake_worker_for_moves();
    return Int64GetDatum(id);
}

Datum rollback_move(FunctionCallInfo fcinfo) {
    const int64_t id = api::required_int64(fcinfo, 0, "move");
    catalog::require_extension();
    require_autocommit("rollback_move");
    remote::roll_back_move(id);
    worker::wake_worker_for_moves(); // a reverse direction to watch or drop
    PG_RETURN_VOID();
}

Datum finalize_move(FunctionCallInfo fcinfo) {
    const int64_t id = api::required_int64(fcinfo, 0, "move");
    if (PG_ARGISNULL(1))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "drop_old must not be NULL");
    catalog::require_extension();
    require_autocommit("finalize_move");
    remote::finalize_move(id, PG_GETARG_BOOL(1));
    worker::wake_worker_for_moves();
    PG_RETURN_VOID();
}

} // namespace
} // namespace presplit

Datum presplit_move_partition(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::move_partition(fcinfo); });
}
Datum presplit_rollback_move(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::rollback_move(fcinfo); });
}
Datum presplit_finalize_move(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::finalize_move(fcinfo); });
}
