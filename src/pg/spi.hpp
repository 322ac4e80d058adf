// Running SQL from C++: text in, text out. Control paths of pg_presplit
// (catalog reads and writes, DDL, batches) are few statements with few rows,
// so every parameter is passed as text and cast in the SQL ($1::bigint), and
// every result value comes back as text. All calls go through pg::call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct _SPI_plan;         // executor/spi.h's SPIPlanPtr
struct SnapshotData;      // utils/snapshot.h's Snapshot
struct PortalData;        // utils/portal.h's Portal
struct MemoryContextData; // nodes/memnodes.h's MemoryContext
struct FmgrInfo;          // fmgr.h

namespace presplit::pg {

// A statement prepared once and kept for the backend's life (SPI_keepplan),
// then executed with binary parameters: for per-row paths (capture).
using KeptStatement = _SPI_plan*;

using Value = std::optional<std::string>; // nullopt is SQL NULL
using Row = std::vector<Value>;

struct QueryResult {
    std::vector<Row> rows;
    uint64_t processed = 0; // rows affected by INSERT/UPDATE/DELETE, or returned
};

// An SPI connection for the lifetime of the object. Nested sessions are fine.
// If an exception unwinds through it, it leaves SPI_finish to the transaction
// abort (pg/guard.hpp: no PostgreSQL calls after a PgError).
class SpiSession {
public:
    SpiSession();
    ~SpiSession();
    SpiSession(const SpiSession&) = delete;
    SpiSession& operator=(const SpiSession&) = delete;

    QueryResult execute(const std::string& sql, const std::vector<Value>& params = {});
    // A read-only statement without parameters, seeing `snapshot` (a
    // registered one) rather than a new one.
    QueryResult execute_in_snapshot(const std::string& sql, SnapshotData* snapshot);
    // The first column of the first row; nullopt if no row or NULL.
    Value scalar(const std::string& sql, const std::vector<Value>& params = {});

    // `types` are the parameters' type OIDs. Free with free_statement.
    KeptStatement prepare_kept(const std::string& sql, const std::vector<unsigned int>& types);
    // values/nulls as SPI_execute_plan takes them (Datum array, ' ' or 'n');
    // returns the rows processed.
    uint64_t execute_kept(KeptStatement statement, const uintptr_t* values, const char* nulls);

private:
    QueryResult collect_result(); // the last statement's rows, as text

    int exceptions_at_entry_;
};

// A read-only statement's rows (no parameters, the active snapshot) through a
// cursor, a batch at a time, each value as its type's output text: for a
// stream of many rows (a copy to another server) that SpiSession::execute
// would hold all at once. Needs an SpiSession open around it.
class TextCursor {
public:
    explicit TextCursor(const std::string& sql);
    ~TextCursor();
    TextCursor(const TextCursor&) = delete;
    TextCursor& operator=(const TextCursor&) = delete;

    // The next at most `rows` rows; 0 at the end. Their values, row after
    // row, columns() each (nullptr for NULL), stay valid until the next call.
    uint64_t fetch(long rows);
    const char* const* values() const { return values_.data(); }
    int columns() const { return columns_; }

private:
    PortalData* portal_ = nullptr;
    MemoryContextData* memory_ = nullptr;       // the cursor's
    MemoryContextData* batch_memory_ = nullptr; // the current batch's values
    FmgrInfo* output_functions_ = nullptr;      // one per column
    int columns_ = 0;
    std::vector<const char*> values_;
    int exceptions_at_entry_;
};

// Runs as another role, with search_path pg_catalog, pg_temp, until
// destroyed; the caller's user and settings come back afterwards (or with the
// transaction abort, after an error).
class RoleSwitch {
public:
    RoleSwitch(const RoleSwitch&) = delete;
    RoleSwitch& operator=(const RoleSwitch&) = delete;

protected:
    RoleSwitch(unsigned int role, int extra_security_flags);
    ~RoleSwitch();

private:
    unsigned int saved_user_;
    int saved_security_context_;
    int guc_nest_level_;
    int exceptions_at_entry_;
};

// As the table owner in a security-restricted operation (as VACUUM and
// ANALYZE run a table owner's code): whenever user code may run -- index
// expressions, defaults, generated columns of the user's tables.
class RunAsTableOwner : public RoleSwitch {
public:
    explicit RunAsTableOwner(unsigned int role);
};

// As the bootstrap superuser, to read and write pg_presplit's own tables (not
// readable by PUBLIC) after the caller's privileges have been checked. Only
// fixed statements run inside: string constants, with every relation, name
// and value an SPI parameter. A statement that holds a user's name or value
// belongs under RunAsTableOwner (docs/security.md).
class RunAsExtension : public RoleSwitch {
public:
    RunAsExtension();
};

void free_statement(KeptStatement statement);

// Key values pg_presplit keeps as text (split points, bounds, the backfill's
// position) are written in one format whatever the session's settings:
// DateStyle ISO (numeric zone offsets, never an abbreviation such as IST),
// IntervalStyle postgres, extra_float_digits 3. Text in that format reads back
// as the same value in every session -- the worker's, the writers' -- whatever
// their DateStyle and TimeZone. Until destroyed (or the transaction abort).
class CanonicalTextFormat {
public:
    CanonicalTextFormat();
    ~CanonicalTextFormat();
    CanonicalTextFormat(const CanonicalTextFormat&) = delete;
    CanonicalTextFormat& operator=(const CanonicalTextFormat&) = delete;

private:
    int guc_nest_level_;
    int exceptions_at_entry_;
};

// Quoting for generated SQL.
std::string quote_ident(const std::string& name);
std::string quote_literal(const std::string& value);
// "schema"."name" of a relation, from its OID.
std::string qualified_relation_name(unsigned int relid);

} // namespace presplit::pg
