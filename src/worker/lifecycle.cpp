#include "worker/lifecycle.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/wait_event.h"
}

#include <cerrno>
#include <csignal>

namespace presplit::worker {
namespace {

// Set while a step's transaction runs (ShutdownCancelsStatements).
volatile sig_atomic_t cancel_on_shutdown = 0;

void handle_sigterm(SIGNAL_ARGS) {
    const int saved_errno = errno;
    ShutdownRequestPending = true;
    if (cancel_on_shutdown) {
        // What StatementCancelHandler does: the statement ends with an ERROR
        // at its next CHECK_FOR_INTERRUPTS.
        QueryCancelPending = true;
        InterruptPending = true;
    }
    SetLatch(MyLatch);
    errno = saved_errno;
}

} // namespace

void install_signal_handlers() {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, handle_sigterm);
}

bool shutdown_requested() {
    return ShutdownRequestPending;
}

void reload_configuration_if_asked() {
    if (ConfigReloadPending) {
        ConfigReloadPending = false;
        pg::call([] { ProcessConfigFile(PGC_SIGHUP); });
    }
}

void nap(int64_t ms) {
    pg::call([&] {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                        static_cast<long>(ms), PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        // Outside a transaction a cancel would be an ERROR in the worker's
        // own loop, which ends the process.
        QueryCancelPending = false;
        CHECK_FOR_INTERRUPTS();
    });
}

ShutdownCancelsStatements::ShutdownCancelsStatements() {
    cancel_on_shutdown = 1;
    // A SIGTERM that came just before is seen by the caller's
    // shutdown_requested(), which it asks after this.
}

ShutdownCancelsStatements::~ShutdownCancelsStatements() {
    cancel_on_shutdown = 0;
    // A cancel that came after the step's last statement (during its commit,
    // say) has nothing left to cancel: not the next step's first statement.
    QueryCancelPending = false;
}

} // namespace presplit::worker
