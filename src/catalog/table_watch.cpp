#include "catalog/table_watch.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
}

namespace presplit::catalog {

Oid TableWatch::find_table() const {
    return pg::call([&] {
        const Oid schema = get_namespace_oid("presplit", true);
        return OidIsValid(schema) ? get_relname_relid(table_name_, schema) : InvalidOid;
    });
}

bool TableWatch::stale() {
    pg::call([] { AcceptInvalidationMessages(); });
    return stale_;
}

void TableWatch::reading() {
    stale_ = false;
    table_relid_ = find_table();
}

void TableWatch::changed() const {
    const Oid relid = find_table();
    if (OidIsValid(relid))
        pg::call([&] { CacheInvalidateRelcacheByRelid(relid); });
}

} // namespace presplit::catalog
