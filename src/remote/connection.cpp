#include "remote/connection.hpp"

#include "pg/clock.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "postgres.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/wait_event.h"
#include "libpq-fe.h"
}

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

namespace presplit::remote {
namespace {

// The options libpq knows, less the ones postgres_fdw never takes from a
// server or mapping (debug options, replication) or sets itself.
std::set<std::string> libpq_options() {
    std::set<std::string> names;
    PQconninfoOption* defaults = PQconndefaults();
    if (!defaults)
        throw std::bad_alloc();
    for (PQconninfoOption* option = defaults; option->keyword; ++option)
        if (!std::strchr(option->dispchar, 'D') && std::strcmp(option->keyword, "replication") &&
            std::strcmp(option->keyword, "fallback_application_name") &&
            std::strcmp(option->keyword, "client_encoding"))
            names.insert(option->keyword);
    PQconninfoFree(defaults);
    return names;
}

struct Options {
    std::vector<std::string> keywords;
    std::vector<std::string> values;
    bool has_password = false;
};

void add_options(List* options, const std::set<std::string>& known, Options& out) {
    ListCell* cell;
    foreach (cell, options) {
        DefElem* element = static_cast<DefElem*>(lfirst(cell));
        if (!known.count(element->defname))
            continue; // postgres_fdw's own options (use_remote_estimate, ...)
        out.keywords.emplace_back(element->defname);
        out.values.emplace_back(defGetString(element));
        if (out.keywords.back() == "password" && !out.values.back().empty())
            out.has_password = true;
    }
}

struct ResultDeleter {
    void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// The libpq options of the server and of the user mapping of `role`, checked
// as postgres_fdw checks them before it connects.
Options mapping_options(unsigned int server_oid, unsigned int role, std::string& server_name,
                        bool& role_is_superuser) {
    Options options;
    // Only PostgreSQL values (pointers, bools) cross pg::call; the strings
    // are copied out.
    const std::set<std::string> known = libpq_options();
    pg::call([&] {
        ForeignServer* server = GetForeignServer(server_oid);
        UserMapping* mapping = GetUserMapping(role, server_oid);
        server_name = server->servername;
        add_options(server->options, known, options);
        add_options(mapping->options, known, options);
        role_is_superuser = superuser_arg(role);
    });
    // postgres_fdw's rule (check_conn_params): a role that is not a
    // superuser may not connect as the local server's OS user.
    if (!role_is_superuser && !options.has_password)
        throw pg::Error(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED,
                        "password is required to connect to server \"" + server_name + "\"",
                        "Non-superusers must give a password in the user mapping.",
                        "Add a password option to the user mapping of the table's owner.");
    return options;
}

} // namespace

std::string subscription_conninfo(unsigned int server_oid, unsigned int role) {
    std::string server_name;
    bool role_is_superuser = false;
    const Options options = mapping_options(server_oid, role, server_name, role_is_superuser);
    std::string conninfo;
    for (size_t i = 0; i < options.keywords.size(); ++i)
        conninfo += (i ? " " : "") + options.keywords[i] + "=" + conninfo_value(options.values[i]);
    return conninfo;
}

std::string conninfo_value(const std::string& value) {
    std::string quoted = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\')
            quoted += '\\';
        quoted += c;
    }
    return quoted + "'";
}

Connection::Connection(unsigned int server_oid, unsigned int role) {
    bool role_is_superuser = false;
    Options options = mapping_options(server_oid, role, server_name_, role_is_superuser);
    connect(options.keywords, options.values, /*expand_dbname=*/false,
            "Check that the server is up and the options of the foreign server and of the user "
            "mapping.");
    if (!role_is_superuser && !PQconnectionUsedPassword(conn_))
        throw pg::Error(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED,
                        "password is required to connect to server \"" + server_name_ + "\"",
                        "The server did not ask for the password of the user mapping.");
}

Connection::Connection(const std::string& conninfo, const std::string& label,
                       const std::string& hint)
    : server_name_(label) {
    connect({"dbname"}, {conninfo}, /*expand_dbname=*/true, hint);
}

void Connection::connect(const std::vector<std::string>& option_keywords,
                         const std::vector<std::string>& option_values, bool expand_dbname,
                         const std::string& hint) {
    std::vector<const char*> keywords, values;
    for (size_t i = 0; i < option_keywords.size(); ++i) {
        keywords.push_back(option_keywords[i].c_str());
        values.push_back(option_values[i].c_str());
    }
    const std::string encoding = pg::call([] { return GetDatabaseEncodingName(); });
    keywords.insert(keywords.end(), {"fallback_application_name", "client_encoding", nullptr});
    values.insert(values.end(), {"pg_presplit", encoding.c_str(), nullptr});
    // As postgres_fdw, a foreign server's dbname is only a name.
    conn_ = PQconnectdbParams(keywords.data(), values.data(), expand_dbname ? 1 : 0);
    if (!conn_)
        throw std::bad_alloc();
    if (PQstatus(conn_) != CONNECTION_OK) {
        std::string message = PQerrorMessage(conn_);
        while (!message.empty() && message.back() == '\n')
            message.pop_back();
        throw pg::Error(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                        "could not connect to server \"" + server_name_ + "\"", message, hint);
    }
}

Connection::~Connection() {
    if (conn_)
        PQfinish(conn_);
}

void Connection::lost() {
    throw pg::Error(ERRCODE_CONNECTION_FAILURE,
                    "lost the connection to server \"" + server_name_ + "\"",
                    PQerrorMessage(conn_));
}

void Connection::wait_for_result(long timeout_ms) {
    const instr_time started = pg::now();
    bool cancelled = false;
    while (PQisBusy(conn_)) {
        long wait_ms = -1;
        if (timeout_ms >= 0 && !cancelled) {
            wait_ms = std::max<long>(0, timeout_ms - static_cast<long>(pg::elapsed_ms(started)));
            if (wait_ms == 0) {
                // Its error (57014) comes back as the statement's result.
                char message[256] = "";
                PGcancel* cancel = PQgetCancel(conn_);
                if (!cancel || !PQcancel(cancel, message, sizeof message)) {
                    PQfreeCancel(cancel);
                    throw pg::Error(ERRCODE_QUERY_CANCELED,
                                    "server \"" + server_name_ + "\": statement timed out",
                                    message);
                }
                PQfreeCancel(cancel);
                cancelled = true;
                wait_ms = -1;
            }
        }
        wait_on_socket(/*writable=*/false, wait_ms);
    }
}

void Connection::wait_on_socket(bool writable, long timeout_ms) {
    // On the latch, so that a cancel or a shutdown interrupts the wait.
    const int socket = PQsocket(conn_);
    const int events = pg::call([&] {
        int rc = WaitLatchOrSocket(MyLatch,
                                   WL_LATCH_SET | WL_SOCKET_READABLE | WL_EXIT_ON_PM_DEATH |
                                       (writable ? WL_SOCKET_WRITEABLE : 0) |
                                       (timeout_ms >= 0 ? WL_TIMEOUT : 0),
                                   socket, timeout_ms, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        return rc;
    });
    // What the server sent is read, so that its output never fills up.
    if ((events & WL_SOCKET_READABLE) && !PQconsumeInput(conn_))
        lost();
}

std::vector<pg::Row> Connection::execute(const std::string& sql,
                                         const std::vector<pg::Value>& params) {
    std::vector<const char*> values;
    for (const pg::Value& value : params)
        values.push_back(value ? value->c_str() : nullptr);
    if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0))
        lost();
    wait_for_result(-1);
    return collect_results();
}

std::vector<pg::Row> Connection::execute_simple(const std::string& command, long timeout_ms) {
    if (!PQsendQuery(conn_, command.c_str()))
        lost();
    wait_for_result(timeout_ms);
    return collect_results();
}

void Connection::copy_in(const std::string& sql,
                         const std::function<bool(std::string& buffer)>& next) {
    if (!PQsendQueryParams(conn_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0))
        lost();
    wait_for_result(-1);
    {
        Result started(PQgetResult(conn_));
        if (!started)
            lost();
        if (PQresultStatus(started.get()) != PGRES_COPY_IN) {
            // Refused there: its error, then the rest of the results read.
            const pg::Error refused = result_error(started.get());
            started.reset();
            (void)collect_results();
            throw refused;
        }
    }
    // Non-blocking while the rows go out: a full socket waits on the latch.
    if (PQsetnonblocking(conn_, 1) != 0)
        lost();
    auto wait_writable = [&] { wait_on_socket(/*writable=*/true, -1); };
    auto flush = [&] {
        for (int pending; (pending = PQflush(conn_)) != 0;) {
            if (pending < 0)
                lost();
            wait_writable();
        }
    };
    // In pieces of at most 1 MB (CopyData messages need not end on a row):
    // libpq takes an int, and a full output buffer (0) waits to drain.
    constexpr size_t kPiece = 1 << 20;
    std::string buffer;
    bool more = true;
    while (more) {
        buffer.clear();
        more = next(buffer);
        for (size_t sent = 0; sent < buffer.size();) {
            const int piece = static_cast<int>(std::min(kPiece, buffer.size() - sent));
            const int put = PQputCopyData(conn_, buffer.data() + sent, piece);
            if (put < 0)
                lost();
            if (put == 0) {
                wait_writable();
                continue;
            }
            sent += static_cast<size_t>(piece);
            flush();
        }
    }
    for (int put; (put = PQputCopyEnd(conn_, nullptr)) != 1;) {
        if (put < 0)
            lost();
        wait_writable();
    }
    flush();
    if (PQsetnonblocking(conn_, 0) != 0)
        lost();
    wait_for_result(-1);
    (void)collect_results();
}

pg::Error Connection::result_error(const pg_result* result) const {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
    int sqlstate = ERRCODE_CONNECTION_FAILURE;
    if (state && std::strlen(state) == 5)
        sqlstate = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
    return pg::Error(
        sqlstate, "server \"" + server_name_ + "\": " + (primary ? primary : PQerrorMessage(conn_)),
        detail ? detail : "");
}

std::vector<pg::Row> Connection::collect_results() {
    std::vector<pg::Row> rows;
    std::optional<pg::Error> failure;
    for (;;) {
        Result result(PQgetResult(conn_));
        if (!result)
            break;
        const ExecStatusType status = PQresultStatus(result.get());
        if (status == PGRES_TUPLES_OK) {
            for (int r = 0; r < PQntuples(result.get()); ++r) {
                pg::Row row;
                for (int c = 0; c < PQnfields(result.get()); ++c)
                    row.push_back(PQgetisnull(result.get(), r, c)
                                      ? pg::Value()
                                      : pg::Value(PQgetvalue(result.get(), r, c)));
                rows.push_back(std::move(row));
            }
        } else if (status != PGRES_COMMAND_OK && !failure) {
            failure.emplace(result_error(result.get()));
        }
        // Before the next: a result still pending (COPY ended) must be read.
        if (PQisBusy(conn_))
            wait_for_result(-1);
    }
    if (failure)
        throw *failure;
    return rows;
}

pg::Value Connection::scalar(const std::string& sql, const std::vector<pg::Value>& params) {
    std::vector<pg::Row> rows = execute(sql, params);
    if (rows.empty() || rows[0].empty())
        return std::nullopt;
    return rows[0][0];
}

} // namespace presplit::remote
