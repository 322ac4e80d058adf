#include "client/options.hpp"

#include "core/text_array.hpp"

#include <cerrno>
#include <cstdlib>
#include <map>

namespace presplit::client {
namespace {

struct CommandInfo {
    Command command;
    const char* name;
    enum { none, plan, optional_plan, relation } argument;
};

const CommandInfo kCommands[] = {
    {Command::status, "status", CommandInfo::none},
    {Command::split, "split", CommandInfo::relation},
    {Command::watch, "watch", CommandInfo::optional_plan},
    {Command::rollback, "rollback", CommandInfo::plan},
    {Command::finalize, "finalize", CommandInfo::plan},
    {Command::cancel, "cancel", CommandInfo::plan},
    {Command::pause, "pause", CommandInfo::plan},
    {Command::resume, "resume", CommandInfo::plan},
    {Command::heat, "heat", CommandInfo::relation},
    {Command::forecast, "forecast", CommandInfo::relation},
};

const CommandInfo* find_command(const std::string& name) {
    for (const CommandInfo& info : kCommands)
        if (name == info.name)
            return &info;
    return nullptr;
}

const CommandInfo& info_of(Command command) {
    for (const CommandInfo& info : kCommands)
        if (info.command == command)
            return info;
    throw std::logic_error("unknown command");
}

long long parse_integer(const std::string& text, const std::string& what, long long min,
                        long long max) {
    errno = 0;
    char* end = nullptr;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || value < min || value > max)
        throw UsageError(what + " must be an integer from " + std::to_string(min) + " to " +
                         std::to_string(max) + ", not \"" + text + "\"");
    return value;
}

double parse_seconds(const std::string& text, const std::string& what) {
    errno = 0;
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno == ERANGE || !(value >= 0.05 && value <= 3600))
        throw UsageError(what + " must be a number of seconds from 0.05 to 3600, not \"" + text +
                         "\"");
    return value;
}

// --at 100,200 or --at '{"a,b","c"}' (an array literal, for keys with commas).
void add_split_points(std::vector<std::string>& points, const std::string& value) {
    if (!value.empty() && value.front() == '{') {
        auto parsed = core::parse_text_array(value);
        if (!parsed)
            throw UsageError("--at: \"" + value + "\" is not an array literal");
        for (const auto& element : *parsed) {
            if (!element)
                throw UsageError("--at: a split point must not be NULL");
            points.push_back(*element);
        }
        return;
    }
    size_t start = 0;
    while (true) {
        size_t comma = value.find(',', start);
        std::string key =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (key.empty())
            throw UsageError("--at: empty split point in \"" + value + "\"");
        points.push_back(key);
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
}

void add_servers(std::vector<std::string>& servers, const std::string& value) {
    size_t start = 0;
    while (true) {
        size_t comma = value.find(',', start);
        std::string name =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (name.empty())
            throw UsageError("--server: empty server name in \"" + value + "\"");
        servers.push_back(name);
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
}

// Which commands an option is for (empty: all).
struct OptionSpec {
    bool takes_value;
    std::vector<Command> commands;
};

const std::map<std::string, OptionSpec>& long_options() {
    static const std::map<std::string, OptionSpec> options = {
        {"host", {true, {}}},
        {"port", {true, {}}},
        {"username", {true, {}}},
        {"dbname", {true, {}}},
        {"no-password", {false, {}}},
        {"password", {false, {}}},
        {"json", {false, {}}},
        {"color", {true, {}}},
        {"interval", {true, {Command::split, Command::watch}}},
        {"help", {false, {}}},
        {"version", {false, {}}},
        {"at", {true, {Command::split}}},
        {"no-ramp", {false, {Command::split}}},
        {"server", {true, {Command::split}}},
        {"on-interrupt", {true, {Command::split, Command::watch}}},
        {"keep-old", {false, {Command::finalize}}},
        {"buckets", {true, {Command::heat}}},
        {"hours", {true, {Command::forecast}}},
        {"metric", {true, {Command::forecast}}},
        {"svg", {true, {Command::heat, Command::forecast}}},
    };
    return options;
}

const std::map<char, std::string> kShortOptions = {
    {'h', "host"},        {'p', "port"},     {'U', "username"}, {'d', "dbname"},
    {'w', "no-password"}, {'W', "password"}, {'V', "version"},  {'?', "help"},
};

std::string commands_list(const std::vector<Command>& commands) {
    std::string text;
    for (size_t i = 0; i < commands.size(); ++i)
        text += (i == 0                     ? ""
                 : i + 1 == commands.size() ? " and "
                                            : ", ") +
                std::string(command_name(commands[i]));
    return text;
}

} // namespace

const char* command_name(Command command) {
    return command == Command::none ? "" : info_of(command).name;
}

Options parse_arguments(const std::vector<std::string>& args) {
    Options options;
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::optional<std::string>>> given; // in order

    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--") {
            positional.insert(positional.end(), args.begin() + i + 1, args.end());
            break;
        }
        std::string name;
        std::optional<std::string> value;
        if (arg.rfind("--", 0) == 0) {
            size_t equals = arg.find('=');
            name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
            if (equals != std::string::npos)
                value = arg.substr(equals + 1);
            auto spec = long_options().find(name);
            if (spec == long_options().end())
                throw UsageError("unknown option \"--" + name + "\"");
            if (!spec->second.takes_value && value)
                throw UsageError("option \"--" + name + "\" takes no value");
            if (spec->second.takes_value && !value) {
                if (i + 1 >= args.size())
                    throw UsageError("option \"--" + name + "\" needs a value");
                value = args[++i];
            }
        } else if (arg.size() >= 2 && arg[0] == '-' && arg != "-") {
            auto shortcut = kShortOptions.find(arg[1]);
            if (shortcut == kShortOptions.end())
                throw UsageError("unknown option \"-" + std::string(1, arg[1]) + "\"");
            name = shortcut->second;
            const bool takes_value = long_options().at(name).takes_value;
            if (takes_value) {
                if (arg.size() > 2)
                    value = arg.substr(2);
                else if (i + 1 < args.size())
                    value = args[++i];
                else
                    throw UsageError("option \"-" + std::string(1, arg[1]) + "\" needs a value");
            } else if (arg.size() > 2) {
                throw UsageError("option \"-" + std::string(1, arg[1]) + "\" takes no value");
            }
        } else {
            positional.push_back(arg);
            continue;
        }
        given.emplace_back(name, value);
    }

    for (const auto& [name, value] : given) {
        if (name == "help")
            options.help = true;
        else if (name == "version")
            options.version = true;
    }
    if (options.help || options.version)
        return options;

    if (positional.empty())
        throw UsageError("no command given");
    const CommandInfo* info = find_command(positional[0]);
    if (info == nullptr)
        throw UsageError("unknown command \"" + positional[0] + "\"");
    options.command = info->command;
    const size_t arguments = positional.size() - 1;
    switch (info->argument) {
    case CommandInfo::none:
        if (arguments > 0)
            throw UsageError(std::string(info->name) + " takes no argument, got \"" +
                             positional[1] + "\"");
        break;
    case CommandInfo::relation:
        if (arguments != 1)
            throw UsageError(std::string(info->name) + " needs one " +
                             (info->command == Command::split  ? "PARTITION"
                              : info->command == Command::heat ? "TABLE"
                                                               : "TABLE or PARTITION") +
                             (arguments == 0 ? "" : ", got " + std::to_string(arguments)));
        options.target = positional[1];
        if (options.target.empty())
            throw UsageError(std::string(info->name) + ": the name must not be empty");
        break;
    case CommandInfo::plan:
    case CommandInfo::optional_plan:
        if (arguments > 1 || (arguments == 0 && info->argument == CommandInfo::plan))
            throw UsageError(
                std::string(info->name) + " needs " +
                (info->argument == CommandInfo::plan ? "one PLAN id" : "at most one PLAN id"));
        if (arguments == 1)
            options.plan = parse_integer(positional[1], "PLAN", 1, 9223372036854775807LL);
        break;
    }

    for (const auto& [name, value] : given) {
        const OptionSpec& spec = long_options().at(name);
        if (!spec.commands.empty()) {
            bool allowed = false;
            for (Command command : spec.commands)
                allowed = allowed || command == options.command;
            if (!allowed)
                throw UsageError("option \"--" + name + "\" is for " +
                                 commands_list(spec.commands) + ", not " + info->name);
        }
        if (name == "host")
            options.connection.host = value;
        else if (name == "port")
            options.connection.port = value;
        else if (name == "username")
            options.connection.user = value;
        else if (name == "dbname")
            options.connection.dbname = value;
        else if (name == "no-password")
            options.connection.never_prompt = true;
        else if (name == "password")
            options.connection.force_prompt = true;
        else if (name == "json")
            options.json = true;
        else if (name == "color") {
            if (*value == "auto")
                options.color = ColorMode::automatic;
            else if (*value == "always")
                options.color = ColorMode::always;
            else if (*value == "never")
                options.color = ColorMode::never;
            else
                throw UsageError("--color must be auto, always or never, not \"" + *value + "\"");
        } else if (name == "interval")
            options.interval_seconds = parse_seconds(*value, "--interval");
        else if (name == "at")
            add_split_points(options.split_points, *value);
        else if (name == "no-ramp")
            options.ramp = false;
        else if (name == "server")
            add_servers(options.servers, *value);
        else if (name == "on-interrupt") {
            if (*value == "pause")
                options.on_interrupt = OnInterrupt::pause;
            else if (*value == "rollback")
                options.on_interrupt = OnInterrupt::rollback;
            else if (*value == "detach")
                options.on_interrupt = OnInterrupt::detach;
            else
                throw UsageError("--on-interrupt must be pause, rollback or detach, not \"" +
                                 *value + "\"");
        } else if (name == "keep-old")
            options.keep_old = true;
        else if (name == "buckets")
            options.buckets = static_cast<int>(parse_integer(*value, "--buckets", 1, 1000));
        else if (name == "hours")
            options.hours = static_cast<int>(parse_integer(*value, "--hours", 1, 24 * 21));
        else if (name == "metric") {
            if (*value != "load" && *value != "size")
                throw UsageError("--metric must be load or size, not \"" + *value + "\"");
            options.metric = *value;
        } else if (name == "svg") {
            if (value->empty())
                throw UsageError("--svg needs a file name");
            options.svg_file = value;
        }
    }
    if (options.connection.never_prompt && options.connection.force_prompt)
        throw UsageError("-w (--no-password) and -W (--password) contradict each other");
    if (options.command == Command::split && options.split_points.empty())
        throw UsageError("split needs --at KEY[,KEY...]: where to split the partition");
    if (!options.servers.empty() && options.servers.size() != options.split_points.size() + 1)
        throw UsageError("--server names one server per new partition: " +
                         std::to_string(options.split_points.size() + 1) + " for " +
                         std::to_string(options.split_points.size()) + " split point(s), got " +
                         std::to_string(options.servers.size()) + " (\"local\" keeps one here)");
    return options;
}

std::string help_text() {
    return R"(pg_presplit splits partitions of tables managed by the pg_presplit extension
and shows what it does: the copy, the ramp, the cutover, key heat, forecasts.

Usage:
  pg_presplit [OPTION]... COMMAND [ARGUMENT]

Commands:
  status                  managed tables and partitions (size, load, share),
                          active plans, the background worker's health
  split PARTITION --at KEY[,KEY...] [--no-ramp] [--server NAME...]
                          split a partition at the given keys and follow the plan
                          to its cutover: the copy (rows, rate, ETA), the ramp
                          (weights, each channel's reads, mean and p95 latency),
                          the cutover and its lock time, a summary
  watch [PLAN]            follow a plan (all active plans without PLAN) the same way
  rollback PLAN           undo a plan (before or after its cutover)
  finalize PLAN [--keep-old]
                          end a cut-over plan, dropping (or keeping) the old partition
  cancel PLAN             cancel a plan that has not started switching
  pause PLAN, resume PLAN stop and restart a plan's automatic ramp
  heat TABLE              where the accesses fall in each partition's key range,
                          as a colour strip per partition (--buckets N, default 40)
  forecast TABLE|PARTITION
                          load (or --metric size) history and, when the server's
                          pg_presplit has the predictor, the forecast with its
                          interval, the threshold, the predicted crossing and the
                          off-peak windows (--hours N ahead, default 48)

Options for split and watch:
  --at KEY[,KEY...]       split points, in the partition key's text form; repeat
                          --at, or give an array literal ('{"a,b",c}') for keys
                          with commas
  --no-ramp               stop at weight 0 once switching: you set the weights
  --server NAME           one per new partition, in key order, for a split onto
                          other servers ("local" keeps one here); needs a
                          pg_presplit with multi-server splits
  --on-interrupt pause|rollback|detach
                          what Ctrl-C does to the plan (default: ask on a
                          terminal, otherwise detach: leave it to the worker)
  --interval SECONDS      how often to look at the plan (default 0.5)

Output options:
  --json                  print one JSON document (for scripts)
  --svg FILE              heat, forecast: also write a standalone SVG picture
  --color auto|always|never
                          colours and bars (auto: when the output is a terminal
                          and NO_COLOR is not set)

Connection options (as psql's; PGHOST, PGPORT, PGUSER, PGDATABASE, PGSERVICE,
PGPASSWORD, ~/.pgpass and service files work as for psql):
  -h, --host=HOSTNAME     database server host or socket directory
  -p, --port=PORT         database server port
  -U, --username=USERNAME database user name
  -d, --dbname=DBNAME     database name, or a conninfo string or URI
  -w, --no-password       never prompt for a password
  -W, --password          prompt for a password before connecting

  -V, --version           print the version and exit
  -?, --help              print this help and exit

When the output is not a terminal (a pipe, a cron job) there are no colours,
no bars and no escape codes: split and watch print a line per change.

Exit status:
  0  done: the plan reached what the command waits for (split, watch: cut over,
     or synced for a plan nobody asked to switch), or the command succeeded
  1  the plan failed (the reason is printed)
  2  bad arguments
  3  could not connect to the server
  4  the server refused the command (its message, SQLSTATE, detail and hint
     are printed)
  5  the ramp aborted (the new channel regressed): the plan waits, paused at
     weight 0, for resume or rollback
  6  the plan was rolled back or cancelled (by someone else) while followed
  7  interrupted (Ctrl-C): the plan was paused, rolled back or left to the
     worker, as chosen
)";
}

} // namespace presplit::client
