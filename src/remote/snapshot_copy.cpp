#include "remote/snapshot_copy.hpp"

#include "config.hpp"
#include "core/copy_text.hpp"
#include "core/throttle.hpp"
#include "migration/backfill.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "remote/replication.hpp"

#include <algorithm>

namespace presplit::remote {
namespace {

// Rows per cursor fetch: about 100 kB for rows of 50 bytes, few enough round
// trips to cost nothing measurable; fewer for wide rows (kBatchBytes), and
// under a rate cap a tenth of a second's worth, so that the rows go out
// smoothly and a busy server stops them within that.
constexpr long kBatchRows = 2000;
constexpr long kFirstBatchRows = 10; // until a batch tells how wide the rows are
constexpr double kBatchBytes = 4 << 20;
// Bytes per COPY statement: the other server's error in a COPY is seen only
// when the statement ends (libpq reads nothing during it), so a copy is
// several statements in one transaction there.
constexpr size_t kStatementBytes = 16 << 20;

long batch_rows(double max_rows_per_second, double bytes_per_row) {
    long rows = bytes_per_row > 0
                    ? std::min(kBatchRows, static_cast<long>(kBatchBytes / bytes_per_row))
                    : kFirstBatchRows;
    if (max_rows_per_second > 0)
        rows = std::min(rows, static_cast<long>(max_rows_per_second / 10));
    return std::max(rows, 1L);
}

} // namespace

ExportedSlot::ExportedSlot(const std::string& name)
    // connect_timeout first: the setting's own wins.
    : replication_("connect_timeout=10 " + publisher_conninfo() + " replication=database",
                   "this server (presplit.publisher_conninfo)",
                   "pg_presplit copies a target on another server over a replication "
                   "connection to this server made with presplit.publisher_conninfo: let its "
                   "role connect for replication from this host too (pg_hba.conf, its "
                   "password), or set presplit.remote_copy_by_snapshot = off.") {
    const std::vector<pg::Row> made =
        replication_.execute_simple("CREATE_REPLICATION_SLOT " + pg::quote_ident(name) +
                                        " LOGICAL pgoutput (SNAPSHOT 'export')",
                                    config::remote_catchup_timeout_ms);
    if (made.size() != 1 || made[0].size() < 3 || !made[0][2])
        throw pg::Error(ERRCODE_PROTOCOL_VIOLATION,
                        "replication slot " + name + ": no snapshot was exported");
    snapshot_ = *made[0][2];
}

uint64_t copy_published_rows(const std::string& publication, unsigned int source_oid,
                             unsigned int owner, const std::string& source, Connection& remote,
                             const std::string& remote_table,
                             const std::function<void()>& between_batches) {
    pg::Row published;
    {
        pg::RunAsExtension as_extension;
        pg::SpiSession spi;
        const std::vector<pg::Row> rows =
            spi.execute("SELECT (SELECT string_agg(pg_catalog.quote_ident(a.attname), ', '"
                        "                          ORDER BY a.attnum)"
                        "          FROM pg_catalog.pg_attribute a"
                        "         WHERE a.attrelid = pr.prrelid AND a.attnum > 0"
                        "           AND NOT a.attisdropped AND a.attgenerated = ''),"
                        "       pg_catalog.pg_get_expr(pr.prqual, pr.prrelid)"
                        "  FROM pg_catalog.pg_publication p"
                        "  JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid"
                        " WHERE p.pubname = $1 AND pr.prrelid = $2::oid AND pr.prattrs IS NULL",
                        {publication, std::to_string(source_oid)})
                .rows;
        if (rows.size() != 1 || !rows[0][0])
            throw pg::Error(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                            "publication " + publication + " does not publish " + source +
                                " (every column) here");
        published = rows[0];
    }
    const std::string& columns = *published[0];
    pg::RunAsTableOwner as_owner(owner);
    pg::CanonicalTextFormat canonical;
    pg::SpiSession spi;
    // A policy that hid rows from the owner would lose them silently: with
    // row security off, such a table fails the copy instead.
    spi.execute("SELECT pg_catalog.set_config('row_security', 'off', true)");
    pg::TextCursor cursor("SELECT " + columns + " FROM ONLY " + source +
                          (published[1] ? " WHERE " + *published[1] : ""));
    const std::string copy = "COPY " + remote_table + " (" + columns + ") FROM STDIN";
    uint64_t copied = 0;
    double bytes_per_row = 0;
    bool exhausted = false;
    instr_time batch_started = pg::now();
    while (!exhausted) {
        size_t statement_bytes = 0;
        remote.copy_in(copy, [&](std::string& buffer) {
            // The next statement goes on, rather than pass 16 MB with a batch.
            if (statement_bytes + static_cast<size_t>(kBatchBytes) > kStatementBytes)
                return false;
            between_batches(); // a reload takes effect here
            const core::ThrottleSettings settings = migration::throttle_settings();
            const uint64_t rows =
                cursor.fetch(batch_rows(settings.max_rows_per_second, bytes_per_row));
            if (rows == 0) {
                exhausted = true;
                return false;
            }
            const char* const* values = cursor.values();
            const int width = cursor.columns();
            for (uint64_t r = 0; r < rows; ++r) {
                for (int c = 0; c < width; ++c)
                    core::append_copy_field(buffer, values[r * width + c], c == 0);
                buffer += '\n';
            }
            copied += rows;
            statement_bytes += buffer.size();
            bytes_per_row = static_cast<double>(buffer.size()) / static_cast<double>(rows);
            // The local backfill's brakes (core/throttle.hpp): its rate cap,
            // and nothing sent while the server is busy (the snapshot held
            // meanwhile, as a held table sync holds it).
            pg::sleep_out(
                core::pause_after_batch_ms(settings, rows, pg::elapsed_ms(batch_started)));
            for (core::ThrottleSettings now = settings;
                 now.busy_active_backends > 0 &&
                 core::foreground_is_busy(now, migration::active_client_backends());
                 now = migration::throttle_settings()) {
                pg::sleep_out(now.backoff_ms);
                between_batches();
            }
            batch_started = pg::now();
            return true;
        });
    }
    return copied;
}

} // namespace presplit::remote
