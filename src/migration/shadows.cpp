#include "migration/shadows.hpp"

#include "catalog/catalog.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

#include <cctype>

extern "C" {
#include "miscadmin.h"
#include "utils/acl.h"
}

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

// The owner creates the shadows, in the source's schema and tablespace: a
// superuser must not run DDL whose text holds the owner's names and options.
// Say which privilege is missing before trying.
void require_create_privileges(Oid owner, const std::string& owner_name, Oid schema,
                               const std::string& schema_name, Oid tablespace,
                               const std::string& tablespace_name) {
    auto require = [&](bool allowed, const std::string& kind, const std::string& name) {
        std::string keyword = kind;
        for (char& c : keyword)
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (!allowed)
            throw pg::Error(ERRCODE_INSUFFICIENT_PRIVILEGE,
                            "role " + owner_name + " cannot create the shadow tables in " + kind +
                                " " + name,
                            "pg_presplit creates the shadow tables as the owner of the partition, "
                            "in the partition's " +
                                kind + ".",
                            "GRANT CREATE ON " + keyword + " " + name + " TO " + owner_name + ";");
    };
    require(
        pg::call([&] { return pg_namespace_aclcheck(schema, owner, ACL_CREATE) == ACLCHECK_OK; }),
        "schema", schema_name);
    require(pg::call([&] {
                return !OidIsValid(tablespace) || tablespace == MyDatabaseTableSpace ||
                       pg_tablespace_aclcheck(tablespace, owner, ACL_CREATE) == ACLCHECK_OK;
            }),
            "tablespace", tablespace_name);
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
        facts =
            spi.execute("SELECT c.relnamespace, quote_ident(n.nspname), c.relname, c.relowner,"
                        "       quote_ident(r.rolname), format_type($2::oid, NULL),"
                        "       coalesce((SELECT string_agg(quote_ident(o.option_name) || ' = '"
                        "                                   || quote_literal(o.option_value), ', ')"
                        "                   FROM pg_catalog.pg_options_to_table(c.reloptions) o),"
                        "                ''),"
                        "       c.reltablespace, coalesce(quote_ident(t.spcname), '')"
                        "  FROM pg_catalog.pg_class c"
                        "  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                        "  JOIN pg_catalog.pg_roles r ON r.oid = c.relowner"
                        "  LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace"
                        " WHERE c.oid = $1::oid",
                        {std::to_string(request.source), std::to_string(request.key_type)})
                .rows.at(0);
    }
    const auto schema = static_cast<Oid>(std::stoul(*facts[0]));
    const std::string& schema_name = *facts[1]; // quoted
    const std::string& relname = *facts[2];
    const auto table_owner = static_cast<Oid>(std::stoul(*facts[3]));
    const std::string& owner_name = *facts[4]; // quoted
    const std::string& key_type = *facts[5];
    const std::string& options = *facts[6];
    const auto tablespace = static_cast<Oid>(std::stoul(*facts[7]));
    const std::string& tablespace_name = *facts[8]; // quoted
    require_create_privileges(table_owner, owner_name, schema, schema_name, tablespace,
                              tablespace_name);

    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
        catalog::Shadow shadow;
        shadow.ordinal = static_cast<int>(i);
        shadow.lower_value = bounds[i];
        shadow.upper_value = bounds[i + 1];
        shadow.bound = partition_bound(shadow.lower_value, shadow.upper_value);
        const std::string name =
            schema_name + "." +
            pg::quote_ident(shadow_table_name(relname, plan_id, shadow.ordinal));
        const std::string condition =
            range_condition(key, key_type, shadow.lower_value, shadow.upper_value);
        if (i < request.servers.size() && request.servers[i]) {
            // A remote target: created on its server by remote/split.hpp.
            shadow.server = request.servers[i];
            catalog::insert_shadow(plan_id, shadow, estimate_rows(table_owner, source, condition));
            continue;
        }
        {
            pg::RunAsTableOwner as_owner(table_owner);
            pg::SpiSession spi;
            spi.execute("CREATE TABLE " + name + " (LIKE " + source +
                        " INCLUDING ALL EXCLUDING IDENTITY)" +
                        (options.empty() ? "" : " WITH (" + options + ")") +
                        (tablespace_name.empty() ? "" : " TABLESPACE " + tablespace_name));
            spi.execute("ALTER TABLE " + name + " ADD CONSTRAINT presplit_bound CHECK (" + key +
                        " IS NOT NULL AND " + condition + ")");
            shadow.relation = static_cast<unsigned int>(
                std::stoul(*spi.scalar("SELECT $1::regclass::oid", {name})));
        }
        catalog::insert_shadow(plan_id, shadow, estimate_rows(table_owner, source, condition));
    }
}

void drop_shadows(const PlanLayout& layout) {
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    for (const auto& shadow : layout.shadows) {
        if (shadow.name.empty() || shadow.row.server)
            continue; // a remote target: no local table (its foreign table after the cutover is the
                      // plan's to keep)
        catalog::set_shadow_relation(layout.plan.id, shadow.row.ordinal, std::nullopt);
        spi.execute("DROP TABLE IF EXISTS " + shadow.name);
    }
}

void remove_capture_and_shadows(const PlanLayout& layout) {
    remove_capture(layout);
    drop_shadows(layout);
}

int64_t start_plan(const SplitRequest& request, const std::string& origin, Oid owner,
                   bool copy_held) {
    int64_t id = catalog::insert_plan(request.parent, request.source, request.split_points, origin,
                                      owner, copy_held);
    create_shadows(request, id);
    install_capture(load_layout(*catalog::load_plan(id, true)));
    catalog::set_plan_state(id, core::PlanState::preparing);
    return id;
}

} // namespace presplit::migration
