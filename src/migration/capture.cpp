#include "migration/capture.hpp"

#include "catalog/catalog.hpp"
#include "core/plan_state.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "access/relation.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(presplit_capture);
}

#include <algorithm>
#include <cstring>
#include <memory>

namespace presplit::migration {
namespace {

constexpr const char* kForward = "forward"; // source -> shadows
constexpr const char* kReverse = "reverse"; // new partitions -> detached source

// ---------------------------------------------------------------------------
// Installing and removing the triggers (as the table owner)
// ---------------------------------------------------------------------------

// The trigger is created by the table owner, who owns the table and needs
// EXECUTE on presplit._capture (granted to PUBLIC: it acts only on the
// tables of the plan its arguments name, see capture_state). Its arguments
// are the plan id and a direction, never user text.
void create_triggers(const PlanLayout& layout, const char* direction, const std::string& trigger,
                     const std::string& truncate_trigger, const std::vector<std::string>& tables) {
    const std::string arguments =
        "presplit._capture('" + std::to_string(layout.plan.id) + "', '" + direction + "')";
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    for (const auto& table : tables) {
        spi.execute("CREATE TRIGGER " + trigger + " AFTER INSERT OR UPDATE OR DELETE ON " + table +
                    " FOR EACH ROW EXECUTE FUNCTION " + arguments);
        spi.execute("CREATE TRIGGER " + truncate_trigger + " AFTER TRUNCATE ON " + table +
                    " FOR EACH STATEMENT EXECUTE FUNCTION " + arguments);
    }
}

void drop_triggers(const PlanLayout& layout, const std::string& trigger,
                   const std::string& truncate_trigger, const std::vector<std::string>& tables) {
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    for (const auto& table : tables) {
        spi.execute("DROP TRIGGER IF EXISTS " + trigger + " ON " + table);
        spi.execute("DROP TRIGGER IF EXISTS " + truncate_trigger + " ON " + table);
    }
}

// The local ones: a remote target's changes do not come back here
// (docs/multi_server.md).
std::vector<std::string> new_partitions(const PlanLayout& layout) {
    std::vector<std::string> tables;
    for (const auto& shadow : layout.shadows)
        if (!shadow.name.empty() && !shadow.row.server)
            tables.push_back(shadow.name);
    return tables;
}

// ---------------------------------------------------------------------------
// The trigger function: per-backend state of each (plan, direction, table)
// ---------------------------------------------------------------------------

struct ColumnRef {
    AttrNumber attnum; // in the table the trigger fires on
    Oid type;
    int16 typlen;
    bool typbyval;
};

// Where a changed row goes: one table per key range, ascending. A remote
// target's statements are null: logical replication carries its changes.
struct Target {
    bool has_upper = false; // the last target takes every key above the others
    Datum upper = 0;        // exclusive upper bound, in the key type
    pg::KeptStatement insert = nullptr;
    pg::KeptStatement remove = nullptr;
    pg::KeptStatement update = nullptr;
};

struct CaptureState {
    int64_t plan_id = 0;
    bool reverse = false;
    Oid fired_on = InvalidOid;
    bool stale = false;
    bool inert = false; // the plan has ended: changes are not applied
    std::string row_trigger;
    std::string truncate_trigger;
    Oid owner = InvalidOid;
    AttrNumber key_attnum = InvalidAttrNumber;
    std::vector<ColumnRef> columns;  // the stored columns
    std::vector<ColumnRef> identity; // the identity columns
    std::vector<Target> targets;
    FmgrInfo compare{};         // the partition key's btree comparison
    Oid collation = InvalidOid; // and its collation
    pg::KeptStatement on_truncate = nullptr;
    std::vector<Datum> truncate_parameters;
    std::vector<Oid> relations;     // an invalidation of any of them makes this stale
    MemoryContext memory = nullptr; // bound values, the comparison's FmgrInfo
};

// Shared: a trigger call holds its state while the changes it makes may fire
// other captures (a stale state is freed only when nobody holds it).
std::vector<std::shared_ptr<CaptureState>> capture_states;

void free_state(CaptureState& state) {
    for (auto& target : state.targets) {
        pg::free_statement(target.insert);
        pg::free_statement(target.remove);
        pg::free_statement(target.update);
    }
    pg::free_statement(state.on_truncate);
    if (state.memory != nullptr)
        pg::call([&] { MemoryContextDelete(state.memory); });
}

// DDL on a plan's tables (a cutover, a dropped column) or a cancelled plan
// invalidates them; the state is rebuilt at the next change.
void on_relcache_invalidation(Datum, Oid relid) {
    pg::entry([&] {
        for (auto& state : capture_states)
            if (relid == InvalidOid || std::find(state->relations.begin(), state->relations.end(),
                                                 relid) != state->relations.end())
                state->stale = true;
    });
}

ColumnRef column_in(Oid relid, const std::string& attname) {
    ColumnRef column{};
    pg::call([&] {
        column.attnum = get_attnum(relid, attname.c_str());
        if (column.attnum == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("column \"%s\" of \"%s\", captured by pg_presplit, no longer "
                                   "exists",
                                   attname.c_str(), get_rel_name(relid))));
        column.type = get_atttype(relid, column.attnum);
        get_typlenbyval(column.type, &column.typlen, &column.typbyval);
    });
    return column;
}

// The key type's value of a bound's text form, kept in `memory`. Runs the
// type's input function (a domain's CHECK constraints are user code): called
// as the table owner.
Datum key_value(const PlanLayout& layout, const std::string& text, MemoryContext memory) {
    return pg::call([&] {
        Oid input;
        Oid ioparam;
        int16 typlen;
        bool typbyval;
        getTypeInputInfo(layout.key_type_oid, &input, &ioparam);
        get_typlenbyval(layout.key_type_oid, &typlen, &typbyval);
        Datum value = OidInputFunctionCall(input, const_cast<char*>(text.c_str()), ioparam, -1);
        MemoryContext previous = MemoryContextSwitchTo(memory);
        Datum copy = datumCopy(value, typbyval, typlen);
        MemoryContextSwitchTo(previous);
        return copy;
    });
}

std::string parameters(size_t first, size_t count) {
    std::string list;
    for (size_t i = 0; i < count; ++i)
        list += (i ? ", $" : "$") + std::to_string(first + i);
    return list;
}

std::string identity_matches(const PlanLayout& layout, size_t first_parameter) {
    std::string condition;
    for (size_t i = 0; i < layout.identity.size(); ++i)
        condition += (i ? " AND " : "") + layout.identity[i].name + " = $" +
                     std::to_string(first_parameter + i);
    return condition;
}

// Prepares the statements that write one target table. Names are quoted
// identifiers; every value is a parameter.
void prepare_target(pg::SpiSession& spi, const PlanLayout& layout, const std::string& table,
                    Target& target) {
    std::vector<unsigned int> column_types;
    for (const auto& column : layout.columns)
        column_types.push_back(column.type_oid);
    std::vector<unsigned int> identity_types;
    for (const auto& column : layout.identity)
        identity_types.push_back(column.type_oid);
    std::vector<unsigned int> update_types = column_types;
    update_types.insert(update_types.end(), identity_types.begin(), identity_types.end());

    const std::string columns = column_list(layout.columns);
    const size_t n = layout.columns.size();
    target.insert = spi.prepare_kept("INSERT INTO " + table + " (" + columns + ") VALUES (" +
                                         parameters(1, n) + ")",
                                     column_types);
    target.remove = spi.prepare_kept(
        "DELETE FROM " + table + " WHERE " + identity_matches(layout, 1), identity_types);
    target.update =
        spi.prepare_kept("UPDATE " + table + " SET (" + columns + ") = ROW(" + parameters(1, n) +
                             ") WHERE " + identity_matches(layout, n + 1),
                         update_types);
}

std::shared_ptr<CaptureState> build_state(int64_t plan_id, bool reverse, Oid fired_on) {
    auto plan = catalog::load_plan(plan_id, /*lock=*/false);
    if (!plan)
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "presplit._capture: " + catalog::plan_label(plan_id) + " does not exist",
                        "", "Drop the trigger that calls it.");
    auto result = std::make_shared<CaptureState>();
    CaptureState& capture = *result;
    capture.plan_id = plan_id;
    capture.reverse = reverse;
    capture.fired_on = fired_on;
    capture.relations = {fired_on, plan->source, plan->parent};
    const core::PlanState state = plan->state;
    // An ended plan's triggers are left to its clean-up (a failed plan's, by
    // the worker; a restored dump's, by the DBA): they do nothing and must
    // not stop writes. (Its tables may be gone: no layout is needed.)
    if (core::is_terminal(state)) {
        capture.inert = true;
        return result;
    }
    PlanLayout layout = load_layout(*plan);

    const ShadowLayout* fired_shadow = nullptr;
    for (const auto& shadow : layout.shadows)
        if (shadow.row.relation && *shadow.row.relation == fired_on)
            fired_shadow = &shadow;
    // The trigger's arguments must name the plan of the table it fires on:
    // anyone may call presplit._capture from a trigger on a table of theirs.
    const bool belongs = reverse ? fired_shadow != nullptr : plan->source == fired_on;
    if (!belongs)
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "presplit._capture fired on a table that " + catalog::plan_label(plan_id) +
                            " does not " + (reverse ? "split into" : "split"),
                        "", "Only pg_presplit creates triggers that call presplit._capture.");
    // An active plan captures forward until its cutover, in reverse after it.
    const bool capturing = reverse == (state == core::PlanState::cut_over);
    if (!capturing)
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        catalog::plan_label(plan_id) + " is " + core::to_string(state) + ": its " +
                            (reverse ? "reverse capture" : "capture") + " should not exist",
                        "", "Drop the trigger that calls presplit._capture.");

    capture.owner = layout.table_owner;
    capture.row_trigger =
        reverse ? reverse_capture_trigger_name(plan_id) : capture_trigger_name(plan_id);
    capture.truncate_trigger = reverse ? reverse_capture_truncate_trigger_name(plan_id)
                                       : capture_truncate_trigger_name(plan_id);
    capture.memory = pg::call([] {
        return AllocSetContextCreate(CacheMemoryContext, "pg_presplit capture",
                                     ALLOCSET_SMALL_SIZES);
    });
    for (const auto& column : layout.columns)
        capture.columns.push_back(column_in(fired_on, column.attname));
    for (const auto& column : layout.identity)
        capture.identity.push_back(column_in(fired_on, column.attname));
    capture.key_attnum = column_in(fired_on, layout.key_column).attnum;
    for (const auto& shadow : layout.shadows)
        if (shadow.row.relation)
            capture.relations.push_back(*shadow.row.relation);

    if (!reverse)
        pg::call([&] {
            Relation parent = relation_open(plan->parent, AccessShareLock);
            PartitionKey key = RelationGetPartitionKey(parent);
            fmgr_info_copy(&capture.compare, &key->partsupfunc[0], capture.memory);
            capture.collation = key->partcollation[0];
            relation_close(parent, AccessShareLock);
        });

    // As the owner: the bounds' input functions, and the statements, which
    // are planned with the owner's privileges and search_path pg_catalog.
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    std::vector<unsigned int> key_types;
    std::string range;
    if (reverse) {
        capture.targets.emplace_back();
        prepare_target(spi, layout, layout.source, capture.targets.back());
        // TRUNCATE of one new partition empties its range of the old table.
        for (const auto& bound : {std::make_pair(&fired_shadow->row.lower_value, " >= $"),
                                  std::make_pair(&fired_shadow->row.upper_value, " < $")}) {
            if (!*bound.first)
                continue;
            capture.truncate_parameters.push_back(key_value(layout, **bound.first, capture.memory));
            key_types.push_back(layout.key_type_oid);
            range += (range.empty() ? " WHERE " : " AND ") + layout.key + bound.second +
                     std::to_string(key_types.size());
        }
        capture.on_truncate = spi.prepare_kept("DELETE FROM " + layout.source + range, key_types);
    } else {
        std::string all_shadows;
        for (const auto& shadow : layout.shadows) {
            Target target;
            if (shadow.row.upper_value && &shadow != &layout.shadows.back()) {
                target.has_upper = true;
                target.upper = key_value(layout, *shadow.row.upper_value, capture.memory);
            }
            if (!shadow.row.server) {
                prepare_target(spi, layout, shadow.name, target);
                all_shadows += (all_shadows.empty() ? "" : ", ") + shadow.name;
            }
            capture.targets.push_back(target);
        }
        if (!all_shadows.empty())
            capture.on_truncate = spi.prepare_kept("TRUNCATE " + all_shadows, {});
    }
    return result;
}

std::shared_ptr<CaptureState> capture_state(int64_t plan_id, bool reverse, Oid fired_on) {
    static bool callback_registered = false;
    if (!callback_registered) {
        pg::call([] { CacheRegisterRelcacheCallback(on_relcache_invalidation, 0); });
        callback_registered = true;
    }
    for (auto it = capture_states.begin(); it != capture_states.end();) {
        if ((*it)->stale && it->use_count() == 1) {
            free_state(**it);
            it = capture_states.erase(it);
        } else if (!(*it)->stale && (*it)->plan_id == plan_id && (*it)->reverse == reverse &&
                   (*it)->fired_on == fired_on) {
            return *it;
        } else {
            ++it;
        }
    }
    capture_states.push_back(build_state(plan_id, reverse, fired_on));
    return capture_states.back();
}

// A row's values of the stored columns, the identity and the key.
struct RowImage {
    std::vector<Datum> columns;
    std::string column_nulls; // ' ' or 'n' per column, as SPI takes them
    std::vector<Datum> identity;
    Datum key = 0;
};

RowImage read_row(const CaptureState& state, TupleTableSlot* slot) {
    RowImage row;
    row.columns.resize(state.columns.size());
    row.column_nulls.assign(state.columns.size(), ' ');
    row.identity.resize(state.identity.size());
    pg::call([&] {
        bool isnull;
        for (size_t i = 0; i < state.columns.size(); ++i) {
            row.columns[i] = slot_getattr(slot, state.columns[i].attnum, &isnull);
            if (isnull)
                row.column_nulls[i] = 'n';
        }
        // Identity and partition key columns are NOT NULL.
        for (size_t i = 0; i < state.identity.size(); ++i)
            row.identity[i] = slot_getattr(slot, state.identity[i].attnum, &isnull);
        row.key = slot_getattr(slot, state.key_attnum, &isnull);
    });
    return row;
}

const Target& target_for(CaptureState& state, Datum key) {
    for (size_t i = 0; i + 1 < state.targets.size(); ++i) {
        const Target& target = state.targets[i];
        if (!target.has_upper)
            break;
        int order = pg::call([&] {
            return DatumGetInt32(
                FunctionCall2Coll(&state.compare, state.collation, key, target.upper));
        });
        if (order < 0)
            return target;
    }
    return state.targets.back();
}

bool same_identity(const CaptureState& state, const RowImage& a, const RowImage& b) {
    for (size_t i = 0; i < state.identity.size(); ++i) {
        const ColumnRef& column = state.identity[i];
        bool equal = pg::call([&] {
            return datumIsEqual(a.identity[i], b.identity[i], column.typbyval, column.typlen);
        });
        if (!equal)
            return false;
    }
    return true;
}

// A remote target's statement is null: nothing to do here.
void execute_target(pg::SpiSession& spi, pg::KeptStatement statement, const Datum* values,
                    const char* nulls) {
    if (statement != nullptr)
        spi.execute_kept(statement, values, nulls);
}

void apply_row_change(pg::SpiSession& spi, CaptureState& state, const TriggerData* data) {
    const TriggerEvent event = data->tg_event;
    const std::string identity_nulls(state.identity.size(), ' ');
    if (TRIGGER_FIRED_BY_INSERT(event)) {
        RowImage row = read_row(state, data->tg_trigslot);
        execute_target(spi, target_for(state, row.key).insert, row.columns.data(),
                       row.column_nulls.c_str());
        return;
    }
    RowImage old_row = read_row(state, data->tg_trigslot);
    if (TRIGGER_FIRED_BY_UPDATE(event)) {
        RowImage new_row = read_row(state, data->tg_newslot);
        // Same identity, same key (the identity includes it): same target.
        if (same_identity(state, old_row, new_row)) {
            std::vector<Datum> values = new_row.columns;
            values.insert(values.end(), old_row.identity.begin(), old_row.identity.end());
            execute_target(spi, target_for(state, new_row.key).update, values.data(),
                           (new_row.column_nulls + identity_nulls).c_str());
            return;
        }
        execute_target(spi, target_for(state, old_row.key).remove, old_row.identity.data(),
                       identity_nulls.c_str());
        execute_target(spi, target_for(state, new_row.key).insert, new_row.columns.data(),
                       new_row.column_nulls.c_str());
        return;
    }
    execute_target(spi, target_for(state, old_row.key).remove, old_row.identity.data(),
                   identity_nulls.c_str());
}

const TriggerData* trigger_data(FunctionCallInfo fcinfo) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        "presplit._capture must be called as a trigger");
    const auto* data = reinterpret_cast<const TriggerData*>(fcinfo->context);
    const TriggerEvent event = data->tg_event;
    const bool row_change = TRIGGER_FIRED_FOR_ROW(event) && !TRIGGER_FIRED_BY_TRUNCATE(event);
    const bool truncate = TRIGGER_FIRED_FOR_STATEMENT(event) && TRIGGER_FIRED_BY_TRUNCATE(event);
    if (!TRIGGER_FIRED_AFTER(event) || !(row_change || truncate) || data->tg_trigger->tgnargs != 2)
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        "presplit._capture must fire AFTER each row or AFTER TRUNCATE, with a "
                        "plan id and a direction");
    return data;
}

Datum capture(FunctionCallInfo fcinfo) {
    const TriggerData* data = trigger_data(fcinfo);
    const char* const* args = data->tg_trigger->tgargs;
    const bool reverse = std::strcmp(args[1], kReverse) == 0;
    if (!reverse && std::strcmp(args[1], kForward) != 0)
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        "presplit._capture: unknown direction \"" + std::string(args[1]) + "\"");
    int64_t plan_id = 0;
    try {
        plan_id = std::stoll(args[0]);
    } catch (const std::exception&) {
        throw pg::Error(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED,
                        "presplit._capture: bad plan id \"" + std::string(args[0]) + "\"");
    }
    std::shared_ptr<CaptureState> held =
        capture_state(plan_id, reverse, RelationGetRelid(data->tg_relation));
    CaptureState& state = *held;
    if (state.inert)
        return PointerGetDatum(nullptr);
    const bool truncate = TRIGGER_FIRED_BY_TRUNCATE(data->tg_event);
    // One trigger of each kind per plan and table: a second one would apply
    // every change twice.
    if ((truncate ? state.truncate_trigger : state.row_trigger) != data->tg_trigger->tgname)
        throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                        "presplit._capture called by trigger \"" +
                            std::string(data->tg_trigger->tgname) + "\", not by pg_presplit's",
                        "", "Only pg_presplit creates triggers that call presplit._capture.");

    pg::RunAsTableOwner as_owner(state.owner);
    pg::SpiSession spi;
    if (truncate)
        execute_target(spi, state.on_truncate, state.truncate_parameters.data(),
                       std::string(state.truncate_parameters.size(), ' ').c_str());
    else
        apply_row_change(spi, state, data);
    return PointerGetDatum(nullptr);
}

} // namespace

void install_capture(const PlanLayout& layout) {
    create_triggers(layout, kForward, capture_trigger_name(layout.plan.id),
                    capture_truncate_trigger_name(layout.plan.id), {layout.source});
}

void remove_capture(const PlanLayout& layout) {
    drop_triggers(layout, capture_trigger_name(layout.plan.id),
                  capture_truncate_trigger_name(layout.plan.id), {layout.source});
}

void install_reverse_capture(const PlanLayout& layout) {
    create_triggers(layout, kReverse, reverse_capture_trigger_name(layout.plan.id),
                    reverse_capture_truncate_trigger_name(layout.plan.id), new_partitions(layout));
}

void remove_reverse_capture(const PlanLayout& layout) {
    drop_triggers(layout, reverse_capture_trigger_name(layout.plan.id),
                  reverse_capture_truncate_trigger_name(layout.plan.id), new_partitions(layout));
}

} // namespace presplit::migration

extern "C" Datum presplit_capture(PG_FUNCTION_ARGS) {
    return presplit::pg::entry([&] { return presplit::migration::capture(fcinfo); });
}
