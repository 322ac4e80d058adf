#include "switchover/routing.hpp"

#include "catalog/routes.hpp"
#include "config.hpp"
#include "migration/layout.hpp"
#include "pg/backend_random.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "switchover/channel_stats.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/relation.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(presplit_route_new);
}

#include <optional>
#include <string>
#include <vector>

#if PG_VERSION_NUM >= 160000
#error "routing copies RangeTblEntry.requiredPerms/selectedCols: port to RTEPermissionInfo"
#endif

namespace presplit::switchover {
namespace {

// --- draws: one channel per plan and execution -------------------------------

struct Draw {
    MemoryContext execution; // the executor's es_query_cxt
    int64_t plan_id;
    Channel channel;
    bool counted; // the execution is timed: count it (or its failure)
};
std::vector<Draw> draws;
std::vector<MemoryContext> timed_executions;

bool is_timed(MemoryContext execution) {
    for (MemoryContext timed : timed_executions)
        if (timed == execution)
            return true;
    return false;
}

void forget_timed(MemoryContext execution) {
    for (size_t i = timed_executions.size(); i-- > 0;)
        if (timed_executions[i] == execution)
            timed_executions.erase(timed_executions.begin() + static_cast<long>(i));
}

// The execution's memory is going away. Draws still here did not reach
// ExecutorEnd: the execution failed (or was cancelled).
void execution_memory_gone(void* arg) {
    pg::entry([&] {
        auto execution = static_cast<MemoryContext>(arg);
        for (size_t i = draws.size(); i-- > 0;) {
            if (draws[i].execution != execution)
                continue;
            if (draws[i].counted)
                record_channel_statement(draws[i].plan_id, draws[i].channel, 0, /*failed=*/true);
            draws.erase(draws.begin() + static_cast<long>(i));
        }
        forget_timed(execution);
    });
}

// Whether the snapshot the statement reads with sees xid committed (or it
// is ours).
bool snapshot_sees(TransactionId xid) {
    return pg::call([&] {
        if (!ActiveSnapshotSet())
            return false;
        if (xid == FrozenTransactionId || TransactionIdIsCurrentTransactionId(xid))
            return true;
        return TransactionIdIsNormal(xid) && !XidInMVCCSnapshot(xid, GetActiveSnapshot());
    });
}

bool choose_new_channel(int64_t plan_id, MemoryContext execution) {
    bool first_of_execution = true;
    for (const auto& draw : draws) {
        if (draw.execution != execution)
            continue;
        if (draw.plan_id == plan_id)
            return draw.channel == Channel::new_channel;
        first_of_execution = false;
    }
    catalog::refresh_routes();
    const catalog::Route* route = catalog::find_route(plan_id);
    bool use_new = false;
    if (route != nullptr && route->new_weight > 0 && snapshot_sees(route->plan_row_xmin))
        use_new = route->new_weight >= 100 ||
                  pg::backend_random() % 100 < static_cast<uint64_t>(route->new_weight);
    const bool counted = is_timed(execution);
    if (counted)
        claim_channel_stats(plan_id);
    draws.push_back(
        {execution, plan_id, use_new ? Channel::new_channel : Channel::old_channel, counted});
    if (first_of_execution)
        pg::call([&] {
            auto* callback = static_cast<MemoryContextCallback*>(
                MemoryContextAlloc(execution, sizeof(MemoryContextCallback)));
            callback->func = execution_memory_gone;
            callback->arg = execution;
            MemoryContextRegisterResetCallback(execution, callback);
        });
    return use_new;
}

// --- the routed subqueries, built once per route and relation ----------------

struct RoutedQuery {
    int64_t plan_id;
    Oid relid;    // the parent or the source
    int natts;    // of relid when built (columns added later: build again)
    Query* query; // in cache_context; nullptr: this relation cannot be routed
};
std::vector<RoutedQuery> routed_queries;
MemoryContext cache_context = nullptr;
uint64_t cache_routes_version = 0;
bool cache_stale = false;

void clear_cache() {
    routed_queries.clear();
    if (cache_context != nullptr)
        pg::call([] { MemoryContextReset(cache_context); });
    cache_routes_version = catalog::routes_version();
    cache_stale = false;
}

// Columns of a routed relation (or a shadow) may have changed: build again.
void on_relcache_invalidation(Datum, Oid relid) {
    if (routed_queries.empty())
        return;
    if (!OidIsValid(relid) || catalog::find_route_for_relation(relid) != nullptr ||
        catalog::is_new_channel_relation(relid))
        cache_stale = true;
}

struct ParentColumn {
    std::string name; // empty: dropped
    Oid type = InvalidOid;
};

std::vector<ParentColumn> columns_of(Oid relid) {
    std::vector<ParentColumn> columns;
    Relation rel = pg::call([&] { return relation_open(relid, AccessShareLock); });
    const int natts = RelationGetNumberOfAttributes(rel);
    for (int i = 0; i < natts; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(RelationGetDescr(rel), i);
        ParentColumn column;
        if (!attribute->attisdropped) {
            column.name = NameStr(attribute->attname);
            column.type = attribute->atttypid;
        }
        columns.push_back(column);
    }
    pg::call([&] { relation_close(rel, AccessShareLock); });
    return columns;
}

// Every column of the parent, by name and type, in the shadow.
bool shadow_matches(Oid shadow, const std::vector<ParentColumn>& columns) {
    if (pg::call([&] { return get_rel_relkind(shadow); }) != RELKIND_RELATION)
        return false;
    for (const auto& column : columns) {
        if (column.name.empty())
            continue;
        AttrNumber attnum = pg::call([&] { return get_attnum(shadow, column.name.c_str()); });
        if (attnum == InvalidAttrNumber ||
            pg::call([&] { return get_atttype(shadow, attnum); }) != column.type)
            return false;
    }
    return true;
}

std::string select_list(const std::vector<ParentColumn>& columns) {
    std::string list;
    for (size_t i = 0; i < columns.size(); ++i) {
        if (i > 0)
            list += ", ";
        // A dropped column keeps its position, so that the statement's
        // references (by column number) still fit.
        list += columns[i].name.empty()
                    ? "NULL::pg_catalog.int4 AS dropped_" + std::to_string(i + 1)
                    : pg::quote_ident(columns[i].name);
    }
    return list;
}

// The key outside [lower, upper): what the parent holds besides the source
// (NULL keys live in the default partition).
std::string outside_range(const std::string& key, const std::string& type,
                          const std::optional<std::string>& lower,
                          const std::optional<std::string>& upper) {
    std::string condition = key + " IS NULL";
    if (lower)
        condition += " OR " + key + " < " + pg::quote_literal(*lower) + "::" + type;
    if (upper)
        condition += " OR " + key + " >= " + pg::quote_literal(*upper) + "::" + type;
    return "(" + condition + ")";
}

Oid route_function() {
    return pg::call([] {
        Oid schema = get_namespace_oid("presplit", true);
        Oid argument = INT8OID;
        return OidIsValid(schema) ? GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
                                                    CStringGetDatum("_route_new"),
                                                    PointerGetDatum(buildoidvector(&argument, 1)),
                                                    ObjectIdGetDatum(schema))
                                  : InvalidOid;
    });
}

Node* gate(Oid function, int64_t plan_id, bool new_channel) {
    Const* plan = makeConst(INT8OID, -1, InvalidOid, sizeof(int64), Int64GetDatum(plan_id), false,
                            FLOAT8PASSBYVAL);
    Expr* call = reinterpret_cast<Expr*>(makeFuncExpr(
        function, BOOLOID, list_make1(plan), InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
    return reinterpret_cast<Node*>(new_channel ? call
                                               : makeBoolExpr(NOT_EXPR, list_make1(call), -1));
}

// Calls f(rte) for every relation the (routed) query reads, at any depth.
template <typename F>
void for_each_relation(Query* query, F&& f) {
    ListCell* cell;
    foreach (cell, query->rtable) {
        auto* rte = lfirst_node(RangeTblEntry, cell);
        if (rte->rtekind == RTE_RELATION)
            f(rte);
        else if (rte->rtekind == RTE_SUBQUERY)
            for_each_relation(rte->subquery, f);
    }
}

// Parses and analyzes the UNION ALL (names resolved in pg_catalog only),
// then adds the gates to the old arm and the new arm (the last two). The
// shadows are pg_presplit's copies of rows the statement may read: they
// check no privileges; relid itself checks what the statement would have
// (copied in for each use).
Query* analyze_routed_query(const std::string& sql, Oid relid, Oid function, int64_t plan_id) {
    return pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(cache_context);
        int nest_level = NewGUCNestLevel();
        (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                                GUC_ACTION_SAVE, true, 0, false);
        List* raw = pg_parse_query(sql.c_str());
        Query* query = parse_analyze_fixedparams(linitial_node(RawStmt, raw), sql.c_str(), nullptr,
                                                 0, nullptr);
        AtEOXact_GUC(true, nest_level);
        List* arms = NIL;
        ListCell* cell;
        foreach (cell, query->rtable) {
            auto* arm = lfirst_node(RangeTblEntry, cell);
            if (arm->rtekind == RTE_SUBQUERY)
                arms = lappend(arms, arm->subquery);
        }
        auto* old_arm = static_cast<Query*>(list_nth(arms, list_length(arms) - 2));
        auto* new_arm = static_cast<Query*>(llast(arms));
        old_arm->jointree->quals =
            make_and_qual(old_arm->jointree->quals, gate(function, plan_id, false));
        new_arm->jointree->quals =
            make_and_qual(new_arm->jointree->quals, gate(function, plan_id, true));
        for_each_relation(query, [&](RangeTblEntry* rte) {
            if (rte->relid != relid) {
                rte->requiredPerms = 0;
                rte->checkAsUser = InvalidOid;
                rte->selectedCols = nullptr;
            }
        });
        MemoryContextSwitchTo(old);
        return query;
    });
}

Query* build_routed_query(const catalog::Route& route, Oid relid,
                          const std::vector<ParentColumn>& columns) {
    for (const auto& shadow : route.shadows)
        if (!shadow_matches(shadow.relid, columns))
            return nullptr;
    const Oid function = route_function();
    if (!OidIsValid(function))
        return nullptr;
    const std::string cols = select_list(columns);
    const std::string key = pg::quote_ident(route.key_column);
    const std::string type = pg::call([&] { return format_type_be_qualified(route.key_type); });
    const auto& lower = route.shadows.front().lower;
    const auto& upper = route.shadows.back().upper;
    const std::string self = pg::qualified_relation_name(relid);
    std::string sql;
    if (relid == route.parent)
        sql = "SELECT " + cols + " FROM " + self + " WHERE " +
              outside_range(key, type, lower, upper) + " UNION ALL SELECT " + cols + " FROM " +
              self + " WHERE " + migration::range_condition(key, type, lower, upper);
    else
        sql = "SELECT " + cols + " FROM " + self;
    // The shadows in a UNION ALL of their own: its members are excluded by
    // their CHECK constraints (constraint_exclusion = partition), as
    // partitions are pruned.
    std::string shadows;
    for (const auto& shadow : route.shadows)
        shadows += (shadows.empty() ? "SELECT " : " UNION ALL SELECT ") + cols + " FROM " +
                   pg::qualified_relation_name(shadow.relid);
    sql += " UNION ALL SELECT " + cols + " FROM (" + shadows + ") AS new_channel";
    return analyze_routed_query(sql, relid, function, route.plan_id);
}

// A fresh copy of the routed query for relid (nullptr: do not route it).
Query* routed_query_for(const catalog::Route& route, Oid relid) {
    if (cache_stale || cache_routes_version != catalog::routes_version())
        clear_cache();
    if (cache_context == nullptr)
        cache_context = pg::call([] {
            return AllocSetContextCreate(CacheMemoryContext, "pg_presplit routed queries",
                                         ALLOCSET_SMALL_SIZES);
        });
    const std::vector<ParentColumn> columns = columns_of(relid);
    const int natts = static_cast<int>(columns.size());
    const RoutedQuery* found = nullptr;
    for (const auto& cached : routed_queries)
        if (cached.plan_id == route.plan_id && cached.relid == relid && cached.natts == natts)
            found = &cached;
    if (found == nullptr) {
        routed_queries.push_back(
            {route.plan_id, relid, natts, build_routed_query(route, relid, columns)});
        found = &routed_queries.back();
    }
    if (found->query == nullptr)
        return nullptr;
    return pg::call([&] { return static_cast<Query*>(copyObjectImpl(found->query)); });
}

// --- which relations of a statement to route --------------------------------

struct Candidate {
    Query* owner;
    Index rtindex;
    const catalog::Route* route;
    bool excluded;
};

// Filled by a tree walker, called from PostgreSQL code: fixed capacity, no
// allocation, nothing that throws.
struct Walk {
    static constexpr int kMaxLevels = 64;
    static constexpr int kMaxCandidates = 32;
    Query* levels[kMaxLevels];
    int depth = 0;
    Candidate candidates[kMaxCandidates];
    int count = 0;
    bool refuse = false; // the statement must not be routed at all
};

bool routable_relation(const RangeTblEntry* rte, const catalog::Route& route) {
    if (rte->tablesample != nullptr || rte->securityQuals != NIL)
        return false;
    if (rte->relid == route.parent)
        return rte->inh; // ONLY parent reads no partition
    return true;
}

bool walk_tree(Node* node, void* context);

// PostgreSQL 15 declares walkers as bool (*)() (unprototyped, in C).
auto walker() {
    return reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(walk_tree));
}

bool walk_tree(Node* node, void* context) {
    auto* walk = static_cast<Walk*>(context);
    if (node == nullptr)
        return false;
    if (IsA(node, Query)) {
        auto* query = reinterpret_cast<Query*>(node);
        if (query->commandType != CMD_SELECT || query->rowMarks != NIL || query->hasModifyingCTE ||
            walk->depth == Walk::kMaxLevels) {
            walk->refuse = true;
            return true;
        }
        Index rtindex = 0;
        ListCell* cell;
        foreach (cell, query->rtable) {
            ++rtindex;
            auto* rte = lfirst_node(RangeTblEntry, cell);
            if (rte->rtekind != RTE_RELATION)
                continue;
            const catalog::Route* route = catalog::find_route_for_relation(rte->relid);
            if (route == nullptr || !routable_relation(rte, *route))
                continue;
            if (walk->count == Walk::kMaxCandidates) {
                walk->refuse = true;
                return true;
            }
            walk->candidates[walk->count++] = {query, rtindex, route, false};
        }
        walk->levels[walk->depth++] = query;
        bool stop = query_tree_walker(query, walker(), context, 0);
        walk->depth--;
        return stop;
    }
    if (IsA(node, Var)) {
        auto* var = reinterpret_cast<Var*>(node);
        // System columns (ctid, tableoid, ...) and whole-row values differ
        // between the channels: such a relation stays on the old one.
        if (var->varattno <= 0 && static_cast<int>(var->varlevelsup) < walk->depth) {
            Query* owner = walk->levels[walk->depth - 1 - static_cast<int>(var->varlevelsup)];
            for (int i = 0; i < walk->count; ++i)
                if (walk->candidates[i].owner == owner &&
                    walk->candidates[i].rtindex == static_cast<Index>(var->varno))
                    walk->candidates[i].excluded = true;
        }
        return false;
    }
    return expression_tree_walker(node, walker(), context);
}

void replace_with_routed_query(RangeTblEntry* rte, Query* routed) {
    // The arms that read the relation itself check what the statement would
    // have checked on it.
    for_each_relation(routed, [&](RangeTblEntry* scanned) {
        if (scanned->relid != rte->relid)
            return;
        scanned->requiredPerms = rte->requiredPerms;
        scanned->checkAsUser = rte->checkAsUser;
        scanned->selectedCols = bms_copy(rte->selectedCols);
    });
    rte->rtekind = RTE_SUBQUERY;
    rte->subquery = routed;
    rte->security_barrier = false;
    rte->relid = InvalidOid;
    rte->relkind = 0;
    rte->rellockmode = 0;
    rte->inh = false;
    rte->requiredPerms = 0;
    rte->checkAsUser = InvalidOid;
    rte->selectedCols = nullptr;
    rte->insertedCols = nullptr;
    rte->updatedCols = nullptr;
    rte->extraUpdatedCols = nullptr;
}

// Cursor options of cursors a user can name in WHERE CURRENT OF, which needs
// the table's own scan: DECLARE (ASENSITIVE by default, or the options
// given) and PL/pgSQL cursor variables (FAST_PLAN). NO_SCROLL alone is
// PL/pgSQL's PERFORM and FOR loops: routed.
constexpr int kCursorOptions = CURSOR_OPT_BINARY | CURSOR_OPT_SCROLL | CURSOR_OPT_INSENSITIVE |
                               CURSOR_OPT_ASENSITIVE | CURSOR_OPT_HOLD | CURSOR_OPT_FAST_PLAN;

} // namespace

void route_reads(Query* parse, int cursor_options) {
    if (!config::routing_enabled || IsBackgroundWorker || (cursor_options & kCursorOptions) != 0 ||
        parse->commandType != CMD_SELECT || parse->utilityStmt != nullptr || !IsTransactionState())
        return;
    catalog::refresh_routes();
    if (!catalog::any_routes())
        return;
    Walk walk;
    pg::call([&] { walk_tree(reinterpret_cast<Node*>(parse), &walk); });
    if (walk.refuse)
        return;
    for (int i = 0; i < walk.count; ++i) {
        const Candidate& candidate = walk.candidates[i];
        if (candidate.excluded)
            continue;
        auto* rte = pg::call([&] { return rt_fetch(candidate.rtindex, candidate.owner->rtable); });
        Query* routed = routed_query_for(*candidate.route, rte->relid);
        if (routed != nullptr)
            pg::call([&] { replace_with_routed_query(rte, routed); });
    }
}

bool reads_new_channel(List* range_table) {
    if (!catalog::any_routes())
        return false;
    ListCell* cell;
    foreach (cell, range_table) {
        auto* rte = static_cast<RangeTblEntry*>(lfirst(cell));
        if (rte->rtekind != RTE_RELATION || rte->requiredPerms != 0)
            continue; // the shadows of a routed statement check no privileges
        if (catalog::is_new_channel_relation(rte->relid))
            return true;
    }
    return false;
}

void routed_execution_started(MemoryContext execution) {
    timed_executions.push_back(execution);
}

void routed_execution_ended(MemoryContext execution, double seconds) {
    for (size_t i = draws.size(); i-- > 0;) {
        if (draws[i].execution != execution)
            continue;
        if (draws[i].counted)
            record_channel_statement(draws[i].plan_id, draws[i].channel, seconds * 1e6, false);
        draws.erase(draws.begin() + static_cast<long>(i));
    }
    forget_timed(execution);
}

void forget_routed_executions() {
    timed_executions.clear();
}

void install_routing_callbacks() {
    CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
}

} // namespace presplit::switchover

// presplit._route_new(plan bigint): whether this execution reads the plan's
// range from the new channel.
extern "C" Datum presplit_route_new(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] {
        const int64 plan_id = PG_GETARG_INT64(0);
        return BoolGetDatum(
            presplit::switchover::choose_new_channel(plan_id, fcinfo->flinfo->fn_mcxt));
    });
}
