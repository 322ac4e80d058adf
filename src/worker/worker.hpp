// The background worker: one per cluster, serving presplit.database.
#pragma once

namespace presplit::worker {

// Called from _PG_init.
void register_worker();

} // namespace presplit::worker
