// Shadow tables and capture.
//
// A shadow is created empty, with the source's columns, defaults, NOT NULL
// and CHECK constraints, indexes (primary key included) and storage
// parameters, plus a CHECK constraint equal to its future partition bound, so
// that ATTACH PARTITION can skip its validation scan at cutover. Building the
// indexes on an empty table is instant and blocks nobody; the backfill then
// maintains them row by row.
//
// Capture is a row trigger on the source partition (it fires for changes made
// through the parent too, and an UPDATE that moves a row between partitions
// arrives as a DELETE on one and an INSERT on the other) plus a TRUNCATE
// trigger. It applies each change to the shadow that owns the key, in the
// writer's transaction: a shadow equals its slice of the source at every
// snapshot. The trigger function is SECURITY DEFINER owned by the table
// owner, so the writer needs no privileges on the shadows and the owner's code
// (generated columns, index expressions) runs as the owner.
#pragma once

#include "migration/layout.hpp"
#include "migration/split_request.hpp"

namespace presplit::migration {

// Creates and records the shadows of a new plan; returns their layout.
void create_shadows(const SplitRequest& request, int64_t plan_id);

void install_capture(const PlanLayout& layout);
void remove_capture(const PlanLayout& layout);

// Reverse capture, after cutover: the same kind of trigger on each new
// partition, applying every change to the detached source, so that a
// rollback within the window finds it current.
void install_reverse_capture(const PlanLayout& layout);
void remove_reverse_capture(const PlanLayout& layout);

void drop_shadows(const PlanLayout& layout);

// Drops capture and the shadows; the source is left exactly as before.
void remove_capture_and_shadows(const PlanLayout& layout);

} // namespace presplit::migration
