#include "catalog/routes.hpp"

#include "catalog/direct_scan.hpp"
#include "catalog/table_watch.hpp"
#include "core/plan_state.hpp"
#include "migration/layout.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

#include <boost/container/flat_map.hpp>
#include <boost/container/flat_set.hpp>

#include <algorithm>
#include <tuple>

namespace presplit::catalog {
namespace {

std::vector<Route> routes; // in plan id order
// Plan states and channel weights are written with routes_changed(), which
// invalidates presplit.plan.
TableWatch watch("plan");

// Lookups by relation, for every relation of every planned statement while a
// plan is switching (and for every relcache invalidation): sorted vectors,
// rebuilt with the routes.
boost::container::flat_map<Oid, const Route*> by_relation; // parents and sources
boost::container::flat_set<Oid> new_channel_relations;     // shadows
uint64_t version = 0;

// The foreign table of a switching plan's target on another server: named
// like a local shadow, next to the source (remote::create_remote_read_tables).
Oid remote_read_table(Oid source, int64_t plan_id, int ordinal) {
    char* source_name = pg::call([&] { return get_rel_name(source); });
    if (source_name == nullptr)
        return InvalidOid;
    const std::string relname = source_name;
    pg::call([&] { pfree(source_name); });
    const std::string name = migration::shadow_table_name(relname, plan_id, ordinal);
    return pg::call([&] {
        Oid relid = get_relname_relid(name.c_str(), get_rel_namespace(source));
        return OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE ? relid
                                                                                    : InvalidOid;
    });
}

void read_routes(std::vector<Route>& out) {
    DirectScan plans;
    if (!plans.open("plan"))
        return;
    const AttrNumber id = plans.column("id"), parent = plans.column("parent"),
                     source = plans.column("source"), state = plans.column("state");
    while (plans.next()) {
        if (core::parse_plan_state(plans.string_at(state).value_or("")) !=
            core::PlanState::switching)
            continue;
        Route route;
        route.plan_id = DatumGetInt64(*plans.get(id));
        route.parent = DatumGetObjectId(*plans.get(parent));
        route.source = DatumGetObjectId(*plans.get(source));
        route.plan_row_xmin = plans.xmin();
        out.push_back(route);
    }
    plans.close();
    if (out.empty())
        return;

    auto route_of = [&](int64_t plan_id) -> Route* {
        for (auto& route : out)
            if (route.plan_id == plan_id)
                return &route;
        return nullptr;
    };
    DirectScan managed;
    managed.open("managed_table");
    const AttrNumber m_parent = managed.column("parent"), m_key = managed.column("key_column"),
                     m_type = managed.column("key_type");
    while (managed.next()) {
        const Oid table = DatumGetObjectId(*managed.get(m_parent));
        for (auto& route : out)
            if (route.parent == table) {
                route.key_column = NameStr(*DatumGetName(*managed.get(m_key))); // no allocation
                route.key_type = DatumGetObjectId(*managed.get(m_type));
            }
    }
    managed.close();

    DirectScan shadows;
    shadows.open("shadow");
    const AttrNumber s_plan = shadows.column("plan_id"), s_ordinal = shadows.column("ordinal"),
                     s_relation = shadows.column("relation"),
                     s_lower = shadows.column("lower_value"),
                     s_upper = shadows.column("upper_value"), s_server = shadows.column("server");
    std::vector<std::tuple<int64_t, int, RouteShadow>> found;
    // Plans with a shadow without a table: not created yet, or a target on
    // another server whose foreign table is not there (yet).
    std::vector<int64_t> incomplete;
    while (shadows.next()) {
        const int64_t plan_id = DatumGetInt64(*shadows.get(s_plan));
        Route* route = route_of(plan_id);
        if (route == nullptr)
            continue;
        const int ordinal = DatumGetInt32(*shadows.get(s_ordinal));
        auto relation = shadows.get(s_relation);
        RouteShadow shadow;
        if (!relation && s_server != InvalidAttrNumber && shadows.get(s_server)) {
            shadow.relid = remote_read_table(route->source, plan_id, ordinal);
            shadow.remote = OidIsValid(shadow.relid);
        } else if (relation) {
            shadow.relid = DatumGetObjectId(*relation);
        }
        if (!OidIsValid(shadow.relid)) {
            incomplete.push_back(plan_id);
            continue;
        }
        shadow.lower = shadows.string_at(s_lower);
        shadow.upper = shadows.string_at(s_upper);
        found.emplace_back(plan_id, ordinal, shadow);
    }
    shadows.close();
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
        return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
    });
    for (auto& [plan_id, ordinal, shadow] : found)
        route_of(plan_id)->shadows.push_back(shadow);

    DirectScan channels;
    channels.open("channel");
    const AttrNumber c_plan = channels.column("plan_id"), c_channel = channels.column("channel"),
                     c_weight = channels.column("weight");
    while (channels.next()) {
        Route* route = route_of(DatumGetInt64(*channels.get(c_plan)));
        if (route != nullptr && channels.string_at(c_channel).value_or("") == "new")
            route->new_weight = DatumGetInt32(*channels.get(c_weight));
    }
    channels.close();

    // A plan whose shadows are missing (not created yet, or gone) is not routed.
    out.erase(std::remove_if(out.begin(), out.end(),
                             [&](const Route& route) {
                                 return route.shadows.empty() || route.key_column.empty() ||
                                        std::find(incomplete.begin(), incomplete.end(),
                                                  route.plan_id) != incomplete.end();
                             }),
              out.end());
    std::sort(out.begin(), out.end(),
              [](const Route& a, const Route& b) { return a.plan_id < b.plan_id; });
}

// The lookups by relation of the routes now in place. A source belongs to
// one switching plan at most; a parent may have several (any one will do:
// callers ask whether the parent is routed at all).
void index_routes() {
    by_relation.clear();
    new_channel_relations.clear();
    try {
        for (const Route& route : routes) {
            by_relation.emplace(route.parent, &route);
            for (const RouteShadow& shadow : route.shadows)
                new_channel_relations.insert(shadow.relid);
        }
        for (const Route& route : routes)
            by_relation.insert_or_assign(route.source, &route);
    } catch (...) {
        routes.clear(); // nothing routed rather than half indexed; read again next time
        by_relation.clear();
        new_channel_relations.clear();
        throw;
    }
}

void on_relcache_invalidation(Datum, Oid relid) {
    pg::entry([&] { watch.on_relcache_invalidation(relid); });
}

} // namespace

void refresh_routes() {
    if (!watch.stale())
        return;
    std::vector<Route> fresh;
    try {
        watch.reading();
        read_routes(fresh);
    } catch (...) {
        watch.mark_stale(); // to be read again
        throw;
    }
    routes = std::move(fresh);
    try {
        index_routes();
    } catch (...) {
        watch.mark_stale(); // index_routes left nothing routed: read again
        throw;
    }
    ++version;
}

uint64_t routes_version() {
    return version;
}

bool any_routes() {
    return !routes.empty();
}

const Route* find_route(int64_t plan_id) {
    auto found =
        std::lower_bound(routes.begin(), routes.end(), plan_id,
                         [](const Route& route, int64_t id) { return route.plan_id < id; });
    return found != routes.end() && found->plan_id == plan_id ? &*found : nullptr;
}

const Route* find_route_for_relation(Oid relid) {
    auto found = by_relation.find(relid);
    return found == by_relation.end() ? nullptr : found->second;
}

bool is_new_channel_relation(Oid relid) {
    return new_channel_relations.count(relid) > 0;
}

void routes_changed() {
    watch.changed();
}

void install_routes_callbacks() {
    CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
}

} // namespace presplit::catalog
