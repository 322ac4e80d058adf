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

#include "pg/spi.hpp"

#include <string>
#include <vector>

struct pg_conn; // libpq's PGconn

namespace presplit::remote {

// The foreign server `server` (an OID) must use postgres_fdw and have a user
// mapping for `role` (or PUBLIC). ERROR 08001 (with libpq's message, which
// names no password) if the connection fails.
class Connection {
public:
    Connection(unsigned int server, unsigned int role);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs one statement (autocommit on the remote) with text parameters and
    // returns its rows as text. ERROR with the remote's SQLSTATE and message
    // (prefixed with the server's name) if it fails.
    std::vector<pg::Row> execute(const std::string& sql, const std::vector<pg::Value>& params = {});
    pg::Value scalar(const std::string& sql, const std::vector<pg::Value>& params = {});

private:
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
