// A libpq connection to a postgres_fdw foreign server, as the user mapping of
// a given role says (docs/multi_server.md, "Connections and secrets"). Built
// the way postgres_fdw builds its own (contrib/postgres_fdw/connection.c):
// the libpq options of the server and of the user mapping, nothing else; a
// role that is not a superuser must connect with a password. Nothing of the
// connection's options is kept, logged or put in a message.
//
// Every call waits on the backend's latch, so a cancel or a shutdown
// interrupts it; errors are C++ exceptions (pg::Error, pg::PgError), and the
// destructor closes the connection.
#pragma once

#include "pg/guard.hpp"
#include "pg/spi.hpp"

#include <functional>
#include <string>
#include <vector>

struct pg_conn;   // libpq's PGconn
struct pg_result; // libpq's PGresult

namespace presplit::remote {

// The foreign server `server` (an OID) must use postgres_fdw and have a user
// mapping for `role` (or PUBLIC). ERROR 08001 (with libpq's message, which
// names no password) if the connection fails.
class Connection {
public:
    Connection(unsigned int server, unsigned int role);
    // A connection to this server from a connection string pg_presplit built
    // (presplit.publisher_conninfo, say with replication=database); `label`
    // names it in messages, `hint` is the one of a failed connection.
    Connection(const std::string& conninfo, const std::string& label, const std::string& hint);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs one statement (autocommit on the remote) with text parameters and
    // returns its rows as text. ERROR with the remote's SQLSTATE and message
    // (prefixed with the server's name) if it fails.
    std::vector<pg::Row> execute(const std::string& sql, const std::vector<pg::Value>& params = {});
    pg::Value scalar(const std::string& sql, const std::vector<pg::Value>& params = {});
    // A command in the simple query protocol, the only one a replication
    // connection takes (CREATE_REPLICATION_SLOT). After timeout_ms (-1: none)
    // it is cancelled: ERROR 57014.
    std::vector<pg::Row> execute_simple(const std::string& command, long timeout_ms = -1);
    // COPY ... FROM STDIN: `next` fills its buffer with the next rows in
    // COPY's text format and returns false once there are none; the buffer
    // is sent as it is. Returns when the statement has ended there (an
    // error there is seen only then: libpq reads none during a COPY).
    void copy_in(const std::string& sql, const std::function<bool(std::string& buffer)>& next);

private:
    void connect(const std::vector<std::string>& keywords, const std::vector<std::string>& values,
                 bool expand_dbname, const std::string& hint);
    // The error a result holds, as execute throws it.
    pg::Error result_error(const pg_result* result) const;
    // Waits (on the latch) until the result is in; after timeout_ms the
    // statement is cancelled.
    void wait_for_result(long timeout_ms);
    // Until the socket is readable (or writable, if asked), the latch is
    // set, or timeout_ms (-1: none) passes; what arrived is consumed.
    void wait_on_socket(bool writable, long timeout_ms);
    std::vector<pg::Row> collect_results();
    [[noreturn]] void lost();

    pg_conn* conn_ = nullptr;
    std::string server_name_;
};

// A libpq connection string value, quoted (libpq's rules: single quotes,
// backslash escapes).
std::string conninfo_value(const std::string& value);

// The connection string of a subscription here that reads from `server` as
// the user mapping of `role` says: the options Connection would use (the
// same checks), the mapping's password included. PostgreSQL keeps it in
// pg_subscription.subconninfo, which only superusers can read.
std::string subscription_conninfo(unsigned int server, unsigned int role);

} // namespace presplit::remote
