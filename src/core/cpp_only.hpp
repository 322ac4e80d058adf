// Included (last) by every .cpp file of the pure C++ core (not by its headers,
// which the thin layer includes after postgres.h). The core takes plain
// values, is unit-tested without a server, and never sees PostgreSQL's
// headers: their macros redefine parts of the C library and their errors
// longjmp past destructors. CMake builds the core without PostgreSQL's include
// path, so an include fails there; this check catches it in the PGXS build.
#pragma once

#ifdef POSTGRES_H
#error "a pure C++ core file includes postgres.h: move the PostgreSQL calls to the thin layer"
#endif
