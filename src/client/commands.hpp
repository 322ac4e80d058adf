// The commands of the pg_presplit client, on libpq: each reads what it needs
// from pg_presplit's views and functions and prints it (or one JSON
// document), and returns the exit status (follow.hpp lists them).
#pragma once

#include "client/options.hpp"
#include "client/pq.hpp"
#include "client/text.hpp"

namespace presplit::client {

struct Output {
    Style style;
    bool terminal = false; // stdout is a terminal: bars redrawn in place
    int width = 80;
};

int run_command(const Options& options, const Output& output, pq::Connection& conn);

} // namespace presplit::client
