#include "catalog/direct_scan.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace presplit::catalog {

bool DirectScan::open(const char* table_name) {
    rel_ = pg::call([&]() -> Relation {
        Oid schema = get_namespace_oid("presplit", true);
        Oid relid = OidIsValid(schema) ? get_relname_relid(table_name, schema) : InvalidOid;
        return OidIsValid(relid) ? table_open(relid, AccessShareLock) : nullptr;
    });
    if (rel_ == nullptr)
        return false;
    scan_ = pg::call([&] { return table_beginscan(rel_, GetLatestSnapshot(), 0, nullptr); });
    return true;
}

void DirectScan::close() {
    pg::call([&] {
        table_endscan(scan_);
        table_close(rel_, AccessShareLock);
    });
}

bool DirectScan::next() {
    tuple_ = pg::call([&] { return heap_getnext(scan_, ForwardScanDirection); });
    return tuple_ != nullptr;
}

AttrNumber DirectScan::column(const char* name) const {
    return pg::call([&] { return get_attnum(RelationGetRelid(rel_), name); });
}

std::optional<Datum> DirectScan::get(AttrNumber attnum) const {
    bool isnull = true;
    Datum value =
        pg::call([&] { return heap_getattr(tuple_, attnum, RelationGetDescr(rel_), &isnull); });
    return isnull ? std::nullopt : std::optional<Datum>(value);
}

std::optional<std::string> DirectScan::string_at(AttrNumber attnum) const {
    auto value = get(attnum);
    if (!value)
        return std::nullopt;
    return std::string(pg::call([&] { return TextDatumGetCString(*value); }));
}

TransactionId DirectScan::xmin() const {
    return HeapTupleHeaderXminFrozen(tuple_->t_data) ? FrozenTransactionId
                                                     : HeapTupleHeaderGetXmin(tuple_->t_data);
}

} // namespace presplit::catalog
