#include "catalog/remote_moves.hpp"

#include "catalog/catalog.hpp"
#include "core/plan_state.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

namespace presplit::catalog {
namespace {

using pg::Value;

pg::QueryResult store(const std::string& sql, const std::vector<Value>& params = {}) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return spi.execute(sql, params);
}

constexpr const char* kColumns =
    "SELECT id, parent::oid, source::oid, source_name, server, remote_schema, remote_table,"
    "       owner::oid, state, foreign_table::oid, replicating, reverse_lsn::text, reversing"
    "  FROM presplit.remote_move";

unsigned int oid_of(const Value& value) {
    return static_cast<unsigned int>(std::stoul(*value));
}

RemoteMove from_row(const pg::Row& row) {
    RemoteMove move;
    move.id = std::stoll(*row[0]);
    move.parent = oid_of(row[1]);
    if (row[2])
        move.source = oid_of(row[2]);
    move.source_name = *row[3];
    move.server = *row[4];
    move.remote_schema = *row[5];
    move.remote_table = *row[6];
    move.owner = oid_of(row[7]);
    move.state = *row[8];
    if (row[9])
        move.foreign_table = oid_of(row[9]);
    move.replicating = *row[10] == "t";
    move.reverse_lsn = row[11];
    move.reversing = *row[12] == "t";
    return move;
}

} // namespace

std::string move_label(int64_t id) {
    return "move " + std::to_string(id);
}

std::optional<RemoteMove> load_move(int64_t id, bool lock) {
    auto result =
        store(std::string(kColumns) + " WHERE id = $1::bigint" + (lock ? " FOR UPDATE" : ""),
              {std::to_string(id)});
    if (result.rows.empty())
        return std::nullopt;
    return from_row(result.rows[0]);
}

std::optional<RemoteMove> find_active_move_for_source(unsigned int source) {
    auto result = store(std::string(kColumns) +
                            " WHERE source = $1::oid::regclass"
                            "   AND state IN ('preparing', 'backfilling', 'synced', 'cut_over')",
                        {std::to_string(source)});
    if (result.rows.empty())
        return std::nullopt;
    return from_row(result.rows[0]);
}

int64_t insert_move(const RemoteMove& move) {
    auto result =
        store("INSERT INTO presplit.remote_move (parent, source, source_name, server,"
              "  remote_schema, remote_table, owner)"
              " VALUES ($1::oid::regclass, $2::oid::regclass, $3, $4, $5, $6,"
              "         $7::oid::regrole)"
              " RETURNING id",
              {std::to_string(move.parent), std::to_string(*move.source), move.source_name,
               move.server, move.remote_schema, move.remote_table, std::to_string(move.owner)});
    const int64_t id = std::stoll(*result.rows.at(0).at(0));
    log_event(std::nullopt, move.source_name, "remote_move",
              move_label(id) + ": to server " + move.server + ", state preparing");
    return id;
}

void set_move_state(const RemoteMove& move, const std::string& state,
                    const std::optional<std::string>& reason) {
    const auto from = core::parse_plan_state(move.state);
    const auto to = core::parse_plan_state(state);
    if (!from || !to || !core::can_transition(*from, *to))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        move_label(move.id) + " cannot go from " + move.state + " to " + state);
    store("UPDATE presplit.remote_move SET state = $2, reason = $3, updated_at = now()"
          " WHERE id = $1::bigint",
          {std::to_string(move.id), state, reason});
    log_event(std::nullopt, move.source_name, "remote_move",
              move_label(move.id) + ": " + move.state + " -> " + state +
                  (reason ? ": " + *reason : std::string()));
}

void set_move_cut_over(int64_t id, unsigned int foreign_table) {
    store("UPDATE presplit.remote_move SET foreign_table = $2::oid::regclass, updated_at = now()"
          " WHERE id = $1::bigint",
          {std::to_string(id), std::to_string(foreign_table)});
}

void set_move_replicating(int64_t id, bool replicating) {
    store("UPDATE presplit.remote_move SET replicating = $2::boolean, updated_at = now()"
          " WHERE id = $1::bigint",
          {std::to_string(id), replicating ? "true" : "false"});
}

void set_move_source_dropped(int64_t id) {
    store("UPDATE presplit.remote_move SET source = NULL, updated_at = now()"
          " WHERE id = $1::bigint",
          {std::to_string(id)});
}

void set_move_reverse(int64_t id, const std::string& lsn) {
    store("UPDATE presplit.remote_move SET reverse_lsn = $2::pg_lsn, reversing = true,"
          "       updated_at = now()"
          " WHERE id = $1::bigint",
          {std::to_string(id), lsn});
}

void set_move_reversing(int64_t id, bool reversing) {
    store("UPDATE presplit.remote_move SET reversing = $2::boolean, updated_at = now()"
          " WHERE id = $1::bigint",
          {std::to_string(id), reversing ? "true" : "false"});
}

namespace {

// The extension may be at a version without moves (0.1.0, before ALTER
// EXTENSION ... UPDATE): then there are none.
bool has_moves_table() {
    return store("SELECT pg_catalog.to_regclass('presplit.remote_move') IS NOT NULL")
               .rows.at(0)
               .at(0) == Value("t");
}

} // namespace

bool any_open_move() {
    if (!has_moves_table())
        return false;
    // moves_needing_work's conditions, whether or not an apply worker runs.
    return store("SELECT EXISTS (SELECT FROM presplit.remote_move"
                 "   WHERE state IN ('preparing', 'backfilling', 'synced')"
                 "      OR (state = 'cut_over' AND (replicating OR reversing))"
                 "      OR (state IN ('rolled_back', 'failed') AND reversing))")
               .rows.at(0)
               .at(0) == Value("t");
}

std::vector<int64_t> moves_needing_work(const std::string& reverse_prefix) {
    if (!has_moves_table())
        return {};
    auto result = store("SELECT id FROM presplit.remote_move m"
                        " WHERE state IN ('preparing', 'backfilling', 'synced')"
                        "    OR (state = 'cut_over' AND replicating)"
                        // pg_stat_subscription: this database's subscriptions,
                        // with the pid of the apply worker if one runs.
                        "    OR (state = 'cut_over' AND reversing AND NOT EXISTS"
                        "        (SELECT FROM pg_catalog.pg_stat_subscription w"
                        "           JOIN pg_catalog.pg_subscription s ON s.oid = w.subid"
                        "          WHERE s.subname = $1 || m.id AND s.subenabled"
                        "            AND w.relid IS NULL AND w.pid IS NOT NULL"
                        "            AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database"
                        "                              WHERE datname = current_database())))"
                        "    OR (state IN ('rolled_back', 'failed') AND reversing)"
                        " ORDER BY id",
                        {reverse_prefix});
    std::vector<int64_t> ids;
    for (const auto& row : result.rows)
        ids.push_back(std::stoll(*row[0]));
    return ids;
}

std::optional<RemoteChunks> move_chunks(int64_t id) {
    const pg::QueryResult result =
        store("SELECT copy_chunks::text FROM presplit.remote_move WHERE id = $1::bigint",
              {std::to_string(id)});
    return result.rows.empty() ? std::nullopt : stored_remote_chunks(result.rows[0][0]);
}

void set_move_chunks(int64_t id, const std::optional<RemoteChunks>& chunks) {
    store("UPDATE presplit.remote_move SET copy_chunks = $2::text[], updated_at = now()"
          " WHERE id = $1::bigint",
          {std::to_string(id), core::format_remote_chunks(chunks)});
}

} // namespace presplit::catalog
