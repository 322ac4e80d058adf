// Following a split plan to its end (split, watch): what the server showed
// at each look (a PlanSnapshot), turned into what the user sees -- a line per
// change, a live block of bars redrawn in place on a terminal, a summary --
// and into how it ended (the exit status). Pure: unit-tested in
// test/unit/client_follow_test.cpp; the libpq side fills the snapshots.
#pragma once

#include "client/json.hpp"
#include "client/text.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace presplit::client {

// The exit statuses (pg_presplit --help and the README list them).
enum ExitStatus : int {
    kExitDone = 0,
    kExitPlanFailed = 1,
    kExitUsage = 2,
    kExitConnection = 3,
    kExitServerError = 4,
    kExitRampAborted = 5,
    kExitRolledBack = 6,
    kExitInterrupted = 7,
};

struct ShadowProgress {
    int ordinal = 0;
    std::string shadow;
    std::string phase; // waiting, copying, verifying, done
    int64_t rows_copied = 0;
    std::optional<int64_t> rows_estimated;
    std::optional<double> rows_per_second;
    std::optional<double> eta_seconds;
    std::optional<double> copy_seconds; // from its start to its last batch
};

struct ChannelStats {
    std::string channel; // old, new
    int weight = 0;
    int64_t statements = 0;
    int64_t errors = 0;
    std::optional<double> mean_ms, p95_ms;
};

struct PlanEvent {
    int64_t id = 0;
    std::string at; // as the server wrote it, e.g. 12:00:01.123
    std::string kind;
    std::optional<std::string> from_state, to_state, detail;
};

struct PlanSnapshot {
    int64_t id = 0;
    std::string parent, source;
    std::vector<std::string> split_points;
    std::string state;
    bool switch_requested = false, ramp = true, paused = false;
    std::optional<int> weight;
    std::optional<std::string> reason;
    double age_seconds = 0; // since the plan was created
    std::vector<ShadowProgress> shadows;
    std::vector<ChannelStats> channels;
    std::vector<PlanEvent> events; // new since the last snapshot, oldest first
};

struct Outcome {
    int exit_status;
    std::string description;
};

// Parses "lock taken in 2 tries, held 3.1 ms ..." (the cutover's and the
// rollback's event detail).
struct SwapFacts {
    std::optional<int> tries;
    std::optional<double> held_ms;
};
SwapFacts parse_swap_detail(const std::string& detail);

class PlanFollower {
public:
    explicit PlanFollower(int64_t plan_id) : plan_id_(plan_id) {}

    // A ramp abort from before the follow began, not undone by a resume.
    void note_aborted(const std::string& detail) { aborted_ = detail; }
    // Takes a look; returns the lines to print for what changed (events,
    // a shadow's phase), each ending without a newline.
    std::vector<std::string> observe(const PlanSnapshot& snapshot, const Style& style);
    // The live block: bars and numbers of the current phase (terminal only).
    std::vector<std::string> live_block(const Style& style, int width) const;
    // Whether the plan reached an end for this command, and which.
    std::optional<Outcome> outcome() const;
    // What happened, for the end.
    std::vector<std::string> summary(const Style& style) const;
    Json to_json() const;

    const PlanSnapshot& last() const { return last_; }
    bool seen() const { return seen_; }
    int64_t plan_id() const { return plan_id_; }

private:
    int64_t plan_id_;
    bool seen_ = false;
    PlanSnapshot last_;
    std::vector<PlanEvent> events_;      // every event seen while following
    std::vector<ChannelStats> channels_; // the last ones seen while switching
    std::optional<std::string> aborted_; // a ramp abort seen while following
    std::optional<SwapFacts> cutover_;
    int weight_steps_ = 0;
};

// Redraws a block of lines at the bottom of a terminal, with permanent lines
// printed above it: moves up over the previous block, clears it, writes.
class LiveDisplay {
public:
    std::string update(const std::vector<std::string>& permanent,
                       const std::vector<std::string>& live, int width);
    // Leaves the last block on screen (nothing to erase next time).
    void keep() { height_ = 0; }

private:
    int height_ = 0;
};

} // namespace presplit::client
