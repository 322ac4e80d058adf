-- The C++/PostgreSQL boundary (src/pg/guard.hpp), through test-only
-- functions compiled into the library.
CREATE FUNCTION test_throw_cpp(text) RETURNS void
    AS 'pg_presplit', 'presplit_test_throw_cpp' LANGUAGE C STRICT;
CREATE FUNCTION test_throw_error() RETURNS void
    AS 'pg_presplit', 'presplit_test_throw_error' LANGUAGE C;
CREATE FUNCTION test_throw_inside_call() RETURNS void
    AS 'pg_presplit', 'presplit_test_throw_inside_call' LANGUAGE C;
CREATE FUNCTION test_pg_error_in_guard() RETURNS void
    AS 'pg_presplit', 'presplit_test_pg_error_in_guard' LANGUAGE C;
CREATE FUNCTION test_spi_error_in_guard() RETURNS void
    AS 'pg_presplit', 'presplit_test_spi_error_in_guard' LANGUAGE C;
CREATE FUNCTION test_destructor_count() RETURNS int
    AS 'pg_presplit', 'presplit_test_destructor_count' LANGUAGE C;

-- A C++ exception thrown in a SQL function reaches the client as an ERROR
-- with its message (XX000: it is not one of PostgreSQL's errors).
SELECT test_throw_cpp('thrown by C++');
SELECT * FROM error_of($$SELECT test_throw_cpp('thrown by C++')$$);
-- pg_presplit's own errors carry their SQLSTATE, detail and hint.
SELECT test_throw_error();
SELECT * FROM error_of($$SELECT test_throw_error()$$);

-- An ereport(ERROR) inside guarded C++ code runs the destructors of the C++
-- objects alive at that point (two here), then reaches the client as the
-- original error with its SQLSTATE (22012).
SELECT test_destructor_count() AS before;
SELECT test_pg_error_in_guard();
SELECT test_destructor_count() AS after_two_destructors;
SELECT * FROM error_of($$SELECT test_pg_error_in_guard()$$);
SELECT test_destructor_count() AS after_two_more;

-- The same for an error raised by a query run through SPI.
SELECT test_spi_error_in_guard();
SELECT test_destructor_count() AS after_one_more;

-- A C++ exception thrown inside pg::call unwinds as a C++ exception too.
SELECT test_throw_inside_call();
SELECT test_destructor_count() AS after_one_more;

-- The backend stays usable, inside a transaction too.
SELECT 1 AS still_usable;
BEGIN;
SAVEPOINT s;
SELECT test_pg_error_in_guard();
ROLLBACK TO SAVEPOINT s;
SELECT 2 AS usable_after_rollback_to_savepoint;
COMMIT;
SELECT test_destructor_count() AS total;
