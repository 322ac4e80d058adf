-- pg_presplit 0.1.0 -> 0.1.1. Must leave the same objects as a fresh install
-- of pg_presplit--0.1.1.sql (test/t/009_dump_restore.pl compares).
\echo Use "ALTER EXTENSION pg_presplit UPDATE TO '0.1.1'" to load this file. \quit
