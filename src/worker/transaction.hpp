// Transactions of the background workers. Each unit of work runs in its own
// transaction; an error rolls it back, is logged, and the worker goes on
// (errors in the worker's own loop, outside these, end the process and the
// postmaster restarts it). SIGTERM cancels the statement that runs
// (lifecycle.hpp); once it has come, no new transaction starts.
#pragma once

#include "pg/guard.hpp"
#include "worker/lifecycle.hpp"

#include <string>
#include <type_traits>

namespace presplit::worker {

enum class Isolation { read_committed, repeatable_read };

template <typename T>
struct TransactionResult {
    bool ok = false;
    T value{};
    std::string error; // the message, when !ok
    int sqlstate = 0;  // its SQLSTATE (ERRCODE_*), when !ok
    // A serialization failure or deadlock: nothing is wrong, try again.
    bool retryable() const;
    // Cut short or not started because the worker is shutting down: not an
    // error of the plan's.
    bool interrupted = false;
};

bool is_retryable_sqlstate(int sqlstate);

template <typename T>
bool TransactionResult<T>::retryable() const {
    return !ok && is_retryable_sqlstate(sqlstate);
}

// With `imported_snapshot` (REPEATABLE READ only): the transaction sees that
// exported snapshot (SET TRANSACTION SNAPSHOT), not one of its own.
void begin_transaction(const char* activity, Isolation isolation,
                       const char* imported_snapshot = nullptr);
void commit_transaction();
// Rolls back after an exception (pg::PgError or C++), logs it (a WARNING,
// or DEBUG1 for retryable errors) and returns its message and SQLSTATE.
std::string abort_transaction(const std::exception& error, int* sqlstate);

template <typename F>
auto in_transaction(const char* activity, Isolation isolation, F&& work,
                    const char* imported_snapshot = nullptr)
    -> TransactionResult<std::invoke_result_t<F&>> {
    TransactionResult<std::invoke_result_t<F&>> result;
    ShutdownCancelsStatements cancellable;
    if (shutdown_requested()) {
        result.interrupted = true;
        result.error = "the worker is shutting down";
        result.sqlstate = ERRCODE_ADMIN_SHUTDOWN;
        return result;
    }
    try {
        begin_transaction(activity, isolation, imported_snapshot);
        result.value = work();
        commit_transaction();
        result.ok = true;
    } catch (const std::exception& error) {
        result.error = abort_transaction(error, &result.sqlstate);
        result.interrupted = shutdown_requested();
    }
    return result;
}

} // namespace presplit::worker
