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

// IF <row in shadow 0> THEN <statement 0> ELSIF ... END IF; the last shadow
// takes the ELSE branch (the row is in the source, so in some shadow).
template <typename StatementFor>
std::string by_shadow(const PlanLayout& layout, const std::string& row, StatementFor statement) {
    const auto& shadows = layout.shadows;
    if (shadows.size() == 1)
        return "        " + statement(shadows[0]) + ";\n";
    std::string body;
    for (size_t i = 0; i < shadows.size(); ++i) {
        const auto& upper = shadows[i].row.upper_value;
        if (i + 1 < shadows.size())
            body += std::string(i == 0 ? "        IF " : "        ELSIF ") + row + "." +
                    layout.key + " < " + pg::quote_literal(*upper) + "::" + layout.key_type +
                    " THEN\n";
        else
            body += "        ELSE\n";
        body += "            " + statement(shadows[i]) + ";\n";
    }
    return body + "        END IF;\n";
}

std::string capture_function_sql(const PlanLayout& layout) {
    std::string all_shadows;
    for (size_t i = 0; i < layout.shadows.size(); ++i)
        all_shadows += (i ? ", " : "") + layout.shadows[i].name;
    auto delete_old = [&](const ShadowLayout& shadow) {
        return "DELETE FROM " + shadow.name + " WHERE " + identity_matches(layout, "OLD.");
    };
    auto insert_new = [&](const ShadowLayout& shadow) {
        return "INSERT INTO " + shadow.name + " (" + column_list(layout.columns) + ") VALUES (" +
               column_list(layout.columns, "NEW.") + ")";
    };
    auto update_in_place = [&](const ShadowLayout& shadow) {
        return "UPDATE " + shadow.name + " SET (" + column_list(layout.columns) + ") = ROW(" +
               column_list(layout.columns, "NEW.") + ") WHERE " + identity_matches(layout, "OLD.");
    };
    std::string same_identity;
    for (size_t i = 0; i < layout.identity.size(); ++i)
        same_identity += (i ? " AND " : "") + std::string("NEW.") + layout.identity[i].name +
                         " = OLD." + layout.identity[i].name;
    return "CREATE FUNCTION " + capture_function_name(layout.plan.id) +
           "() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"
           " SET search_path = pg_catalog, pg_temp AS $capture$\n"
           "-- pg_presplit: keeps the shadows of split plan " +
           std::to_string(layout.plan.id) + " equal to " + layout.source +
           ".\n"
           "BEGIN\n"
           "    IF TG_OP = 'TRUNCATE' THEN\n"
           "        TRUNCATE " +
           all_shadows +
           ";\n"
           "        RETURN NULL;\n"
           "    END IF;\n"
           "    -- The identity includes the partition key: same identity, same shadow.\n"
           "    IF TG_OP = 'UPDATE' AND " +
           same_identity +
           " THEN\n" + by_shadow(layout, "NEW", update_in_place) +
           "        RETURN NULL;\n"
           "    END IF;\n"
           "    IF TG_OP IN ('UPDATE', 'DELETE') THEN\n" +
           by_shadow(layout, "OLD", delete_old) +
           "    END IF;\n"
           "    IF TG_OP IN ('INSERT', 'UPDATE') THEN\n" +
           by_shadow(layout, "NEW", insert_new) +
           "    END IF;\n"
           "    RETURN NULL;\n"
           "END;\n"
           "$capture$";
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
        shadow.bound =
            "FOR VALUES FROM (" +
            (shadow.lower_value ? pg::quote_literal(*shadow.lower_value) : "MINVALUE") + ") TO (" +
            (shadow.upper_value ? pg::quote_literal(*shadow.upper_value) : "MAXVALUE") + ")";
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
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    const std::string function = capture_function_name(layout.plan.id);
    spi.execute(capture_function_sql(layout));
    spi.execute("ALTER FUNCTION " + function + "() OWNER TO " + layout.table_owner_name);
    spi.execute("REVOKE ALL ON FUNCTION " + function + "() FROM PUBLIC");
    spi.execute("CREATE TRIGGER " + capture_trigger_name(layout.plan.id) +
                " AFTER INSERT OR UPDATE OR DELETE ON " + layout.source +
                " FOR EACH ROW EXECUTE FUNCTION " + function + "()");
    spi.execute("CREATE TRIGGER " + capture_truncate_trigger_name(layout.plan.id) +
                " AFTER TRUNCATE ON " + layout.source + " FOR EACH STATEMENT EXECUTE FUNCTION " +
                function + "()");
}

void remove_capture_and_shadows(const PlanLayout& layout) {
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    spi.execute("DROP TRIGGER IF EXISTS " + capture_trigger_name(layout.plan.id) + " ON " +
                layout.source);
    spi.execute("DROP TRIGGER IF EXISTS " + capture_truncate_trigger_name(layout.plan.id) + " ON " +
                layout.source);
    spi.execute("DROP FUNCTION IF EXISTS " + capture_function_name(layout.plan.id) + "()");
    for (const auto& shadow : layout.shadows) {
        if (shadow.name.empty())
            continue;
        catalog::set_shadow_relation(layout.plan.id, shadow.row.ordinal, std::nullopt);
        spi.execute("DROP TABLE IF EXISTS " + shadow.name);
    }
}

} // namespace presplit::migration
