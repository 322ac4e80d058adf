// _PG_init: settings, hooks (shared memory included) and the background worker.
// pg_presplit works only when preloaded: its hooks must see every backend and
// its shared memory and worker exist only if requested at server start.
#include "config.hpp"
#include "core/forecast.hpp"
#include "core/offpeak.hpp"
#include "core/prediction_policy.hpp"
#include "core/server_choice.hpp"
#include "pg/guard.hpp"
#include "hooks.hpp"
#include "pg/shared_memory.hpp"
#include "worker/worker.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

namespace presplit {

// The defaults, written once: the settings below take these values as their
// boot values.
char* config::worker_database = nullptr;
int config::worker_naptime_ms = 1000;
int config::max_plan_workers = 2;
int config::backfill_batch_size = 5000;
int config::backfill_max_rows_per_second = 0;
int config::backfill_busy_backends = 0;
int config::backfill_backoff_ms = 1000;
bool config::backfill_paused = false;
bool config::analyzer_enabled = true;
int config::analyzer_sample_every = 10;
int config::analyzer_max_partitions = 100000;
int config::analyzer_save_interval_seconds = 3600;
int config::size_sample_interval_seconds = 3600;
int config::analyzer_key_half_life_seconds = 600;
int config::ramp_step_percent = 10;
int config::ramp_interval_ms = 10000;
int config::ramp_min_statements = 20;
int config::ramp_evidence_timeout_ms = 60000;
double config::ramp_max_latency_ratio = 1.5;
double config::ramp_max_error_rate_increase = 0.01;
double config::ramp_min_latency_increase_ms = 1.0;
bool config::routing_enabled = true;
int config::cutover_lock_timeout_ms = 50;
int config::cutover_max_tries = 40;
int config::cutover_max_wait_ms = 30000;
int config::rollback_window_seconds = 3600;
char* config::publisher_conninfo = nullptr;
int config::remote_catchup_timeout_ms = 10000;
int config::remote_copy_chunk_rows = 1000000;
bool config::remote_copy_by_snapshot = true;
int config::remote_cutover_warmup_ms = 500;
int config::remote_read_max_lag_ms = 1000;
int config::predict_mode = static_cast<int>(core::PredictMode::advise);
double config::split_load_threshold = 0;
int config::split_size_threshold_mb = 0;
int config::prediction_horizon_seconds = 48 * 3600;
char* config::maintenance_window = nullptr;
char* config::predict_servers = nullptr;
bool config::late_copy_outside_windows = true;
double config::prediction_interval = core::kPredictionInterval;
double config::clock_rate = 1;

namespace {

const config_enum_entry kPredictModes[] = {
    {"off", static_cast<int>(core::PredictMode::off), false},
    {"advise", static_cast<int>(core::PredictMode::advise), false},
    {"prepare", static_cast<int>(core::PredictMode::prepare), false},
    {"split", static_cast<int>(core::PredictMode::split), false},
    {nullptr, 0, false},
};

// presplit.maintenance_window must parse (core::parse_maintenance_window):
// a bad value is refused where it is set (22023), never met by the worker.
bool check_maintenance_window(char** value, void**, GucSource) {
    const core::MaintenanceWindowParse parsed =
        core::parse_maintenance_window(*value != nullptr ? *value : "");
    if (parsed.ok)
        return true;
    GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
    GUC_check_errdetail("%s", parsed.error.c_str());
    GUC_check_errhint("%s", parsed.hint.c_str());
    return false;
}

// presplit.predict_servers must be a list of names (22023 where it is set).
// Whether each server exists is a question for each database: the worker
// checks it when it plans, and says in an event when one cannot be used.
bool check_predict_servers(char** value, void**, GucSource) {
    if (core::parse_server_list(*value != nullptr ? *value : "").has_value())
        return true;
    GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
    GUC_check_errdetail("It must be a comma-separated list of server names.");
    GUC_check_errhint("For example 'node2, node3' (quote a name with double quotes if needed); "
                      "empty: predicted splits stay on this server.");
    return false;
}

void define_prediction_settings() {
    DefineCustomEnumVariable(
        "presplit.predict", "What the predictive shard manager does with its forecasts.",
        "off: nothing; advise: forecasts and events only; prepare: also copies predicted "
        "splits ahead, in off-peak windows, and stops at synced; split: also switches over.",
        &config::predict_mode, config::predict_mode, kPredictModes, PGC_SIGHUP, 0, nullptr, nullptr,
        nullptr);
    DefineCustomRealVariable(
        "presplit.split_load_threshold",
        "Statements per second on one partition above which it needs a split (0: none).",
        "Per table: presplit.set_split_thresholds.", &config::split_load_threshold,
        config::split_load_threshold, 0, 1e12, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.split_size_threshold",
                            "Size of one partition above which it needs a split (0: none).",
                            "Per table: presplit.set_split_thresholds.",
                            &config::split_size_threshold_mb, config::split_size_threshold_mb, 0,
                            INT_MAX, PGC_SIGHUP, GUC_UNIT_MB, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.prediction_horizon",
                            "How far ahead the forecasts look for a threshold crossing.", nullptr,
                            &config::prediction_horizon_seconds, config::prediction_horizon_seconds,
                            3600, 7 * 24 * 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomRealVariable(
        "presplit.prediction_interval",
        "Nominal coverage of the forecasts' intervals, whose upper bound the manager acts on.",
        "Higher: crossings are seen earlier and more predicted plans turn out not needed.",
        &config::prediction_interval, config::prediction_interval, 0.5, 0.999, PGC_SIGHUP, 0,
        nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "presplit.maintenance_window",
        "Fixed off-peak windows for predicted copies, e.g. '01:00-05:00,13:00-14:00'.",
        "In the server's time zone. Empty: the quiet hours predicted from the load.",
        &config::maintenance_window, "", PGC_SIGHUP, 0, check_maintenance_window, nullptr, nullptr);
    DefineCustomBoolVariable(
        "presplit.late_copy_outside_windows",
        "Copies a predicted split outside the off-peak windows when they cannot hold it before "
        "the crossing.",
        "The shortfall only, as late as still finishes an hour before the crossing, throttled. "
        "Off: predicted copies run inside the windows only.",
        &config::late_copy_outside_windows, config::late_copy_outside_windows, PGC_SIGHUP, 0,
        nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "presplit.predict_servers",
        "postgres_fdw servers a predicted split puts its new upper piece on, e.g. 'node2,node3'.",
        "Empty: predicted splits stay on this server. Per table: presplit.set_predict_servers.",
        &config::predict_servers, "", PGC_SIGHUP, 0, check_predict_servers, nullptr, nullptr);
    DefineCustomRealVariable(
        "presplit.clock_rate",
        "Speed of the analyzer's and predictor's clock relative to the wall clock.",
        "For tests and demos: at 1440 a day lasts a minute. Ramps, lock timeouts and the "
        "rollback window stay on the wall clock.",
        &config::clock_rate, config::clock_rate, 1, 1e6, PGC_POSTMASTER, 0, nullptr, nullptr,
        nullptr);
}

void define_settings() {
    DefineCustomStringVariable(
        "presplit.database", "Database the pg_presplit background worker serves.",
        "CREATE EXTENSION pg_presplit must be run in this database.", &config::worker_database,
        "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.naptime",
                            "Time the pg_presplit worker sleeps between rounds.", nullptr,
                            &config::worker_naptime_ms, config::worker_naptime_ms, 10, 3600 * 1000,
                            PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "presplit.max_plan_workers",
        "Plan workers that may run at once, each doing one split plan's long steps.",
        "Copying, verifying, cutting over: background workers (max_worker_processes) started "
        "by the pg_presplit worker, which keeps the ramps' short steps to itself.",
        &config::max_plan_workers, config::max_plan_workers, 1, pg::kMaxPlanWorkers, PGC_SIGHUP, 0,
        nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.backfill_batch_size",
                            "Rows the backfill copies per transaction.", nullptr,
                            &config::backfill_batch_size, config::backfill_batch_size, 1, 1000000,
                            PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.backfill_max_rows_per_second",
                            "Upper limit of the backfill's copy rate (0: no limit).", nullptr,
                            &config::backfill_max_rows_per_second,
                            config::backfill_max_rows_per_second, 0, INT_MAX, PGC_SIGHUP, 0,
                            nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "presplit.backfill_busy_backends",
        "The backfill pauses while more client backends than this are active (0: never).", nullptr,
        &config::backfill_busy_backends, config::backfill_busy_backends, 0, 10000, PGC_SIGHUP, 0,
        nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.backfill_backoff",
                            "How long the backfill pauses while the server is busy.", nullptr,
                            &config::backfill_backoff_ms, config::backfill_backoff_ms, 10,
                            3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("presplit.backfill_paused",
                             "Pauses every backfill (capture keeps the shadows current).", nullptr,
                             &config::backfill_paused, config::backfill_paused, PGC_SIGHUP, 0,
                             nullptr, nullptr, nullptr);
    DefineCustomBoolVariable("presplit.analyzer",
                             "Records per-partition load and accessed keys of managed tables.",
                             nullptr, &config::analyzer_enabled, config::analyzer_enabled,
                             PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.analyzer_sample_every",
                            "The analyzer records one statement in this many (counts are "
                            "scaled accordingly).",
                            nullptr, &config::analyzer_sample_every, config::analyzer_sample_every,
                            1, 1000000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "presplit.analyzer_max_partitions",
        "Most partitions the analyzer keeps statistics for; beyond, it evicts the least recently "
        "used.",
        "A cap, not a reservation: shared memory is taken as partitions are recorded.",
        &config::analyzer_max_partitions, config::analyzer_max_partitions, 0, 10000000, PGC_SIGHUP,
        0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.analyzer_save_interval",
                            "Time between the pg_presplit worker's saves of the analyzer's "
                            "statistics (0: only at shutdown).",
                            "After a crash the server starts from the last save.",
                            &config::analyzer_save_interval_seconds,
                            config::analyzer_save_interval_seconds, 0, 7 * 24 * 3600, PGC_SIGHUP,
                            GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.size_sample_interval",
                            "Time between the pg_presplit worker's samples of each managed "
                            "partition's rows and bytes (0: none).",
                            "Aligned to UTC; the history keeps one sample per hour.",
                            &config::size_sample_interval_seconds,
                            config::size_sample_interval_seconds, 0, 3600, PGC_SIGHUP, GUC_UNIT_S,
                            nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "presplit.analyzer_key_half_life", "Age at which the analyzer's key samples count half.",
        nullptr, &config::analyzer_key_half_life_seconds, config::analyzer_key_half_life_seconds, 0,
        30 * 24 * 3600, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.ramp_step",
                            "Percent the automatic ramp adds to the new channel's weight per step.",
                            nullptr, &config::ramp_step_percent, config::ramp_step_percent, 1, 100,
                            PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.ramp_interval",
                            "Time the automatic ramp stays at a weight before the next step.",
                            nullptr, &config::ramp_interval_ms, config::ramp_interval_ms, 0,
                            24 * 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.ramp_min_statements",
                            "Statements each channel must serve at a weight before the automatic "
                            "ramp judges the new channel and raises its weight.",
                            "0: step on time alone.", &config::ramp_min_statements,
                            config::ramp_min_statements, 0, INT_MAX, PGC_SIGHUP, 0, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("presplit.ramp_evidence_timeout",
                            "How long past presplit.ramp_interval the automatic ramp waits for "
                            "presplit.ramp_min_statements reads on each channel before it steps "
                            "on without them.",
                            "A write-only partition, or reads the router does not route, give no "
                            "evidence; the step is then logged as taken without it.",
                            &config::ramp_evidence_timeout_ms, config::ramp_evidence_timeout_ms, 0,
                            24 * 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomRealVariable("presplit.ramp_max_latency_ratio",
                             "New channel's p95 latency, as a multiple of the old channel's, "
                             "that aborts the automatic ramp.",
                             nullptr, &config::ramp_max_latency_ratio,
                             config::ramp_max_latency_ratio, 1.0, 1000.0, PGC_SIGHUP, 0, nullptr,
                             nullptr, nullptr);
    DefineCustomRealVariable("presplit.ramp_min_latency_increase",
                             "How much slower (p95, milliseconds) the new channel must also be "
                             "for the latency ratio to abort the automatic ramp.",
                             "Differences of microseconds are noise, not a regression.",
                             &config::ramp_min_latency_increase_ms,
                             config::ramp_min_latency_increase_ms, 0.0, 60000.0, PGC_SIGHUP, 0,
                             nullptr, nullptr, nullptr);
    DefineCustomRealVariable("presplit.ramp_max_error_rate_increase",
                             "New channel's error rate minus the old channel's that aborts the "
                             "automatic ramp.",
                             nullptr, &config::ramp_max_error_rate_increase,
                             config::ramp_max_error_rate_increase, 0.0, 1.0, PGC_SIGHUP, 0, nullptr,
                             nullptr, nullptr);
    DefineCustomBoolVariable(
        "presplit.routing", "Route reads of switching plans to the new channel by its weight.",
        "Off: this session reads the old channel until the cutover.", &config::routing_enabled,
        config::routing_enabled, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.cutover_lock_timeout",
                            "How long one try to take the cutover's exclusive lock waits.",
                            "Sessions queue behind a waiting ACCESS EXCLUSIVE request: keep it "
                            "short; the cutover retries with backoff.",
                            &config::cutover_lock_timeout_ms, config::cutover_lock_timeout_ms, 1,
                            60 * 1000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.cutover_max_tries",
                            "Tries to take the cutover's (or rollback's) lock before giving up.",
                            nullptr, &config::cutover_max_tries, config::cutover_max_tries, 1,
                            10000, PGC_USERSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "presplit.cutover_max_wait",
        "How long the cutover (rollback, finalization) waits for its lock in all before giving "
        "up.",
        "While a long query or transaction holds a conflicting lock, it waits without a lock "
        "request, so that nobody queues behind it.",
        &config::cutover_max_wait_ms, config::cutover_max_wait_ms, 0, 24 * 3600 * 1000, PGC_USERSET,
        GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.rollback_window",
                            "Time after a cutover during which presplit.rollback can undo it.",
                            "Reverse capture keeps the old partition current until then.",
                            &config::rollback_window_seconds, config::rollback_window_seconds, 0,
                            365 * 24 * 3600, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomStringVariable(
        "presplit.publisher_conninfo",
        "How another server's subscription connects back to this one (move_partition).",
        "libpq options such as host, port and user (a role with REPLICATION); no password: "
        "the other server authenticates with its own passfile or certificate. The database "
        "name is added.",
        &config::publisher_conninfo, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.remote_catchup_timeout",
                            "How long a move's verification or cutover waits for the other "
                            "server to apply every change made before its lock.",
                            "Past it the step is given up and retried at a later round.",
                            &config::remote_catchup_timeout_ms, config::remote_catchup_timeout_ms,
                            0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "presplit.remote_copy_chunk_rows",
        "Rows a split's target on another server copies per chunk.",
        "Each chunk is a table synchronisation of its own, folded into the target's subscription "
        "when done; no chunk starts while the copy is paused or held, so a copy stops between "
        "chunks when its off-peak window ends. Used when the partition has an index that begins "
        "with the partition key. 0: the whole range in one pass.",
        &config::remote_copy_chunk_rows, config::remote_copy_chunk_rows, 0, INT_MAX, PGC_SIGHUP, 0,
        nullptr, nullptr, nullptr);
    DefineCustomBoolVariable(
        "presplit.remote_copy_by_snapshot",
        "Copies a target on another server under the snapshot of its replication slot.",
        "The worker makes the target's slot here with an exported snapshot, streams the rows "
        "its publication publishes into the table there with COPY, as the table's owner, then "
        "subscribes there from that slot without a copy. Off: the subscription's initial table "
        "synchronisation copies them. Further chunks are copied by table synchronisation either "
        "way.",
        &config::remote_copy_by_snapshot, config::remote_copy_by_snapshot, PGC_SIGHUP, 0, nullptr,
        nullptr, nullptr);
    DefineCustomIntVariable(
        "presplit.remote_cutover_warmup",
        "How long before a cutover onto another server locks its table the sessions using "
        "the partition open their postgres_fdw connections there.",
        "Each session whose statement, alone in its transaction, reads the partition (or inserts "
        "through the table) in that time opens its connection (its own user mapping), so that "
        "its first statement after the cutover does not. Only servers that set connect_timeout "
        "are warmed up. The lock waits for it; nothing is locked meanwhile. 0: no warm-up.",
        &config::remote_cutover_warmup_ms, config::remote_cutover_warmup_ms, 0, 60 * 1000,
        PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "presplit.remote_read_max_lag",
        "Replication lag up to which a switching plan's reads may go to a target on another "
        "server.",
        "The worker measures each remote target's lag about once a second; a read is routed "
        "there only while the last measurement is recent and within this bound, and never in a "
        "transaction that has written. 0: reads never go to another server before the cutover.",
        &config::remote_read_max_lag_ms, config::remote_read_max_lag_ms, 0, 3600 * 1000,
        PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    define_prediction_settings();
    MarkGUCPrefixReserved("presplit");
}

void initialize() {
    if (!process_shared_preload_libraries_in_progress)
        ereport(ERROR,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg("pg_presplit must be loaded via shared_preload_libraries"),
                 errhint("Add pg_presplit to shared_preload_libraries in postgresql.conf and "
                         "restart the server, then run CREATE EXTENSION pg_presplit.")));
    define_settings();
    install_hooks();
    worker::register_worker();
}

} // namespace
} // namespace presplit

void _PG_init(void) {
    presplit::pg::entry([] { presplit::pg::call(presplit::initialize); });
}
