#include "pg/guard.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
}

#include <cstring>

namespace presplit::pg {

const char* PgError::what() const noexcept {
    return data_ && data_->message ? data_->message : "PostgreSQL error";
}

int PgError::sqlstate() const noexcept {
    return data_ ? data_->sqlerrcode : 0;
}

namespace detail {

ErrorData* run_catching_pg_error(void (*fn)(void*), void* arg) {
    // volatile: read after a longjmp back into this frame.
    MemoryContext volatile caller_context = CurrentMemoryContext;
    ErrorData* volatile error = nullptr;
    // PG_TRY saves and restores PG_exception_stack and error_context_stack.
    PG_TRY();
    { fn(arg); }
    PG_CATCH();
    {
        // The copy must outlive FlushErrorState (which resets ErrorContext)
        // and whatever short-lived context the caller was in (an SPI
        // procedure context, say, deleted while the exception unwinds). It
        // lives until the end of the transaction, or for good outside one.
        MemoryContextSwitchTo(IsTransactionState() ? TopTransactionContext : TopMemoryContext);
        error = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    MemoryContextSwitchTo(caller_context);
    return error;
}

void run_undoing_on_error(void (*fn)(void*), void* arg, void (*undo)(void*), void* undo_arg) {
    PG_TRY();
    { fn(arg); }
    PG_CATCH();
    {
        undo(undo_arg);
        PG_RE_THROW();
    }
    PG_END_TRY();
}

static void copy_text(char* dst, size_t size, const char* src) noexcept {
    if (src == nullptr) {
        dst[0] = '\0';
        return;
    }
    strlcpy(dst, src, size);
}

void capture_current_exception(PendingError& pending) noexcept {
    pending.pg_error = nullptr;
    pending.sqlstate = 0;
    pending.message[0] = pending.detail[0] = pending.hint[0] = '\0';
    try {
        throw;
    } catch (const PgError& e) {
        pending.pg_error = e.data();
    } catch (const Error& e) {
        pending.sqlstate = e.sqlstate();
        copy_text(pending.message, sizeof pending.message, e.what());
        copy_text(pending.detail, sizeof pending.detail, e.detail().c_str());
        copy_text(pending.hint, sizeof pending.hint, e.hint().c_str());
    } catch (const std::bad_alloc&) {
        pending.sqlstate = ERRCODE_OUT_OF_MEMORY;
        copy_text(pending.message, sizeof pending.message, "out of memory in pg_presplit");
    } catch (const std::exception& e) {
        pending.sqlstate = ERRCODE_INTERNAL_ERROR;
        copy_text(pending.message, sizeof pending.message, e.what());
    } catch (...) {
        pending.sqlstate = ERRCODE_INTERNAL_ERROR;
        copy_text(pending.message, sizeof pending.message, "unknown C++ exception in pg_presplit");
    }
}

void raise(const PendingError& pending) {
    if (pending.pg_error != nullptr)
        ReThrowError(pending.pg_error);
    ereport(ERROR, (errcode(pending.sqlstate), errmsg_internal("%s", pending.message),
                    pending.detail[0] ? errdetail_internal("%s", pending.detail) : 0,
                    pending.hint[0] ? errhint("%s", pending.hint) : 0));
    pg_unreachable();
}

SubtransactionState begin_subtransaction() {
    SubtransactionState state{CurrentMemoryContext, CurrentResourceOwner};
    call([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(state.context);
    return state;
}

void commit_subtransaction(const SubtransactionState& state) {
    call([&] {
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(state.context);
        CurrentResourceOwner = static_cast<ResourceOwner>(state.resource_owner);
    });
}

void rollback_subtransaction(const SubtransactionState& state) {
    call([&] {
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(state.context);
        CurrentResourceOwner = static_cast<ResourceOwner>(state.resource_owner);
    });
}

} // namespace detail
} // namespace presplit::pg
