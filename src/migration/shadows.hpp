// Shadow tables and capture.
//
// A shadow is created empty, with the source's columns, defaults, NOT NULL
// and CHECK constraints, indexes (primary key included) and storage
// parameters, plus a CHECK constraint equal to its future partition bound, so
// that ATTACH PARTITION can skip its validation scan at cutover. Building the
// indexes on an empty table is instant and blocks nobody; the backfill then
// maintains them row by row.
//
// The shadows are created and dropped by the owner of the source partition
// (in a security-restricted operation), in its schema and tablespace, so the
// owner needs CREATE there; they are kept current by capture (capture.hpp).
#pragma once

#include "migration/capture.hpp"
#include "migration/layout.hpp"
#include "migration/split_request.hpp"

namespace presplit::migration {

// Creates and records the shadows of a new plan; returns their layout.
void create_shadows(const SplitRequest& request, int64_t plan_id);

// Records a plan of a validated request (origin 'manual' or 'predicted',
// created by `owner`), creates its shadows and starts capture: the plan is
// preparing, for the worker to copy (unless copy_held). Returns its id.
int64_t start_plan(const SplitRequest& request, const std::string& origin, Oid owner,
                   bool copy_held);

void drop_shadows(const PlanLayout& layout);

// Drops capture and the shadows; the source is left exactly as before.
void remove_capture_and_shadows(const PlanLayout& layout);

} // namespace presplit::migration
