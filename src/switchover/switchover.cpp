#include "switchover/switchover.hpp"

#include "config.hpp"
#include "core/lock_wait.hpp"
#include "migration/shadows.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "remote/replication.hpp"
#include "remote/split.hpp"
#include "remote/warmup.hpp"
#include "switchover/lock_holders.hpp"

extern "C" {
#include "postmaster/interrupt.h"
#include "storage/lockdefs.h"
}

#include <algorithm>
#include <map>
#include <optional>

namespace presplit::switchover {
namespace {

std::string milliseconds(double ms) {
    char text[32];
    snprintf(text, sizeof text, "%.1f ms", ms);
    return text;
}

std::string seconds(double ms) {
    char text[32];
    snprintf(text, sizeof text, "%.1f s", ms / 1000.0);
    return text;
}

struct LockTarget {
    unsigned int relid;
    std::string name; // qualified and quoted
};

// The plan's tables in the order writers lock them, so that waiting for
// them cannot deadlock with a writer: the parent, then the partition written
// (the source before cutover, a new partition after), then the table its
// capture trigger writes.
std::vector<LockTarget> lock_order(const migration::PlanLayout& layout, bool with_parent) {
    std::vector<LockTarget> tables;
    if (with_parent)
        tables.push_back({layout.plan.parent, pg::qualified_relation_name(layout.plan.parent)});
    if (layout.plan.state != core::PlanState::cut_over)
        tables.push_back({layout.plan.source, layout.source});
    // Not a remote target's foreign table: LOCK TABLE refuses foreign tables
    // (the source's lock keeps its writers out).
    for (const auto& shadow : layout.shadows)
        if (!shadow.name.empty() && shadow.row.relation && !shadow.row.server)
            tables.push_back({*shadow.row.relation, shadow.name});
    if (layout.plan.state == core::PlanState::cut_over)
        tables.push_back({layout.plan.source, layout.source});
    return tables;
}

core::LockWaitSettings lock_wait_settings() {
    core::LockWaitSettings settings;
    settings.lock_timeout_ms = config::cutover_lock_timeout_ms;
    settings.max_tries = config::cutover_max_tries;
    settings.max_wait_ms = config::cutover_max_wait_ms;
    return settings;
}

// One try: LOCK TABLE with lock_timeout in a subtransaction, as the owner
// (the statement holds the tables' names). False if it timed out.
bool try_lock(unsigned int owner, const std::string& lock_sql, const std::string& timeout) {
    return pg::in_subtransaction(
        [&] {
            pg::RunAsTableOwner as_owner(owner);
            pg::SpiSession spi;
            spi.execute("SELECT pg_catalog.set_config('lock_timeout', $1, true)", {timeout});
            spi.execute(lock_sql);
        },
        ERRCODE_LOCK_NOT_AVAILABLE);
}

struct LockMode {
    const char* sql; // as LOCK TABLE names it
    LOCKMODE mode;
};

LockReport lock_tables(const migration::PlanLayout& layout, bool with_parent,
                       const std::string& what, LockMode lock_mode) {
    const std::vector<LockTarget> tables = lock_order(layout, with_parent);
    std::string lock_sql = "LOCK TABLE ";
    std::vector<unsigned int> relids;
    for (size_t i = 0; i < tables.size(); ++i) {
        lock_sql += (i ? ", ONLY " : "ONLY ") + tables[i].name;
        relids.push_back(tables[i].relid);
    }
    lock_sql += std::string(" IN ") + lock_mode.sql + " MODE";
    const std::string timeout = std::to_string(config::cutover_lock_timeout_ms) + "ms";
    std::string saved_timeout;
    {
        pg::SpiSession spi;
        saved_timeout = *spi.scalar("SELECT pg_catalog.current_setting('lock_timeout')");
    }

    const instr_time started = pg::now();
    core::LockWait wait(lock_wait_settings(), clock_ms());
    HolderWatch watch(std::move(relids), lock_mode.mode);
    std::map<uint64_t, HolderFacts> holders_by_id;
    std::vector<HolderFacts> holders;
    constexpr int kMaxNamed = 10; // holders named in events and in the error
    int waited_for = 0;
    auto description = [&](uint64_t id, int64_t now_ms) {
        const HolderFacts& holder = holders_by_id.at(id);
        return describe_holder(holder, now_ms) + " holding a lock on " +
               tables[holder.relation].name;
    };
    for (;;) {
        // The worker's shutdown request (a backend's arrives as an interrupt).
        if (ShutdownRequestPending)
            throw pg::Error(ERRCODE_ADMIN_SHUTDOWN, "the " + what + " was interrupted by shutdown");
        holders = watch.look();
        holders_by_id.clear();
        std::vector<core::LockHolder> core_holders;
        for (const HolderFacts& holder : holders) {
            holders_by_id[holder.holder.id] = holder;
            core_holders.push_back(holder.holder);
        }
        const int64_t now_ms = clock_ms();
        const core::LockDecision decision = wait.next(now_ms, core_holders);

        for (uint64_t id : decision.cancel) {
            const HolderFacts& holder = holders_by_id.at(id);
            if (cancel_autovacuum(holder, tables[holder.relation].name, what))
                catalog::log_event(layout.plan.id, layout.source, "autovacuum_cancelled",
                                   "the " + what + " cancelled " + description(id, now_ms));
        }
        for (uint64_t id : decision.newly_waiting_for) {
            if (holders_by_id.at(id).holder.kind == core::HolderKind::autovacuum)
                continue;
            // A workload of transactions longer than a try would name one
            // after the other: the first few say enough.
            if (++waited_for == kMaxNamed + 1)
                catalog::log_event(layout.plan.id, layout.source, "lock_wait",
                                   "the " + what + " waits for more sessions; only the first " +
                                       std::to_string(kMaxNamed) + " are named");
            if (waited_for <= kMaxNamed)
                catalog::log_event(layout.plan.id, layout.source, "lock_wait",
                                   "the " + what + " waits, without queueing, for " +
                                       description(id, now_ms));
        }

        switch (decision.action) {
        case core::LockAction::wait:
            pg::sleep_on_latch(decision.wait_ms);
            continue;
        case core::LockAction::try_lock: {
            const bool locked = try_lock(layout.table_owner, lock_sql, timeout);
            wait.tried(clock_ms(), locked);
            if (!locked)
                continue;
            pg::SpiSession spi;
            spi.execute("SELECT pg_catalog.set_config('lock_timeout', $1, true)", {saved_timeout});
            return {wait.tries(), pg::elapsed_ms(started)};
        }
        case core::LockAction::give_up:
            break;
        }

        // Gave up: say who held the locks.
        std::string blockers;
        int named_count = 0, unnamed = 0;
        const std::vector<uint64_t>& named = decision.waiting_for;
        for (const HolderFacts& holder : holders)
            if (named.empty() ||
                std::find(named.begin(), named.end(), holder.holder.id) != named.end()) {
                if (named_count++ < kMaxNamed)
                    blockers +=
                        (blockers.empty() ? "" : "; ") + description(holder.holder.id, now_ms);
                else
                    ++unnamed;
            }
        if (unnamed)
            blockers += "; and " + std::to_string(unnamed) + " more";
        const std::string tries =
            std::to_string(wait.tries()) + (wait.tries() == 1 ? " try" : " tries");
        throw pg::Error(
            ERRCODE_LOCK_NOT_AVAILABLE,
            "could not lock the tables for the " + what + ": other sessions held locks on them",
            (decision.reason == core::GiveUpReason::tries
                 ? tries + " of " + timeout + " (presplit.cutover_max_tries) timed out in " +
                       seconds(pg::elapsed_ms(started)) + "."
                 : "Waited " + seconds(pg::elapsed_ms(started)) +
                       " (presplit.cutover_max_wait) and made " + tries + " of " + timeout + ".") +
                (blockers.empty() ? "" : " Held by: " + blockers + "."),
            "Try again later, or end the sessions named, or raise presplit.cutover_max_wait or "
            "presplit.cutover_max_tries.");
    }
}

} // namespace

LockReport lock_exclusively(const migration::PlanLayout& layout, bool with_parent,
                            const std::string& what) {
    return lock_tables(layout, with_parent, what, {"ACCESS EXCLUSIVE", AccessExclusiveLock});
}

LockReport lock_shared(const migration::PlanLayout& layout, const std::string& what) {
    return lock_tables(layout, /*with_parent=*/false, what, {"SHARE", ShareLock});
}

namespace {

std::optional<std::string> source_lower(const migration::PlanLayout& layout) {
    return layout.shadows.front().row.lower_value;
}
std::optional<std::string> source_upper(const migration::PlanLayout& layout) {
    return layout.shadows.back().row.upper_value;
}

void require_shadows(const migration::PlanLayout& layout) {
    for (const auto& shadow : layout.shadows)
        if (shadow.name.empty() && !shadow.row.server) // a remote target has none before cutover
            throw pg::Error(ERRCODE_INTERNAL_ERROR, catalog::plan_label(layout.plan.id) +
                                                        " has lost shadow " +
                                                        std::to_string(shadow.row.ordinal));
}

// Locks the parent and the plan's tables (lock_exclusively), runs `swap`,
// and records in events (`kind`) how many tries the lock took and how long
// it was held until the swap was done.
// lock_layout: the tables to lock, when not the plan's (see without_source).
// steps: the swap's steps, when it times them (pg::StepTimes), for the event.
template <typename Swap>
SwapReport locked_swap(const migration::PlanLayout& layout,
                       const migration::PlanLayout* lock_layout, const char* what, const char* kind,
                       Swap&& swap, const pg::StepTimes* steps = nullptr) {
    SwapReport report;
    const LockReport lock = lock_layout
                                ? lock_exclusively(*lock_layout, /*with_parent=*/false, what)
                                : lock_exclusively(layout, /*with_parent=*/true, what);
    report.tries = lock.tries;
    const instr_time locked_at = pg::now();
    swap(pg::qualified_relation_name(layout.plan.parent));
    report.lock_held_ms = pg::elapsed_ms(locked_at);
    catalog::log_event(
        layout.plan.id, layout.source, kind,
        "lock taken in " + std::to_string(report.tries) + " tries, held " +
            milliseconds(report.lock_held_ms) + " to the end of the swap; getting it took " +
            milliseconds(lock.waited_ms) + (steps ? "; under the lock: " + steps->summary() : ""));
    return report;
}

// The parent and the local new partitions, in the writers' order, but not
// the kept source: a rollback's lock waits for the remote targets' reverse
// subscriptions to apply the other servers' last changes to it (its ATTACH
// locks it after them).
migration::PlanLayout without_source(const migration::PlanLayout& layout) {
    migration::PlanLayout locked = layout;
    locked.plan.state = core::PlanState::switching; // lock_order: the "source" first
    locked.plan.source = layout.plan.parent;
    locked.source = pg::qualified_relation_name(layout.plan.parent);
    return locked;
}

} // namespace

void begin_switching(const catalog::Plan& plan) {
    if (catalog::has_remote_targets(plan.id))
        remote::create_remote_read_tables(migration::load_layout(plan));
    catalog::set_new_channel_weight(plan.id, 0);
    catalog::set_plan_state(plan.id, core::PlanState::switching);
}

SwapReport cut_over(const migration::PlanLayout& layout) {
    require_shadows(layout);
    // The sessions using the table open their connections to the remote
    // targets' servers first (remote/warmup.hpp).
    std::optional<remote::CutoverWarmup> warmup;
    if (const std::vector<Oid> servers = remote::remote_target_servers(layout); !servers.empty()) {
        warmup.emplace(layout.plan.parent, layout.plan.source, servers);
        warmup->wait();
    }
    // Before the lock, without it: the remote targets' lag drained, and the
    // reverse directions' slots created (that waits for the other server's
    // transactions).
    const remote::TargetConnections connections = remote::drain_remote_targets(layout);
    remote::RemoteReverse reverse = remote::prepare_remote_reverse(layout);
    const remote::ForeignTables foreign_tables = remote::ensure_remote_foreign_tables(layout);
    pg::StepTimes steps;
    auto swap = [&](const std::string& parent) {
        const instr_time locked_at = pg::now();
        steps = pg::StepTimes(); // from the lock
        // Writers wait for the lock: every change of the source is in the
        // WAL up to this mark; the remote targets must have applied it. They
        // catch up while the catalog is changed here; the swap ends only
        // once they have (wait_for_remote_targets below).
        std::string mark;
        if (!connections.empty()) {
            mark = remote::mark_local_wal();
            steps.step("the mark");
            remote::unpublish_remote_source(layout, reverse);
            steps.step("publications");
        }
        migration::remove_capture(layout);
        steps.step("capture dropped");
        {
            pg::RunAsTableOwner as_owner(layout.table_owner);
            pg::SpiSession spi;
            spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + layout.source);
            steps.step("detach");
            spi.execute("ALTER TABLE " + layout.source + " ADD CONSTRAINT " +
                        migration::old_bound_constraint_name() + " CHECK (" + layout.key +
                        " IS NOT NULL AND " +
                        migration::range_condition(layout.key, layout.key_type,
                                                   source_lower(layout), source_upper(layout)) +
                        ") NOT VALID");
            steps.step("check");
            for (const auto& shadow : layout.shadows) {
                if (shadow.row.server)
                    continue; // attached below
                spi.execute("ALTER TABLE " + parent + " ATTACH PARTITION " + shadow.name + " " +
                            shadow.row.bound);
                spi.execute("ALTER TABLE " + shadow.name + " DROP CONSTRAINT presplit_bound");
            }
            steps.step("local attaches");
        }
        remote::attach_remote_targets(layout, parent, foreign_tables);
        steps.step("remote attaches");
        migration::install_reverse_capture(layout);
        steps.step("reverse capture");
        catalog::set_new_channel_weight(layout.plan.id, 100);
        catalog::mark_cut_over(layout.plan.id);
        catalog::set_plan_state(layout.plan.id, core::PlanState::cut_over);
        steps.step("catalog");
        if (!connections.empty()) {
            const std::map<int, std::string> flushed_at =
                remote::wait_for_remote_targets(layout, connections, mark);
            steps.step("the rest of the wait");
            catalog::log_event(layout.plan.id, layout.source, "remote_caught_up",
                               "under the cutover's lock, the other servers applied this "
                               "server's last changes " +
                                   milliseconds(pg::elapsed_ms(locked_at)) +
                                   " after the lock (the catalog changed meanwhile)" +
                                   (warmup ? "; " + warmup->summary() : std::string()));
            remote::record_remote_reverse_starts(layout, reverse, flushed_at);
            steps.step("reverse starts");
        }
    };
    if (warmup)
        warmup->withdraw();
    return locked_swap(layout, nullptr, "cutover", "cutover", swap, &steps);
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

void drop_new_channel(const migration::PlanLayout& layout, const std::string& what) {
    lock_exclusively(layout, /*with_parent=*/false, what);
    migration::remove_capture_and_shadows(layout);
    remote::drop_remote_targets(layout, /*drop_tables=*/true);
    if (layout.plan.new_channel_weight)
        catalog::set_new_channel_weight(layout.plan.id, 0);
}

void roll_back(const migration::PlanLayout& layout, const std::string& reason) {
    if (layout.plan.state != core::PlanState::cut_over) {
        // Before cutover the source never stopped being the partition.
        drop_new_channel(layout, "rollback");
        catalog::set_plan_state(layout.plan.id, core::PlanState::rolled_back, reason);
        return;
    }
    require_shadows(layout);
    // Remote targets: each one's reverse direction running, or refused
    // before anything changes.
    remote::RemoteReverse reverse = remote::require_remote_reverse(layout);
    // The scan, if the worker has not done it yet, before the exclusive lock.
    validate_old_bound(layout);
    const bool remote_targets = !reverse.targets.empty();
    if (remote_targets)
        remote::drain_remote_reverse(reverse);
    const migration::PlanLayout source_kept_unlocked = without_source(layout);
    const migration::PlanLayout* locked = remote_targets ? &source_kept_unlocked : nullptr;
    locked_swap(layout, locked, "rollback", "rollback_swap", [&](const std::string& parent) {
        if (remote_targets) {
            // Nothing is written there any more: once every change made
            // there is here, the source is current.
            const double waited_ms = remote::wait_for_remote_reverse(layout, reverse);
            catalog::log_event(layout.plan.id, layout.source, "remote_reverse_caught_up",
                               "under the rollback's lock, this server applied the other "
                               "servers' last changes in " +
                                   milliseconds(waited_ms));
        }
        migration::remove_reverse_capture(layout);
        {
            pg::RunAsTableOwner as_owner(layout.table_owner);
            pg::SpiSession spi;
            for (const auto& shadow : layout.shadows)
                if (!shadow.row.server) // a foreign table: detached and dropped below
                    spi.execute("ALTER TABLE " + parent + " DETACH PARTITION " + shadow.name);
        }
        remote::detach_remote_targets(layout, parent);
        {
            pg::RunAsTableOwner as_owner(layout.table_owner);
            pg::SpiSession spi;
            spi.execute("ALTER TABLE " + parent + " ATTACH PARTITION " + layout.source + " " +
                        migration::partition_bound(source_lower(layout), source_upper(layout)));
            spi.execute("ALTER TABLE " + layout.source + " DROP CONSTRAINT " +
                        migration::old_bound_constraint_name());
        }
        migration::drop_shadows(layout);
        catalog::set_new_channel_weight(layout.plan.id, 0);
        // The reverse directions and the tables there: dropped by the worker
        // once this committed (stopping the apply workers here would
        // lengthen the lock).
        catalog::set_plan_state(layout.plan.id, core::PlanState::rolled_back, reason);
    });
}

void finalize(const migration::PlanLayout& layout, bool drop_old) {
    // Dropping reverse capture locks the new partitions: not the parent.
    lock_exclusively(layout, /*with_parent=*/false, "finalization");
    // Every other server with something to drop, reached before anything
    // changes: one that cannot be reached fails finalize here.
    remote::TargetConnections servers = remote::connect_for_finalize(layout);
    migration::remove_reverse_capture(layout);
    catalog::log_event(layout.plan.id, layout.source, "finalized",
                       drop_old ? "old partition dropped" : "old partition kept as a plain table");
    // Finalized before the old partition is dropped: the state change is
    // logged under its name, and the drop makes the finished plan forget it
    // (presplit._forget_dropped_tables), so that no dangling OID is left for
    // a dump to carry into another cluster.
    catalog::set_plan_state(layout.plan.id, core::PlanState::finalized);
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    if (drop_old)
        spi.execute("DROP TABLE " + layout.source);
    else
        spi.execute("ALTER TABLE " + layout.source + " DROP CONSTRAINT IF EXISTS " +
                    migration::old_bound_constraint_name());
    // Last, once everything here that can fail has succeeded: what is
    // dropped on the other servers stays dropped if this transaction aborts
    // (a reverse direction dropped before a lock that then failed would
    // leave the plan cut over without its rollback). What the worker did not
    // drop after the cutover (the server was down), and the reverse
    // directions; a server lost since it was reached leaves its part to the
    // worker, after the commit.
    remote::finalize_remote_targets(layout, servers);
}

void cancel(const catalog::Plan& plan, const std::string& reason) {
    // The source and the shadows, as the rollback before cutover locks them
    // (autovacuum cancelled, long holders waited for without queueing).
    drop_new_channel(migration::load_layout(plan), "cancellation");
    catalog::set_plan_state(plan.id, core::PlanState::cancelled, reason);
}

} // namespace presplit::switchover
