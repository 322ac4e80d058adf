// Everything needed to generate a plan's SQL: names, columns, bounds.
// Loaded from the catalog and the system catalogs in one place, so that the
// shadow DDL, the capture function, the backfill batch and the verification
// all agree.
#pragma once

#include "catalog/catalog.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace presplit::migration {

struct Column {
    std::string name;          // quoted identifier
    std::string type;          // format_type, with typmod
    std::string attname;       // as in pg_attribute
    unsigned int type_oid = 0; // atttypid
};

struct ShadowLayout {
    catalog::Shadow row;
    std::string name; // qualified and quoted; empty until the shadow exists
    // SQL condition on the key (quoted column name) that selects this shadow's
    // range, e.g. "id >= '0'::bigint AND id < '500'::bigint".
    std::string range_condition;
};

struct PlanLayout {
    catalog::Plan plan;
    std::string source;           // qualified and quoted
    std::string source_schema;    // unquoted
    std::string source_relname;   // unquoted
    unsigned int table_owner = 0; // relowner of the source
    std::string key;              // quoted key column
    std::string key_column;       // unquoted
    std::string key_type;         // format_type
    unsigned int key_type_oid = 0;
    std::vector<Column> columns;  // stored columns (not dropped, not generated), in order
    std::vector<Column> identity; // identity columns, in identity order
    std::vector<ShadowLayout> shadows;
};

PlanLayout load_layout(const catalog::Plan& plan);

// The key condition for a range (lower inclusive, upper exclusive; nullopt
// is unbounded), with `prefix` before the key column (e.g. "NEW.").
std::string range_condition(const std::string& key, const std::string& key_type,
                            const std::optional<std::string>& lower,
                            const std::optional<std::string>& upper,
                            const std::string& prefix = "");

// "FOR VALUES FROM (...) TO (...)" (nullopt: MINVALUE / MAXVALUE).
std::string partition_bound(const std::optional<std::string>& lower,
                            const std::optional<std::string>& upper);

// Names pg_presplit gives to a plan's objects.
std::string shadow_table_name(const std::string& source_relname, int64_t plan_id, int ordinal);
std::string capture_trigger_name(int64_t plan_id);
std::string capture_truncate_trigger_name(int64_t plan_id);
std::string reverse_capture_trigger_name(int64_t plan_id);
std::string reverse_capture_truncate_trigger_name(int64_t plan_id);
// The CHECK constraint a detached source gets at cutover, so that a rollback
// can attach it again without a validation scan.
std::string old_bound_constraint_name();

// "c1, c2, ..." with an optional prefix per column ("NEW.").
std::string column_list(const std::vector<Column>& columns, const std::string& prefix = "");

} // namespace presplit::migration
