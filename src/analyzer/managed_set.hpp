// Which relations the analyzer watches, per backend: the leaf partitions of
// the managed tables in this database (and the managed parents). Rebuilt from
// presplit.managed_table when a relcache invalidation of that table arrives
// (manage/unmanage committed anywhere, COMMIT PREPARED included: see
// catalog/table_watch.hpp) or of a watched relation (partitions attached,
// detached, created, dropped). Checking whether it is current costs a check
// for pending invalidations (an unlocked flag read when there are none).
#pragma once

#include "analyzer/key_axis.hpp"

extern "C" {
#include "postgres.h"
#include "access/attnum.h"
}

#include <cstdint>
#include <string>

namespace presplit::analyzer {

struct ManagedLeaf {
    Oid relid = InvalidOid;
    Oid parent = InvalidOid;
    AttrNumber key_attnum = InvalidAttrNumber;
    Oid key_type = InvalidOid;
    KeyAxis axis;                              // narrowed to this leaf's bounds
    bool has_lower = false, has_upper = false; // the partition's bounds on the key axis
    double lower = 0, upper = 0;
    // Where positions are not keys (text): the bounds as access ends, and in
    // full for key_heat's labels.
    core::KeyEnd lower_end{}, upper_end{};
    std::string lower_text, upper_text;
};

struct ManagedParent {
    AttrNumber key_attnum = InvalidAttrNumber;
    Oid key_type = InvalidOid;
    KeyAxis::Kind key_kind = KeyAxis::Kind::unsupported;
};

// Brings the set up to date if needed (needs a transaction). Cheap when
// nothing changed.
void refresh_managed_set();

bool watching_anything();
const ManagedLeaf* find_leaf(Oid relid);
const ManagedParent* find_parent(Oid relid);
bool is_managed_parent(Oid relid);

// Calls f(relid) for every watched leaf of a managed parent.
template <typename F>
void for_each_leaf_of(Oid parent, F&& f);

// Calls f(leaf) for every watched leaf (a ManagedLeaf).
template <typename F>
void for_each_leaf(F&& f);

// Counts the rebuilds of this backend's set: the worker sweeps the
// analyzer's entries when it changes.
uint64_t managed_set_generation();

// For manage/unmanage: every backend rebuilds its set once this transaction
// commits (this one from its next command on).
void managed_tables_changed();

// Called from _PG_init.
void install_managed_set_callbacks();

namespace detail {
const ManagedLeaf* leaf_at(size_t i); // nullptr past the end
}

template <typename F>
void for_each_leaf(F&& f) {
    for (size_t i = 0;; ++i) {
        const ManagedLeaf* leaf = detail::leaf_at(i);
        if (leaf == nullptr)
            return;
        f(*leaf);
    }
}

template <typename F>
void for_each_leaf_of(Oid parent, F&& f) {
    for_each_leaf([&](const ManagedLeaf& leaf) {
        if (leaf.parent == parent)
            f(leaf.relid);
    });
}

} // namespace presplit::analyzer
