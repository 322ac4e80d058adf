#include "switchover/switchover.hpp"

#include "config.hpp"
#include "migration/shadows.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

#include <algorithm>

namespace presplit::switchover {
namespace {

std::string milliseconds(double ms) {
    char text[32];
    snprintf(text, sizeof text, "%.1f ms", ms);
    return text;
}

} // namespace

int lock_exclusively(unsigned int owner, const std::vector<std::string>& tables,
                     const std::string& what) {
    std::string lock_sql = "LOCK TABLE ";
    for (size_t i = 0; i < tables.size(); ++i)
        lock_sql += (i ? ", ONLY " : "ONLY ") + tables[i];
    lock_sql += " IN ACCESS EXCLUSIVE MODE";
    const std::string timeout = std::to_string(config::cutover_lock_timeout_ms) + "ms";
    std::string saved_timeout;
    {
        pg::SpiSession spi;
        saved_timeout = *spi.scalar("SELECT pg_catalog.current_setting('lock_timeout')");
    }
    for (int attempt = 1;; ++attempt) {
        bool locked = pg::in_subtransaction(
            [&] {
                pg::RunAsTableOwner as_owner(owner);
                pg::SpiSession spi;
                spi.execute("SELECT pg_catalog.set_config('lock_timeout', $1, true)", {timeout});
                spi.execute(lock_sql);
            },
            ERRCODE_LOCK_NOT_AVAILABLE);
        if (locked) {
            pg::SpiSession spi;
            spi.execute("SELECT pg_catalog.set_config('lock_timeout', $1, true)", {saved_timeout});
            return attempt;
        }
        if (attempt >= config::cutover_max_tries)
            throw pg::Error(ERRCODE_LOCK_NOT_AVAILABLE,
                            "could not lock the tables for the " + what + " in " +
                                std::to_string(attempt) + " tries of " + timeout,
                            "Other sessions held locks on them the whole time (long queries or "
                            "transactions).",
                            "Try again later, or raise presplit.cutover_max_tries or "
                            "presplit.cutover_lock_timeout.");
        pg::sleep_on_latch(std::min<long>(1000, 10L << std::min(attempt - 1, 7)));
    }
}

namespace {

// The plan's tables in the order writers lock them, so that waiting for
// them cannot deadlock with a writer: the parent, then the partition written
// (the source before cutover, a new partition after), then the table its
// capture trigger writes.
std::vector<std::string> lock_order(const migration::PlanLayout& layout, bool with_parent) {
    std::vector<std::string> tables;
    if (with_parent)
        tables.push_back(pg::qualified_relation_name(layout.plan.parent));
    if (layout.plan.state != "cut_over")
        tables.push_back(layout.source);
    for (const auto& shadow : layout.shadows)
        if (!shadow.name.empty())
            tables.push_back(shadow.name);
    if (layout.plan.state == "cut_over")
        tables.push_back(layout.source);
    return tables;
}

std::optional<std::string> source_lower(const migration::PlanLayout& layout) {
    return layout.shadows.front().row.lower_value;
}
std::optional<std::string> source_upper(const migration::PlanLayout& layout) {
    return layout.shadows.back().row.upper_value;
}

void require_shadows(const migration::PlanLayout& layout) {
    for (const auto& shadow : layout.shadows)
        if (shadow.name.empty())
            throw pg::Error(ERRCODE_INTERNAL_ERROR, catalog::plan_label(layout.plan.id) +
                                                        " has lost shadow " +
                                                        std::to_string(shadow.row.ordinal));
}

// Locks the parent and the plan's tables (lock_exclusively), runs `swap`,
// and records in events (`kind`) how many tries the lock took and how long
// it was held until the swap was done.
template <typename Swap>
SwapReport locked_swap(const migration::PlanLayout& layout, const char* what, const char* kind,
                       Swap&& swap) {
    SwapReport report;
    report.tries =
        lock_exclusively(layout.table_owner, lock_order(layout, /*with_parent=*/true), what);
    const instr_time locked_at = pg::now();
    swap(pg::qualified_relation_name(layout.plan.parent));
    report.lock_held_ms = pg::elapsed_ms(locked_at);
    catalog::log_event(layout.plan.id, layout.source, kind,
                       "lock taken in " + std::to_string(report.tries) + " tries, held " +
                           milliseconds(report.lock_held_ms) + " to the end of the swap");
    return report;
}

} // namespace

void begin_switching(const catalog::Plan& plan) {
    catalog::set_new_channel_weight(plan.id, 0);
    catalog::set_plan_state(plan.id, "switching");
}

SwapReport cut_over(const migration::PlanLayout& layout) {
    require_shadows(layout);
    return locked_swap(layout, "cutover", "cutover", [&](const std::string& parent) {
        migration::remove_capture(layout);
        {
            pg::RunAsTableOwner as_owner(layout.table_owner);
            pg::SpiSession spi;
            spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + layout.source);
            spi.execute("ALTER TABLE " + layout.source + " ADD CONSTRAINT " +
                        migration::old_bound_constraint_name() + " CHECK (" + layout.key +
                        " IS NOT NULL AND " +
                        migration::range_condition(layout.key, layout.key_type,
                                                   source_lower(layout), source_upper(layout)) +
                        ") NOT VALID");
            for (const auto& shadow : layout.shadows) {
                spi.execute("ALTER TABLE " + parent + " ATTACH PARTITION " + shadow.name + " " +
                            shadow.row.bound);
                spi.execute("ALTER TABLE " + shadow.name + " DROP CONSTRAINT presplit_bound");
            }
        }
        migration::install_reverse_capture(layout);
        catalog::set_new_channel_weight(layout.plan.id, 100);
        catalog::mark_cut_over(layout.plan.id);
        catalog::set_plan_state(layout.plan.id, "cut_over");
    });
}

bool validate_old_bound(const migration::PlanLayout& layout) {
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        auto validated = spi.scalar(
            "SELECT convalidated FROM pg_catalog.pg_constraint"
            " WHERE conrelid = $1::oid AND conname = $2::name",
            {std::to_string(layout.plan.source), migration::old_bound_constraint_name()});
        if (!validated || *validated == "t")
            return false;
    }
    // The check compares keys with the key type's operators: as the owner.
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    spi.execute("ALTER TABLE " + layout.source + " VALIDATE CONSTRAINT " +
                migration::old_bound_constraint_name());
    return true;
}

void roll_back(const migration::PlanLayout& layout, const std::string& reason) {
    if (layout.plan.state != "cut_over") {
        // Before cutover the source never stopped being the partition: drop
        // the new channel (capture and shadows).
        lock_exclusively(layout.table_owner, lock_order(layout, /*with_parent=*/false), "rollback");
        migration::remove_capture_and_shadows(layout);
        if (layout.plan.new_channel_weight)
            catalog::set_new_channel_weight(layout.plan.id, 0);
        catalog::set_plan_state(layout.plan.id, "rolled_back", reason);
        return;
    }
    require_shadows(layout);
    // The scan, if the worker has not done it yet, before the exclusive lock.
    validate_old_bound(layout);
    locked_swap(layout, "rollback", "rollback_swap", [&](const std::string& parent) {
        migration::remove_reverse_capture(layout);
        {
            pg::RunAsTableOwner as_owner(layout.table_owner);
            pg::SpiSession spi;
            for (const auto& shadow : layout.shadows)
                spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + shadow.name);
            spi.execute("ALTER TABLE " + parent + " ATTACH PARTITION " + layout.source + " " +
                        migration::partition_bound(source_lower(layout), source_upper(layout)));
            spi.execute("ALTER TABLE " + layout.source + " DROP CONSTRAINT " +
                        migration::old_bound_constraint_name());
        }
        migration::drop_shadows(layout);
        catalog::set_new_channel_weight(layout.plan.id, 0);
        catalog::set_plan_state(layout.plan.id, "rolled_back", reason);
    });
}

void finalize(const migration::PlanLayout& layout, bool drop_old) {
    // Dropping reverse capture locks the new partitions: not the parent.
    lock_exclusively(layout.table_owner, lock_order(layout, /*with_parent=*/false), "finalization");
    migration::remove_reverse_capture(layout);
    catalog::log_event(layout.plan.id, layout.source, "finalized",
                       drop_old ? "old partition dropped" : "old partition kept as a plain table");
    // Finalized before the old partition is dropped: the state change is
    // logged under its name, and the drop makes the finished plan forget it
    // (presplit._forget_dropped_tables), so that no dangling OID is left for
    // a dump to carry into another cluster.
    catalog::set_plan_state(layout.plan.id, "finalized");
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    if (drop_old)
        spi.execute("DROP TABLE " + layout.source);
    else
        spi.execute("ALTER TABLE " + layout.source + " DROP CONSTRAINT IF EXISTS " +
                    migration::old_bound_constraint_name());
}

} // namespace presplit::switchover
