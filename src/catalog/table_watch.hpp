// Keeping a per-backend cache of one of pg_presplit's catalog tables current
// with PostgreSQL's own invalidation machinery, the one that keeps the
// relcache and the plan cache current with the system catalogs.
//
// A transaction that changes the table's data calls changed(): it registers
// a relcache invalidation of the table (CacheInvalidateRelcacheByRelid).
// PostgreSQL sends it to every backend once the change is visible: at COMMIT,
// and at COMMIT PREPARED whichever session runs it (a prepared transaction's
// invalidations are kept in its two-phase state; PREPARE TRANSACTION sends
// nothing, ROLLBACK PREPARED drops them). The changing backend applies it
// itself at its next command (it sees its own change) and again if the
// (sub)transaction rolls back.
//
// A backend reads the invalidations sent to it when it starts a transaction
// or takes a lock it did not hold; stale() reads them too (one unlocked flag
// read when there are none), so that every statement that consults the
// cache sees the changes committed before it started, in the middle of a
// long transaction too. The owner's relcache callback passes each to
// on_relcache_invalidation(): the cache is stale after one of this table, a
// reset (InvalidOid), or any at all while the table has not been found (so
// that CREATE EXTENSION, whose new tables are invalidated too, is seen).
#pragma once

extern "C" {
#include "postgres.h"
}

namespace presplit::catalog {

class TableWatch {
public:
    explicit TableWatch(const char* table_name) : table_name_(table_name) {}

    // Whether the cache must be rebuilt, once the invalidations that have
    // arrived are read (needs a transaction).
    bool stale();
    // Before reading the table: an invalidation that arrives while the cache
    // is built marks it stale again. Looks the table up (not found: the
    // extension is not installed in this database).
    void reading();
    void mark_stale() { stale_ = true; }

    // From the owner's relcache callback (it sets a flag, nothing more).
    void on_relcache_invalidation(Oid relid) {
        if (!OidIsValid(relid) || !OidIsValid(table_relid_) || relid == table_relid_)
            stale_ = true;
    }

    // This transaction changed the table's data: every backend's cache goes
    // stale once it commits (needs a transaction).
    void changed() const;

private:
    Oid find_table() const; // presplit.<table_name>, or InvalidOid

    const char* table_name_;
    Oid table_relid_ = InvalidOid; // as last looked up
    bool stale_ = true;
};

} // namespace presplit::catalog
