#include "catalog/catalog.hpp"
#include "catalog/routes.hpp"

#include "core/text_array.hpp"
#include "pg/guard.hpp"

#include <cmath>
#include <cstdio>

extern "C" {
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "utils/syscache.h"
}

namespace presplit::catalog {

bool has_prediction_catalog() {
    return pg::call([] {
        const Oid schema = get_namespace_oid("presplit", true);
        if (!OidIsValid(schema))
            return false;
        const Oid plan = get_relname_relid("plan", schema);
        return OidIsValid(plan) && get_attnum(plan, "copy_held") != InvalidAttrNumber;
    });
}

bool has_shadow_servers() {
    return pg::call([] {
        const Oid schema = get_namespace_oid("presplit", true);
        if (!OidIsValid(schema))
            return false;
        const Oid shadow = get_relname_relid("shadow", schema);
        return OidIsValid(shadow) && get_attnum(shadow, "server") != InvalidAttrNumber;
    });
}

namespace {

using pg::Value;

std::string oid_text(unsigned int oid) {
    return std::to_string(oid);
}

// A double as SQL reads it back exactly.
std::string float_text(double value) {
    char buffer[32];
    snprintf(buffer, sizeof buffer, "%.17g", value);
    return buffer;
}

std::vector<std::string> strings_of(const Value& array_literal) {
    std::vector<std::string> out;
    if (!array_literal)
        return out;
    auto parsed = core::parse_text_array(*array_literal);
    if (!parsed)
        throw pg::Error(ERRCODE_INTERNAL_ERROR, "pg_presplit: malformed array " + *array_literal);
    for (auto& element : *parsed)
        out.push_back(element.value_or(""));
    return out;
}

std::string array_literal(const std::vector<std::string>& values) {
    core::TextArray elements(values.begin(), values.end());
    return core::format_text_array(elements);
}

// Every statement on the store: fixed text, values as parameters, run as the
// extension (catalog.hpp).
pg::QueryResult store(const std::string& sql, const std::vector<Value>& params = {}) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return spi.execute(sql, params);
}

Value store_scalar(const std::string& sql, const std::vector<Value>& params = {}) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return spi.scalar(sql, params);
}

const char* const kPlanColumnsBase =
    "id, parent::oid, source::oid, split_points, state, reason, backfill_position, "
    "backfill_done, switch_requested, ramp, paused, "
    "(SELECT weight FROM presplit.channel c WHERE c.plan_id = id AND c.channel = 'new'), "
    "extract(epoch FROM clock_timestamp() - (SELECT updated_at FROM presplit.channel c"
    "  WHERE c.plan_id = id AND c.channel = 'new')) * 1000, "
    "extract(epoch FROM clock_timestamp() - cut_over_at)";

// The plan columns after kPlanColumnsBase: copy_held and split_kind, or
// false and NULL on a 0.1.0 catalog (a fixed choice of two texts).
std::string plan_columns() {
    return std::string(kPlanColumnsBase) + (has_prediction_catalog()
                                                ? ", copy_held, split_kind"
                                                : ", false AS copy_held, NULL AS split_kind");
}

// presplit.plan.state, parsed where it is read. Its CHECK admits only the
// names core knows (sql/04_catalog.sql holds them together): another is a
// defect, reported as such rather than taken for some state.
core::PlanState stored_plan_state(const Value& name) {
    std::optional<core::PlanState> state = name ? core::parse_plan_state(*name) : std::nullopt;
    if (!state)
        throw pg::Error(ERRCODE_INTERNAL_ERROR,
                        "pg_presplit: presplit.plan holds an unknown split plan state \"" +
                            name.value_or("NULL") + "\"",
                        "The states it knows: " + core::all_plan_state_names() + ".");
    return *state;
}

Plan plan_from_row(const pg::Row& row) {
    Plan plan;
    plan.id = std::stoll(*row[0]);
    plan.parent = static_cast<unsigned int>(std::stoul(*row[1]));
    if (row[2]) // (NULL once a finished plan's partition is gone)
        plan.source = static_cast<unsigned int>(std::stoul(*row[2]));
    plan.split_points = strings_of(row[3]);
    plan.state = stored_plan_state(row[4]);
    plan.reason = row[5];
    if (row[6])
        plan.backfill_position = strings_of(row[6]);
    plan.backfill_done = *row[7] == "t";
    plan.switch_requested = *row[8] == "t";
    plan.ramp = *row[9] == "t";
    plan.paused = *row[10] == "t";
    if (row[11])
        plan.new_channel_weight = std::stoi(*row[11]);
    if (row[12])
        plan.ms_at_current_weight = static_cast<int64_t>(std::stod(*row[12]));
    if (row[13])
        plan.seconds_since_cut_over = std::stod(*row[13]);
    plan.copy_held = *row[14] == "t";
    plan.split_kind = row[15];
    return plan;
}

std::optional<Plan> first_plan(const pg::QueryResult& result) {
    if (result.rows.empty())
        return std::nullopt;
    return plan_from_row(result.rows[0]);
}

} // namespace

std::string plan_label(int64_t id) {
    return "split plan " + std::to_string(id);
}

std::string plan_states_parameter(const std::vector<core::PlanState>& states) {
    std::vector<std::string> names;
    for (core::PlanState state : states)
        names.push_back(core::to_string(state));
    return array_literal(names);
}

std::string terminal_plan_states_parameter() {
    std::vector<core::PlanState> terminal;
    for (core::PlanState state : core::all_plan_states())
        if (core::is_terminal(state))
            terminal.push_back(state);
    return plan_states_parameter(terminal);
}

void require_extension() {
    bool installed = pg::call([] { return OidIsValid(get_extension_oid("pg_presplit", true)); });
    if (!installed)
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "extension \"pg_presplit\" is not installed in this database", "",
                        "Run CREATE EXTENSION pg_presplit.");
}

std::optional<ManagedTable> find_managed_table(unsigned int parent) {
    auto result = store(has_prediction_catalog()
                            ? "SELECT key_column, key_type::oid, identity_columns,"
                              "       split_load_threshold, split_size_threshold, predict_servers"
                              "  FROM presplit.managed_table WHERE parent = $1::oid::regclass"
                            : "SELECT key_column, key_type::oid, identity_columns, NULL, NULL, NULL"
                              "  FROM presplit.managed_table WHERE parent = $1::oid::regclass",
                        {oid_text(parent)});
    if (result.rows.empty())
        return std::nullopt;
    ManagedTable table;
    table.parent = parent;
    table.key_column = *result.rows[0][0];
    table.key_type = static_cast<unsigned int>(std::stoul(*result.rows[0][1]));
    table.identity_columns = strings_of(result.rows[0][2]);
    if (result.rows[0][3])
        table.split_load_threshold = std::stod(*result.rows[0][3]);
    if (result.rows[0][4])
        table.split_size_threshold = std::stoll(*result.rows[0][4]);
    if (result.rows[0][5])
        table.predict_servers = strings_of(result.rows[0][5]);
    return table;
}

void insert_managed_table(unsigned int parent, const std::string& key_column, unsigned int key_type,
                          const std::string& identity_columns_array, unsigned int managed_by) {
    store("INSERT INTO presplit.managed_table"
          " (parent, key_column, key_type, identity_columns, managed_by)"
          " VALUES ($1::oid::regclass, $2::name, $3::oid::regtype, $4::name[],"
          "         $5::oid::regrole)",
          {oid_text(parent), key_column, oid_text(key_type), identity_columns_array,
           oid_text(managed_by)});
}

void set_split_thresholds(unsigned int parent, std::optional<double> load,
                          std::optional<int64_t> size_bytes) {
    store("UPDATE presplit.managed_table"
          "   SET split_load_threshold = $2::float8, split_size_threshold = $3::bigint"
          " WHERE parent = $1::oid::regclass",
          {oid_text(parent), load ? Value(float_text(*load)) : Value(),
           size_bytes ? Value(std::to_string(*size_bytes)) : Value()});
}

void set_predict_servers(unsigned int parent,
                         const std::optional<std::vector<std::string>>& servers) {
    store("UPDATE presplit.managed_table SET predict_servers = $2::name[]"
          " WHERE parent = $1::oid::regclass",
          {oid_text(parent), servers ? Value(array_literal(*servers)) : Value()});
}

std::map<std::string, int> active_targets_by_server() {
    std::map<std::string, int> targets;
    if (!has_shadow_servers())
        return targets;
    auto result = store("SELECT s.server, count(*) FROM presplit.shadow s"
                        "  JOIN presplit.plan p ON p.id = s.plan_id"
                        " WHERE s.server IS NOT NULL AND p.state <> ALL ($1::text[])"
                        " GROUP BY s.server",
                        {terminal_plan_states_parameter()});
    for (const auto& row : result.rows)
        targets[*row[0]] = std::stoi(*row[1]);
    return targets;
}

void delete_managed_table(unsigned int parent) {
    store("DELETE FROM presplit.managed_table WHERE parent = $1::oid::regclass",
          {oid_text(parent)});
}

namespace {

std::optional<Plan> find_active_plan(const char* column, unsigned int relid) {
    return first_plan(store(std::string("SELECT ") + plan_columns() + " FROM presplit.plan WHERE " +
                                column +
                                " = $1::oid::regclass AND state <> ALL ($2::text[])"
                                " ORDER BY id LIMIT 1",
                            {oid_text(relid), terminal_plan_states_parameter()}));
}

} // namespace

std::optional<Plan> find_active_plan_for_source(unsigned int source) {
    return find_active_plan("source", source);
}

std::optional<Plan> find_active_plan_for_parent(unsigned int parent) {
    return find_active_plan("parent", parent);
}

std::vector<Plan> active_plans_of_origin(const std::string& origin) {
    auto result = store(std::string("SELECT ") + plan_columns() +
                            " FROM presplit.plan WHERE origin = $1"
                            "   AND state <> ALL ($2::text[]) ORDER BY id",
                        {origin, terminal_plan_states_parameter()});
    std::vector<Plan> plans;
    for (const auto& row : result.rows)
        plans.push_back(plan_from_row(row));
    return plans;
}

std::vector<Plan> plans_cut_over_within(double max_seconds) {
    auto result =
        store(std::string("SELECT ") + plan_columns() +
                  " FROM presplit.plan WHERE state = ANY ($1::text[])"
                  "   AND cut_over_at > clock_timestamp() - make_interval(secs => $2::float8)"
                  " ORDER BY id",
              {plan_states_parameter({core::PlanState::cut_over, core::PlanState::finalized}),
               std::to_string(max_seconds)});
    std::vector<Plan> plans;
    for (const auto& row : result.rows)
        plans.push_back(plan_from_row(row));
    return plans;
}

std::optional<Plan> load_plan(int64_t id, bool lock) {
    return first_plan(store(std::string("SELECT ") + plan_columns() +
                                " FROM presplit.plan WHERE id = $1::bigint" +
                                (lock ? " FOR UPDATE" : ""),
                            {std::to_string(id)}));
}

std::optional<Plan> load_plan_unless_locked(int64_t id) {
    return first_plan(store(std::string("SELECT ") + plan_columns() +
                                " FROM presplit.plan WHERE id = $1::bigint"
                                " FOR UPDATE SKIP LOCKED",
                            {std::to_string(id)}));
}

int64_t insert_plan(unsigned int parent, unsigned int source,
                    const std::vector<std::string>& split_points, const std::string& origin,
                    unsigned int owner, bool copy_held) {
    // Every plan starts planned. The table's trigger checks transitions, not
    // inserts (a restore inserts plans in any state): plan_created is logged
    // here. (Unless an older trigger that logs it too is still installed:
    // 0.1.0 until ALTER EXTENSION pg_presplit UPDATE.)
    if (copy_held && !has_prediction_catalog())
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "the pg_presplit catalog predates predicted plans", "",
                        "Run ALTER EXTENSION pg_presplit UPDATE.");
    Value id = store_scalar(
        has_prediction_catalog()
            ? "INSERT INTO presplit.plan (parent, source, split_points, origin, owner, state,"
              "     copy_held)"
              " VALUES ($1::oid::regclass, $2::oid::regclass, $3::text[], $4,"
              "         $5::oid::regrole, $6, $7::boolean) RETURNING id"
            : "INSERT INTO presplit.plan (parent, source, split_points, origin, owner, state)"
              " SELECT $1::oid::regclass, $2::oid::regclass, $3::text[], $4,"
              "        $5::oid::regrole, $6 WHERE NOT $7::boolean RETURNING id",
        {oid_text(parent), oid_text(source), array_literal(split_points), origin, oid_text(owner),
         core::to_string(core::PlanState::planned), copy_held ? "true" : "false"});
    store("INSERT INTO presplit.event (plan_id, relation, kind, to_state)"
          " SELECT $1::bigint, $2, 'plan_created', $3"
          "  WHERE NOT EXISTS (SELECT FROM presplit.event"
          "                     WHERE plan_id = $1::bigint AND kind = 'plan_created')",
          {*id, pg::qualified_relation_name(source), core::to_string(core::PlanState::planned)});
    return std::stoll(*id);
}

void set_plan_state(int64_t id, core::PlanState state, const std::optional<std::string>& reason) {
    auto result = store("UPDATE presplit.plan SET state = $2, reason = coalesce($3, reason)"
                        " WHERE id = $1::bigint RETURNING parent::oid, source::oid",
                        {std::to_string(id), core::to_string(state), reason});
    // Reads are routed while a plan is switching: backends reload their
    // routes, and plans cached on the table or on the source are made again.
    routes_changed();
    if (!result.rows.empty())
        for (const auto& relation : result.rows[0])
            if (relation) {
                const auto relid = static_cast<Oid>(std::stoul(*relation));
                pg::call([&] { // (finalize may have dropped the source)
                    if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
                        CacheInvalidateRelcacheByRelid(relid);
                });
            }
}

void record_backfill_batch(int64_t id, const std::vector<std::string>& last_key, bool done) {
    store("UPDATE presplit.plan SET backfill_position = $2::text[],"
          "       backfill_done = $3::boolean, updated_at = now()"
          " WHERE id = $1::bigint",
          {std::to_string(id), last_key.empty() ? Value() : Value(array_literal(last_key)),
           done ? "true" : "false"});
}

std::vector<Shadow> load_shadows(int64_t plan_id) {
    auto result =
        store(std::string("SELECT ordinal, relation::oid, bound, lower_value, upper_value,") +
                  (has_shadow_servers() ? "server, reverse_lsn::text" : "NULL::name, NULL") +
                  "  FROM presplit.shadow WHERE plan_id = $1::bigint ORDER BY ordinal",
              {std::to_string(plan_id)});
    std::vector<Shadow> shadows;
    for (const auto& row : result.rows) {
        Shadow shadow;
        shadow.ordinal = std::stoi(*row[0]);
        if (row[1])
            shadow.relation = static_cast<unsigned int>(std::stoul(*row[1]));
        shadow.bound = *row[2];
        shadow.lower_value = row[3];
        shadow.upper_value = row[4];
        shadow.server = row[5];
        shadow.reverse_lsn = row[6];
        shadows.push_back(std::move(shadow));
    }
    return shadows;
}

bool has_remote_targets(int64_t plan_id) {
    for (const Shadow& shadow : load_shadows(plan_id))
        if (shadow.server)
            return true;
    return false;
}

bool remote_targets_in_use() {
    if (!has_shadow_servers())
        return false;
    return store_scalar(
               "SELECT EXISTS (SELECT FROM presplit.shadow s"
               "                 JOIN presplit.plan p ON p.id = s.plan_id"
               "                WHERE s.server IS NOT NULL AND p.state IN"
               "                      ('preparing', 'backfilling', 'synced', 'switching'))") == "t";
}

void insert_shadow(int64_t plan_id, const Shadow& shadow, std::optional<int64_t> rows_estimated) {
    if (shadow.server && !has_shadow_servers())
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "pg_presplit's catalog is older than this library", "",
                        "Run ALTER EXTENSION pg_presplit UPDATE to split onto other servers.");
    std::vector<Value> params{std::to_string(plan_id),
                              std::to_string(shadow.ordinal),
                              shadow.relation ? Value(oid_text(*shadow.relation)) : Value(),
                              shadow.bound,
                              shadow.lower_value,
                              shadow.upper_value};
    if (shadow.server)
        params.push_back(*shadow.server);
    store(std::string("INSERT INTO presplit.shadow (plan_id, ordinal, relation, bound, lower_value,"
                      "                             upper_value") +
              (shadow.server ? ", server" : "") +
              ") VALUES ($1::bigint, $2::int, $3::oid::regclass, $4, $5, $6" +
              (shadow.server ? ", $7::name" : "") + ")",
          params);
    store("INSERT INTO presplit.shadow_progress (plan_id, ordinal, rows_estimated)"
          " VALUES ($1::bigint, $2::int, $3::bigint)",
          {std::to_string(plan_id), std::to_string(shadow.ordinal),
           rows_estimated ? Value(std::to_string(*rows_estimated)) : Value()});
}

void set_shadow_relation(int64_t plan_id, int ordinal, std::optional<unsigned int> relation) {
    store("UPDATE presplit.shadow SET relation = $3::oid::regclass"
          " WHERE plan_id = $1::bigint AND ordinal = $2::int",
          {std::to_string(plan_id), std::to_string(ordinal),
           relation ? Value(oid_text(*relation)) : Value()});
}

void set_shadow_reverse_lsn(int64_t plan_id, int ordinal, std::optional<std::string> lsn) {
    store("UPDATE presplit.shadow SET reverse_lsn = $3::pg_lsn"
          " WHERE plan_id = $1::bigint AND ordinal = $2::int",
          {std::to_string(plan_id), std::to_string(ordinal), lsn ? Value(*lsn) : Value()});
}

void set_progress(int64_t plan_id, int ordinal, const std::string& phase,
                  uint64_t rows_copied_increment) {
    store("UPDATE presplit.shadow_progress"
          "   SET phase = $3, rows_copied = rows_copied + $4::bigint,"
          "       started_at = coalesce(started_at, clock_timestamp()),"
          "       updated_at = clock_timestamp()"
          " WHERE plan_id = $1::bigint AND ordinal = $2::int",
          {std::to_string(plan_id), std::to_string(ordinal), phase,
           std::to_string(rows_copied_increment)});
}

std::map<int, std::string> progress_phases(int64_t plan_id) {
    std::map<int, std::string> phases;
    for (const auto& row : store("SELECT ordinal, phase FROM presplit.shadow_progress"
                                 " WHERE plan_id = $1::bigint",
                                 {std::to_string(plan_id)})
                               .rows)
        phases[std::stoi(*row[0])] = *row[1];
    return phases;
}

std::optional<RemoteChunks> stored_remote_chunks(const std::optional<std::string>& stored) {
    if (!stored)
        return std::nullopt;
    std::optional<RemoteChunks> chunks = core::parse_remote_chunks(*stored);
    if (!chunks)
        throw pg::Error(ERRCODE_INTERNAL_ERROR, "pg_presplit: malformed chunk state " + *stored);
    return chunks;
}

std::optional<RemoteChunks> remote_chunks(int64_t plan_id, int ordinal) {
    return stored_remote_chunks(store_scalar("SELECT last_key::text FROM presplit.shadow_progress"
                                             " WHERE plan_id = $1::bigint AND ordinal = $2::int",
                                             {std::to_string(plan_id), std::to_string(ordinal)}));
}

void set_remote_chunks(int64_t plan_id, int ordinal, const std::optional<RemoteChunks>& chunks) {
    store(
        "UPDATE presplit.shadow_progress SET last_key = $3::text[], updated_at = clock_timestamp()"
        " WHERE plan_id = $1::bigint AND ordinal = $2::int",
        {std::to_string(plan_id), std::to_string(ordinal), core::format_remote_chunks(chunks)});
}

void request_switch(int64_t id, bool ramp) {
    store(has_prediction_catalog() ? "UPDATE presplit.plan SET switch_requested = true,"
                                     "       ramp = $2::boolean, copy_held = false"
                                     " WHERE id = $1::bigint"
                                   : "UPDATE presplit.plan SET switch_requested = true,"
                                     "       ramp = $2::boolean"
                                     " WHERE id = $1::bigint",
          {std::to_string(id), ramp ? "true" : "false"});
}

void set_copy_held(int64_t id, bool held) {
    if (!has_prediction_catalog())
        return; // (nothing is held on a 0.1.0 catalog)
    store("UPDATE presplit.plan SET copy_held = $2::boolean"
          " WHERE id = $1::bigint AND copy_held IS DISTINCT FROM $2::boolean",
          {std::to_string(id), held ? "true" : "false"});
}

bool copy_follows_windows(int64_t id) {
    if (!has_prediction_catalog())
        return false;
    return store_scalar("SELECT origin = 'predicted' AND NOT switch_requested"
                        "  FROM presplit.plan WHERE id = $1::bigint",
                        {std::to_string(id)}) == "t";
}

std::vector<core::TimeWindow> stored_offpeak_windows() {
    std::vector<core::TimeWindow> windows;
    if (!has_prediction_catalog())
        return windows;
    for (const auto& row : store("SELECT extract(epoch FROM starts)::bigint,"
                                 "       extract(epoch FROM ends)::bigint"
                                 "  FROM presplit.offpeak_window ORDER BY starts")
                               .rows)
        windows.push_back({std::stoll(*row[0]), std::stoll(*row[1]), std::nan("")});
    return windows;
}

void set_split_kind(int64_t id, const std::string& kind) {
    if (!has_prediction_catalog())
        return; // (no predicted plans on a 0.1.0 catalog)
    store("UPDATE presplit.plan SET split_kind = $2 WHERE id = $1::bigint",
          {std::to_string(id), kind});
}

void add_copy_measure(int64_t id, double bytes, double seconds) {
    if (!has_prediction_catalog() || !(bytes >= 0) || !(seconds >= 0))
        return;
    store("UPDATE presplit.plan SET copy_bytes = copy_bytes + $2::bigint,"
          "       copy_seconds = copy_seconds + $3::float8"
          " WHERE id = $1::bigint",
          {std::to_string(id), std::to_string(static_cast<int64_t>(std::llround(bytes))),
           float_text(seconds)});
}

std::vector<core::CopyMeasure> recent_copy_measures(size_t limit) {
    std::vector<core::CopyMeasure> measures;
    if (!has_prediction_catalog())
        return measures;
    for (const auto& row : store("SELECT copy_bytes, copy_seconds FROM presplit.plan"
                                 " WHERE backfill_done AND copy_seconds > 0 AND copy_bytes > 0"
                                 " ORDER BY id DESC LIMIT $1::int",
                                 {std::to_string(limit)})
                               .rows)
        measures.push_back({std::stod(*row[0]), std::stod(*row[1])});
    return measures;
}

void set_paused(int64_t id, bool paused) {
    store("UPDATE presplit.plan SET paused = $2::boolean WHERE id = $1::bigint",
          {std::to_string(id), paused ? "true" : "false"});
}

void set_new_channel_weight(int64_t id, int weight) {
    // Both rows in one statement; the weights-sum check runs at commit.
    store("INSERT INTO presplit.channel AS c (plan_id, channel, weight)"
          " VALUES ($1::bigint, 'old', 100 - $2::int), ($1::bigint, 'new', $2::int)"
          " ON CONFLICT (plan_id, channel) DO UPDATE SET weight = excluded.weight,"
          "     updated_at = CASE WHEN c.weight = excluded.weight THEN c.updated_at"
          "                       ELSE now() END",
          {std::to_string(id), std::to_string(weight)});
    routes_changed();
}

void mark_cut_over(int64_t id) {
    store("UPDATE presplit.plan SET cut_over_at = now() WHERE id = $1::bigint",
          {std::to_string(id)});
}

namespace {

// What core::work_for needs of each plan. $1: the name of the constraint a
// cutover gives the detached source (migration::old_bound_constraint_name).
const char* const kPlanFacts =
    "SELECT p.id, p.state, p.switch_requested, p.ramp, p.paused, %s,"
    "       coalesce((SELECT c.weight FROM presplit.channel c"
    "                  WHERE c.plan_id = p.id AND c.channel = 'new'), 0),"
    "       EXISTS (SELECT FROM presplit.shadow s"
    "                WHERE s.plan_id = p.id AND s.relation IS NOT NULL)"
    // A remote target's publication (remote/split.hpp): its clean-up too.
    "       OR EXISTS (SELECT FROM pg_catalog.pg_publication"
    "                   WHERE pubname LIKE 'presplit\\_split\\_' || p.id || '\\_%'),"
    "       EXISTS (SELECT FROM pg_catalog.pg_constraint k"
    "                WHERE k.conrelid = p.source::oid AND k.conname = $1::name"
    "                  AND NOT k.convalidated),"
    "       %r,"
    // A remote target's chunk copying or folding (remote/chunks.hpp).
    "       EXISTS (SELECT FROM presplit.shadow_progress g"
    "                WHERE g.plan_id = p.id AND cardinality(g.last_key) >= 2)"
    "  FROM presplit.plan p";

// A remote target's reverse direction (remote/split.hpp) needs the worker:
// after the cutover, while its subscription here has no running apply
// worker (pg_stat_subscription: the pid of the one running); in any other
// state, while it is there. Finalized, the forward direction too (its
// publication here), while it is there (a server lost during finalize).
const char* const kRemoteReverseWork =
    "((p.state = 'finalized' AND EXISTS (SELECT FROM pg_catalog.pg_publication"
    "                                     WHERE pubname LIKE 'presplit\\_split\\_' || p.id"
    "                                           || '\\_%')) OR "
    "EXISTS (SELECT FROM presplit.shadow s"
    "         WHERE s.plan_id = p.id AND s.reverse_lsn IS NOT NULL"
    "           AND (p.state <> 'cut_over' OR NOT EXISTS ("
    "                SELECT FROM pg_catalog.pg_stat_subscription w"
    "                  JOIN pg_catalog.pg_subscription u ON u.oid = w.subid"
    "                 WHERE u.subname = 'presplit_back_split_' || p.id || '_' || s.ordinal"
    "                   AND u.subenabled AND w.relid IS NULL AND w.pid IS NOT NULL"
    "                   AND u.subdbid = (SELECT oid FROM pg_catalog.pg_database"
    "                                     WHERE datname = pg_catalog.current_database())))))";

// kPlanFacts with copy_held and the remote targets' reverse work, or false
// on a 0.1.0 catalog.
std::string plan_facts_query() {
    std::string query = kPlanFacts;
    query.replace(query.find("%s"), 2, has_prediction_catalog() ? "p.copy_held" : "false");
    query.replace(query.find("%r"), 2, has_shadow_servers() ? kRemoteReverseWork : "false");
    return query;
}

std::pair<int64_t, core::PlanFacts> facts_from_row(const pg::Row& row) {
    core::PlanFacts facts;
    facts.state = stored_plan_state(row[1]);
    facts.switch_requested = *row[2] == "t";
    facts.ramp = *row[3] == "t";
    facts.paused = *row[4] == "t";
    facts.copy_held = *row[5] == "t";
    facts.new_channel_weight = std::stoi(*row[6]);
    facts.has_shadows = *row[7] == "t";
    facts.old_bound_unvalidated = *row[8] == "t";
    facts.remote_reverse_work = *row[9] == "t";
    facts.remote_chunk_running = *row[10] == "t";
    return {std::stoll(*row[0]), facts};
}

} // namespace

std::vector<std::pair<int64_t, core::PlanFacts>>
plans_needing_work(const std::string& old_bound_constraint) {
    using State = core::PlanState;
    auto result = store(plan_facts_query() +
                            " WHERE p.state = ANY ($2::text[])"
                            "    OR (p.state = $3 AND p.switch_requested)"
                            // A failed plan's capture and shadows are cleaned up.
                            "    OR (p.state = $4 AND (EXISTS (SELECT FROM presplit.shadow s"
                            "                                   WHERE s.plan_id = p.id"
                            "                                     AND s.relation IS NOT NULL)"
                            "                          OR EXISTS (SELECT FROM"
                            "                                     pg_catalog.pg_publication"
                            "                                      WHERE pubname LIKE"
                            "                                      'presplit\\_split\\_' || p.id"
                            "                                      || '\\_%')))"
                            // Rolled back after the cutover: the remote
                            // targets' reverse direction to drop; finalized:
                            // what a server lost during finalize kept.
                            "    OR (p.state IN ($4, $5, 'finalized') AND " +
                            std::string(has_shadow_servers() ? kRemoteReverseWork : "false") +
                            ")"
                            " ORDER BY p.id",
                        {old_bound_constraint,
                         plan_states_parameter({State::preparing, State::backfilling,
                                                State::switching, State::cut_over}),
                         core::to_string(State::synced), core::to_string(State::failed),
                         core::to_string(State::rolled_back)});
    std::vector<std::pair<int64_t, core::PlanFacts>> plans;
    for (const auto& row : result.rows)
        plans.push_back(facts_from_row(row));
    return plans;
}

std::optional<core::PlanFacts> plan_facts(int64_t id, const std::string& old_bound_constraint) {
    auto result = store(plan_facts_query() + " WHERE p.id = $2::bigint",
                        {old_bound_constraint, std::to_string(id)});
    if (result.rows.empty())
        return std::nullopt;
    return facts_from_row(result.rows[0]).second;
}

void log_event(std::optional<int64_t> plan_id, const std::string& relation, const std::string& kind,
               const std::optional<std::string>& detail) {
    store("INSERT INTO presplit.event (plan_id, relation, kind, detail)"
          " VALUES ($1::bigint, $2, $3, $4)",
          {plan_id ? Value(std::to_string(*plan_id)) : Value(), relation, kind, detail});
}

namespace {

Value optional_float(const std::optional<double>& value) {
    return value && !std::isnan(*value) ? Value(float_text(*value)) : Value();
}

} // namespace

void replace_predictions(const std::vector<PredictionRow>& rows, int64_t updated_at) {
    store("DELETE FROM presplit.prediction");
    for (const PredictionRow& row : rows)
        store("INSERT INTO presplit.prediction (partition, parent, metric, current, threshold,"
              "     predicted_crossing, split_point, model, mase, reason, updated_at)"
              " VALUES ($1::oid::regclass, $2::oid::regclass, $3, $4::float8, $5::float8,"
              "         to_timestamp($6::float8), $7, $8, $9::float8, $10,"
              "         to_timestamp($11::float8))",
              {oid_text(row.partition), oid_text(row.parent), row.metric,
               optional_float(row.current), optional_float(row.threshold),
               row.predicted_crossing ? Value(std::to_string(*row.predicted_crossing)) : Value(),
               row.split_point, row.model, optional_float(row.mase), row.reason,
               std::to_string(updated_at)});
}

void replace_offpeak_windows(const std::vector<OffpeakWindowRow>& rows) {
    store("DELETE FROM presplit.offpeak_window");
    for (const OffpeakWindowRow& row : rows)
        store("INSERT INTO presplit.offpeak_window (starts, ends, predicted_load)"
              " VALUES (to_timestamp($1::float8), to_timestamp($2::float8), $3::float8)",
              {std::to_string(row.starts), std::to_string(row.ends),
               optional_float(row.predicted_load)});
}

} // namespace presplit::catalog
