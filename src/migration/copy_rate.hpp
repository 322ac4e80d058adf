// The copy rate and the copy estimates the predictive manager's schedule and
// the worker's start of a remote copy both use: one place, so that the
// manager never releases a copy the worker then refuses to start
// (docs/prediction.md, *The copy rate*; docs/multi_server.md, *A copy that
// fits what is left of the window*).
#pragma once

#include <optional>

#include "core/copy_schedule.hpp"

extern "C" {
#include "postgres.h"
}

namespace presplit::migration {

// The rate of the most recent finished copies (core::kRecentCopies), on the
// model clock (presplit.clock_rate), or the assumption with its reason.
core::CopyRate current_copy_rate();

// A relation's estimated rows (pg_class.reltuples; 0 while never analyzed or
// vacuumed) and its total bytes (indexes and TOAST included).
struct SourceSize {
    double rows = 0;
    double bytes = 0;
};
SourceSize source_size(Oid relid);

// How long a copy of the source to another server (a remote target's table
// sync) takes on the model clock: core::estimate_remote_copy over its size,
// presplit.backfill_max_rows_per_second and `rate` (current_copy_rate()).
// With max_rows: of at most that many of its rows (a chunk of the copy), its
// bytes in proportion.
core::RemoteCopyEstimate estimate_remote_copy(Oid source, const core::CopyRate& rate,
                                              std::optional<double> max_rows = std::nullopt);

} // namespace presplit::migration
