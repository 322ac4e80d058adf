#include "pg/clock.hpp"

#include <cmath>

#include "config.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/timestamp.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
}

namespace presplit::pg {

void sleep_on_latch(int64_t ms) {
    call([&] {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                        static_cast<long>(ms), PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    });
}

void sleep_out(int64_t ms) {
    const instr_time started = now();
    for (double left = static_cast<double>(ms); left > 0;
         left = static_cast<double>(ms) - elapsed_ms(started))
        sleep_on_latch(static_cast<int64_t>(std::ceil(left)));
}

instr_time now() {
    instr_time time;
    INSTR_TIME_SET_CURRENT(time);
    return time;
}

double elapsed_ms(instr_time since) {
    instr_time time = now();
    INSTR_TIME_SUBTRACT(time, since);
    return INSTR_TIME_GET_MILLISEC(time);
}

void StepTimes::step(const char* name) {
    const instr_time at = now();
    instr_time took = at;
    INSTR_TIME_SUBTRACT(took, last_);
    steps_.emplace_back(name, INSTR_TIME_GET_MILLISEC(took));
    last_ = at;
}

std::string StepTimes::summary() const {
    std::string out;
    for (const auto& [name, ms] : steps_) {
        char text[32];
        snprintf(text, sizeof text, " %.1f ms", ms);
        out += (out.empty() ? "" : ", ") + std::string(name) + text;
    }
    return out;
}

namespace {

// TimestampTz counts microseconds from 2000-01-01.
constexpr int64_t kPostgresEpochSeconds =
    static_cast<int64_t>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

int64_t model_seconds_at(TimestampTz wall) {
    TimestampTz model = wall;
    if (config::clock_rate > 1 && PgStartTime > 0 && wall > PgStartTime)
        model = PgStartTime + static_cast<TimestampTz>(static_cast<double>(wall - PgStartTime) *
                                                       config::clock_rate);
    return model / USECS_PER_SEC + kPostgresEpochSeconds;
}

} // namespace

int64_t model_now_seconds() {
    return model_seconds_at(call([] { return GetCurrentTimestamp(); }));
}

int64_t model_seconds_ago(double wall_seconds_ago) {
    const TimestampTz now = call([] { return GetCurrentTimestamp(); });
    return model_seconds_at(now - static_cast<TimestampTz>(wall_seconds_ago * USECS_PER_SEC));
}

TimestampTz model_timestamp(int64_t seconds) {
    return (seconds - kPostgresEpochSeconds) * USECS_PER_SEC;
}

} // namespace presplit::pg
