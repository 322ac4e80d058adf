#include "client/pq.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <termios.h>
#include <unistd.h>

namespace presplit::client::pq {

std::string ServerError::formatted() const {
    std::string text = severity + ":  " + (sqlstate.empty() ? "" : sqlstate + ": ") + message;
    if (detail)
        text += "\nDETAIL:  " + *detail;
    if (hint)
        text += "\nHINT:  " + *hint;
    return text;
}

int Result::column(const char* name) const {
    const int index = PQfnumber(result_.get(), name);
    if (index < 0)
        throw std::logic_error(std::string("query result has no column ") + name);
    return index;
}

bool Result::is_null(int row, const char* name) const {
    return PQgetisnull(result_.get(), row, column(name));
}

std::optional<std::string> Result::get(int row, const char* name) const {
    const int c = column(name);
    if (PQgetisnull(result_.get(), row, c))
        return std::nullopt;
    return std::string(PQgetvalue(result_.get(), row, c));
}

std::string Result::text(int row, const char* name) const {
    return get(row, name).value_or("");
}

std::optional<double> Result::number(int row, const char* name) const {
    auto value = get(row, name);
    if (!value)
        return std::nullopt;
    return std::strtod(value->c_str(), nullptr);
}

std::optional<long long> Result::integer(int row, const char* name) const {
    auto value = get(row, name);
    if (!value)
        return std::nullopt;
    return std::strtoll(value->c_str(), nullptr, 10);
}

bool Result::boolean(int row, const char* name) const {
    auto value = get(row, name);
    return value && *value == "t";
}

namespace {

volatile sig_atomic_t interrupt_flag = 0;
// The cancel handle of the statement exec_cancellable is running, if any.
PGcancel* volatile running_cancel = nullptr;

void on_sigint(int) {
    interrupt_flag = 1;
    PGcancel* cancel = running_cancel;
    if (cancel != nullptr) {
        char message[256];
        PQcancel(cancel, message, sizeof message); // async-signal-safe
    }
}

// Reads a line without echo from the terminal (as psql's simple_prompt).
std::string prompt_password(const std::string& prompt) {
    FILE* tty_in = std::fopen("/dev/tty", "r");
    FILE* tty_out = tty_in ? std::fopen("/dev/tty", "w") : nullptr;
    FILE* in = tty_in && tty_out ? tty_in : stdin;
    FILE* out = tty_in && tty_out ? tty_out : stderr;
    std::fputs(prompt.c_str(), out);
    std::fflush(out);
    termios saved{};
    const bool terminal = isatty(fileno(in)) && tcgetattr(fileno(in), &saved) == 0;
    if (terminal) {
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(fileno(in), TCSAFLUSH, &quiet);
    }
    std::string line;
    int c;
    while ((c = std::fgetc(in)) != EOF && c != '\n')
        line += static_cast<char>(c);
    if (terminal) {
        tcsetattr(fileno(in), TCSAFLUSH, &saved);
        std::fputs("\n", out);
        std::fflush(out);
    }
    if (tty_out)
        std::fclose(tty_out);
    if (tty_in)
        std::fclose(tty_in);
    return line;
}

ServerError error_of(const PGresult* result, PGconn* conn) {
    auto field = [&](int code) -> std::optional<std::string> {
        const char* value = result ? PQresultErrorField(result, code) : nullptr;
        if (value == nullptr)
            return std::nullopt;
        return std::string(value);
    };
    auto message = field(PG_DIAG_MESSAGE_PRIMARY);
    if (!message) { // no server error: the connection's own message
        std::string text = PQerrorMessage(conn);
        while (!text.empty() && text.back() == '\n')
            text.pop_back();
        return ServerError("ERROR", "", text.empty() ? "the query failed" : text, std::nullopt,
                           std::nullopt);
    }
    return ServerError(field(PG_DIAG_SEVERITY_NONLOCALIZED).value_or("ERROR"),
                       field(PG_DIAG_SQLSTATE).value_or(""), *message,
                       field(PG_DIAG_MESSAGE_DETAIL), field(PG_DIAG_MESSAGE_HINT));
}

} // namespace

Connection Connection::open(const ConnectionOptions& options) {
    std::optional<std::string> password;
    if (options.force_prompt)
        password = prompt_password("Password: ");
    while (true) {
        std::vector<const char*> keys, values;
        auto add = [&](const char* key, const std::optional<std::string>& value) {
            if (value) {
                keys.push_back(key);
                values.push_back(value->c_str());
            }
        };
        add("host", options.host);
        add("port", options.port);
        add("user", options.user);
        add("password", password);
        add("dbname", options.dbname); // last: a conninfo or URI here overrides, as in psql
        keys.push_back("fallback_application_name");
        values.push_back("pg_presplit");
        keys.push_back(nullptr);
        values.push_back(nullptr);
        PGconn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
        if (conn == nullptr)
            throw ConnectionError("out of memory");
        if (PQstatus(conn) == CONNECTION_OK)
            return Connection(conn);
        const bool ask = PQconnectionNeedsPassword(conn) && !password && !options.never_prompt;
        std::string message = PQerrorMessage(conn);
        std::string user = PQuser(conn) ? PQuser(conn) : "";
        PQfinish(conn);
        if (ask) {
            password = prompt_password("Password for user " + user + ": ");
            continue;
        }
        while (!message.empty() && message.back() == '\n')
            message.pop_back();
        throw ConnectionError(message);
    }
}

Result Connection::exec(const std::string& sql, const Params& params) {
    std::vector<const char*> values;
    for (const auto& p : params)
        values.push_back(p ? p->c_str() : nullptr);
    PGresult* result = PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()),
                                    nullptr, values.data(), nullptr, nullptr, 0);
    const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        ServerError error = error_of(result, conn_.get());
        PQclear(result);
        if (PQstatus(conn_.get()) == CONNECTION_BAD)
            throw ConnectionError("the connection to the server was lost: " + error.message);
        throw error;
    }
    return Result(result);
}

Result Connection::exec_cancellable(const std::string& sql, const Params& params) {
    PGcancel* cancel = PQgetCancel(conn_.get());
    running_cancel = cancel;
    struct Reset {
        PGcancel* cancel;
        ~Reset() {
            running_cancel = nullptr;
            if (cancel)
                PQfreeCancel(cancel);
        }
    } reset{cancel};
    return exec(sql, params);
}

bool interrupted() {
    return interrupt_flag != 0;
}

void clear_interrupt() {
    interrupt_flag = 0;
}

void install_interrupt_handler() {
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0; // no SA_RESTART: a sleep returns at once
    sigaction(SIGINT, &action, nullptr);
}

void sleep_seconds(double seconds) {
    timespec request{static_cast<time_t>(seconds),
                     static_cast<long>((seconds - static_cast<time_t>(seconds)) * 1e9)};
    while (!interrupted() && nanosleep(&request, &request) == -1 && errno == EINTR) {
    }
}

} // namespace presplit::client::pq
