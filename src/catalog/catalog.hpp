// The metadata store (schema presplit, created by the extension script).
//
// The tables are not readable or writable by PUBLIC. The SQL functions check
// the caller's privileges first; these functions then read and write the
// store as the extension (pg::RunAsExtension), running only the fixed
// statements below and the store's own triggers.
#pragma once

#include "core/copy_schedule.hpp"
#include "core/plan_state.hpp"
#include "core/plan_work.hpp"
#include "core/remote_chunks.hpp"
#include "pg/spi.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace presplit::catalog {

// ERROR (55000) unless CREATE EXTENSION pg_presplit ran in this database.
void require_extension();

// Whether the catalog has 0.1.1's predictive-manager columns and tables: a
// 0.1.0 catalog runs with this library until ALTER EXTENSION pg_presplit
// UPDATE (plans then read copy_held as false, tables have no thresholds, and
// the manager does not run).
bool has_prediction_catalog();
// Whether presplit.shadow has 0.1.1's server column (remote targets).
bool has_shadow_servers();

// --- managed tables ---------------------------------------------------------

struct ManagedTable {
    unsigned int parent = 0;
    std::string key_column;
    unsigned int key_type = 0;
    std::vector<std::string> identity_columns;
    // presplit.set_split_thresholds; nullopt: the setting's value.
    std::optional<double> split_load_threshold;
    std::optional<int64_t> split_size_threshold; // bytes
    // presplit.set_predict_servers; nullopt: presplit.predict_servers.
    std::optional<std::vector<std::string>> predict_servers;
};

std::optional<ManagedTable> find_managed_table(unsigned int parent);
// identity_columns_array is a name[] literal, e.g. {id,sub}.
void insert_managed_table(unsigned int parent, const std::string& key_column, unsigned int key_type,
                          const std::string& identity_columns_array, unsigned int managed_by);
void delete_managed_table(unsigned int parent);

// --- plans ------------------------------------------------------------------

// "split plan <id>", for messages.
std::string plan_label(int64_t id);

// A text[] literal of plan states, for a statement that filters plans by
// state with a parameter (`state = ANY ($n::text[])`): the names come from
// core::to_string, never from SQL text.
std::string plan_states_parameter(const std::vector<core::PlanState>& states);
// The ended plans' states (core::is_terminal), for `state <> ALL ($n::text[])`.
std::string terminal_plan_states_parameter();

struct Plan {
    int64_t id = 0;
    unsigned int parent = 0;
    unsigned int source = 0;
    std::vector<std::string> split_points;
    core::PlanState state = core::PlanState::planned;
    std::optional<std::string> reason;
    std::optional<std::vector<std::string>> backfill_position;
    bool backfill_done = false;
    bool switch_requested = false;
    bool ramp = true;
    bool paused = false;
    bool copy_held = false; // the predictive manager holds its copy (outside off-peak windows)
    std::optional<std::string> split_kind;       // a predicted plan's: load, size or append
    std::optional<int> new_channel_weight;       // once switching has begun
    std::optional<int64_t> ms_at_current_weight; // since the new weight was set
    std::optional<double> seconds_since_cut_over;
};

struct Shadow {
    int ordinal = 0;
    std::optional<unsigned int> relation;
    std::string bound;
    std::optional<std::string> lower_value; // nullopt: MINVALUE
    std::optional<std::string> upper_value; // nullopt: MAXVALUE
    // A remote target's postgres_fdw server (docs/multi_server.md); its
    // relation is nullopt until the cutover, then the foreign table.
    std::optional<std::string> server;
    // A remote target cut over with a reverse direction: that server's WAL
    // position from which its changes flow back (docs/multi_server.md).
    std::optional<std::string> reverse_lsn;
};

// The active plan of a source partition, or of any partition of a parent.
std::optional<Plan> find_active_plan_for_source(unsigned int source);
std::optional<Plan> find_active_plan_for_parent(unsigned int parent);

// Reads a plan; with lock, holds its row lock (FOR UPDATE) until the end of
// the transaction, which serializes everything that changes a plan.
std::optional<Plan> load_plan(int64_t id, bool lock);
// Locks and reads a plan unless another transaction holds its row lock (a
// plan worker's step, a user's call): then nullopt, as for no such plan.
std::optional<Plan> load_plan_unless_locked(int64_t id);

int64_t insert_plan(unsigned int parent, unsigned int source,
                    const std::vector<std::string>& split_points, const std::string& origin,
                    unsigned int owner, bool copy_held = false);
// The active plans of one origin ('predicted'), oldest first.
std::vector<Plan> active_plans_of_origin(const std::string& origin);
// The plans cut over (still, or finalized since) in the last max_seconds.
std::vector<Plan> plans_cut_over_within(double max_seconds);
void set_plan_state(int64_t id, core::PlanState state,
                    const std::optional<std::string>& reason = std::nullopt);
void record_backfill_batch(int64_t id, const std::vector<std::string>& last_key, bool done);

std::vector<Shadow> load_shadows(int64_t plan_id);
// Whether a shadow of the plan lives on another server.
bool has_remote_targets(int64_t plan_id);
// Whether a plan copying (preparing, backfilling), synced or switching has a
// shadow on another server: without one, the worker's per-round remote
// checks (lost subscriptions, replication lag, the remote copies' limits)
// have nothing to look at, and are skipped.
bool remote_targets_in_use();
void insert_shadow(int64_t plan_id, const Shadow& shadow, std::optional<int64_t> rows_estimated);
void set_shadow_relation(int64_t plan_id, int ordinal, std::optional<unsigned int> relation);
void set_shadow_reverse_lsn(int64_t plan_id, int ordinal, std::optional<std::string> lsn);
void set_progress(int64_t plan_id, int ordinal, const std::string& phase,
                  uint64_t rows_copied_increment);
// Each shadow's phase (presplit.shadow_progress), by ordinal.
std::map<int, std::string> progress_phases(int64_t plan_id);

// A remote target's copy in chunks (core/remote_chunks.hpp): a split's in
// presplit.shadow_progress.last_key (which a remote target does not use
// otherwise), a move's in presplit.remote_move.copy_chunks.
using core::RemoteChunks;
// The stored state read back; ERROR XX000 if malformed.
std::optional<RemoteChunks> stored_remote_chunks(const std::optional<std::string>& stored);
// nullopt: copied in one pass, or every chunk folded in.
std::optional<RemoteChunks> remote_chunks(int64_t plan_id, int ordinal);
void set_remote_chunks(int64_t plan_id, int ordinal, const std::optional<RemoteChunks>& chunks);

// Sets a table's threshold overrides (nullopt: the setting's value).
void set_split_thresholds(unsigned int parent, std::optional<double> load,
                          std::optional<int64_t> size_bytes);
// Sets a table's own predict_servers (nullopt: the setting's value).
void set_predict_servers(unsigned int parent,
                         const std::optional<std::vector<std::string>>& servers);
// The number of targets of active plans on each server that has one.
std::map<std::string, int> active_targets_by_server();

// The switchover's fields of a plan (see pg_presplit--*.sql). A switch
// requested also releases a held copy: the split is wanted now.
void request_switch(int64_t id, bool ramp);
// The predictive manager holds (or lets run) a predicted plan's copy.
void set_copy_held(int64_t id, bool held);
// A predicted plan's split kind (core::to_string(SplitKind)), kept so that a
// restarted manager judges its drift by it.
void set_split_kind(int64_t id, const std::string& kind);
// Adds one backfill batch to the plan's copy measure (presplit.plan
// copy_bytes, copy_seconds): the source's bytes it copied and the wall
// seconds it took, the throttle's pause included. Nothing on a 0.1.0 catalog.
void add_copy_measure(int64_t id, double bytes, double seconds);
// The copy measures of the plans whose backfill finished, newest first (at
// most `limit`): what the predictive manager's copy rate is measured from.
std::vector<core::CopyMeasure> recent_copy_measures(size_t limit);
// Whether windows restrict when the plan's copy to another server starts:
// a predicted plan whose switch nobody asked for yet (a manual plan, or one
// split_partition took over, copies at once). False on a 0.1.0 catalog.
bool copy_follows_windows(int64_t id);
// The off-peak windows of the manager's last round (presplit.offpeak_window,
// model-clock seconds), sorted.
std::vector<core::TimeWindow> stored_offpeak_windows();
void set_paused(int64_t id, bool paused);
// Sets the channels to old = 100 - weight, new = weight (creating them).
void set_new_channel_weight(int64_t id, int weight);
void mark_cut_over(int64_t id);

// The plans the worker may have work for, oldest first, with what decides
// which process does it (core/plan_work.hpp). old_bound_constraint: the name
// of the constraint a cutover gives the detached source
// (migration::old_bound_constraint_name).
std::vector<std::pair<int64_t, core::PlanFacts>>
plans_needing_work(const std::string& old_bound_constraint);
// The same of one plan, whatever its state; nullopt if there is none.
std::optional<core::PlanFacts> plan_facts(int64_t id, const std::string& old_bound_constraint);

// --- the predictive manager's conclusions (derived data) --------------------

struct PredictionRow {
    unsigned int partition = 0;
    unsigned int parent = 0;
    std::string metric; // "load", "size"
    std::optional<double> current, threshold;
    std::optional<int64_t> predicted_crossing; // model-clock Unix seconds
    std::optional<std::string> split_point, model;
    std::optional<double> mase;
    std::string reason;
};
struct OffpeakWindowRow {
    int64_t starts = 0, ends = 0; // model-clock Unix seconds
    std::optional<double> predicted_load;
};
// Replaces presplit.prediction and presplit.offpeak_window with this round's.
void replace_predictions(const std::vector<PredictionRow>& rows, int64_t updated_at);
void replace_offpeak_windows(const std::vector<OffpeakWindowRow>& rows);

// Appends to presplit.event.
void log_event(std::optional<int64_t> plan_id, const std::string& relation, const std::string& kind,
               const std::optional<std::string>& detail = std::nullopt);

} // namespace presplit::catalog
