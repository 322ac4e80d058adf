// The background worker: one per cluster, serving presplit.database.
#pragma once

namespace presplit::worker {

// Called from _PG_init.
void register_worker();

// Wakes the worker when the current transaction commits, so that it looks
// for work at once (e.g. a plan this transaction created).
void wake_worker();

// As wake_worker, and the worker looks at the moves onto other servers
// again (remote/move.hpp): its rounds skip them while none is open.
void wake_worker_for_moves();

} // namespace presplit::worker
