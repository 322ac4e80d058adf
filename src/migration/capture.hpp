// Capture: every committed change of one table applied to others, in the
// writer's transaction.
//
// Before cutover, capture is a row trigger on the source partition (it fires
// for changes made through the parent too, and an UPDATE that moves a row
// between partitions arrives as a DELETE on one and an INSERT on the other)
// plus a TRUNCATE trigger. It applies each change to the shadow that owns the
// key: a shadow equals its slice of the source at every snapshot. After
// cutover, reverse capture is the same kind of trigger on each new partition,
// applying every change to the detached source, so that a rollback within
// the window finds it current.
//
// Both are one trigger function shipped by the extension, presplit._capture
// (written in C++, src/migration/capture.cpp), with the plan id and the
// direction as trigger arguments -- no code is generated per plan. It applies
// a change through statements prepared once per backend, with the row's
// values as parameters, as the table owner in a security-restricted
// operation: the writer needs no privileges on the shadows, and the owner's
// code (defaults of the shadows, index expressions) runs as the owner, never
// as the writer or a superuser.
#pragma once

#include "migration/layout.hpp"

namespace presplit::migration {

void install_capture(const PlanLayout& layout);
void remove_capture(const PlanLayout& layout);

void install_reverse_capture(const PlanLayout& layout);
void remove_reverse_capture(const PlanLayout& layout);

} // namespace presplit::migration
