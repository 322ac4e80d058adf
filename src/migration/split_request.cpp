#include "migration/split_request.hpp"

#include "catalog/catalog.hpp"
#include "core/split_points.hpp"
#include "pg/guard.hpp"
#include "pg/relation.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_coerce.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace presplit::migration {
namespace {

std::string name_of(Oid relid) {
    const char* name = pg::call([&] { return get_rel_name(relid); });
    return name ? name : "OID " + std::to_string(relid);
}

Oid relation_owner(Oid relid) {
    return pg::call([&] {
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tuple))
            elog(ERROR, "cache lookup failed for relation %u", relid);
        Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
        ReleaseSysCache(tuple);
        return owner;
    });
}

std::string role_name(Oid role) {
    return pg::call([&] { return GetUserNameFromId(role, false); });
}

std::string type_name(Oid type) {
    return pg::call([&] { return format_type_be(type); });
}

// The source's bound spec (FOR VALUES FROM (...) TO (...)), or nullptr for
// the default partition.
PartitionBoundSpec* bound_spec(Oid relid) {
    return pg::call([&]() -> PartitionBoundSpec* {
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tuple))
            elog(ERROR, "cache lookup failed for relation %u", relid);
        bool isnull;
        Datum datum = SysCacheGetAttr(RELOID, tuple, Anum_pg_class_relpartbound, &isnull);
        if (isnull)
            elog(ERROR, "relation %u has no partition bound", relid);
        auto* spec = castNode(PartitionBoundSpec, stringToNode(TextDatumGetCString(datum)));
        ReleaseSysCache(tuple);
        return spec;
    });
}

// A bound's only datum, or nullptr for MINVALUE/MAXVALUE.
Const* bound_value(List* datums) {
    auto* datum = castNode(PartitionRangeDatum, linitial(datums));
    return datum->kind == PARTITION_RANGE_DATUM_VALUE ? castNode(Const, datum->value) : nullptr;
}

// In pg::CanonicalTextFormat: the text is kept, and read back in other
// sessions.
std::string output_text(Oid type, Datum value) {
    pg::CanonicalTextFormat canonical;
    return pg::call([&] {
        Oid output;
        bool varlena;
        getTypeOutputInfo(type, &output, &varlena);
        return OidOutputFunctionCall(output, value);
    });
}

} // namespace

SplitRequest validate_source(Oid source, bool managed_only) {
    SplitRequest request;
    request.source = source;
    // Ownership first, before any lock a non-owner could make others wait on.
    char relkind = pg::call([&] { return get_rel_relkind(source); });
    if (relkind == '\0')
        throw pg::Error(ERRCODE_UNDEFINED_TABLE,
                        "relation with OID " + std::to_string(source) + " does not exist");
    pg::call([&] {
        if (!pg_class_ownercheck(source, GetUserId()))
            aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind), get_rel_name(source));
    });
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
        throw pg::Error(ERRCODE_WRONG_OBJECT_TYPE, "\"" + name_of(source) + "\" is not a table");
    bool is_partition = pg::call([&] { return get_rel_relispartition(source); });
    Oid parent =
        is_partition ? pg::call([&] { return get_partition_parent(source, false); }) : InvalidOid;
    auto managed = is_partition ? catalog::find_managed_table(parent) : std::nullopt;
    if (!is_partition && !managed_only)
        throw pg::Error(ERRCODE_WRONG_OBJECT_TYPE,
                        "table \"" + name_of(source) + "\" is not a partition");
    if (!managed && managed_only)
        throw pg::Error(ERRCODE_WRONG_OBJECT_TYPE,
                        "table \"" + name_of(source) +
                            "\" is not a partition of a table managed by pg_presplit",
                        "", "Split a leaf partition of a table registered with presplit.manage().");
    if (relkind == RELKIND_PARTITIONED_TABLE)
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        "partition \"" + name_of(source) + "\" is itself partitioned",
                        "pg_presplit splits leaf partitions only.");
    // The split runs as the partition's owner (shadows, triggers, ATTACH and
    // DETACH), never as a superuser; ATTACH and DETACH also need the parent.
    Oid source_owner = relation_owner(source);
    Oid parent_owner = relation_owner(parent);
    if (source_owner != parent_owner)
        throw pg::Error(
            ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "partition \"" + name_of(source) + "\" is owned by role \"" + role_name(source_owner) +
                "\", its parent \"" + name_of(parent) + "\" by role \"" + role_name(parent_owner) +
                "\"",
            "pg_presplit creates, attaches and detaches partitions as the table's owner, who must "
            "own both.",
            "Give the partition the parent's owner with ALTER TABLE ... OWNER TO.");
    request.parent = parent;
    if (managed) {
        request.key_column = managed->key_column;
        request.key_type = managed->key_type;
    }

    // Same order as ATTACH/DETACH: parent, then partition.
    pg::call([&] {
        LockRelationOid(parent, ShareUpdateExclusiveLock);
        LockRelationOid(source, ShareRowExclusiveLock);
    });

    PartitionBoundSpec* spec = bound_spec(source);
    if (spec->is_default)
        throw pg::Error(ERRCODE_FEATURE_NOT_SUPPORTED,
                        std::string(managed_only ? "cannot split" : "cannot move") +
                            " the default partition \"" + name_of(source) + "\"",
                        "The default partition has no range to divide.",
                        std::string("Create a partition for the range first, then ") +
                            (managed_only ? "split" : "move") + " that.");
    if (!managed)
        return request; // no key values: the caller uses the bound as it is
    if (Const* lower = bound_value(spec->lowerdatums))
        request.lower = output_text(request.key_type, lower->constvalue);
    if (Const* upper = bound_value(spec->upperdatums))
        request.upper = output_text(request.key_type, upper->constvalue);

    if (auto active = catalog::find_active_plan_for_source(source))
        throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "partition \"" + name_of(source) + "\" already has an active split plan",
                        "Split plan " + std::to_string(active->id) + " is in state " +
                            core::to_string(active->state) + ".",
                        "Wait for it with presplit.wait(" + std::to_string(active->id) + ", '" +
                            core::to_string(core::PlanState::synced) +
                            "'), or cancel it with presplit.cancel(" + std::to_string(active->id) +
                            ").");
    return request;
}

void resolve_split_points(SplitRequest& request, FunctionCallInfo fcinfo, int arg) {
    if (PG_ARGISNULL(arg))
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "split_points must not be NULL");
    const Oid key_type = request.key_type;
    const Oid given_type = pg::call([&] { return get_fn_expr_argtype(fcinfo->flinfo, arg); });

    // Bring the argument to an array of the key type.
    ArrayType* points = nullptr;
    if (given_type == UNKNOWNOID) {
        // An untyped literal: read it as an array of the key type directly.
        points = pg::call([&] {
            return DatumGetArrayTypeP(OidInputFunctionCall(
                F_ARRAY_IN, DatumGetCString(PG_GETARG_DATUM(arg)), key_type, -1));
        });
    } else {
        const Oid element_type = pg::call([&] { return get_element_type(given_type); });
        if (!OidIsValid(element_type))
            throw pg::Error(ERRCODE_DATATYPE_MISMATCH, "split_points must be an array",
                            "Got a value of type " + type_name(given_type) + ".",
                            "Pass an array, for example '{500000}' or ARRAY[500000].");
        bool coercible =
            element_type == key_type || pg::call([&] {
                return TypeCategory(element_type) == TYPCATEGORY_STRING ||
                       can_coerce_type(1, &element_type, &key_type, COERCION_ASSIGNMENT);
            });
        if (!coercible)
            throw pg::Error(ERRCODE_DATATYPE_MISMATCH,
                            "split points of type " + type_name(given_type) +
                                " cannot be coerced to the partition key's type " +
                                type_name(key_type),
                            "", "Pass values of type " + type_name(key_type) + ".");
        points = pg::call([&] { return DatumGetArrayTypeP(PG_GETARG_DATUM(arg)); });
        if (element_type != key_type) {
            // Through text: the key type's input function decides, and
            // reports a value it cannot read with the value in the message.
            std::string literal = output_text(given_type, PointerGetDatum(points));
            points = pg::call([&] {
                return DatumGetArrayTypeP(
                    OidInputFunctionCall(F_ARRAY_IN, literal.data(), key_type, -1));
            });
        }
    }

    int ndim = pg::call([&] { return ARR_NDIM(points); });
    if (ndim > 1)
        throw pg::Error(ERRCODE_ARRAY_SUBSCRIPT_ERROR,
                        "split_points must be a one-dimensional array");

    Datum* values = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg::call([&] {
        int16 typlen;
        bool typbyval;
        char typalign;
        get_typlenbyvalalign(key_type, &typlen, &typbyval, &typalign);
        deconstruct_array(points, key_type, typlen, typbyval, typalign, &values, &nulls, &count);
    });

    // Compare as the partition key does: its operator class's support
    // function and collation.
    Relation parent = pg::call([&] { return relation_open(request.parent, NoLock); });
    PartitionKey key = pg::call([&] { return RelationGetPartitionKey(parent); });
    auto compare = [&](Datum a, Datum b) {
        int32 result = pg::call([&] {
            return DatumGetInt32(
                FunctionCall2Coll(&key->partsupfunc[0], key->partcollation[0], a, b));
        });
        return result < 0 ? -1 : result > 0 ? 1 : 0;
    };
    PartitionBoundSpec* spec = bound_spec(request.source);
    Const* lower = bound_value(spec->lowerdatums);
    Const* upper = bound_value(spec->upperdatums);

    std::vector<core::SplitPointFacts> facts(count);
    for (int i = 0; i < count; i++) {
        facts[i].is_null = nulls[i];
        if (nulls[i])
            continue;
        if (i > 0 && !nulls[i - 1])
            facts[i].versus_previous = compare(values[i], values[i - 1]);
        if (lower)
            facts[i].versus_lower = compare(values[i], lower->constvalue);
        if (upper)
            facts[i].versus_upper = compare(values[i], upper->constvalue);
    }
    pg::call([&] { relation_close(parent, NoLock); });

    core::SplitPointVerdict verdict = core::check_split_points(facts);
    auto point_text = [&](size_t i) { return output_text(key_type, values[i]); };
    std::string bounds = "FROM (" + request.lower.value_or("MINVALUE") + ") TO (" +
                         request.upper.value_or("MAXVALUE") + ")";
    switch (verdict.problem) {
    case core::SplitPointProblem::none:
        break;
    case core::SplitPointProblem::empty:
        if (request.servers.size() == 1 && request.servers[0])
            break; // the whole partition onto one server: a move as a plan
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "split_points must not be empty", "",
                        "Give at least one value of the partition key inside the partition.");
    case core::SplitPointProblem::null_point:
        throw pg::Error(ERRCODE_NULL_VALUE_NOT_ALLOWED, "split_points must not contain NULL");
    case core::SplitPointProblem::unsorted:
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE, "split_points must be in ascending order",
                        "Split point " + point_text(verdict.index) + " follows " +
                            point_text(verdict.index - 1) + ".");
    case core::SplitPointProblem::duplicate:
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "split_points contain " + point_text(verdict.index) + " twice");
    case core::SplitPointProblem::not_above_lower:
    case core::SplitPointProblem::not_below_upper:
        throw pg::Error(ERRCODE_INVALID_PARAMETER_VALUE,
                        "split point " + point_text(verdict.index) + " is not inside partition \"" +
                            name_of(request.source) + "\"",
                        "The partition holds values " + bounds +
                            "; a split point must be above its lower and below its upper bound.");
    }
    for (int i = 0; i < count; i++)
        request.split_points.push_back(point_text(i));
}

} // namespace presplit::migration
