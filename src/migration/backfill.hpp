// The backfill: copies the source's rows into the shadows in identity order,
// one batch per transaction, recording the identity of the last row copied in
// the same transaction (so a restart resumes right after it).
//
// Why the result equals the source (capture runs in every writer's
// transaction; see shadows.hpp):
//  0. A batch covers a fixed identity range (position, boundary], chosen
//     before any row is locked; the position then advances to the boundary.
//  1. A batch reads its rows with FOR SHARE. A row changed or deleted by a
//     transaction that committed before the batch's lock is read in its latest
//     version or skipped if deleted (READ COMMITTED re-checks locked rows), so
//     the batch never copies a dead or outdated version -- no resurrection, no
//     older version over a newer one.
//  2. A writer that wants to change or delete a row the batch has locked waits
//     until the batch commits; its capture then finds the copied row in the
//     shadow and changes or deletes it there.
//  3. A row that capture already put in a shadow (inserted, or updated before
//     the batch reached it) conflicts with the batch's copy of the same row,
//     which ON CONFLICT DO NOTHING skips: capture's version is the newer one,
//     and by 1. it is also the one the batch read. (A batch first tries a
//     plain INSERT in a subtransaction and redoes it with ON CONFLICT only if
//     that raised a unique violation: same outcome, cheaper when no writer
//     raced it.)
//  4. Rows inserted after the batch's snapshot are not read by it; capture
//     put them in the shadows. Rows whose key moves within the source are
//     moved by capture (delete + insert), and the batch copies them, if not
//     yet copied, where they are now.
// The verification (verify_shadow) checks the outcome independently.
#pragma once

#include "core/throttle.hpp"
#include "migration/layout.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace presplit::migration {

enum class BatchMode {
    try_plain_insert, // plain INSERT first; redo with ON CONFLICT on a conflict
    skip_conflicts,   // ON CONFLICT DO NOTHING at once (writes are racing)
};

struct BatchResult {
    uint64_t rows_read = 0; // rows copied, all shadows together
    bool needed_conflict_handling = false;
    std::vector<uint64_t> rows_copied; // per shadow
    std::vector<std::string> last_key; // the batch's upper boundary; empty on the last batch
    bool done = false;                 // this was the last batch
};

// Copies the next batch after layout.plan.backfill_position, as the table
// owner in a security-restricted operation, and records the new position and
// the progress in the same transaction.
BatchResult run_batch(const PlanLayout& layout, int batch_size,
                      BatchMode mode = BatchMode::try_plain_insert);

// preparing → backfilling, on the first step (plan is locked).
void mark_backfilling(catalog::Plan& plan);

// Client backends running a statement now, other than this one: the load
// that presplit.backfill_busy_backends backs copies off for
// (core::foreground_is_busy). Read as the extension (every backend's state),
// as they are now even late in a transaction.
int active_client_backends();

// The backfill's brakes (core/throttle.hpp) as the settings say now:
// presplit.backfill_max_rows_per_second, presplit.backfill_busy_backends,
// presplit.backfill_backoff.
core::ThrottleSettings throttle_settings();

void analyze_shadow(const PlanLayout& layout, const ShadowLayout& shadow);

struct ShadowCheck {
    int ordinal = 0;
    int64_t source_rows = 0;
    int64_t shadow_rows = 0;
    std::string source_checksum;
    std::string shadow_checksum;
    bool matches() const {
        return source_rows == shadow_rows && source_checksum == shadow_checksum;
    }
};

// Row count and an order-independent checksum (sum of 64-bit hashes of each
// row's text) of a shadow and of its slice of the source, both read under the
// calling transaction's snapshot (run it REPEATABLE READ). Capture keeps each
// shadow equal to its slice in every snapshot, so the shadows can be checked
// one at a time, each in a transaction of its own.
ShadowCheck verify_shadow(const PlanLayout& layout, const ShadowLayout& shadow);

} // namespace presplit::migration
