// The background worker: one per cluster, serving presplit.database.
#pragma once

namespace presplit::worker {

// Called from _PG_init.
void register_worker();

// Wakes the worker when the current transaction commits, so that it looks
// for work at once (e.g. a plan this transaction created).
void wake_worker();

} // namespace presplit::worker
