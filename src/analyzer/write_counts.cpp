#include "analyzer/write_counts.hpp"

extern "C" {
#include "pgstat.h"
}

namespace presplit::analyzer {

int64 writes_so_far(Oid relid) {
    PgStat_TableStatus* status = find_tabstat_entry(relid);
    if (status == nullptr)
        return 0;
    int64 total = status->t_counts.t_tuples_inserted + status->t_counts.t_tuples_updated +
                  status->t_counts.t_tuples_deleted;
    for (PgStat_TableXactStatus* level = status->trans; level != nullptr; level = level->upper)
        total += level->tuples_inserted + level->tuples_updated + level->tuples_deleted;
    return total;
}

} // namespace presplit::analyzer
