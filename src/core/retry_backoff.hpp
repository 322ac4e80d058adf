// Steps that talk to another server (moves, a split's remote targets after
// its cutover) fail as long as that server is down. Each is tried again
// after 0.5 s, doubling with each failure in a row up to 10 s; and its
// failure is reported (an event) the first time, whenever the message
// changes, and at the 2nd, 4th, 8th ... failure in a row of the same one: a
// server down for an hour gives about 360 tries and nine events, not one
// event per try.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace presplit::core {

class RetryBackoff {
public:
    struct Failure {
        int in_a_row = 0;        // failures in a row, this one included
        int64_t retry_in_ms = 0; // when to try again
        bool report = false;     // whether to record an event for it
    };

    // Milliseconds until `key` may be tried again (0: now).
    int64_t wait_ms(int64_t key, int64_t now_ms) const;
    // A failed try of `key` at now_ms with `error`.
    Failure failed(int64_t key, int64_t now_ms, const std::string& error);
    // A try of `key` that succeeded: the next failure starts over.
    void succeeded(int64_t key);
    // Whether the last try of `key` failed.
    bool failing(int64_t key) const { return entries_.count(key) > 0; }

private:
    struct Entry {
        int failures = 0;
        int64_t next_try_ms = 0;
        std::string reported_error;
    };
    std::map<int64_t, Entry> entries_;
};

// The pause after `failures` failures in a row (at least 1).
int64_t retry_delay_ms(int failures);

// For the event: "failure 4 in a row, next try in 4.0 s".
std::string describe_retry(const RetryBackoff::Failure& failure);

} // namespace presplit::core
