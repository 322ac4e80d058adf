// pg_presplit's settings (GUCs under "presplit."), defined in module.cpp.
#pragma once

namespace presplit::config {

// presplit.database: the database the background worker serves.
extern char* worker_database;
// presplit.naptime: milliseconds the worker sleeps between rounds.
extern int worker_naptime_ms;

} // namespace presplit::config
