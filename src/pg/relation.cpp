#include "pg/relation.hpp"

extern "C" {
#include "access/genam.h"
#include "access/relation.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/relcache.h"
}

namespace presplit::pg {
namespace {

char* partition_key_definition(Relation rel) {
    return TextDatumGetCString(
        DirectFunctionCall1(pg_get_partkeydef, ObjectIdGetDatum(RelationGetRelid(rel))));
}

[[noreturn]] void reject_partition(Relation rel) {
    Oid root = llast_oid(get_partition_ancestors(RelationGetRelid(rel)));
    ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                    errmsg("table \"%s\" is a partition of \"%s\"", RelationGetRelationName(rel),
                           get_rel_name(root)),
                    errhint("Manage the partitioned table at the root of the tree.")));
    pg_unreachable();
}

// Whether index can identify rows: unique and checked immediately, no
// predicate, no expressions, every key column NOT NULL.
bool identifies_rows(Relation rel, Relation index) {
    Form_pg_index form = index->rd_index;
    if (!form->indisunique || !form->indimmediate)
        return false;
    if (RelationGetIndexPredicate(index) != NIL || RelationGetIndexExpressions(index) != NIL)
        return false;
    for (int i = 0; i < form->indnkeyatts; i++) {
        AttrNumber attnum = form->indkey.values[i];
        if (attnum <= 0 || !TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attnotnull)
            return false;
    }
    return true;
}

} // namespace

Relation open_existing_relation(Oid relid, LOCKMODE lockmode) {
    Relation rel = try_relation_open(relid, lockmode);
    if (rel == nullptr)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", relid)));
    return rel;
}

void require_owner(Relation rel) {
    if (!pg_class_ownercheck(RelationGetRelid(rel), GetUserId()))
        aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(rel->rd_rel->relkind),
                       RelationGetRelationName(rel));
}

RangeKey require_range_partitioned_root(Relation rel) {
    const char* name = RelationGetRelationName(rel);
    char relkind = rel->rd_rel->relkind;
    if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a table", name),
                        errdetail_relkind_not_supported(relkind)));
    if (rel->rd_rel->relispartition)
        reject_partition(rel);
    if (relkind != RELKIND_PARTITIONED_TABLE)
        ereport(ERROR,
                (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                 errmsg("table \"%s\" is not partitioned", name),
                 errhint("pg_presplit manages tables created with PARTITION BY RANGE (column).")));

    PartitionKey key = RelationGetPartitionKey(rel);
    if (key->strategy != PARTITION_STRATEGY_RANGE)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("table \"%s\" is not partitioned by RANGE", name),
                        errdetail("Its partition key is %s.", partition_key_definition(rel)),
                        errhint("pg_presplit splits RANGE partitions only.")));
    if (key->partnatts != 1)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("table \"%s\" has a multi-column partition key", name),
                        errdetail("Its partition key is %s.", partition_key_definition(rel)),
                        errhint("pg_presplit supports a partition key of a single column.")));
    if (key->partattrs[0] == 0)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("table \"%s\" is partitioned by an expression", name),
                        errdetail("Its partition key is %s.", partition_key_definition(rel)),
                        errhint("pg_presplit supports a partition key of a single column.")));

    RangeKey result{};
    result.attnum = key->partattrs[0];
    result.type = get_partition_col_typid(key, 0);
    namestrcpy(&result.name, get_attname(RelationGetRelid(rel), result.attnum, false));
    return result;
}

namespace {

// The index that identifies rel's rows: its primary key, else the narrowest
// identifying unique index (lowest OID among equals); InvalidOid if none.
Oid identity_index(Relation rel) {
    Oid chosen = RelationGetPrimaryKeyIndex(rel);
    if (OidIsValid(chosen)) {
        Relation index = index_open(chosen, AccessShareLock);
        bool usable = identifies_rows(rel, index);
        index_close(index, AccessShareLock);
        if (!usable) // a deferrable primary key
            chosen = InvalidOid;
    }
    if (!OidIsValid(chosen)) {
        int chosen_width = INT_MAX;
        ListCell* cell;
        foreach (cell, RelationGetIndexList(rel)) {
            Relation index = index_open(lfirst_oid(cell), AccessShareLock);
            int width = index->rd_index->indnkeyatts;
            // Narrowest first, then lowest OID: the same choice every time.
            if (identifies_rows(rel, index) &&
                (width < chosen_width ||
                 (width == chosen_width && RelationGetRelid(index) < chosen))) {
                chosen = RelationGetRelid(index);
                chosen_width = width;
            }
            index_close(index, AccessShareLock);
        }
    }
    return chosen;
}

List* index_column_names(Relation rel, Oid chosen) {
    Relation index = index_open(chosen, AccessShareLock);
    List* names = NIL;
    for (int i = 0; i < index->rd_index->indnkeyatts; i++)
        names = lappend(
            names, get_attname(RelationGetRelid(rel), index->rd_index->indkey.values[i], false));
    index_close(index, AccessShareLock);
    return names;
}

bool same_names(List* a, List* b) {
    if (list_length(a) != list_length(b))
        return false;
    ListCell *x, *y;
    forboth(x, a, y, b) if (strcmp(static_cast<const char*>(lfirst(x)),
                                   static_cast<const char*>(lfirst(y))) != 0) return false;
    return true;
}

// A partitioned table without a unique index of its own (as one with
// partitions on other servers must be: PostgreSQL attaches no foreign table
// under a unique index): the identity its leaf partitions all have, with the
// key among its columns; NIL if there is no such agreement.
List* leaf_identity(Relation rel, const RangeKey& key) {
    List* agreed = NIL;
    bool any = false;
    ListCell* cell;
    foreach (cell, find_all_inheritors(RelationGetRelid(rel), AccessShareLock, nullptr)) {
        const Oid relid = lfirst_oid(cell);
        if (get_rel_relkind(relid) != RELKIND_RELATION)
            continue;
        Relation leaf = relation_open(relid, AccessShareLock);
        const Oid chosen = identity_index(leaf);
        List* names = OidIsValid(chosen) ? index_column_names(leaf, chosen) : NIL;
        relation_close(leaf, AccessShareLock);
        if (names == NIL || (any && !same_names(agreed, names)))
            return NIL;
        agreed = names;
        any = true;
    }
    foreach (cell, agreed)
        if (strcmp(static_cast<const char*>(lfirst(cell)), NameStr(key.name)) == 0)
            return agreed;
    return NIL;
}

} // namespace

List* identity_columns(Relation rel, const RangeKey& key) {
    Oid chosen = identity_index(rel);
    if (OidIsValid(chosen))
        return index_column_names(rel, chosen);
    if (List* names = leaf_identity(rel, key))
        return names;
    ereport(ERROR,
            (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
             errmsg("table \"%s\" has no primary key or unique index that identifies its rows",
                    RelationGetRelationName(rel)),
             errdetail("pg_presplit keeps shadow partitions in sync with the source row by "
                       "row, so it needs a primary key, or a unique index that is not "
                       "partial, not deferrable, has no expressions and only NOT NULL "
                       "columns (on a partitioned table it includes the partition key "
                       "\"%s\"; or the same one on every partition).",
                       NameStr(key.name)),
             errhint("Add one, for example: ALTER TABLE %s ADD PRIMARY KEY (%s, ...).",
                     qualified_name(rel), quote_identifier(NameStr(key.name)))));
    return NIL; // not reached
}

char* qualified_name(Relation rel) {
    return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
                                      RelationGetRelationName(rel));
}

} // namespace presplit::pg
