// Reading one of pg_presplit's catalog tables (schema presplit) without SPI,
// for code that runs inside planner and executor hooks: a heap scan with the
// latest snapshot (so a cache built from it sees every committed change),
// columns found by name. Every PostgreSQL call goes through pg::call, so
// that the caller may own C++ objects.
#pragma once

extern "C" {
#include "postgres.h"
#include "access/htup.h"
#include "access/relscan.h"
#include "access/transam.h"
#include "utils/rel.h"
}

#include <optional>
#include <string>

namespace presplit::catalog {

class DirectScan {
public:
    // False if the extension is not installed in this database.
    bool open(const char* table_name);
    void close();
    bool next(); // the next row, false at the end
    AttrNumber column(const char* name) const;
    std::optional<Datum> get(AttrNumber attnum) const;             // nullopt: NULL
    std::optional<std::string> string_at(AttrNumber attnum) const; // a text column
    TransactionId xmin() const; // of the current row (FrozenTransactionId if frozen)

private:
    Relation rel_ = nullptr;
    TableScanDesc scan_ = nullptr;
    HeapTuple tuple_ = nullptr;
};

} // namespace presplit::catalog
