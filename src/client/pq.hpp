// The client's side of libpq: a connection made as psql makes it (options,
// PG* variables, service files, conninfo strings and URIs, a password prompt
// when the server asks for one), queries with parameters, and the server's
// errors with their SQLSTATE, detail and hint.
#pragma once

#include "client/options.hpp"

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace presplit::client::pq {

// The server refused a statement.
class ServerError : public std::runtime_error {
public:
    ServerError(std::string severity, std::string sqlstate, std::string message,
                std::optional<std::string> detail, std::optional<std::string> hint)
        : std::runtime_error(message), severity(std::move(severity)), sqlstate(std::move(sqlstate)),
          message(std::move(message)), detail(std::move(detail)), hint(std::move(hint)) {}
    // As psql prints it with VERBOSITY verbose (less the source location):
    // "ERROR:  42501: message", "DETAIL:  ...", "HINT:  ...".
    std::string formatted() const;

    std::string severity, sqlstate, message;
    std::optional<std::string> detail, hint;
};

// The server could not be reached, or refused the connection.
class ConnectionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Result {
public:
    explicit Result(PGresult* result) : result_(result, PQclear) {}
    int rows() const { return PQntuples(result_.get()); }
    int column(const char* name) const;
    bool is_null(int row, const char* name) const;
    std::optional<std::string> get(int row, const char* name) const;
    std::string text(int row, const char* name) const; // "" for NULL
    std::optional<double> number(int row, const char* name) const;
    std::optional<long long> integer(int row, const char* name) const;
    bool boolean(int row, const char* name) const; // NULL is false

private:
    std::shared_ptr<PGresult> result_;
};

using Params = std::vector<std::optional<std::string>>;

class Connection {
public:
    // Connects; prompts for a password when the server wants one (unless -w).
    static Connection open(const ConnectionOptions& options);

    Result exec(const std::string& sql, const Params& params = {});
    // As exec, and lets Ctrl-C cancel the statement on the server.
    Result exec_cancellable(const std::string& sql, const Params& params = {});
    PGconn* raw() const { return conn_.get(); }

private:
    explicit Connection(PGconn* conn) : conn_(conn, PQfinish) {}
    std::shared_ptr<PGconn> conn_;
};

// Ctrl-C: set by the SIGINT handler, read by the commands.
bool interrupted();
void clear_interrupt();
// Installs the SIGINT handler (a flag, and a cancel request for the
// statement exec_cancellable runs).
void install_interrupt_handler();
// Sleeps, returning early on Ctrl-C.
void sleep_seconds(double seconds);

} // namespace presplit::client::pq
