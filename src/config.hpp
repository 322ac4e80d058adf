// pg_presplit's settings (GUCs under "presplit."), defined in module.cpp.
#pragma once

namespace presplit::config {

// presplit.database: the database the background worker serves.
extern char* worker_database;
// presplit.naptime: milliseconds the worker sleeps between rounds.
extern int worker_naptime_ms;
// presplit.max_plan_workers: plan workers (dynamic background workers doing
// one plan's long steps) running at once.
extern int max_plan_workers;

// presplit.backfill_batch_size: rows per backfill transaction.
extern int backfill_batch_size;
// presplit.backfill_max_rows_per_second: 0 means no cap.
extern int backfill_max_rows_per_second;
// presplit.backfill_busy_backends: back off while more client backends are
// active; 0 disables.
extern int backfill_busy_backends;
// presplit.analyzer: record per-partition load and key samples.
extern bool analyzer_enabled;
// presplit.analyzer_sample_every: record one statement in N (counts scaled by N).
extern int analyzer_sample_every;
// presplit.analyzer_max_partitions: a cap on the partitions the analyzer
// keeps statistics for (beyond it, the least recently used are evicted).
extern int analyzer_max_partitions;
// presplit.analyzer_save_interval: seconds between the worker's saves of the
// statistics file (0: only at shutdown).
extern int analyzer_save_interval_seconds;
// presplit.size_sample_interval: seconds between the worker's samples of
// each managed partition's size (0: none).
extern int size_sample_interval_seconds;
// presplit.analyzer_key_half_life: seconds after which key samples count half.
extern int analyzer_key_half_life_seconds;
// presplit.backfill_paused: the worker copies nothing while on.
extern bool backfill_paused;
// presplit.backfill_backoff: milliseconds to pause while the server is busy.
extern int backfill_backoff_ms;

// presplit.ramp_step: percent added to the new channel's weight per step.
extern int ramp_step_percent;
// presplit.ramp_interval: milliseconds at a weight before the next step.
extern int ramp_interval_ms;
// presplit.ramp_min_statements: statements each channel must serve at a
// weight before the ramp judges and raises it.
extern int ramp_min_statements;
// presplit.ramp_evidence_timeout: milliseconds past ramp_interval a step waits
// for those statements before it steps on without them.
extern int ramp_evidence_timeout_ms;
// presplit.ramp_max_latency_ratio: new/old p95 latency that aborts the ramp.
extern double ramp_max_latency_ratio;
// presplit.ramp_min_latency_increase: ...and slower by at least this (ms).
extern double ramp_min_latency_increase_ms;
// presplit.ramp_max_error_rate_increase: new minus old error rate that aborts.
extern double ramp_max_error_rate_increase;
// presplit.routing: route reads of switching plans by weight (per session).
extern bool routing_enabled;
// presplit.cutover_lock_timeout: how long one try to lock for the swap waits.
extern int cutover_lock_timeout_ms;
// presplit.cutover_max_tries: lock tries before the swap gives up (for now).
extern int cutover_max_tries;
// presplit.cutover_max_wait: milliseconds the swap may wait for its lock in
// all (tries and waits for long holders) before it gives up (for now).
extern int cutover_max_wait_ms;
// presplit.rollback_window: seconds after cutover during which rollback works.
extern int rollback_window_seconds;
// presplit.publisher_conninfo: how a subscription on another server connects
// back to this one (no password; the database name is added).
extern char* publisher_conninfo;
// presplit.remote_catchup_timeout: milliseconds a move's verification or
// cutover waits for the other server to apply every change before its lock.
extern int remote_catchup_timeout_ms;
// presplit.remote_copy_chunk_rows: a split's remote target copies its range
// in chunks of about this many rows, each its own table synchronisation, so
// that a copy stops between chunks when its window ends (0: one pass;
// docs/multi_server.md, "The remote copy in chunks").
extern int remote_copy_chunk_rows;
// presplit.remote_copy_by_snapshot: a remote target's rows (its first chunk)
// are copied by the worker under the snapshot of the slot its subscription
// then streams from, rather than by PostgreSQL's table synchronisation
// (docs/multi_server.md, "Copy and sync").
extern bool remote_copy_by_snapshot;
// presplit.remote_cutover_warmup: milliseconds before a cutover onto another
// server locks its table during which the sessions using the table open
// their postgres_fdw connections there (0: none; remote/warmup.hpp).
extern int remote_cutover_warmup_ms;
// presplit.remote_read_max_lag: milliseconds of replication lag up to which
// a switching plan's reads may go to its remote targets (0: never).
extern int remote_read_max_lag_ms;

// The predictive shard manager (docs/prediction.md).
// presplit.predict: off, advise (views and events), prepare (copies ahead,
// stops at synced), split (and switches over).
extern int predict_mode; // a core::PredictMode (core/prediction_policy.hpp)
// presplit.split_load_threshold: statements per second on one partition
// (0: no load threshold); overridable per table.
extern double split_load_threshold;
// presplit.split_size_threshold: megabytes (0: no size threshold);
// overridable per table.
extern int split_size_threshold_mb;
// presplit.prediction_horizon: seconds ahead the forecasts look for a crossing.
extern int prediction_horizon_seconds;
// presplit.prediction_interval: nominal coverage of the forecasts' intervals;
// the manager acts on their upper bound (docs/prediction.md, *Intervals*).
extern double prediction_interval;
// presplit.maintenance_window: fixed off-peak windows ('01:00-05:00', several
// separated by commas, server time zone); empty: predicted from the load.
extern char* maintenance_window;
// presplit.late_copy_outside_windows: a predicted plan's copy that the
// off-peak windows before its crossing cannot hold copies the shortfall
// outside them, as late as still finishes in time; off: inside windows only.
extern bool late_copy_outside_windows;
// presplit.predict_servers: postgres_fdw servers (a comma-separated list of
// names) a predicted split puts its upper piece on; empty: this server only.
// Overridable per table (presplit.set_predict_servers).
extern char* predict_servers;
// presplit.clock_rate: the analyzer's and predictor's clock runs this many
// times faster than the wall clock since the server started (tests, demos).
extern double clock_rate;

} // namespace presplit::config
