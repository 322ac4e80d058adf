// _PG_init: settings, shared memory, hooks and the background worker.
// pg_presplit works only when preloaded: its hooks must see every backend and
// its shared memory and worker exist only if requested at server start.
#include "analyzer/hooks.hpp"
#include "config.hpp"
#include "pg/guard.hpp"
#include "pg/shared_memory.hpp"
#include "worker/worker.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

namespace presplit {

char* config::worker_database = nullptr;
int config::worker_naptime_ms = 1000;

namespace {

void define_settings() {
    DefineCustomStringVariable(
        "presplit.database", "Database the pg_presplit background worker serves.",
        "CREATE EXTENSION pg_presplit must be run in this database.", &config::worker_database,
        "postgres", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("presplit.naptime",
                            "Time the pg_presplit worker sleeps between rounds.", nullptr,
                            &config::worker_naptime_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP,
                            GUC_UNIT_MS, nullptr, nullptr, nullptr);
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
    pg::install_shared_memory_hooks();
    analyzer::install_hooks();
    worker::register_worker();
}

} // namespace
} // namespace presplit

void _PG_init(void) {
    presplit::pg::entry([] { presplit::pg::call(presplit::initialize); });
}
