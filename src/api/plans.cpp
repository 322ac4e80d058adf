// presplit.prepare_split, presplit.split_partition, presplit.cancel, presplit.wait.
#include "api/arguments.hpp"
#include "api/plan_access.hpp"
#include "catalog/catalog.hpp"
#include "core/plan_state.hpp"
#include "migration/backfill.hpp"
#include "migration/layout.hpp"
#include "migration/shadows.hpp"
#include "migration/split_request.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "remote/split.hpp"
#include "switchover/switchover.hpp"
#include "worker/worker.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/objectaddress.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(presplit_prepare_split);
PG_FUNCTION_INFO_V1(presplit_split_partition);
PG_FUNCTION_INFO_V1(presplit_cancel);
PG_FUNCTION_INFO_V1(presplit_wait);
PG_FUNCTION_INFO_V1(presplit_backfill_batch);
}

#include <climits>

namespace presplit {
namespace api {

bool has_owner_privileges(unsigned int relid) {
    return pg::call([&] {
        if (superuser())
            return true;
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tuple))
            return false;
        Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
        ReleaseSysCache(tuple);
        return has_privs_of_role(GetUserId(), owner);
    });
}

bool may_see_plan(int64_t id) {
    if (pg::call([] { return superuser(); }))
        return true;
    auto plan = catalog::load_plan(id, /*lock=*/false);
    return plan && has_owner_privileges(plan->parent);
}

namespace {

// ERROR 42704 if the plan does not exist, 42501 unless the caller may use it.
void require_usable(const std::optional<catalog::Plan>& plan, int64_t id) {
    if (!plan)
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT, catalog::plan_label(id) + " does not exist");
    const bool source_exists =
        pg::call([&] { return SearchSysCacheExists1(RELOID, ObjectIdGetDatum(plan->source)); });
    if (!has_owner_privileges(plan->parent) ||
        (source_exists && !has_owner_privileges(plan->source)))
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "must be owner of the table of " + catalog::plan_label(id));
}

} // namespace

catalog::Plan usable_plan(int64_t id) {
    auto plan = catalog::load_plan(id, /*lock=*/false);
    require_usable(plan, id);
    return *plan;
}

catalog::Plan owned_plan(int64_t id) {
    // Checked before the row lock, so that a non-owner never waits for
    // another owner's plan nor makes its worker wait; and again under it.
    usable_plan(id);
    auto plan = catalog::load_plan(id, /*lock=*/true);
    require_usable(plan, id);
    return *plan;
}

} // namespace api

namespace {

using api::owned_plan;
using catalog::plan_label;

// A split detaches the source from its parent and attaches the shadows to
// it, which takes the privileges of both owners: ERROR 42501 otherwise,
// checked before anything is looked up or locked (validate_source checks the
// source's owner again, and reports every other error).
void require_split_privileges(Oid source) {
    const char relkind = pg::call([&] { return get_rel_relkind(source); });
    if (relkind == '\0')
        return;
    if (!api::has_owner_privileges(source))
        pg::call([&] {
            aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), get_rel_name(source));
        });
    const Oid parent = pg::call([&] {
        return get_rel_relispartition(source) ? get_partition_parent(source, false) : InvalidOid;
    });
    if (OidIsValid(parent) && !api::has_owner_privileges(parent))
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "must be owner of table " + api::relation_name(parent),
                        "Splitting partition \"" + api::relation_name(source) +
                            "\" detaches it from that table.");
}

// The servers argument of split_partition (name[]): per target, a server or
// NULL; empty if NULL or all NULL (every target local), or if the function
// has no such argument (a 0.1.0 catalog before ALTER EXTENSION UPDATE).
std::vector<std::optional<std::string>> servers_argument(FunctionCallInfo fcinfo, int arg) {
    if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
        return {};
    std::vector<std::optional<std::string>> servers = api::name_array(fcinfo, arg, "servers");
    for (const auto& server : servers)
        if (server)
            return servers;
    return {};
}

// What split_partition does on another server (create a table) no rollback
// here would undo: like CREATE SUBSCRIPTION, it stands alone.
void require_autocommit_for_servers() {
    if (pg::call([] { return IsTransactionBlock(); }))
        throw pg::Error(ERRCODE_ACTIVE_SQL_TRANSACTION,
                        "split_partition with servers cannot run inside a transaction block",
                        "What it does on the other servers would not be undone by a rollback "
                        "here.",
                        "Call it on its own (autocommit).");
}

// Validates, records a plan, creates its shadows (and its remote targets)
// and starts capture; the worker takes it from preparing.
int64_t prepare_plan(FunctionCallInfo fcinfo, migration::SplitRequest request, int split_points_arg,
                     std::vector<std::optional<std::string>> servers = {}) {
    request.servers = std::move(servers);
    migration::resolve_split_points(request, fcinfo, split_points_arg);
    remote::check_remote_targets(request);

    Oid caller = pg::call([] { return GetUserId(); });
    int64_t id = migration::start_plan(request, "manual", caller, /*copy_held=*/false);
    if (!request.servers.empty())
        remote::create_remote_targets(migration::load_layout(*catalog::load_plan(id, true)));
    worker::wake_worker();
    return id;
}

Datum prepare_split(FunctionCallInfo fcinfo) {
    Oid source = api::required_oid(fcinfo, 0, "source");
    catalog::require_extension();
    require_split_privileges(source);
    PG_RETURN_INT64(prepare_plan(fcinfo, migration::validate_source(source), 1));
}

// The split points argument of split_partition, as the key type's text
// forms, checked against an existing plan's range.
std::vector<std::string> requested_points(FunctionCallInfo fcinfo, const catalog::Plan& plan) {
    migration::PlanLayout layout = migration::load_layout(plan);
    migration::SplitRequest request;
    request.parent = plan.parent;
    request.source = plan.source;
    request.key_type = catalog::find_managed_table(plan.parent).value().key_type;
    request.key_column = layout.key;
    request.lower = layout.shadows.front().row.lower_value;
    request.upper = layout.shadows.back().row.upper_value;
    migration::resolve_split_points(request, fcinfo, 1);
    return request.split_points;
}

Datum split_partition(FunctionCallInfo fcinfo) {
    Oid source = api::required_oid(fcinfo, 0, "source");
    if (PG_ARGISNULL(2))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "ramp must not be NULL");
    const bool ramp = PG_GETARG_BOOL(2);
    const std::vector<std::optional<std::string>> servers = servers_argument(fcinfo, 3);
    catalog::require_extension();
    if (!servers.empty())
        require_autocommit_for_servers();
    // Before the active plan is looked up: a non-owner learns nothing of it.
    require_split_privileges(source);

    int64_t id;
    if (auto active = catalog::find_active_plan_for_source(source)) {
        catalog::Plan plan = owned_plan(active->id);
        if (!PG_ARGISNULL(1) && requested_points(fcinfo, plan) != plan.split_points)
            throw pg::Error(
                ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                "partition \"" + api::relation_name(source) +
                    "\" already has an active split plan with other split points",
                "Split plan " + std::to_string(plan.id) + " splits it at {" +
                    [&] {
                        std::string points;
                        for (const auto& point : plan.split_points)
                            points += (points.empty() ? "" : ",") + point;
                        return points;
                    }() +
                    "} and is in state " + core::to_string(plan.state) + ".",
                "Pass split_points => NULL to go on with it, or cancel it first: "
                "SELECT presplit.cancel(" +
                    std::to_string(plan.id) + ");");
        if (!servers.empty()) {
            std::vector<std::optional<std::string>> recorded;
            for (const catalog::Shadow& shadow : catalog::load_shadows(plan.id))
                recorded.push_back(shadow.server);
            if (recorded != servers)
                throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                                "partition \"" + api::relation_name(source) +
                                    "\" already has an active split plan with other servers",
                                "Split plan " + std::to_string(plan.id) + " is in state " +
                                    core::to_string(plan.state) + ".",
                                "Pass servers => NULL to go on with it, or cancel it first: "
                                "SELECT presplit.cancel(" +
                                    std::to_string(plan.id) + ");");
        }
        id = plan.id;
    } else {
        // The source's own errors (not a managed partition, not its owner)
        // come before the missing split points.
        migration::SplitRequest request = migration::validate_source(source);
        if (PG_ARGISNULL(1))
            throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                            "partition \"" + api::relation_name(source) +
                                "\" has no split plan, so split_points are needed",
                            "",
                            "Pass the key values to split at, e.g. split_points => '{500000}'.");
        id = prepare_plan(fcinfo, std::move(request), 1, servers);
    }
    catalog::request_switch(id, ramp);
    worker::wake_worker();
    PG_RETURN_INT64(id);
}

Datum cancel(FunctionCallInfo fcinfo) {
    int64_t id = api::required_int64(fcinfo, 0, "plan");
    catalog::require_extension();
    catalog::Plan plan = owned_plan(id);
    if (core::is_terminal(plan.state))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        plan_label(id) + " is already " + core::to_string(plan.state));
    if (!core::can_transition(plan.state, core::PlanState::cancelled) ||
        *core::main_path_position(plan.state) > *core::main_path_position(core::PlanState::synced))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "cannot cancel " + plan_label(id) + " in state " +
                            core::to_string(plan.state),
                        "Only a plan that has not started switching can be cancelled.",
                        "Use presplit.rollback(" + std::to_string(id) + ") instead.");
    switchover::cancel(plan, "cancelled by " + std::string(pg::call([] {
                                 return GetUserNameFromId(GetUserId(), false);
                             })));
    PG_RETURN_VOID();
}

// Whether `current` satisfies a wait for `target`.
bool reached(core::PlanState current, core::PlanState target) {
    if (current == target)
        return true;
    auto current_position = core::main_path_position(current);
    auto target_position = core::main_path_position(target);
    return current_position && target_position && *current_position >= *target_position;
}

Datum wait(FunctionCallInfo fcinfo) {
    int64_t id = api::required_int64(fcinfo, 0, "plan");
    std::string target_name = api::required_text(fcinfo, 1, "state");
    if (PG_ARGISNULL(2))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "timeout must not be NULL");
    auto target = core::parse_plan_state(target_name);
    if (!target)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "unknown split plan state \"" + target_name + "\"",
                        "Valid states: " + core::all_plan_state_names() + ".");
    Interval* timeout = pg::call([&] { return PG_GETARG_INTERVAL_P(2); });
    int64 timeout_us = pg::call([&] {
        return timeout->time +
               (timeout->day + static_cast<int64>(timeout->month) * DAYS_PER_MONTH) * USECS_PER_DAY;
    });
    if (timeout_us < 0)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "timeout must not be negative");
    if (pg::call([] { return IsolationUsesXactSnapshot(); }))
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "presplit.wait cannot see progress in a REPEATABLE READ or SERIALIZABLE "
                        "transaction",
                        "", "Call it in a READ COMMITTED transaction, or outside one.");
    catalog::require_extension();

    TimestampTz deadline = pg::call([] { return GetCurrentTimestamp(); }) + timeout_us;
    while (true) {
        // Read, not locked (the worker must go on moving the plan), and
        // checked on every read: a non-owner learns nothing of the plan.
        catalog::Plan plan = api::usable_plan(id);
        const std::string current = core::to_string(plan.state);
        if (reached(plan.state, *target))
            return pg::call([&] { return CStringGetTextDatum(current.c_str()); });
        if (core::is_terminal(plan.state))
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                            plan_label(id) + " ended in state " + current + " instead of " +
                                target_name,
                            plan.reason ? "Reason: " + *plan.reason : "");
        TimestampTz now = pg::call([] { return GetCurrentTimestamp(); });
        if (now >= deadline)
            throw pg::Error(ERRCODE_QUERY_CANCELED,
                            "timed out waiting for " + plan_label(id) + " to reach state " +
                                target_name,
                            "It is in state " + current + ".");
        pg::sleep_on_latch(std::min<int64_t>(100, (deadline - now) / 1000 + 1));
    }
}

// One backfill batch of up to batch_size rows in the caller's transaction:
// the worker's own step, callable so that tests can race it deterministically.
Datum backfill_batch(FunctionCallInfo fcinfo) {
    int64_t id = api::required_int64(fcinfo, 0, "plan");
    int64_t batch_size = api::required_int64(fcinfo, 1, "batch_size");
    if (batch_size < 1 || batch_size > INT_MAX)
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive");
    catalog::require_extension();
    catalog::Plan plan = owned_plan(id);
    if (!core::in_backfill(plan.state))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        plan_label(id) + " is not backfilling (state " +
                            core::to_string(plan.state) + ")");
    migration::mark_backfilling(plan);
    if (plan.backfill_done)
        PG_RETURN_INT64(0);
    migration::BatchResult batch =
        migration::run_batch(migration::load_layout(plan), static_cast<int>(batch_size));
    PG_RETURN_INT64(static_cast<int64>(batch.rows_read));
}

} // namespace
} // namespace presplit

Datum presplit_prepare_split(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::prepare_split(fcinfo); });
}
Datum presplit_split_partition(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::split_partition(fcinfo); });
}
Datum presplit_cancel(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::cancel(fcinfo); });
}
Datum presplit_backfill_batch(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::backfill_batch(fcinfo); });
}
Datum presplit_wait(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::wait(fcinfo); });
}
