#include "worker/migration_job.hpp"

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "core/copy_schedule.hpp"
#include "core/prediction_policy.hpp"
#include "core/retry_backoff.hpp"
#include "core/text_array.hpp"
#include "core/throttle.hpp"
#include "migration/backfill.hpp"
#include "migration/copy_rate.hpp"
#include "migration/layout.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "remote/copy_throttle.hpp"
#include "remote/snapshot_copy.hpp"
#include "remote/split.hpp"
#include "switchover/switchover.hpp"
#include "worker/transaction.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>

namespace presplit::worker {
namespace {

constexpr int kMaxConsecutiveErrors = 5;
std::map<int64_t, int> consecutive_errors;
constexpr int kConflictBatches = 8;
std::map<int64_t, int> skip_conflicts_for;
// Plans this process has copied for (verified for): the first step of one
// that already has a position (a verified shadow) is a resumption (after a
// restart or crash), worth a log line.
std::set<int64_t> seen;
std::set<int64_t> verifying;

// The source's bytes per row (total bytes, indexes and TOAST included, over
// its estimated rows), for the copy measure: what a batch of rows is worth in
// the bytes a copy schedule plans with. 0 while the source was never analyzed
// or vacuumed (no row estimate): such batches are not measured. Kept per plan
// in this process (one estimate per copy, not per batch).
std::map<int64_t, double> bytes_per_row;

double source_bytes_per_row(int64_t plan_id, Oid source) {
    auto known = bytes_per_row.find(plan_id);
    if (known != bytes_per_row.end())
        return known->second;
    const migration::SourceSize size = migration::source_size(source);
    const double per_row = size.rows > 0 ? size.bytes / size.rows : 0.0;
    if (per_row > 0)
        bytes_per_row[plan_id] = per_row;
    return per_row;
}

Step copy_next_batch(const migration::PlanLayout& layout) {
    const core::ThrottleSettings settings = migration::throttle_settings();
    if (settings.busy_active_backends > 0 &&
        core::foreground_is_busy(settings, migration::active_client_backends()))
        return {StepOutcome::idle, settings.backoff_ms};

    const instr_time start = pg::now();
    // After a batch had to skip rows capture had already copied, writers are
    // racing this range: go straight to ON CONFLICT for a few batches.
    int& conflict_batches_left = skip_conflicts_for[layout.plan.id];
    migration::BatchResult batch =
        migration::run_batch(layout, config::backfill_batch_size,
                             conflict_batches_left > 0 ? migration::BatchMode::skip_conflicts
                                                       : migration::BatchMode::try_plain_insert);
    if (batch.needed_conflict_handling)
        conflict_batches_left = kConflictBatches;
    else if (conflict_batches_left > 0)
        --conflict_batches_left;
    const double elapsed_ms = pg::elapsed_ms(start);
    const int64_t pause_ms = core::pause_after_batch_ms(settings, batch.rows_read, elapsed_ms);
    // The measured copy rate (docs/prediction.md): in the batch's transaction.
    const double per_row = source_bytes_per_row(layout.plan.id, layout.plan.source);
    if (per_row > 0 && batch.rows_read > 0)
        catalog::add_copy_measure(layout.plan.id, per_row * static_cast<double>(batch.rows_read),
                                  (elapsed_ms + static_cast<double>(pause_ms)) / 1000.0);
    if (batch.done)
        bytes_per_row.erase(layout.plan.id);
    return {StepOutcome::progress, pause_ms};
}

// The verification, one shadow per step: ANALYZE it, then compare it with
// its slice of the source under the transaction's one snapshot (the caller
// runs this REPEATABLE READ). Its progress row says "done" once it matched,
// so that a restart goes on with the next shadow; with the last one the plan
// is synced. A shadow of millions of rows is one long statement: a shutdown
// cancels it (lifecycle.hpp), and other plans' ramps go on meanwhile in the
// supervisor.
Step verify_next_shadow(const migration::PlanLayout& layout) {
    const int64_t id = layout.plan.id;
    const std::map<int, std::string> phases = catalog::progress_phases(id);
    auto verified = [&](const migration::ShadowLayout& shadow) {
        auto phase = phases.find(shadow.row.ordinal);
        return phase != phases.end() && phase->second == "done";
    };
    auto next = std::find_if_not(layout.shadows.begin(), layout.shadows.end(), verified);
    if (next != layout.shadows.end()) {
        if (verifying.insert(id).second && next != layout.shadows.begin())
            pg::call([&] {
                ereport(LOG, (errmsg("pg_presplit: resuming the verification of split plan %lld "
                                     "at shadow %d: the shadows before it are verified",
                                     static_cast<long long>(id), next->row.ordinal)));
            });
        migration::analyze_shadow(layout, *next);
        const migration::ShadowCheck check = migration::verify_shadow(layout, *next);
        if (!check.matches()) {
            catalog::set_plan_state(id, core::PlanState::failed,
                                    "verification failed: shadow " + std::to_string(check.ordinal) +
                                        ": source has " + std::to_string(check.source_rows) +
                                        " rows (checksum " + check.source_checksum +
                                        "), shadow has " + std::to_string(check.shadow_rows) +
                                        " rows (checksum " + check.shadow_checksum + ")");
            return {};
        }
        catalog::set_progress(id, next->row.ordinal, "done", 0);
        if (++next != layout.shadows.end())
            return {StepOutcome::progress, 0};
    }
    catalog::set_plan_state(id, core::PlanState::synced);
    return {StepOutcome::progress, 0};
}

// A failed plan leaves the source as it was: its capture (inert once the
// plan is failed, see migration/capture.cpp) and its shadows are dropped, as
// a cancel would, in a step of their own (the lock may have to wait).
Step clean_up_failed_plan(int64_t id) {
    auto step = in_transaction(
        "pg_presplit: cleaning up a failed plan", Isolation::read_committed, [&]() -> Step {
            auto plan = catalog::load_plan(id, /*lock=*/true);
            if (!plan || plan->state != core::PlanState::failed)
                return {};
            const migration::PlanLayout layout = migration::load_layout(*plan);
            switchover::drop_new_channel(layout, "clean-up");
            catalog::log_event(id, layout.source, "cleaned_up", "capture and shadows dropped");
            return {};
        });
    return step_outcome(id, step, /*may_fail_plan=*/false);
}

// A plan's targets on other servers (remote/split.hpp). An unreachable
// server makes these steps fail and retry after a back-off, with an event
// (remote_step_failed); it does not fail the plan.
std::map<int64_t, bool> has_remote_targets; // by plan: its targets never change

// The remote steps' back-off (remote_step_failed), by plan.
core::RetryBackoff remote_backoff;

int64_t now_ms() {
    return GetCurrentTimestamp() / 1000;
}

// When windows restrict the copy (a predicted plan's, the manager in
// prepare or split): whether a remote copy may start now, for its estimate
// (core::decide_remote_copy_start; the manager released the copy inside a
// window, but PostgreSQL's table sync is not held when the window ends).
// nullopt: nothing restricts it.
// With max_rows: for a chunk of the copy of at most that many rows.
std::optional<core::RemoteCopyStart>
windowed_remote_start(const migration::PlanLayout& layout,
                      std::optional<double> max_rows = std::nullopt) {
    const auto mode = static_cast<core::PredictMode>(config::predict_mode);
    if ((mode != core::PredictMode::prepare && mode != core::PredictMode::split) ||
        !catalog::copy_follows_windows(layout.plan.id))
        return std::nullopt;
    // The estimate the manager's schedule made it with (migration/copy_rate.hpp).
    const core::RemoteCopyEstimate estimate = migration::estimate_remote_copy(
        layout.plan.source, migration::current_copy_rate(), max_rows);
    return core::decide_remote_copy_start(estimate, pg::model_now_seconds(),
                                          catalog::stored_offpeak_windows(),
                                          core::RemoteStartOptions{});
}

// The wait a plan's remote copy was last said to have (its next window's
// start), so that it is said once per window.
std::map<int64_t, int64_t> remote_wait_said;

// The targets subscribe_step listed to copy under their slots' snapshots
// (remote/snapshot_copy.hpp), one after the other:
//   1. in a transaction that writes nothing until the slot is made (making
//      it waits for every xid here): the chunks' subscription there made
//      disabled, the slot, events. This server unreachable over a
//      replication connection: the table sync copies instead, with why;
//   2. a transaction that imported the slot's snapshot copies the rows and
//      makes the subscription there (in one transaction there);
//   3. a new one records it -- or, after a failure or a plan no longer
//      copying, drops what 1 made -- and, for a plan cancelled meanwhile,
//      what its clean-up did not see.
// A failure backs off as any remote step.
// Copies by snapshot that failed once started, in a row, by plan; from
// kSnapshotCopyTries on, subscribe_step has the table sync copy instead.
std::map<int64_t, int> snapshot_copies_failed;
constexpr int kSnapshotCopyTries = 3;

Step copy_by_snapshot(int64_t id, const std::vector<remote::SnapshotCopy>& copies) {
    enum class Made { gone, slot, table_sync };
    for (const remote::SnapshotCopy& copy : copies) {
        std::unique_ptr<remote::ExportedSlot> slot;
        auto made = in_transaction(
            "pg_presplit: making a replication slot", Isolation::read_committed, [&] {
                auto plan = catalog::load_plan(id, /*lock=*/false);
                if (!plan || !core::in_backfill(plan->state))
                    return Made::gone;
                const migration::PlanLayout layout = migration::load_layout(*plan);
                remote::prepare_remote_copy(layout, copy.ordinal);
                try {
                    slot = std::make_unique<remote::ExportedSlot>(
                        remote::remote_target_replication(layout, copy.ordinal));
                } catch (const pg::Error& error) {
                    // libpq's failure (no PostgreSQL error raised): the
                    // transaction goes on.
                    if (error.sqlstate() != ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION)
                        throw;
                    remote::subscribe_by_table_sync(
                        layout, copy,
                        "not copied under the slot's snapshot: " + std::string(error.what()) +
                            " (" + error.detail() + "). " + error.hint());
                    return Made::table_sync;
                }
                // Written once the slot is made, and seen while it copies.
                remote::announce_remote_copy(layout, copy);
                return Made::slot;
            });
        if (made.ok && made.value == Made::gone)
            return Step{StepOutcome::progress, 0};
        std::optional<TransactionResult<remote::RemoteCopyDone>> copied;
        if (made.ok && made.value == Made::slot) {
            const std::string snapshot = slot->snapshot();
            copied = in_transaction(
                "pg_presplit: copying to another server", Isolation::repeatable_read,
                [&] {
                    slot.reset(); // imported: the replication connection may go
                    // As of the slot's snapshot: a cancel since is seen by
                    // the settling step (the lock below waits for it).
                    auto plan = catalog::load_plan(id, /*lock=*/false);
                    if (!plan)
                        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                                        "the plan is gone");
                    return remote::copy_remote_target(migration::load_layout(*plan), copy,
                                                      [] { reload_configuration_if_asked(); });
                },
                snapshot.c_str());
        }
        slot.reset();
        const bool succeeded = made.ok && (made.value == Made::table_sync || copied->ok);
        auto settled = in_transaction(
            "pg_presplit: settling a copy to another server", Isolation::read_committed, [&] {
                // Locked: a cancel holds the row until it commits; one that
                // came during the copy did not see its subscription.
                auto plan = catalog::load_plan(id, /*lock=*/true);
                if (!plan)
                    return true;
                const migration::PlanLayout layout = migration::load_layout(*plan);
                if (!succeeded)
                    remote::abandon_remote_copy(layout, copy.ordinal);
                else if (copied)
                    remote::finish_remote_copy(layout, copy, copied->value);
                if (core::is_terminal(plan->state))
                    remote::drop_remote_targets(layout, /*drop_tables=*/false);
                return true;
            });
        if (!made.ok)
            return remote_step_failed(id, made.error, made.sqlstate, made.interrupted);
        if (copied && !copied->ok) {
            if (!copied->interrupted)
                ++snapshot_copies_failed[id];
            return remote_step_failed(id, copied->error, copied->sqlstate, copied->interrupted);
        }
        if (copied)
            snapshot_copies_failed.erase(id);
        if (!settled.ok)
            return remote_step_failed(id, settled.error, settled.sqlstate, settled.interrupted);
        remote_step_succeeded(id);
    }
    return Step{StepOutcome::progress, 0};
}

// Their copies: by the worker under each slot's snapshot (copy_by_snapshot,
// after this step's transaction), or by the initial table synchronisation
// of their subscriptions (presplit.backfill_paused and a held copy keep
// either from starting, and windows that restrict it keep it from starting
// unless it fits; once started, a copy is paced and held while the server
// is busy, not stopped by a pause or a window's end: remote/snapshot_copy.hpp,
// or remote/copy_throttle.hpp for a table sync),
// and the subscriptions there that no longer feed their slot here
// (re-synced).
// nullopt: nothing to do, or the step backs off (the local copy goes on
// meanwhile).
std::optional<Step> subscribe_step(int64_t id) {
    auto known = has_remote_targets.find(id);
    if (known != has_remote_targets.end() && !known->second)
        return std::nullopt;
    if (remote_retry_wait_ms(id) > 0)
        return std::nullopt;
    enum class Subscribed { none, looked, created, waiting, waiting_copied };
    std::vector<remote::SnapshotCopy> by_snapshot;
    // Its own transaction, writing nothing before the subscriptions exist:
    // creating a slot waits for every transaction that has an xid.
    auto subscribed = in_transaction(
        "pg_presplit: subscribing remote targets", Isolation::read_committed, [&]() -> Subscribed {
            auto plan = catalog::load_plan(id, /*lock=*/false);
            if (!plan || !core::in_backfill(plan->state))
                return Subscribed::none;
            const migration::PlanLayout layout = migration::load_layout(*plan);
            has_remote_targets[id] = remote::has_remote_targets(layout);
            if (!has_remote_targets[id])
                return Subscribed::none;
            std::string start_note;
            if (remote::remote_copy_would_start(layout))
                if (const auto start = windowed_remote_start(layout)) {
                    if (!start->starts()) {
                        auto said = remote_wait_said.find(id);
                        if (said == remote_wait_said.end() || said->second != start->wait_until) {
                            catalog::log_event(id, layout.source, "remote_copy_waiting",
                                               "the copy to the other server " + start->reason);
                            remote_wait_said[id] = start->wait_until;
                        }
                        return plan->backfill_done ? Subscribed::waiting_copied
                                                   : Subscribed::waiting;
                    }
                    if (start->verdict == core::RemoteStartVerdict::start_long)
                        start_note = start->reason;
                }
            by_snapshot.clear();
            // A copy by snapshot that keeps failing once started (a row
            // security policy, columns that differ there): the table sync.
            const auto failed = snapshot_copies_failed.find(id);
            const bool by_table_sync =
                failed != snapshot_copies_failed.end() && failed->second >= kSnapshotCopyTries;
            if (by_table_sync)
                start_note = (start_note.empty() ? "" : start_note + "; ") +
                             "the copy under the slot's snapshot failed " +
                             std::to_string(failed->second) +
                             " times in a row: by the table sync instead";
            const remote::Subscribing done = remote::subscribe_remote_targets(
                layout, start_note, by_table_sync ? nullptr : &by_snapshot);
            if (done != remote::Subscribing::acted)
                return done == remote::Subscribing::looked ? Subscribed::looked : Subscribed::none;
            remote_wait_said.erase(id);
            // Cancelled meanwhile: its clean-up did not see this subscription.
            // (Locked: a cancel holds the row until it commits.)
            plan = catalog::load_plan(id, /*lock=*/true);
            if (!plan || core::is_terminal(plan->state))
                remote::drop_remote_targets(layout, /*drop_tables=*/false);
            return Subscribed::created;
        });
    if (!subscribed.ok)
        return remote_step_failed(id, subscribed.error, subscribed.sqlstate,
                                  subscribed.interrupted);
    // A copy by snapshot succeeds or fails on its own (copy_by_snapshot).
    if ((subscribed.value == Subscribed::looked || subscribed.value == Subscribed::created) &&
        by_snapshot.empty())
        remote_step_succeeded(id);
    switch (subscribed.value) {
    case Subscribed::created:
        return by_snapshot.empty() ? Step{StepOutcome::progress, 0}
                                   : copy_by_snapshot(id, by_snapshot);
    case Subscribed::waiting_copied: // nothing else to do until it starts
        return Step{StepOutcome::idle, config::worker_naptime_ms};
    case Subscribed::none:
    case Subscribed::looked:
    case Subscribed::waiting:
        break;
    }
    return std::nullopt;
}

// The remote targets copied in chunks (remote::advance_remote_chunks): a
// chunk copied is folded in whatever the settings, a new one starts only when
// the copy may run (may_start: not paused, not held) and, when windows
// restrict it, fits in what is left of the window. nullopt: nothing to do
// now, or the step backs off.
std::optional<Step> chunk_step(int64_t id, bool may_start, bool* chunk_waits) {
    auto known = has_remote_targets.find(id);
    if (known != has_remote_targets.end() && !known->second)
        return std::nullopt;
    if (remote_retry_wait_ms(id) > 0)
        return std::nullopt;
    auto stepped = in_transaction(
        "pg_presplit: copying a remote chunk", Isolation::read_committed,
        [&]() -> remote::ChunkStep {
            auto plan = catalog::load_plan(id, /*lock=*/false);
            if (!plan || !core::in_backfill(plan->state))
                return remote::ChunkStep::none;
            const migration::PlanLayout layout = migration::load_layout(*plan);
            has_remote_targets[id] = remote::has_remote_targets(layout);
            if (!has_remote_targets[id])
                return remote::ChunkStep::none;
            const remote::ChunkStep step =
                remote::advance_remote_chunks(layout, may_start, [&](double rows) {
                    const auto start = windowed_remote_start(layout, rows);
                    if (!start || start->starts())
                        return true;
                    auto said = remote_wait_said.find(id);
                    if (said == remote_wait_said.end() || said->second != start->wait_until) {
                        catalog::log_event(id, layout.source, "remote_copy_waiting",
                                           "the next chunk of the copy to the other server " +
                                               start->reason);
                        remote_wait_said[id] = start->wait_until;
                    }
                    return false;
                });
            if (step == remote::ChunkStep::subscribed) {
                // Cancelled meanwhile: its clean-up did not see a chunk's
                // subscription made now. (Locked: a cancel holds the row
                // until it commits.)
                plan = catalog::load_plan(id, /*lock=*/true);
                if (!plan || core::is_terminal(plan->state))
                    remote::drop_remote_targets(layout, /*drop_tables=*/false);
            }
            return step;
        });
    if (!stepped.ok)
        return remote_step_failed(id, stepped.error, stepped.sqlstate, stepped.interrupted);
    *chunk_waits = stepped.value == remote::ChunkStep::waiting;
    if (stepped.value != remote::ChunkStep::acted && stepped.value != remote::ChunkStep::subscribed)
        return std::nullopt;
    remote_step_succeeded(id);
    return Step{StepOutcome::progress, 0};
}

// Once the local copy is done: their verification, before the local
// shadows'. nullopt: every remote target is verified (or there is none).
std::optional<Step> verify_remote_step(int64_t id) {
    auto known = has_remote_targets.find(id);
    if (known != has_remote_targets.end() && !known->second)
        return std::nullopt;
    // Not verified while backing off: nor are the local shadows meanwhile.
    if (const int64_t wait_ms = remote_retry_wait_ms(id); wait_ms > 0)
        return Step{StepOutcome::idle, wait_ms};
    auto verified = in_transaction(
        "pg_presplit: verifying a remote target", Isolation::read_committed,
        [&]() -> std::optional<Step> {
            auto plan = catalog::load_plan(id, /*lock=*/true);
            if (!plan || !core::in_backfill(plan->state) || plan->copy_held || !plan->backfill_done)
                return std::nullopt;
            switch (remote::verify_next_remote_target(migration::load_layout(*plan))) {
            case remote::RemoteCheck::none:
                return std::nullopt;
            case remote::RemoteCheck::waiting:
                return Step{StepOutcome::idle, config::worker_naptime_ms};
            case remote::RemoteCheck::verified:
            case remote::RemoteCheck::failed:
                return Step{StepOutcome::progress, 0};
            }
            return std::nullopt;
        });
    if (!verified.ok)
        return remote_step_failed(id, verified.error, verified.sqlstate, verified.interrupted);
    if (verified.value) // it asked the server
        remote_step_succeeded(id);
    return verified.value;
}

} // namespace

int64_t remote_retry_wait_ms(int64_t id) {
    return remote_backoff.wait_ms(id, now_ms());
}

void remote_step_succeeded(int64_t id) {
    remote_backoff.succeeded(id);
}

bool remote_retry_pending(int64_t id) {
    return remote_backoff.failing(id);
}

Step remote_step_failed(int64_t id, const std::string& error, int sqlstate, bool interrupted) {
    if (interrupted) // shutting down: the plan did nothing wrong
        return {};
    if (is_retryable_sqlstate(sqlstate))
        return {StepOutcome::progress, 0};
    const core::RetryBackoff::Failure failure = remote_backoff.failed(id, now_ms(), error);
    if (failure.report)
        (void)in_transaction(
            "pg_presplit: recording a remote error", Isolation::read_committed, [&] {
                auto plan = catalog::load_plan(id, /*lock=*/false);
                if (plan) // the parent's name once a finalize dropped the source
                    catalog::log_event(
                        id, pg::qualified_relation_name(plan->source ? plan->source : plan->parent),
                        "remote_split_retry",
                        catalog::plan_label(id) + ": " + error + "; " +
                            core::describe_retry(failure));
                return true;
            });
    return {StepOutcome::error, failure.retry_in_ms};
}

bool publish_remote_copy_limits() {
    auto limits =
        in_transaction("pg_presplit: limiting remote copies", Isolation::read_committed, [] {
            std::vector<remote::CopyLimit> out;
            const std::vector<Oid> sources = remote::remote_copy_sources();
            if (sources.empty())
                return out;
            // The local backfill's brakes (core/throttle.hpp): its rate cap,
            // and while the server is busy, a hold rather than a backoff.
            // Not presplit.backfill_paused: it holds what comes after the
            // copy (remote/copy_throttle.hpp says why).
            const core::ThrottleSettings settings = migration::throttle_settings();
            const bool busy =
                settings.busy_active_backends > 0 &&
                core::foreground_is_busy(settings, migration::active_client_backends());
            for (const Oid source : sources)
                out.push_back({MyDatabaseId, source, settings.max_rows_per_second, busy});
            return out;
        });
    if (!limits.ok)
        return false;
    remote::publish_copy_limits(limits.value);
    return !limits.value.empty();
}

Step run_migration_step(int64_t id) {
    // The plan's row lock serializes this step with cancel and other changes.
    auto peek = in_transaction("pg_presplit: reading plan", Isolation::read_committed,
                               [&] { return catalog::load_plan(id, /*lock=*/false); });
    if (peek.ok && peek.value && peek.value->state == core::PlanState::failed)
        return clean_up_failed_plan(id);
    if (!peek.ok || !peek.value || !core::in_backfill(peek.value->state))
        return {};
    // Held by the predictive manager outside its off-peak windows (capture
    // keeps the shadows current meanwhile): checked again under the lock.
    const bool held = config::backfill_paused || peek.value->copy_held;
    bool chunk_waits = false;
    if (std::optional<Step> chunked = chunk_step(id, !held, &chunk_waits))
        return *chunked;
    // Paused or held, only a running remote chunk goes on, to its fold.
    if (held)
        return chunk_waits ? Step{StepOutcome::idle, config::worker_naptime_ms} : Step{};
    if (std::optional<Step> subscribed = subscribe_step(id))
        return *subscribed;
    if (peek.value->backfill_done)
        if (std::optional<Step> verified = verify_remote_step(id))
            return *verified;
    const bool verify = peek.value->backfill_done;

    auto step = in_transaction(
        verify ? "pg_presplit: verifying a shadow" : "pg_presplit: copying a batch",
        verify ? Isolation::repeatable_read : Isolation::read_committed, [&]() -> Step {
            auto plan = catalog::load_plan(id, /*lock=*/true);
            if (!plan || !core::in_backfill(plan->state) || plan->copy_held)
                return {};
            migration::mark_backfilling(*plan);
            migration::PlanLayout layout = migration::load_layout(*plan);
            if (!plan->backfill_done) {
                const bool first_step_here = seen.insert(id).second;
                if (first_step_here && plan->backfill_position)
                    pg::call([&] {
                        ereport(LOG, (errmsg("pg_presplit: resuming the backfill of split plan "
                                             "%lld after %s",
                                             static_cast<long long>(id),
                                             core::format_text_array(
                                                 core::TextArray(plan->backfill_position->begin(),
                                                                 plan->backfill_position->end()))
                                                 .c_str())));
                    });
                return copy_next_batch(layout);
            }
            return verify_next_shadow(layout);
        });
    if (step.ok)
        consecutive_errors.erase(id);
    // A row the batch waited for moved to another partition, or a deadlock
    // with a writer (retryable): the next attempt takes a new snapshot and
    // gets past it.
    return step_outcome(id, step, /*may_fail_plan=*/true);
}

Step step_outcome(int64_t id, const TransactionResult<Step>& step, bool may_fail_plan) {
    if (step.ok)
        return step.value;
    if (step.retryable())
        return {StepOutcome::progress, 0};
    if (step.interrupted) // shutting down: the plan did nothing wrong
        return {};
    record_worker_error(id, step.error, may_fail_plan);
    return {StepOutcome::error, config::worker_naptime_ms};
}

void record_worker_error(int64_t id, const std::string& error, bool may_fail_plan) {
    int errors = ++consecutive_errors[id];
    in_transaction("pg_presplit: recording an error", Isolation::read_committed, [&] {
        auto plan = catalog::load_plan(id, /*lock=*/true);
        if (!plan)
            return 0;
        catalog::log_event(id, pg::qualified_relation_name(plan->source), "worker_error", error);
        if (may_fail_plan && errors >= kMaxConsecutiveErrors && core::in_backfill(plan->state)) {
            catalog::set_plan_state(id, core::PlanState::failed,
                                    "the worker failed " + std::to_string(errors) +
                                        " times in a row; last error: " + error);
            consecutive_errors.erase(id);
        }
        return 0;
    });
}

} // namespace presplit::worker
