#include "worker/transaction.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

namespace presplit::worker {

void begin_transaction(const char* activity, Isolation isolation, const char* imported_snapshot) {
    pg::call([&] {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        // Before the first snapshot, as SET TRANSACTION ISOLATION LEVEL would.
        if (isolation == Isolation::repeatable_read)
            XactIsoLevel = XACT_REPEATABLE_READ;
        if (imported_snapshot != nullptr)
            ImportSnapshot(imported_snapshot);
        PushActiveSnapshot(GetTransactionSnapshot());
        pgstat_report_activity(STATE_RUNNING, activity);
    });
}

void commit_transaction() {
    pg::call([] {
        PopActiveSnapshot();
        CommitTransactionCommand();
        pgstat_report_activity(STATE_IDLE, nullptr);
    });
}

bool is_retryable_sqlstate(int sqlstate) {
    return sqlstate == ERRCODE_T_R_SERIALIZATION_FAILURE ||
           sqlstate == ERRCODE_T_R_DEADLOCK_DETECTED;
}

std::string abort_transaction(const std::exception& error, int* sqlstate) {
    // Copy first: a PgError's data lives in the transaction's memory, which
    // the abort frees.
    // The detail too: it says what to do about it (which sessions held the
    // locks a cutover gave up on, say), and the events keep only this text.
    std::string message = error.what();
    if (auto* pg_error = dynamic_cast<const pg::PgError*>(&error)) {
        *sqlstate = pg_error->sqlstate();
        if (pg_error->data() && pg_error->data()->detail)
            message += ". " + std::string(pg_error->data()->detail);
    } else if (auto* own_error = dynamic_cast<const pg::Error*>(&error)) {
        *sqlstate = own_error->sqlstate();
        if (!own_error->detail().empty())
            message += ". " + own_error->detail();
    } else
        *sqlstate = ERRCODE_INTERNAL_ERROR;
    pg::call([] {
        HOLD_INTERRUPTS();
        AbortCurrentTransaction();
        MemoryContextSwitchTo(TopMemoryContext);
        RESUME_INTERRUPTS();
        pgstat_report_activity(STATE_IDLE, nullptr);
    });
    if (shutdown_requested()) {
        // Most likely the cancel SIGTERM sent (lifecycle.hpp): not a failure.
        pg::call([&] {
            ereport(LOG, (errmsg("pg_presplit worker: shutting down: the current step was rolled "
                                 "back (%s)",
                                 message.c_str()),
                          errdetail("The next start goes on from the last step that committed.")));
        });
        return message;
    }
    const int level = is_retryable_sqlstate(*sqlstate) ? DEBUG1 : WARNING;
    pg::call([&] { ereport(level, (errmsg("pg_presplit worker: %s", message.c_str()))); });
    return message;
}

} // namespace presplit::worker
