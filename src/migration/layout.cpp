#include "migration/layout.hpp"

#include "pg/guard.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

namespace presplit::migration {
namespace {

std::vector<Column> columns_of(pg::SpiSession& spi, unsigned int relid,
                               const std::string& extra_condition) {
    auto result = spi.execute("SELECT quote_ident(attname), format_type(atttypid, atttypmod),"
                              "       attname, atttypid"
                              "  FROM pg_catalog.pg_attribute"
                              " WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped " +
                                  extra_condition + " ORDER BY attnum",
                              {std::to_string(relid)});
    std::vector<Column> columns;
    for (const auto& row : result.rows)
        columns.push_back(
            {*row[0], *row[1], *row[2], static_cast<unsigned int>(std::stoul(*row[3]))});
    return columns;
}

} // namespace

std::string range_condition(const std::string& key, const std::string& key_type,
                            const std::optional<std::string>& lower,
                            const std::optional<std::string>& upper, const std::string& prefix) {
    std::string condition;
    if (lower)
        condition = prefix + key + " >= " + pg::quote_literal(*lower) + "::" + key_type;
    if (upper) {
        if (!condition.empty())
            condition += " AND ";
        condition += prefix + key + " < " + pg::quote_literal(*upper) + "::" + key_type;
    }
    return condition.empty() ? "true" : condition;
}

std::string partition_bound(const std::optional<std::string>& lower,
                            const std::optional<std::string>& upper) {
    return "FOR VALUES FROM (" + (lower ? pg::quote_literal(*lower) : "MINVALUE") + ") TO (" +
           (upper ? pg::quote_literal(*upper) : "MAXVALUE") + ")";
}

std::string shadow_table_name(const std::string& source_relname, int64_t plan_id, int ordinal) {
    std::string suffix = "_" + std::to_string(plan_id) + "_" + std::to_string(ordinal);
    constexpr size_t kMaxIdentifier = 63; // NAMEDATALEN - 1
    // Cut at a character boundary, as PostgreSQL truncates identifiers:
    // half a multibyte character would make the name invalid UTF-8.
    const int keep = pg::call([&] {
        return pg_mbcliplen(source_relname.c_str(), static_cast<int>(source_relname.size()),
                            static_cast<int>(kMaxIdentifier - suffix.size()));
    });
    std::string base = source_relname.substr(0, keep);
    return base + suffix;
}

std::string capture_trigger_name(int64_t plan_id) {
    return "presplit_capture_" + std::to_string(plan_id);
}
std::string capture_truncate_trigger_name(int64_t plan_id) {
    return "presplit_capture_truncate_" + std::to_string(plan_id);
}

std::string reverse_capture_trigger_name(int64_t plan_id) {
    return "presplit_reverse_capture_" + std::to_string(plan_id);
}
std::string reverse_capture_truncate_trigger_name(int64_t plan_id) {
    return "presplit_reverse_capture_truncate_" + std::to_string(plan_id);
}
std::string old_bound_constraint_name() {
    return "presplit_old_bound";
}

std::string column_list(const std::vector<Column>& columns, const std::string& prefix) {
    std::string list;
    for (size_t i = 0; i < columns.size(); ++i)
        list += (i ? ", " : "") + prefix + columns[i].name;
    return list;
}

PlanLayout load_layout(const catalog::Plan& plan) {
    PlanLayout layout;
    layout.plan = plan;
    auto table = catalog::find_managed_table(plan.parent);
    if (!table)
        throw pg::Error(ERRCODE_UNDEFINED_OBJECT,
                        "table of split plan " + std::to_string(plan.id) + " is no longer managed");
    auto shadows = catalog::load_shadows(plan.id);

    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    auto source = spi.execute("SELECT n.nspname, c.relname, c.relowner, format_type($2::oid, NULL)"
                              "  FROM pg_catalog.pg_class c"
                              "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE c.oid = $1::oid",
                              {std::to_string(plan.source), std::to_string(table->key_type)});
    if (source.rows.empty())
        throw pg::Error(ERRCODE_UNDEFINED_TABLE, "source partition of split plan " +
                                                     std::to_string(plan.id) + " no longer exists");
    const auto& row = source.rows[0];
    layout.source_schema = *row[0];
    layout.source_relname = *row[1];
    layout.source =
        pg::quote_ident(layout.source_schema) + "." + pg::quote_ident(layout.source_relname);
    layout.table_owner = static_cast<unsigned int>(std::stoul(*row[2]));
    layout.key_type = *row[3];
    layout.key = pg::quote_ident(table->key_column);
    layout.key_column = table->key_column;
    layout.key_type_oid = table->key_type;
    layout.columns = columns_of(spi, plan.source, "AND attgenerated = ''");
    std::vector<Column> all = columns_of(spi, plan.source, "");
    for (const auto& name : table->identity_columns) {
        std::string quoted = pg::quote_ident(name);
        for (const auto& column : all)
            if (column.name == quoted)
                layout.identity.push_back(column);
    }
    for (auto& shadow : shadows) {
        ShadowLayout shadow_layout;
        if (shadow.relation)
            shadow_layout.name = pg::qualified_relation_name(*shadow.relation);
        shadow_layout.range_condition =
            range_condition(layout.key, layout.key_type, shadow.lower_value, shadow.upper_value);
        shadow_layout.row = std::move(shadow);
        layout.shadows.push_back(std::move(shadow_layout));
    }
    return layout;
}

} // namespace presplit::migration
