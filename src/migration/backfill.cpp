#include "migration/backfill.hpp"

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

extern "C" {
#include "pgstat.h"
}

namespace presplit::migration {
namespace {

std::string identity_order(const PlanLayout& layout, const char* direction) {
    std::string order;
    for (size_t i = 0; i < layout.identity.size(); ++i)
        order += (i ? ", " : "") + layout.identity[i].name + direction;
    return order;
}

// (a, b) <op> ($<first>::ta, $<first+1>::tb): row-wise comparisons use the
// identity index.
std::string compare_identity(const PlanLayout& layout, const char* op, size_t first_param) {
    std::string columns, params;
    for (size_t i = 0; i < layout.identity.size(); ++i) {
        columns += (i ? ", " : "") + layout.identity[i].name;
        params += (i ? ", " : "") + std::string("$") + std::to_string(first_param + i) +
                  "::" + layout.identity[i].type;
    }
    return "(" + columns + ") " + op + " (" + params + ")";
}

// Aliased: an output column named like the identity column would otherwise
// be what ORDER BY sorts by -- as text.
std::string identity_as_text(const PlanLayout& layout) {
    std::string list;
    for (size_t i = 0; i < layout.identity.size(); ++i)
        list +=
            (i ? ", " : "") + layout.identity[i].name + "::text AS boundary_" + std::to_string(i);
    return list;
}

// The batch covers identities in (position, boundary]. The boundary is read
// first, without locks; then the rows in that range are read FOR SHARE and
// copied. Fixing the range before locking matters: a row whose identity a
// concurrent UPDATE moved is re-checked against the range on its new version
// and left to capture if it moved out, and the position advances to the
// boundary whatever came back.
struct BatchRange {
    std::vector<pg::Value> params; // position values, then boundary values
    std::string condition;         // SQL over the identity columns
    std::optional<std::vector<std::string>> boundary;
};

// With targets on other servers (copied there, not here), the rows this
// backfill copies: those of the local shadows' ranges. Empty when every
// shadow is local, or when the identity does not begin with the key: the
// ranges then bound no scan of the identity's index, and a batch could read
// every local row left to find its boundary.
std::string local_rows(const PlanLayout& layout) {
    if (layout.identity.empty() || layout.identity[0].name != layout.key)
        return "";
    bool remote = false;
    std::string local;
    for (const auto& shadow : layout.shadows) {
        if (shadow.row.server)
            remote = true;
        else
            local += (local.empty() ? "(" : " OR (") + shadow.range_condition + ")";
    }
    return !remote ? "" : local.empty() ? "false" : local;
}

BatchRange batch_range(pg::SpiSession& spi, const PlanLayout& layout, int batch_size) {
    BatchRange range;
    const auto& position = layout.plan.backfill_position;
    std::vector<std::string> conditions;
    if (position) {
        for (const auto& value : *position)
            range.params.emplace_back(value);
        conditions.push_back(compare_identity(layout, ">", 1));
    }
    // A batch spans batch_size rows that it copies, not the rows of a
    // remote target's range between them.
    std::string search = position ? conditions[0] : "";
    if (const std::string local = local_rows(layout); !local.empty())
        search = (search.empty() ? "" : search + " AND ") + "(" + local + ")";
    auto found = spi.execute("SELECT " + identity_as_text(layout) + " FROM ONLY " + layout.source +
                                 (search.empty() ? "" : " WHERE " + search) + " ORDER BY " +
                                 identity_order(layout, "") + " OFFSET " +
                                 std::to_string(batch_size - 1) + " LIMIT 1",
                             range.params);
    if (!found.rows.empty()) {
        std::vector<std::string> boundary;
        for (const auto& value : found.rows[0])
            boundary.push_back(*value);
        conditions.push_back(compare_identity(layout, "<=", range.params.size() + 1));
        for (const auto& value : boundary)
            range.params.emplace_back(value);
        range.boundary = std::move(boundary);
    }
    for (size_t i = 0; i < conditions.size(); ++i)
        range.condition += (i ? " AND " : "") + conditions[i];
    if (range.condition.empty())
        range.condition = "true";
    return range;
}

// One INSERT ... SELECT ... FOR SHARE per shadow; returns rows inserted.
std::vector<uint64_t> copy_range(pg::SpiSession& spi, const PlanLayout& layout,
                                 const BatchRange& range, bool skip_conflicts) {
    const std::string columns = column_list(layout.columns);
    std::vector<uint64_t> copied;
    for (const auto& shadow : layout.shadows) {
        if (shadow.row.server) { // a remote target: its subscription copies its rows
            copied.push_back(0);
            continue;
        }
        auto result = spi.execute(
            "INSERT INTO " + shadow.name + " (" + columns + ") SELECT " + columns + " FROM ONLY " +
                layout.source + " WHERE " + range.condition + " AND " + shadow.range_condition +
                " FOR SHARE" + (skip_conflicts ? " ON CONFLICT DO NOTHING" : ""),
            range.params);
        copied.push_back(result.processed);
    }
    return copied;
}

BatchResult copy_batch(const PlanLayout& layout, int batch_size, BatchMode mode) {
    pg::RunAsTableOwner as_owner(layout.table_owner);
    // The boundary is kept as text and read by the next batch's session.
    pg::CanonicalTextFormat canonical;
    BatchResult result;
    BatchRange range;
    {
        pg::SpiSession spi;
        range = batch_range(spi, layout, batch_size);
    }
    // Fast path: a plain INSERT, unless capture has already put rows of this
    // range in a shadow (a unique violation), in which case the batch is
    // redone skipping them. ON CONFLICT costs about half again as much as a
    // plain INSERT, so it is used only where it is needed.
    bool plain_worked = false;
    if (mode == BatchMode::try_plain_insert)
        plain_worked = pg::in_subtransaction(
            [&] {
                pg::SpiSession spi;
                result.rows_copied = copy_range(spi, layout, range, false);
            },
            ERRCODE_UNIQUE_VIOLATION);
    if (!plain_worked) {
        pg::SpiSession spi;
        result.rows_copied = copy_range(spi, layout, range, true);
        result.needed_conflict_handling = true;
    }
    for (uint64_t rows : result.rows_copied)
        result.rows_read += rows;
    result.done = !range.boundary.has_value();
    if (range.boundary)
        result.last_key = *range.boundary;
    return result;
}

} // namespace

BatchResult run_batch(const PlanLayout& layout, int batch_size, BatchMode mode) {
    BatchResult batch = copy_batch(layout, batch_size, mode);
    const bool done = batch.done;
    catalog::record_backfill_batch(
        layout.plan.id,
        batch.last_key.empty() ? layout.plan.backfill_position.value_or(std::vector<std::string>{})
                               : batch.last_key,
        done);
    for (size_t i = 0; i < layout.shadows.size(); ++i)
        catalog::set_progress(layout.plan.id, layout.shadows[i].row.ordinal,
                              done ? "verifying" : "copying", batch.rows_copied[i]);
    return batch;
}

void mark_backfilling(catalog::Plan& plan) {
    if (plan.state != core::PlanState::preparing)
        return;
    catalog::set_plan_state(plan.id, core::PlanState::backfilling);
    plan.state = core::PlanState::backfilling;
}

void analyze_shadow(const PlanLayout& layout, const ShadowLayout& shadow) {
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    spi.execute("ANALYZE " + shadow.name);
}

ShadowCheck verify_shadow(const PlanLayout& layout, const ShadowLayout& shadow) {
    pg::RunAsTableOwner as_owner(layout.table_owner);
    pg::SpiSession spi;
    auto summary = [](const std::string& from) {
        return "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM " + from;
    };
    ShadowCheck check;
    check.ordinal = shadow.row.ordinal;
    pg::Row source =
        spi.execute(summary("ONLY " + layout.source + " AS t WHERE " +
                            range_condition(layout.key, layout.key_type, shadow.row.lower_value,
                                            shadow.row.upper_value, "t.")))
            .rows.at(0);
    pg::Row copy = spi.execute(summary(shadow.name + " AS t")).rows.at(0);
    check.source_rows = std::stoll(*source[0]);
    check.source_checksum = *source[1];
    check.shadow_rows = std::stoll(*copy[0]);
    check.shadow_checksum = *copy[1];
    return check;
}

int active_client_backends() {
    // A transaction sees the backends as they were when it first looked:
    // a long one (a copy under a snapshot) looks again each time.
    pg::call([] { pgstat_clear_snapshot(); });
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    return std::stoi(*spi.scalar("SELECT count(*) FROM pg_catalog.pg_stat_activity"
                                 " WHERE state = 'active' AND backend_type = 'client backend'"
                                 "   AND pid <> pg_catalog.pg_backend_pid()"));
}

core::ThrottleSettings throttle_settings() {
    core::ThrottleSettings settings;
    settings.max_rows_per_second = config::backfill_max_rows_per_second;
    settings.busy_active_backends = config::backfill_busy_backends;
    settings.backoff_ms = config::backfill_backoff_ms;
    return settings;
}

} // namespace presplit::migration
