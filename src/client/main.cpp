// pg_presplit: the command-line client of the pg_presplit extension
// (pg_presplit --help, and the README's section "The pg_presplit command").
#include "client/commands.hpp"
#include "client/follow.hpp"
#include "client/options.hpp"
#include "client/pq.hpp"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sys/ioctl.h>
#include <unistd.h>

#ifndef PRESPLIT_VERSION
#error "PRESPLIT_VERSION must be defined by the build"
#endif

using namespace presplit::client;

namespace {

Output output_for(const Options& options) {
    Output output;
    const char* term = std::getenv("TERM");
    output.terminal = isatty(STDOUT_FILENO) && !(term && std::strcmp(term, "dumb") == 0);
    const char* no_color = std::getenv("NO_COLOR");
    switch (options.color) {
    case ColorMode::always:
        output.style = {true, true};
        break;
    case ColorMode::never:
        output.style = {false, output.terminal};
        break;
    case ColorMode::automatic:
        output.style = {output.terminal && !(no_color && *no_color), output.terminal};
        break;
    }
    winsize size{};
    if (output.terminal && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        output.width = size.ws_col;
    else if (const char* columns = std::getenv("COLUMNS"); columns && std::atoi(columns) > 0)
        output.width = std::atoi(columns);
    output.width = std::max(output.width, 40);
    return output;
}

} // namespace

int main(int argc, char** argv) {
    Options options;
    try {
        options = parse_arguments(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const UsageError& error) {
        std::cerr << "pg_presplit: error: " << error.what() << "\n"
                  << "Try \"pg_presplit --help\" for more information.\n";
        return kExitUsage;
    }
    if (options.help) {
        std::cout << help_text();
        return kExitDone;
    }
    if (options.version) {
        std::cout << "pg_presplit (pg_presplit) " PRESPLIT_VERSION "\n";
        return kExitDone;
    }
    const Output output = output_for(options);
    pq::install_interrupt_handler();
    try {
        pq::Connection conn = pq::Connection::open(options.connection);
        return run_command(options, output, conn);
    } catch (const pq::ConnectionError& error) {
        std::cerr << "pg_presplit: error: " << error.what() << "\n"
                  << "HINT:  Check the server is running and the connection options (-h, -p, -U, "
                     "-d, or PGHOST, PGPORT, PGUSER, PGDATABASE, PGSERVICE).\n";
        return kExitConnection;
    } catch (const pq::ServerError& error) {
        if (error.sqlstate == "57014" && pq::interrupted()) {
            std::cerr
                << "pg_presplit: interrupted: the statement was cancelled, and changed nothing\n";
            return kExitInterrupted;
        }
        std::cerr << error.formatted() << "\n";
        return kExitServerError;
    } catch (const std::exception& error) {
        std::cerr << "pg_presplit: internal error: " << error.what() << "\n";
        return kExitServerError;
    }
}
