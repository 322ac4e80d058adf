#include "migration/shadows.hpp"

#include "catalog/catalog.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

namespace presplit::migration {
namespace {

// The planner's row estimate for a range of the source, for the progress view.
std::optional<int64_t> estimate_rows(unsigned int table_owner, const std::string& source,
                                     const std::string& condition) {
    pg::RunAsTableOwner as_owner(table_owner);
    pg::SpiSession spi;
    auto plan =
        spi.scalar("EXPLAIN (FORMAT JSON) SELECT 1 FROM ONLY " + source + " WHERE " + condition);
    const std::string marker = "\"Plan Rows\": ";
    size_t at = plan ? plan->find(marker) : std::string::npos;
    if (at == std::string::npos)
        return std::nullopt;
    return std::stoll(plan->substr(at + marker.size()));
}

std::string identity_matches(const PlanLayout& layout, const std::string& prefix) {
    std::string condition;
    for (size_t i = 0; i < layout.identity.size(); ++i)
        condition +=
            (i ? " AND " : "") + layout.identity[i].name + " = " + prefix + layout.identity[i].name;
    return condition;
}

// Where a capture function writes a changed row: one table per key range,
// ascending (the last range's upper bound is not needed).
struct CaptureTarget {
    std::string table; // qualified and quoted
    std::optional<std::string> upper_value;
};

// IF <row in target 0> THEN <statement 0> ELSIF ... END IF; the last target
// takes the ELSE branch (the row is in the captured range, so in some target).
template <typename StatementFor>
std::string by_target(const PlanLayout& layout, const std::vector<CaptureTarget>& targets,
                      const std::string& row, StatementFor statement) {
    if (targets.size() == 1)
        return "        " + statement(targets[0].table) + ";\n";
    std::string body;
    for (size_t i = 0; i < targets.size(); ++i) {
        if (i + 1 < targets.size())
            body += std::string(i == 0 ? "        IF " : "        ELSIF ") + row + "." +
                    layout.key + " < " + pg::quote_literal(*targets[i].upper_value) +
                    "::" + layout.key_type + " THEN\n";
        else
            body += "        ELSE\n";
        body += "            " + statement(targets[i].table) + ";\n";
    }
    return body + "        END IF;\n";
}

// A row trigger function (AFTER INSERT OR UPDATE OR DELETE, and TRUNCATE)
// that applies every change of the table it is attached to to `targets`.
std::string capture_function_sql(const PlanLayout& layout, const std::string& function,
                                 const std::string& purpose,
                                 const std::vector<CaptureTarget>& targets,
                                 const std::string& on_truncate) {
    auto delete_old = [&](const std::string& table) {
        return "DELETE FROM " + table + " WHERE " + identity_matches(layout, "OLD.");
    };
    auto insert_new = [&](const std::string& table) {
        return "INSERT INTO " + table + " (" + column_list(layout.columns) + ") VALUES (" +
               column_list(layout.columns, "NEW.") + ")";
    };
    auto update_in_place = [&](const std::string& table) {
        return "UPDATE " + table + " SET (" + column_list(layout.columns) + ") = ROW(" +
               column_list(layout.columns, "NEW.") + ") WHERE " + identity_matches(layout, "OLD.");
    };
    std::string same_identity;
    for (size_t i = 0; i < layout.identity.size(); ++i)
        same_identity += (i ? " AND " : "") + std::string("NEW.") + layout.identity[i].name +
                         " = OLD." + layout.identity[i].name;
    return "CREATE FUNCTION " + function +
           "() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"
           " SET search_path = pg_catalog, pg_temp AS $capture$\n"
           "-- pg_presplit: " +
           purpose +
           "\n"
           "BEGIN\n"
           "    IF TG_OP = 'TRUNCATE' THEN\n" +
           on_truncate +
           "        RETURN NULL;\n"
           "    END IF;\n"
           "    -- The identity includes the partition key: same identity, same range.\n"
           "    IF TG_OP = 'UPDATE' AND " +
           same_identity + " THEN\n" + by_target(layout, targets, "NEW", update_in_place) +
           "        RETURN NULL;\n"
           "    END IF;\n"
           "    IF TG_OP IN ('UPDATE', 'DELETE') THEN\n" +
           by_target(layout, targets, "OLD", delete_old) +
           "    END IF;\n"
           "    IF TG_OP IN ('INSERT', 'UPDATE') THEN\n" +
           by_target(layout, targets, "NEW", insert_new) +
           "    END IF;\n"
           "    RETURN NULL;\n"
           "END;\n"
           "$capture$";
}

// Creates `function` owned by the table owner and its two triggers on each of
// `tables`.
void install_capture_function(const PlanLayout& layout, const std::string& function_sql,
                              const std::string& function, const std::string& trigger,
                              const std::string& truncate_trigger,
                              const std::vector<std::string>& tables) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    spi.execute(function_sql);
    spi.execute("ALTER FUNCTION " + function + "() OWNER TO " + layout.table_owner_name);
    spi.execute("REVOKE ALL ON FUNCTION " + function + "() FROM PUBLIC");
    for (const auto& table : tables) {
        spi.execute("CREATE TRIGGER " + trigger + " AFTER INSERT OR UPDATE OR DELETE ON " + table +
                    " FOR EACH ROW EXECUTE FUNCTION " + function + "()");
        spi.execute("CREATE TRIGGER " + truncate_trigger + " AFTER TRUNCATE ON " + table +
                    " FOR EACH STATEMENT EXECUTE FUNCTION " + function + "()");
    }
}

void remove_capture_function(const std::string& function, const std::string& trigger,
                             const std::string& truncate_trigger,
                             const std::vector<std::string>& tables) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    for (const auto& table : tables) {
        spi.execute("DROP TRIGGER IF EXISTS " + trigger + " ON " + table);
        spi.execute("DROP TRIGGER IF EXISTS " + truncate_trigger + " ON " + table);
    }
    spi.execute("DROP FUNCTION IF EXISTS " + function + "()");
}

std::vector<std::string> shadow_tables(const PlanLayout& layout) {
    std::vector<std::string> tables;
    for (const auto& shadow : layout.shadows)
        if (!shadow.name.empty())
            tables.push_back(shadow.name);
    return tables;
}

} // namespace

void create_shadows(const SplitRequest& request, int64_t plan_id) {
    std::vector<std::optional<std::string>> bounds{request.lower};
    for (const auto& point : request.split_points)
        bounds.emplace_back(point);
    bounds.push_back(request.upper);

    const std::string source = pg::qualified_relation_name(request.source);
    const std::string key = pg::quote_ident(request.key_column);
    pg::Row facts;
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        facts = spi.execute("SELECT n.nspname, c.relname, c.relowner, quote_ident(r.rolname),"
                            "       format_type($2::oid, NULL),"
                            "       coalesce(array_to_string(c.reloptions, ', '), ''),"
                            "       coalesce(quote_ident(t.spcname), '')"
                            "  FROM pg_catalog.pg_class c"
                            "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                            "  JOIN pg_catalog.pg_roles r ON r.oid = c.relowner"
                            "  LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace"
                            " WHERE c.oid = $1::oid",
                            {std::to_string(request.source), std::to_string(request.key_type)})
                    .rows.at(0);
    }
    const std::string& schema = *facts[0];
    const std::string& relname = *facts[1];
    const auto table_owner = static_cast<unsigned int>(std::stoul(*facts[2]));
    const std::string& owner_name = *facts[3];
    const std::string& key_type = *facts[4];
    const std::string& options = *facts[5];
    const std::string& tablespace = *facts[6];

    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
        catalog::Shadow shadow;
        shadow.ordinal = static_cast<int>(i);
        shadow.lower_value = bounds[i];
        shadow.upper_value = bounds[i + 1];
        shadow.bound = partition_bound(shadow.lower_value, shadow.upper_value);
        const std::string name =
            pg::quote_ident(schema) + "." +
            pg::quote_ident(shadow_table_name(relname, plan_id, shadow.ordinal));
        const std::string condition =
            range_condition(key, key_type, shadow.lower_value, shadow.upper_value);
        {
            // The table is empty: creating it and its indexes runs no user code.
            pg::RunAsExtension as_extension;
            pg::SpiSession spi;
            spi.execute("CREATE TABLE " + name + " (LIKE " + source +
                        " INCLUDING ALL EXCLUDING IDENTITY)" +
                        (options.empty() ? "" : " WITH (" + options + ")") +
                        (tablespace.empty() ? "" : " TABLESPACE " + tablespace));
            spi.execute("ALTER TABLE " + name + " ADD CONSTRAINT presplit_bound CHECK (" + key +
                        " IS NOT NULL AND " + condition + ")");
            spi.execute("ALTER TABLE " + name + " OWNER TO " + owner_name);
            shadow.relation = static_cast<unsigned int>(
                std::stoul(*spi.scalar("SELECT $1::regclass::oid", {name})));
        }
        catalog::insert_shadow(plan_id, shadow, estimate_rows(table_owner, source, condition));
    }
}

void install_capture(const PlanLayout& layout) {
    std::vector<CaptureTarget> targets;
    std::string all_shadows;
    for (const auto& shadow : layout.shadows) {
        targets.push_back({shadow.name, shadow.row.upper_value});
        all_shadows += (all_shadows.empty() ? "" : ", ") + shadow.name;
    }
    const std::string function = capture_function_name(layout.plan.id);
    install_capture_function(
        layout,
        capture_function_sql(layout, function,
                             "keeps the shadows of split plan " + std::to_string(layout.plan.id) +
                                 " equal to " + layout.source + ".",
                             targets, "        TRUNCATE " + all_shadows + ";\n"),
        function, capture_trigger_name(layout.plan.id),
        capture_truncate_trigger_name(layout.plan.id), {layout.source});
}

void remove_capture(const PlanLayout& layout) {
    remove_capture_function(capture_function_name(layout.plan.id),
                            capture_trigger_name(layout.plan.id),
                            capture_truncate_trigger_name(layout.plan.id), {layout.source});
}

void install_reverse_capture(const PlanLayout& layout) {
    // A TRUNCATE of one new partition empties its range of the old table.
    std::string on_truncate;
    for (size_t i = 0; i < layout.shadows.size(); ++i)
        on_truncate += std::string(i == 0 ? "        IF" : "        ELSIF") +
                       " TG_RELID = " + std::to_string(*layout.shadows[i].row.relation) +
                       "::oid THEN\n            DELETE FROM " + layout.source + " WHERE " +
                       layout.shadows[i].range_condition + ";\n";
    on_truncate += "        END IF;\n";
    const std::string function = reverse_capture_function_name(layout.plan.id);
    install_capture_function(
        layout,
        capture_function_sql(layout, function,
                             "keeps " + layout.source + ", detached by split plan " +
                                 std::to_string(layout.plan.id) +
                                 ", equal to the partitions that replaced it (rollback window).",
                             {{layout.source, std::nullopt}}, on_truncate),
        function, reverse_capture_trigger_name(layout.plan.id),
        reverse_capture_truncate_trigger_name(layout.plan.id), shadow_tables(layout));
}

void remove_reverse_capture(const PlanLayout& layout) {
    remove_capture_function(
        reverse_capture_function_name(layout.plan.id), reverse_capture_trigger_name(layout.plan.id),
        reverse_capture_truncate_trigger_name(layout.plan.id), shadow_tables(layout));
}

void drop_shadows(const PlanLayout& layout) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    for (const auto& shadow : layout.shadows) {
        if (shadow.name.empty())
            continue;
        catalog::set_shadow_relation(layout.plan.id, shadow.row.ordinal, std::nullopt);
        spi.execute("DROP TABLE IF EXISTS " + shadow.name);
    }
}

void remove_capture_and_shadows(const PlanLayout& layout) {
    remove_capture(layout);
    drop_shadows(layout);
}

} // namespace presplit::migration
