#include "switchover/route_shapes.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/relation.h"
#include "access/stratnum.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace presplit::switchover {
namespace {

std::vector<RouteShape> shapes;
MemoryContext shape_context = nullptr;
uint64_t shapes_routes_version = 0;
bool shapes_stale = false;

void on_relcache_invalidation(Datum, Oid relid) {
    pg::entry([&] {
        if (shapes.empty())
            return;
        if (!OidIsValid(relid) || catalog::find_route_for_relation(relid) != nullptr ||
            catalog::is_new_channel_relation(relid))
            shapes_stale = true;
    });
}

// Runs inside pg::call: its own frame owns nothing with a destructor (it
// fills the caller's shape in place).
void fill_shape(RouteShape& shape, const catalog::Route& route) {
    shape.plan_id = route.plan_id;
    shape.source = route.source;
    Relation source = relation_open(route.source, AccessShareLock);
    TupleDesc source_desc = RelationGetDescr(source);
    shape.key_attno = get_attnum(route.source, route.key_column.c_str());
    if (shape.key_attno <= 0) {
        relation_close(source, AccessShareLock);
        return;
    }
    Form_pg_attribute key = TupleDescAttr(source_desc, shape.key_attno - 1);
    shape.key_type = key->atttypid;
    shape.key_typmod = key->atttypmod;
    Relation parent = relation_open(route.parent, AccessShareLock);
    PartitionKey partition_key = RelationGetPartitionKey(parent);
    if (partition_key == nullptr || partition_key->partnatts != 1 ||
        partition_key->partattrs[0] == 0) {
        relation_close(parent, AccessShareLock);
        relation_close(source, AccessShareLock);
        return;
    }
    shape.key_opfamily = partition_key->partopfamily[0];
    shape.key_opcintype = partition_key->partopcintype[0];
    shape.key_collation = partition_key->partcollation[0];
    relation_close(parent, AccessShareLock);
    shape.key_ge = get_opfamily_member(shape.key_opfamily, shape.key_opcintype, shape.key_opcintype,
                                       BTGreaterEqualStrategyNumber);
    shape.key_lt = get_opfamily_member(shape.key_opfamily, shape.key_opcintype, shape.key_opcintype,
                                       BTLessStrategyNumber);
    Oid input_function, io_param;
    getTypeInputInfo(shape.key_type, &input_function, &io_param);
    bool usable = OidIsValid(shape.key_ge) && OidIsValid(shape.key_lt);
    for (const auto& route_shadow : route.shadows) {
        ShadowShape& shadow = shape.shadows.emplace_back();
        shadow.relid = route_shadow.relid;
        shadow.remote = route_shadow.remote;
        Relation rel = relation_open(shadow.relid, AccessShareLock);
        TupleDesc desc = RelationGetDescr(rel);
        shadow.attno.assign(source_desc->natts + 1, InvalidAttrNumber);
        for (int i = 0; i < source_desc->natts; ++i) {
            Form_pg_attribute column = TupleDescAttr(source_desc, i);
            if (column->attisdropped)
                continue;
            AttrNumber found = InvalidAttrNumber;
            for (int j = 0; j < desc->natts; ++j) {
                Form_pg_attribute candidate = TupleDescAttr(desc, j);
                if (!candidate->attisdropped &&
                    namestrcmp(&candidate->attname, NameStr(column->attname)) == 0 &&
                    candidate->atttypid == column->atttypid &&
                    candidate->atttypmod == column->atttypmod &&
                    candidate->attcollation == column->attcollation)
                    found = candidate->attnum;
            }
            if (found == InvalidAttrNumber)
                usable = false;
            shadow.attno[i + 1] = found;
        }
        for (int j = 0; j < desc->natts; ++j) {
            Form_pg_attribute column = TupleDescAttr(desc, j);
            shadow.column_names =
                lappend(shadow.column_names,
                        makeString(pstrdup(column->attisdropped ? "" : NameStr(column->attname))));
        }
        shadow.name = RelationGetRelationName(rel);
        if (shadow.remote)
            shadow.server = GetForeignTable(shadow.relid)->serverid;
        relation_close(rel, AccessShareLock);
        if (route_shadow.lower) {
            shadow.has_lower = true;
            shadow.lower = datumCopy(
                OidInputFunctionCall(input_function, const_cast<char*>(route_shadow.lower->c_str()),
                                     io_param, shape.key_typmod),
                get_typbyval(shape.key_type), get_typlen(shape.key_type));
        }
        if (route_shadow.upper) {
            shadow.has_upper = true;
            shadow.upper = datumCopy(
                OidInputFunctionCall(input_function, const_cast<char*>(route_shadow.upper->c_str()),
                                     io_param, shape.key_typmod),
                get_typbyval(shape.key_type), get_typlen(shape.key_type));
        }
    }
    relation_close(source, AccessShareLock);
    shape.usable = usable && !shape.shadows.empty();
}

} // namespace

const RouteShape* shape_of(const catalog::Route& route) {
    if (shapes_stale || shapes_routes_version != catalog::routes_version()) {
        shapes.clear();
        if (shape_context != nullptr)
            pg::call([] { MemoryContextReset(shape_context); });
        shapes_routes_version = catalog::routes_version();
        shapes_stale = false;
    }
    for (const auto& shape : shapes)
        if (shape.plan_id == route.plan_id)
            return &shape;
    if (shape_context == nullptr)
        shape_context = pg::call([] {
            return AllocSetContextCreate(CacheMemoryContext, "pg_presplit route shapes",
                                         ALLOCSET_SMALL_SIZES);
        });
    RouteShape shape;
    pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(shape_context);
        fill_shape(shape, route);
        MemoryContextSwitchTo(old);
    });
    shapes.push_back(std::move(shape));
    return &shapes.back();
}

bool current_user_can_read_remote(const RouteShape& shape) {
    return pg::call([&] {
        const Oid user = GetUserId();
        for (const auto& shadow : shape.shadows)
            if (shadow.remote &&
                !SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(user),
                                       ObjectIdGetDatum(shadow.server)) &&
                !SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
                                       ObjectIdGetDatum(shadow.server)))
                return false;
        return true;
    });
}

void install_shape_invalidation() {
    CacheRegisterRelcacheCallback(on_relcache_invalidation, 0);
}

} // namespace presplit::switchover
