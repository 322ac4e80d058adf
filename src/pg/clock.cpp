#include "pg/clock.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "miscadmin.h"
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

} // namespace presplit::pg
