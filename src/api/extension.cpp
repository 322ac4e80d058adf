// presplit._before_drop_extension: the event trigger that runs before DROP
// EXTENSION (and DROP SCHEMA) of any extension in the database.
//
// Dropping pg_presplit while split plans are in progress would drop their
// capture triggers (they call presplit._capture) and leave the tables half
// split: shadows that no longer follow their source, or new partitions whose
// detached predecessor no longer follows them. PostgreSQL refuses the plain
// DROP EXTENSION because of those triggers, with a hint to use CASCADE;
// this refuses it first, naming the plans and how to finish them. With
// CASCADE it warns what stays behind. Either way every backend forgets the
// routes and managed tables it has cached once the drop commits: after it,
// nothing keeps a shadow in sync, so no read may be routed to one.
#include "analyzer/managed_set.hpp"
#include "catalog/catalog.hpp"
#include "catalog/routes.hpp"
#include "core/plan_state.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "commands/event_trigger.h"
#include "nodes/parsenodes.h"

PG_FUNCTION_INFO_V1(presplit_before_drop_extension);
}

#include <cstring>
#include <string>

namespace presplit {
namespace {

// Whether the statement drops pg_presplit: DROP EXTENSION naming it, or DROP
// SCHEMA presplit CASCADE (without CASCADE PostgreSQL refuses on its own).
bool drops_pg_presplit(const DropStmt* drop) {
    const char* name = nullptr;
    if (drop->removeType == OBJECT_EXTENSION)
        name = "pg_presplit";
    else if (drop->removeType == OBJECT_SCHEMA && drop->behavior == DROP_CASCADE)
        name = "presplit";
    else
        return false;
    ListCell* cell;
    foreach (cell, drop->objects)
        if (IsA(lfirst(cell), String) && std::strcmp(strVal(lfirst(cell)), name) == 0)
            return true;
    return false;
}

// One line per split plan in progress: what its capture triggers do.
std::string plans_in_progress() {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    auto result = spi.execute(
        "SELECT p.id, p.state, pg_catalog.format('%I.%I', n.nspname, c.relname),"
        "       (SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', sn.nspname, sc.relname),"
        "                                     ', ' ORDER BY s.ordinal)"
        "          FROM presplit.shadow s"
        "          JOIN pg_catalog.pg_class sc ON sc.oid = s.relation"
        "          JOIN pg_catalog.pg_namespace sn ON sn.oid = sc.relnamespace"
        "         WHERE s.plan_id = p.id)"
        "  FROM presplit.plan p"
        "  LEFT JOIN pg_catalog.pg_class c ON c.oid = p.source"
        "  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE p.state <> ALL ($1::text[])"
        " ORDER BY p.id",
        {catalog::terminal_plan_states_parameter()});
    std::string lines;
    for (const auto& row : result.rows) {
        const std::string source = row[2].value_or("?");
        const std::string shadows = row[3].value_or("none");
        lines += (lines.empty() ? "" : "\n") + std::string("Split plan ") + *row[0] + " is " +
                 *row[1] + ": " +
                 (core::parse_plan_state(*row[1]) == core::PlanState::cut_over
                      ? shadows + " replaced " + source + ", which reverse capture keeps current."
                      : "capture keeps shadows " + shadows + " equal to " + source + ".");
    }
    return lines;
}

// One line per move to another server in progress (or rolled back with
// objects there still to drop): the replication objects it keeps.
std::string moves_in_progress() {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    if (spi.scalar("SELECT pg_catalog.to_regclass('presplit.remote_move') IS NULL") == "t")
        return {};
    auto result = spi.execute(
        "SELECT id, state, source_name, server FROM presplit.remote_move"
        " WHERE state IN ('preparing', 'backfilling', 'synced', 'cut_over') OR reversing"
        " ORDER BY id");
    std::string lines;
    for (const auto& row : result.rows)
        lines += (lines.empty() ? "" : "\n") + std::string("Move ") + *row[0] + " of " + *row[2] +
                 " to server " + *row[3] + " is " + *row[1] +
                 ": its publications, subscriptions and replication slots (presplit_move_" +
                 *row[0] + ", presplit_back_" + *row[0] + ") hold WAL on both servers.";
    return lines;
}

Datum before_drop_extension(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        "presplit._before_drop_extension must be called as an event trigger");
    const Node* statement = reinterpret_cast<EventTriggerData*>(fcinfo->context)->parsetree;
    if (statement == nullptr || !IsA(statement, DropStmt) ||
        !drops_pg_presplit(reinterpret_cast<const DropStmt*>(statement)))
        PG_RETURN_VOID();
    const bool cascade = reinterpret_cast<const DropStmt*>(statement)->behavior == DROP_CASCADE;

    const std::string split_plans = plans_in_progress();
    const std::string moves = moves_in_progress();
    const std::string plans =
        split_plans + (!split_plans.empty() && !moves.empty() ? "\n" : "") + moves;
    if (!plans.empty() && !cascade)
        throw pg::Error(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
                        "cannot drop extension pg_presplit while split plans or moves are in "
                        "progress",
                        plans,
                        "Finish or undo each plan first: presplit.cancel(plan) or "
                        "presplit.rollback(plan) before its cutover, presplit.finalize(plan) or "
                        "presplit.rollback(plan) after it; presplit.rollback_move(move) or "
                        "presplit.finalize_move(move) for a move. DROP EXTENSION pg_presplit "
                        "CASCADE drops their capture triggers and leaves every table and "
                        "replication object as it is now.");
    if (!plans.empty())
        pg::call([&] {
            ereport(WARNING,
                    (errmsg("dropping pg_presplit with split plans or moves in progress: "
                            "capture triggers go with it, shadows stay as plain tables, detached "
                            "partitions stop following the new ones, and the moves' "
                            "replication objects stay until dropped by hand"),
                     errdetail_internal("%s", plans.c_str())));
        });
    catalog::routes_changed();
    analyzer::managed_tables_changed();
    PG_RETURN_VOID();
}

} // namespace
} // namespace presplit

Datum presplit_before_drop_extension(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::before_drop_extension(fcinfo); });
}
