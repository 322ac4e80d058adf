// The one boundary between C++ and PostgreSQL error handling (README,
// "Errors across the C++/PostgreSQL boundary").
//
// PostgreSQL raises errors with longjmp; C++ unwinds with exceptions. Two
// tools keep them apart, and nothing else in the tree may use PG_TRY:
//
//   pg::call(f)   runs f, a thin lambda that calls PostgreSQL and owns no C++
//                 object with a destructor. An ereport(ERROR) inside it is
//                 caught, the error stack, error context stack and memory
//                 context are restored, and it continues as a C++ PgError, so
//                 the destructors of the C++ frames above run as it unwinds.
//
//   pg::entry(f)  wraps every entry point from PostgreSQL (SQL function, hook,
//                 worker main). It catches every C++ exception and, only after
//                 the catch block has ended, re-raises it as an ERROR: a
//                 PgError as the original error (SQLSTATE, detail, hint), an
//                 Error with its SQLSTATE, anything else as XX000.
//
// A PgError means the transaction is aborting: let it reach pg::entry, and
// call no PostgreSQL function on the way (destructors included) -- the abort
// releases locks, SPI connections and user-id switches. Code that must
// survive an error runs in a subtransaction instead.
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

namespace presplit::pg {

// An error raised by PostgreSQL inside pg::call. Owns a copy of the ErrorData
// in the memory context that was current when pg::call was entered.
class PgError : public std::exception {
public:
    explicit PgError(ErrorData* data) : data_(data) {}
    const char* what() const noexcept override;
    ErrorData* data() const noexcept { return data_; }
    int sqlstate() const noexcept;

private:
    ErrorData* data_;
};

// An error of pg_presplit's own, with what a DBA needs to act on it.
class Error : public std::exception {
public:
    Error(int sqlstate, std::string message, std::string detail = {}, std::string hint = {})
        : sqlstate_(sqlstate), message_(std::move(message)), detail_(std::move(detail)),
          hint_(std::move(hint)) {}
    const char* what() const noexcept override { return message_.c_str(); }
    int sqlstate() const noexcept { return sqlstate_; }
    const std::string& detail() const noexcept { return detail_; }
    const std::string& hint() const noexcept { return hint_; }

private:
    int sqlstate_;
    std::string message_;
    std::string detail_;
    std::string hint_;
};

namespace detail {

// Runs fn(arg) inside PG_TRY; on ERROR returns the copied ErrorData instead
// of unwinding. This frame owns nothing with a destructor.
ErrorData* run_catching_pg_error(void (*fn)(void*), void* arg);

// What an entry point re-raises once its catch block has ended. Plain data
// (fixed buffers, no allocation in the catch block) so that the ereport that
// follows crosses no destructor. Left uninitialized until an exception is
// captured: every hook entry declares one, and zeroing 2.5 KB per entry
// would cost more than most of what the hooks do.
struct PendingError {
    ErrorData* pg_error;
    int sqlstate;
    char message[1024];
    char detail[1024];
    char hint[512];
};

void capture_current_exception(PendingError& pending) noexcept;
[[noreturn]] void raise(const PendingError& pending);

} // namespace detail

// A C++ exception thrown by f itself (it should not, but e.g. bad_alloc) is
// caught before it can leave the PG_TRY region, and rethrown from here.
template <typename F>
auto call(F&& f) -> std::invoke_result_t<F&> {
    using Result = std::invoke_result_t<F&>;
    using Value = std::conditional_t<std::is_void_v<Result>, char, Result>;
    static_assert(std::is_void_v<Result> || std::is_trivially_destructible_v<Result>,
                  "pg::call returns PostgreSQL values (pointers, Datums, ints), not C++ objects");
    struct Slot {
        std::remove_reference_t<F>* fn;
        Value result;
        std::exception_ptr cpp_exception;
    } slot{&f, Value{}, nullptr};
    auto thunk = [](void* p) {
        auto* s = static_cast<Slot*>(p);
        try {
            if constexpr (std::is_void_v<Result>)
                (*s->fn)();
            else
                s->result = (*s->fn)();
        } catch (...) {
            s->cpp_exception = std::current_exception();
        }
    };
    if (ErrorData* e = detail::run_catching_pg_error(thunk, &slot))
        throw PgError(e);
    if (slot.cpp_exception)
        std::rethrow_exception(slot.cpp_exception);
    if constexpr (!std::is_void_v<Result>)
        return slot.result;
}

// Entry points: `return pg::entry([&] { ... });`. The result type must be
// trivially destructible (Datum, void, pointers, plain structs).
template <typename F>
auto entry(F&& f) -> std::invoke_result_t<F&> {
    using Result = std::invoke_result_t<F&>;
    static_assert(std::is_trivially_destructible_v<Result> || std::is_void_v<Result>);
    detail::PendingError pending;
    try {
        if constexpr (std::is_void_v<Result>) {
            f();
            return;
        } else {
            return f();
        }
    } catch (...) {
        detail::capture_current_exception(pending);
    }
    detail::raise(pending);
}

namespace detail {
struct SubtransactionState {
    MemoryContext context;
    void* resource_owner;
};
SubtransactionState begin_subtransaction();
void commit_subtransaction(const SubtransactionState& state);
void rollback_subtransaction(const SubtransactionState& state);
} // namespace detail

// The one way to survive a PostgreSQL error: run f in a subtransaction. If f
// raises an error with SQLSTATE `recoverable` (an int), or one that
// `recoverable(error)` accepts (a predicate on the PgError), the
// subtransaction is rolled back (releasing what f held: locks, SPI
// connections, memory) and the result is false; any other exception rolls it
// back too and propagates. An SPI session used inside f must be opened
// inside f.
template <typename F, typename Recoverable>
bool in_subtransaction(F&& f, Recoverable recoverable) {
    detail::SubtransactionState state = detail::begin_subtransaction();
    try {
        f();
    } catch (const PgError& error) {
        bool recovered;
        if constexpr (std::is_invocable_r_v<bool, Recoverable, const PgError&>)
            recovered = recoverable(error);
        else
            recovered = error.sqlstate() == recoverable;
        detail::rollback_subtransaction(state);
        if (recovered)
            return false;
        throw;
    } catch (...) {
        detail::rollback_subtransaction(state);
        throw;
    }
    detail::commit_subtransaction(state);
    return true;
}

namespace detail {
void run_undoing_on_error(void (*fn)(void*), void* arg, void (*undo)(void*), void* undo_arg);
} // namespace detail

// For a hook that passes a call on to PostgreSQL and keeps plain state of
// its own around it (a counter): runs f -- C code only, which raises errors
// the PostgreSQL way and throws no C++ exception --; if it raises an error,
// `undo` (no PostgreSQL call, no exception) puts the state back and the
// error goes on up as it was: not copied, not turned into a C++ exception,
// so that an error caught further up (a PL/pgSQL exception block) costs
// what it costs without the hook. The frames between must own nothing with
// a destructor.
template <typename F, typename Undo>
void pass_through(F&& f, Undo&& undo) {
    auto run = [](void* p) { (*static_cast<std::remove_reference_t<F>*>(p))(); };
    auto put_back = [](void* p) { (*static_cast<std::remove_reference_t<Undo>*>(p))(); };
    detail::run_undoing_on_error(run, &f, put_back, &undo);
}

// A SQL-callable function whose body is thin PostgreSQL code: it may
// ereport, and owns no C++ object with a destructor.
//   extern "C" Datum presplit_x(PG_FUNCTION_ARGS) { return pg::guarded<x_impl>(fcinfo); }
template <Datum (*Impl)(FunctionCallInfo)>
Datum guarded(FunctionCallInfo fcinfo) {
    return entry([&] { return call([&] { return Impl(fcinfo); }); });
}

} // namespace presplit::pg
