// Signals and naps of pg_presplit's background workers: the supervisor
// (worker.cpp) and the plan workers (plan_workers.cpp).
//
// SIGTERM (a smart or fast shutdown, pg_terminate_backend) asks the process to
// exit cleanly, with exit code 0. Between steps the loops see the request
// (shutdown_requested) and return. During a step -- a transaction of
// in_transaction (transaction.hpp) -- it also cancels the statement that runs,
// as pg_cancel_backend would: a verification's scan of millions of rows, a
// backfill batch waiting for a row lock, a cutover waiting on its latch. The
// step's transaction rolls back at once, is not counted as the plan's error,
// and the loop exits. (PostgreSQL's die() would end the process with FATAL
// there, exit code 1: the postmaster would then start the supervisor again
// after pg_terminate_backend.) Nothing is lost: each step commits what it did
// with the position it reached, and the next start resumes from there.
#pragma once

#include <cstdint>

namespace presplit::worker {

// SIGTERM as above, SIGHUP: reload the configuration at the next look.
// Before BackgroundWorkerUnblockSignals.
void install_signal_handlers();

bool shutdown_requested();

// SIGHUP's reload, if one arrived.
void reload_configuration_if_asked();

// Sleeps up to ms, waking early when the latch is set (a new plan, a plan
// worker that ended, SIGTERM, SIGHUP). Outside any step: a cancel request has
// nothing to cancel here, and is forgotten.
void nap(int64_t ms);

// While one exists, SIGTERM cancels the running statement (see above).
class ShutdownCancelsStatements {
public:
    ShutdownCancelsStatements();
    ~ShutdownCancelsStatements();
    ShutdownCancelsStatements(const ShutdownCancelsStatements&) = delete;
    ShutdownCancelsStatements& operator=(const ShutdownCancelsStatements&) = delete;
};

} // namespace presplit::worker
