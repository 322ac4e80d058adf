// Whether the worker may advance a plan: everything the plan stands on is in
// place. After pg_restore the catalog's rows can be back long before the
// tables they describe: the data section loads the catalog, the source, the
// shadows and the sequences one by one (in any order with -j), and only the
// post-data section creates the indexes and capture triggers. A backfill or a
// verification in between would copy from a half-loaded source, or into a
// shadow whose COPY is still to come; a ramp would write channel rows that
// the restore has yet to load. The same checks keep the worker off a plan
// whose capture a DBA disabled or dropped: its shadows no longer follow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace presplit::worker {

// What the plan is still missing (for the server log), or nullopt when the
// worker may go on with it: its source and every shadow exist; the catalog
// holds its shadows, their progress and (once switching) both channels; each
// shadow has a valid unique index (pg_restore builds it after the table's
// data); its capture triggers (reverse capture once cut over) are there and
// enabled (pg_restore creates them after the table's data; after every table's
// data, unless -j); presplit.event_id_seq has been restored. Runs as the
// extension, in the caller's transaction.
std::optional<std::string> missing_for_work(int64_t plan_id);

} // namespace presplit::worker
