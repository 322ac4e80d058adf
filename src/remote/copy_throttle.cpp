#include "remote/copy_throttle.hpp"

#include "catalog/catalog.hpp"
#include "config.hpp"
#include "core/throttle.hpp"
#include "pg/clock.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"
#include "remote/replication.hpp"

extern "C" {
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "port/atomics.h"
#include "replication/walsender.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"
}

#include <algorithm>
#include <cmath>
#include <optional>
#include <type_traits>

namespace presplit::remote {
namespace {

constexpr int kSources = 32;
// Rows between two looks at the limits: a few atomic reads and a clock
// reading per kCheckRows rows.
constexpr uint64 kCheckRows = 256;
// While held, how often the limits are read again.
constexpr long kHoldPollMs = 200;

struct SharedSource {
    pg_atomic_uint32 database;
    pg_atomic_uint32 source;
    pg_atomic_uint32 hold;
    pg_atomic_uint64 max_rows_per_second_milli;
};

struct SharedCopyThrottle {
    pg_atomic_uint32 count;        // sources[0 .. count) are published
    pg_atomic_uint64 published_at; // TimestampTz of the worker's last round; 0: never
    SharedSource sources[kSources];
};
static_assert(std::is_standard_layout_v<SharedCopyThrottle>);

SharedCopyThrottle* throttle = nullptr;

struct Limit {
    double max_rows_per_second = 0;
    bool hold = false;
};

// The worker publishes every round; a worker gone for longer than this
// (crashed, restarting) throttles nothing rather than hold a copy for ever.
int64_t fresh_ms() {
    return std::max<int64_t>(30000, 3 * static_cast<int64_t>(config::worker_naptime_ms));
}

// The limits of (database, source) if published and fresh.
std::optional<Limit> limit_of(Oid database, Oid source) {
    if (throttle == nullptr)
        return std::nullopt;
    const uint32 count = std::min<uint32>(pg_atomic_read_u32(&throttle->count), kSources);
    if (count == 0)
        return std::nullopt;
    const auto published_at = static_cast<TimestampTz>(pg_atomic_read_u64(&throttle->published_at));
    if (GetCurrentTimestamp() - published_at > fresh_ms() * 1000)
        return std::nullopt;
    for (uint32 i = 0; i < count; ++i) {
        SharedSource& entry = throttle->sources[i];
        if (pg_atomic_read_u32(&entry.database) != database ||
            pg_atomic_read_u32(&entry.source) != source)
            continue;
        Limit limit;
        limit.hold = pg_atomic_read_u32(&entry.hold) != 0;
        limit.max_rows_per_second =
            static_cast<double>(pg_atomic_read_u64(&entry.max_rows_per_second_milli)) / 1000.0;
        return limit;
    }
    return std::nullopt;
}

// Must start with the DestReceiver: PostgreSQL calls through it.
struct PacedReceiver {
    DestReceiver pub;
    DestReceiver* inner;
    Oid database;
    Oid source;
    uint64 rows_since_check;
    instr_time last_check;
};
static_assert(std::is_standard_layout_v<PacedReceiver>);

// After kCheckRows rows: wait while held, then as long as the rate cap
// wants for those rows.
void pace(PacedReceiver& paced) {
    for (;;) {
        const std::optional<Limit> limit = limit_of(paced.database, paced.source);
        if (limit && limit->hold) {
            pg::sleep_on_latch(kHoldPollMs);
            paced.last_check = pg::now();
            continue;
        }
        if (limit) {
            core::ThrottleSettings settings;
            settings.max_rows_per_second = limit->max_rows_per_second;
            pg::sleep_out(core::pause_after_batch_ms(settings, paced.rows_since_check,
                                                     pg::elapsed_ms(paced.last_check)));
        }
        break;
    }
    paced.rows_since_check = 0;
    paced.last_check = pg::now();
}

PacedReceiver& paced_of(DestReceiver* self) {
    return *reinterpret_cast<PacedReceiver*>(self);
}

bool paced_receive(TupleTableSlot* slot, DestReceiver* self) {
    return pg::entry([&] {
        PacedReceiver& paced = paced_of(self);
        if (++paced.rows_since_check >= kCheckRows)
            pace(paced);
        return pg::call([&] { return paced.inner->receiveSlot(slot, paced.inner); });
    });
}

void paced_startup(DestReceiver* self, int operation, TupleDesc typeinfo) {
    pg::entry([&] {
        PacedReceiver& paced = paced_of(self);
        paced.last_check = pg::now();
        pg::call([&] { paced.inner->rStartup(paced.inner, operation, typeinfo); });
    });
}

void paced_shutdown(DestReceiver* self) {
    pg::entry([&] {
        PacedReceiver& paced = paced_of(self);
        pg::call([&] { paced.inner->rShutdown(paced.inner); });
    });
}

// The executor hook puts the original receiver back after the run; the
// caller destroys that one.
void paced_destroy(DestReceiver*) {}

} // namespace

void request_copy_throttle() {
    RequestAddinShmemSpace(MAXALIGN(sizeof(SharedCopyThrottle)));
}

void attach_copy_throttle() {
    bool found = false;
    throttle = static_cast<SharedCopyThrottle*>(
        ShmemInitStruct("pg_presplit remote copy throttle", sizeof(SharedCopyThrottle), &found));
    if (found)
        return;
    pg_atomic_init_u32(&throttle->count, 0);
    pg_atomic_init_u64(&throttle->published_at, 0);
    for (auto& entry : throttle->sources) {
        pg_atomic_init_u32(&entry.database, InvalidOid);
        pg_atomic_init_u32(&entry.source, InvalidOid);
        pg_atomic_init_u32(&entry.hold, 0);
        pg_atomic_init_u64(&entry.max_rows_per_second_milli, 0);
    }
}

void publish_copy_limits(const std::vector<CopyLimit>& limits) {
    if (throttle == nullptr)
        return;
    // One writer (the worker). A reader that sees an entry half rewritten
    // paces a few hundred rows by the wrong limit, once.
    const auto count = static_cast<uint32>(std::min<size_t>(limits.size(), kSources));
    for (uint32 i = 0; i < kSources; ++i) {
        SharedSource& entry = throttle->sources[i];
        const CopyLimit limit = i < count ? limits[i] : CopyLimit{};
        pg_atomic_write_u32(&entry.database, limit.database);
        pg_atomic_write_u32(&entry.source, limit.source);
        pg_atomic_write_u32(&entry.hold, limit.hold ? 1 : 0);
        pg_atomic_write_u64(
            &entry.max_rows_per_second_milli,
            static_cast<uint64>(std::llround(std::max(0.0, limit.max_rows_per_second) * 1000.0)));
    }
    pg_atomic_write_u32(&throttle->count, count);
    pg_atomic_write_u64(&throttle->published_at, static_cast<uint64>(GetCurrentTimestamp()));
}

std::vector<Oid> remote_copy_sources() {
    std::string query;
    if (catalog::has_shadow_servers())
        query = "SELECT p.source::oid::text FROM presplit.plan p"
                " WHERE p.state IN ('preparing', 'backfilling') AND p.source IS NOT NULL"
                "   AND EXISTS (SELECT FROM presplit.shadow s"
                "                WHERE s.plan_id = p.id AND s.server IS NOT NULL)";
    pg::RunAsExtension as_extension;
    pg::SpiSession spi;
    if (spi.scalar("SELECT pg_catalog.to_regclass('presplit.remote_move') IS NOT NULL") == "t")
        query += std::string(query.empty() ? "" : " UNION ALL ") +
                 "SELECT m.source::oid::text FROM presplit.remote_move m"
                 " WHERE m.state IN ('preparing', 'backfilling') AND m.source IS NOT NULL";
    std::vector<Oid> sources;
    if (query.empty())
        return sources;
    for (const auto& row : spi.execute(query).rows)
        sources.push_back(static_cast<Oid>(std::stoul(*row[0])));
    return sources;
}

DestReceiver* paced_copy_receiver(QueryDesc* query) {
    if (!am_walsender || throttle == nullptr || pg_atomic_read_u32(&throttle->count) == 0 ||
        query->operation != CMD_SELECT || query->plannedstmt == nullptr)
        return nullptr;
    Oid source = InvalidOid;
    ListCell* cell;
    foreach (cell, query->plannedstmt->rtable) {
        const auto* rte = lfirst_node(RangeTblEntry, cell);
        if (rte->rtekind == RTE_RELATION && limit_of(MyDatabaseId, rte->relid)) {
            source = rte->relid;
            break;
        }
    }
    if (!OidIsValid(source))
        return nullptr;
    return pg::call([&] {
        auto* paced = static_cast<PacedReceiver*>(palloc0(sizeof(PacedReceiver)));
        paced->pub.receiveSlot = paced_receive;
        paced->pub.rStartup = paced_startup;
        paced->pub.rShutdown = paced_shutdown;
        paced->pub.rDestroy = paced_destroy;
        paced->pub.mydest = query->dest->mydest;
        paced->inner = query->dest;
        paced->database = MyDatabaseId;
        paced->source = source;
        return &paced->pub;
    });
}

} // namespace presplit::remote
