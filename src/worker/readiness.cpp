#include "worker/readiness.hpp"

#include "catalog/catalog.hpp"
#include "core/plan_state.hpp"
#include "migration/layout.hpp"
#include "pg/spi.hpp"

namespace presplit::worker {

std::optional<std::string> missing_for_work(int64_t plan_id) {
    // A remote target (docs/multi_server.md) has no table here before the
    // cutover, then a foreign table: no index, no reverse capture.
    const std::string local = catalog::has_shadow_servers() ? "s.server IS NULL" : "true";
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    // The first thing missing, in the order a restore brings them back.
    pg::Value missing = spi.scalar(
        std::string(
            "WITH p AS (SELECT * FROM presplit.plan WHERE id = $1::bigint),"
            "     s AS (SELECT * FROM presplit.shadow WHERE plan_id = $1::bigint)"
            " SELECT CASE"
            // Rolled back: the source is the partition again; what is left
            // is a remote target's reverse direction, to drop. Finalized:
            // what a server lost during finalize kept, to drop.
            "  WHEN p.state IN ($8, $9) THEN NULL"
            "  WHEN p.source IS NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_class c"
            "                                        WHERE c.oid = p.source::oid)"
            "   THEN 'its source partition does not exist'"
            "  WHEN (SELECT count(*) FROM s) <> cardinality(p.split_points) + 1"
            "   THEN 'presplit.shadow lacks some of its shadows'"
            "  WHEN EXISTS (SELECT FROM s WHERE (s.relation IS NOT NULL OR " +
            local +
            ")"
            "                  AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c"
            "                                   WHERE c.oid = s.relation::oid))"
            "   THEN 'a shadow table does not exist'"
            "  WHEN (SELECT count(*) FROM presplit.shadow_progress g WHERE g.plan_id = p.id)"
            "       <> (SELECT count(*) FROM s)"
            "   THEN 'presplit.shadow_progress lacks some of its shadows'"
            "  WHEN p.state IN ($6, $7)" // switching, cut_over
            "       AND (SELECT count(*) FROM presplit.channel c WHERE c.plan_id = p.id) <> 2"
            "   THEN 'presplit.channel lacks its channels'"
            "  WHEN EXISTS (SELECT FROM s WHERE " +
            local +
            " AND NOT EXISTS ("
            "                 SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = s.relation::oid"
            "                    AND i.indisunique AND i.indisvalid))"
            "   THEN 'a shadow has no unique index'"
            "  WHEN p.state <> $7" // cut_over
            "       AND (SELECT count(*) FROM pg_catalog.pg_trigger t"
            "             WHERE t.tgrelid = p.source::oid AND t.tgname IN ($2, $3)"
            "               AND t.tgenabled IN ('O', 'A')) <> 2"
            "   THEN 'its capture triggers are missing or disabled'"
            "  WHEN p.state = $7" // cut_over
            "       AND (SELECT count(*) FROM pg_catalog.pg_trigger t JOIN s ON t.tgrelid = "
            "s.relation"
            "             WHERE t.tgname IN ($4, $5) AND t.tgenabled IN ('O', 'A'))"
            "           <> 2 * (SELECT count(*) FROM s WHERE " +
            local +
            ")"
            "   THEN 'its reverse capture triggers are missing or disabled'"
            "  WHEN NOT (SELECT is_called FROM presplit.event_id_seq)"
            "   THEN 'presplit.event_id_seq has not been set (restored) yet'"
            "  END FROM p"),
        {std::to_string(plan_id), migration::capture_trigger_name(plan_id),
         migration::capture_truncate_trigger_name(plan_id),
         migration::reverse_capture_trigger_name(plan_id),
         migration::reverse_capture_truncate_trigger_name(plan_id),
         core::to_string(core::PlanState::switching), core::to_string(core::PlanState::cut_over),
         core::to_string(core::PlanState::rolled_back),
         core::to_string(core::PlanState::finalized)});
    return missing;
}

} // namespace presplit::worker
