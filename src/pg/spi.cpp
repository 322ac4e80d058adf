#include "pg/spi.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

#include <algorithm>
#include <exception>
#include <utility>
#include <type_traits>

namespace presplit::pg {
namespace {

constexpr const char* kSafeSearchPath = "pg_catalog, pg_temp";

int enter_role(Oid role, int extra_security_flags, Oid* saved_user, int* saved_context) {
    return call([&] {
        GetUserIdAndSecContext(saved_user, saved_context);
        SetUserIdAndSecContext(role, *saved_context | SECURITY_LOCAL_USERID_CHANGE |
                                         extra_security_flags);
        int level = NewGUCNestLevel();
        (void)set_config_option("search_path", kSafeSearchPath, PGC_USERSET, PGC_S_SESSION,
                                GUC_ACTION_SAVE, true, 0, false);
        return level;
    });
}

void leave_role(Oid saved_user, int saved_context, int guc_nest_level) {
    call([&] {
        AtEOXact_GUC(true, guc_nest_level);
        SetUserIdAndSecContext(saved_user, saved_context);
    });
}

} // namespace

SpiSession::SpiSession() : exceptions_at_entry_(std::uncaught_exceptions()) {
    int rc = call([] { return SPI_connect(); });
    if (rc != SPI_OK_CONNECT)
        throw Error(ERRCODE_INTERNAL_ERROR, "pg_presplit: SPI_connect failed");
}

SpiSession::~SpiSession() {
    if (std::uncaught_exceptions() > exceptions_at_entry_)
        return;
    try {
        call([] { SPI_finish(); });
    } catch (...) {
        // Only reachable on an error inside SPI_finish; the abort cleans up.
    }
}

QueryResult SpiSession::execute(const std::string& sql, const std::vector<Value>& params) {
    const int nargs = static_cast<int>(params.size());
    std::vector<Oid> types(params.size(), TEXTOID);
    std::vector<Datum> values(params.size());
    std::string nulls(params.size(), ' ');
    call([&] {
        for (int i = 0; i < nargs; i++) {
            if (params[i])
                values[i] = CStringGetTextDatum(params[i]->c_str());
            else
                nulls[i] = 'n';
        }
        int rc = SPI_execute_with_args(sql.c_str(), nargs, types.data(), values.data(),
                                       nulls.c_str(), false, 0);
        if (rc < 0)
            elog(ERROR, "pg_presplit: statement failed (%s): %s", SPI_result_code_string(rc),
                 sql.c_str());
    });
    return collect_result();
}

QueryResult SpiSession::execute_in_snapshot(const std::string& sql, SnapshotData* snapshot) {
    call([&] {
        SPIPlanPtr plan = SPI_prepare(sql.c_str(), 0, nullptr);
        if (plan == nullptr)
            elog(ERROR, "pg_presplit: statement failed (%s): %s",
                 SPI_result_code_string(SPI_result), sql.c_str());
        int rc = SPI_execute_snapshot(plan, nullptr, nullptr, snapshot, InvalidSnapshot,
                                      /*read_only=*/true, /*fire_triggers=*/false, 0);
        if (rc < 0)
            elog(ERROR, "pg_presplit: statement failed (%s): %s", SPI_result_code_string(rc),
                 sql.c_str());
        SPI_freeplan(plan);
    });
    return collect_result();
}

QueryResult SpiSession::collect_result() {
    QueryResult result;
    result.processed = SPI_processed;
    if (SPI_tuptable != nullptr) {
        SPITupleTable* table = SPI_tuptable;
        const int columns = table->tupdesc->natts;
        result.rows.reserve(table->numvals);
        for (uint64 r = 0; r < table->numvals; r++) {
            Row row;
            row.reserve(columns);
            for (int c = 1; c <= columns; c++) {
                char* text = call([&] { return SPI_getvalue(table->vals[r], table->tupdesc, c); });
                row.emplace_back(text ? Value(text) : std::nullopt);
            }
            result.rows.push_back(std::move(row));
        }
    }
    return result;
}

TextCursor::TextCursor(const std::string& sql) : exceptions_at_entry_(std::uncaught_exceptions()) {
    portal_ = call([&] {
        SPIPlanPtr plan = SPI_prepare(sql.c_str(), 0, nullptr);
        if (plan == nullptr)
            elog(ERROR, "pg_presplit: statement failed (%s): %s",
                 SPI_result_code_string(SPI_result), sql.c_str());
        Portal portal = SPI_cursor_open(nullptr, plan, nullptr, nullptr, /*read_only=*/true);
        SPI_freeplan(plan);
        memory_ =
            AllocSetContextCreate(CurrentMemoryContext, "pg_presplit cursor", ALLOCSET_SMALL_SIZES);
        batch_memory_ =
            AllocSetContextCreate(memory_, "pg_presplit cursor batch", ALLOCSET_DEFAULT_SIZES);
        return portal;
    });
}

TextCursor::~TextCursor() {
    if (std::uncaught_exceptions() > exceptions_at_entry_)
        return; // the transaction abort closes the portal and frees the memory
    try {
        call([&] {
            SPI_cursor_close(portal_);
            MemoryContextDelete(memory_);
        });
    } catch (...) {
    }
}

uint64_t TextCursor::fetch(long rows) {
    const uint64_t fetched = call([&] {
        MemoryContextReset(batch_memory_);
        SPI_cursor_fetch(portal_, true, rows);
        if (SPI_processed == 0)
            SPI_freetuptable(SPI_tuptable);
        return SPI_processed;
    });
    if (fetched == 0)
        return 0;
    if (output_functions_ == nullptr)
        columns_ = call([&] {
            TupleDesc descriptor = SPI_tuptable->tupdesc;
            output_functions_ = static_cast<FmgrInfo*>(
                MemoryContextAlloc(memory_, sizeof(FmgrInfo) * std::max(descriptor->natts, 1)));
            for (int c = 0; c < descriptor->natts; c++) {
                Oid function;
                bool is_varlena;
                getTypeOutputInfo(TupleDescAttr(descriptor, c)->atttypid, &function, &is_varlena);
                fmgr_info_cxt(function, &output_functions_[c], memory_);
            }
            return descriptor->natts;
        });
    values_.resize(fetched * static_cast<uint64_t>(columns_));
    call([&] {
        MemoryContext caller = MemoryContextSwitchTo(batch_memory_);
        SPITupleTable* table = SPI_tuptable;
        for (uint64 r = 0; r < fetched; r++)
            for (int c = 0; c < columns_; c++) {
                bool is_null;
                Datum value = SPI_getbinval(table->vals[r], table->tupdesc, c + 1, &is_null);
                values_[r * columns_ + c] =
                    is_null ? nullptr : OutputFunctionCall(&output_functions_[c], value);
            }
        MemoryContextSwitchTo(caller);
        SPI_freetuptable(table); // its values are copied out
    });
    return fetched;
}

Value SpiSession::scalar(const std::string& sql, const std::vector<Value>& params) {
    QueryResult result = execute(sql, params);
    if (result.rows.empty() || result.rows[0].empty())
        return std::nullopt;
    return result.rows[0][0];
}

KeptStatement SpiSession::prepare_kept(const std::string& sql,
                                       const std::vector<unsigned int>& types) {
    std::vector<Oid> oids(types.begin(), types.end());
    return call([&] {
        SPIPlanPtr plan = SPI_prepare(sql.c_str(), static_cast<int>(oids.size()), oids.data());
        if (plan == nullptr)
            elog(ERROR, "pg_presplit: could not prepare (%s): %s",
                 SPI_result_code_string(SPI_result), sql.c_str());
        if (SPI_keepplan(plan) != 0)
            elog(ERROR, "pg_presplit: SPI_keepplan failed");
        return plan;
    });
}

uint64_t SpiSession::execute_kept(KeptStatement statement, const uintptr_t* values,
                                  const char* nulls) {
    static_assert(std::is_same_v<Datum, uintptr_t>);
    return call([&] {
        int rc = SPI_execute_plan(statement, const_cast<Datum*>(values), nulls, false, 0);
        if (rc < 0)
            elog(ERROR, "pg_presplit: prepared statement failed (%s)", SPI_result_code_string(rc));
        return static_cast<uint64_t>(SPI_processed);
    });
}

void free_statement(KeptStatement statement) {
    if (statement != nullptr)
        call([&] { SPI_freeplan(statement); });
}

RoleSwitch::RoleSwitch(unsigned int role, int extra_security_flags)
    : exceptions_at_entry_(std::uncaught_exceptions()) {
    Oid saved_user;
    guc_nest_level_ = enter_role(role, extra_security_flags, &saved_user, &saved_security_context_);
    saved_user_ = saved_user;
}

RoleSwitch::~RoleSwitch() {
    if (std::uncaught_exceptions() > exceptions_at_entry_)
        return; // the transaction abort restores user and settings
    try {
        leave_role(saved_user_, saved_security_context_, guc_nest_level_);
    } catch (...) {
    }
}

CanonicalTextFormat::CanonicalTextFormat() : exceptions_at_entry_(std::uncaught_exceptions()) {
    guc_nest_level_ = call([] {
        int level = NewGUCNestLevel();
        for (const auto& [name, value] :
             {std::pair{"DateStyle", "ISO, YMD"}, std::pair{"IntervalStyle", "postgres"},
              std::pair{"extra_float_digits", "3"}})
            (void)set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                                    0, false);
        return level;
    });
}

CanonicalTextFormat::~CanonicalTextFormat() {
    if (std::uncaught_exceptions() > exceptions_at_entry_)
        return; // the transaction abort restores the settings
    try {
        call([&] { AtEOXact_GUC(true, guc_nest_level_); });
    } catch (...) {
    }
}

RunAsTableOwner::RunAsTableOwner(unsigned int role)
    : RoleSwitch(role, SECURITY_RESTRICTED_OPERATION) {}

RunAsExtension::RunAsExtension() : RoleSwitch(BOOTSTRAP_SUPERUSERID, 0) {}

std::string quote_ident(const std::string& name) {
    return call([&] { return quote_identifier(name.c_str()); });
}

std::string quote_literal(const std::string& value) {
    return call([&] { return quote_literal_cstr(value.c_str()); });
}

std::string qualified_relation_name(unsigned int relid) {
    const char* schema = call([&] { return get_namespace_name(get_rel_namespace(relid)); });
    const char* name = call([&] { return get_rel_name(relid); });
    if (schema == nullptr || name == nullptr)
        throw Error(ERRCODE_UNDEFINED_TABLE,
                    "relation with OID " + std::to_string(relid) + " does not exist");
    return call([&] { return quote_qualified_identifier(schema, name); });
}

} // namespace presplit::pg
