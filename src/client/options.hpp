// The command line of the pg_presplit client: what the user asked for, read
// from argv without touching the server (pure: unit-tested in
// test/unit/client_options_test.cpp). Connection options follow psql's.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace presplit::client {

// Bad arguments: the message says what is wrong, the caller adds how to get help.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Command {
    none,
    status,
    split,
    watch,
    rollback,
    finalize,
    cancel,
    pause,
    resume,
    heat,
    forecast
};

// What Ctrl-C does to a plan being followed (split, watch).
enum class OnInterrupt { ask, pause, rollback, detach };

enum class ColorMode { automatic, always, never };

struct ConnectionOptions {
    std::optional<std::string> host, port, user, dbname; // dbname may be a conninfo or URI
    bool never_prompt = false;                           // -w
    bool force_prompt = false;                           // -W
};

struct Options {
    Command command = Command::none;
    bool help = false;
    bool version = false;
    ConnectionOptions connection;
    bool json = false;
    ColorMode color = ColorMode::automatic;
    double interval_seconds = 0.5; // how often a followed plan is looked at

    std::string target;                    // PARTITION, TABLE, TABLE|PARTITION
    std::optional<long long> plan;         // PLAN
    std::vector<std::string> split_points; // --at
    bool ramp = true;                      // --no-ramp
    std::vector<std::string> servers;      // --server, one per target range ("local": this server)
    OnInterrupt on_interrupt = OnInterrupt::ask;
    bool keep_old = false;               // finalize --keep-old
    int buckets = 40;                    // heat --buckets
    int hours = 48;                      // forecast --hours
    std::string metric = "load";         // forecast --metric load|size
    std::optional<std::string> svg_file; // --svg
};

// Reads argv (without argv[0]). Throws UsageError.
Options parse_arguments(const std::vector<std::string>& args);

const char* command_name(Command command);

// The text of --help.
std::string help_text();

} // namespace presplit::client
