// Who may see and use what pg_presplit knows about a table.
//
// A table's plans, statistics and events belong to whoever has the
// privileges of the table's owner: a superuser, the owner, or a role that
// inherits the owner's privileges -- the rule of the views in schema
// presplit, pg_has_role(relowner, 'USAGE'). The functions behind the views
// apply it too, since anyone may call them directly.
#pragma once

#include "catalog/catalog.hpp"

#include <cstdint>
#include <string>

namespace presplit::api {

// Whether the current user has the privileges of relid's owner (always, for
// a superuser); false if relid does not exist.
bool has_owner_privileges(unsigned int relid);

// Whether the current user may see the plan: the privileges of its parent
// table's owner. Unknown plans are a superuser's only.
bool may_see_plan(int64_t id);

// The plan, unlocked (presplit.wait), after checking that the caller may use
// it. ERROR 42704 for an unknown plan, 42501 for anyone else.
catalog::Plan usable_plan(int64_t id);

// The plan, locked (FOR UPDATE) for the rest of the transaction, after
// checking -- before taking the lock, and again once it holds it -- that the
// caller may use it: it has the privileges of the owner of the plan's parent
// table and of its source (while the source exists), which is what
// detaching and attaching partitions of that table takes. ERROR 42704 for an
// unknown plan, 42501 for anyone else (a message that names neither table).
catalog::Plan owned_plan(int64_t id);

} // namespace presplit::api
