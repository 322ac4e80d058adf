-- Hostile input, as a table owner who is not a superuser (issue 11): names
-- and key values holding quotes, dollar-quote tags, comment and statement
-- separators, backslashes, newlines, non-ASCII and 63-byte names, for each
-- supported kind of key. Every case goes through prepare_split, the
-- backfill, capture, cutover, reverse capture, rollback, split_partition,
-- cutover and finalize while an unmanaged copy of the table receives the
-- same writes; after every step the table and its copy must hold the same
-- rows (and after a cutover, the detached old partition too). At the end the
-- owner has no privilege it did not have before.
--
-- Non-ASCII names and values need a UTF8 database (pg_regress creates it
-- with the encoding of the environment's locale).
SELECT getdatabaseencoding();

-- The owner: no role attribute; CREATE on the database (for its schemas).
CREATE ROLE "presplit hostile""owner";
SELECT format('GRANT CREATE ON DATABASE %I TO %I', current_database(), 'presplit hostile"owner') \gexec

-- What the owner may do, as a superuser sees it; compared at the end.
CREATE FUNCTION hostile_privileges(r regrole) RETURNS TABLE (item text, value text)
LANGUAGE sql AS $$
    SELECT 'attribute ' || a, v::text
      FROM pg_roles,
           LATERAL (VALUES ('rolsuper', rolsuper), ('rolcreaterole', rolcreaterole),
                           ('rolcreatedb', rolcreatedb), ('rolreplication', rolreplication),
                           ('rolbypassrls', rolbypassrls), ('rolinherit', rolinherit),
                           ('rolcanlogin', rolcanlogin)) x(a, v)
     WHERE oid = r
    UNION ALL
    SELECT 'member of ' || roleid::regrole, admin_option::text FROM pg_auth_members WHERE member = r
    UNION ALL
    SELECT 'has member ' || member::regrole, admin_option::text FROM pg_auth_members WHERE roleid = r
    UNION ALL
    SELECT 'role settings', setconfig::text FROM pg_db_role_setting WHERE setrole = r
    UNION ALL
    SELECT format('%s on %s', p, c.oid::regclass), has_table_privilege(r, c.oid, p)::text
      FROM pg_class c,
           unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
     WHERE c.relnamespace = 'presplit'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'S')
    UNION ALL
    SELECT format('EXECUTE on %s', f.oid::regprocedure), has_function_privilege(r, f.oid, 'EXECUTE')::text
      FROM pg_proc f WHERE f.pronamespace = 'presplit'::regnamespace
    UNION ALL
    SELECT format('%s on schema %s', p, n.nspname), has_schema_privilege(r, n.oid, p)::text
      FROM pg_namespace n, unnest(ARRAY['USAGE', 'CREATE']) p
     WHERE n.nspname IN ('presplit', 'pg_catalog', 'public', 'information_schema')
    UNION ALL
    SELECT format('%s on database', p), has_database_privilege(r, current_database(), p)::text
      FROM unnest(ARRAY['CREATE', 'TEMP', 'CONNECT']) p
    UNION ALL
    SELECT 'owns reserved schemas', coalesce(string_agg(nspname, ', ' ORDER BY nspname), 'none')
      FROM pg_namespace
     WHERE nspowner = r AND (nspname IN ('presplit', 'public', 'information_schema') OR nspname LIKE 'pg\_%')
    UNION ALL
    SELECT 'owns relations outside its schemas (but TOAST)', count(*)::text
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relowner = r AND n.nspowner <> r AND n.nspname <> 'pg_toast'
    UNION ALL
    SELECT 'owns functions outside its schemas', count(*)::text
      FROM pg_proc f JOIN pg_namespace n ON n.oid = f.pronamespace
     WHERE f.proowner = r AND n.nspowner <> r
    UNION ALL
    SELECT 'owns types outside its schemas', count(*)::text
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typowner = r AND n.nspowner <> r
    UNION ALL
    SELECT 'owns in presplit or pg_catalog',
           ((SELECT count(*) FROM pg_class WHERE relowner = r AND relnamespace IN ('presplit'::regnamespace, 'pg_catalog'::regnamespace))
          + (SELECT count(*) FROM pg_proc WHERE proowner = r AND pronamespace IN ('presplit'::regnamespace, 'pg_catalog'::regnamespace))
          + (SELECT count(*) FROM pg_type WHERE typowner = r AND typnamespace IN ('presplit'::regnamespace, 'pg_catalog'::regnamespace)))::text
$$;
CREATE TABLE hostile_privileges_before AS
SELECT * FROM hostile_privileges('"presplit hostile""owner"');

SET ROLE "presplit hostile""owner";

-- The test's tools, the owner's: every write goes to the table and to its
-- copy; after every step, the log records how they differ.
CREATE SCHEMA hostile_tools;
CREATE TABLE hostile_tools.cases (
    label      text PRIMARY KEY,
    parent     regclass NOT NULL,
    source     regclass NOT NULL,      -- the partition split
    copy       regclass NOT NULL,      -- unmanaged, same writes
    key_column name NOT NULL,
    key_type   text NOT NULL,
    n_column   name NOT NULL,          -- the number the key was made of
    v_column   name NOT NULL,          -- a value
    key_of     regproc NOT NULL,       -- int -> key, ascending; n < 500: below the (last) split point
    points     text[] NOT NULL         -- split points, as text
);
CREATE TABLE hostile_tools.log (
    step   serial,
    label  text,
    what   text,
    state  text,
    differences bigint,                -- table vs its copy, both ways
    old_differences bigint,            -- detached old partition vs the copy
    layout text,
    shadow_names text,
    rolsuper boolean
);

-- Runs the statement on the table and on its copy: %1$s the table, %2$I the
-- key column, %3$I n, %4$I v, %5$s key_of; $1 the phase, $2 an int array.
CREATE FUNCTION hostile_tools.on_both(c hostile_tools.cases, statement text, phase int,
                                      numbers int[] DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    FOREACH t IN ARRAY ARRAY[c.parent, c.copy] LOOP
        EXECUTE format(statement, t, c.key_column, c.n_column, c.v_column, c.key_of)
            USING phase, numbers;
    END LOOP;
END;
$$;

-- The rows of every table: n = 0, 5, ..., 995 (200 rows), key key_of(n).
CREATE FUNCTION hostile_tools.setup(label text, parent regclass, source regclass,
                                    key_of regproc, n_column name, v_column name,
                                    points text[], manage boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    c hostile_tools.cases;
BEGIN
    c.label := label;
    c.parent := parent;
    c.source := source;
    c.key_of := key_of;
    c.n_column := n_column;
    c.v_column := v_column;
    c.points := points;
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) INTO c.key_column, c.key_type
      FROM pg_partitioned_table p
      JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
     WHERE p.partrelid = parent;
    EXECUTE format('CREATE TABLE hostile_tools.%I (LIKE %s INCLUDING DEFAULTS INCLUDING GENERATED)',
                   'copy of ' || label, parent);
    c.copy := format('hostile_tools.%I', 'copy of ' || label)::regclass;
    INSERT INTO hostile_tools.cases SELECT c.*;
    PERFORM hostile_tools.on_both(c, 'INSERT INTO %1$s (%2$I, %3$I, %4$I)
                                      SELECT %5$s(i), i, i FROM generate_series(0, 995, 5) i', 0);
    IF manage THEN
        PERFORM presplit.manage(parent);
    END IF;
END;
$$;

-- Rows in one table and not in the other, both ways.
CREATE FUNCTION hostile_tools.differences(a regclass, b regclass) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT (SELECT count(*) FROM (TABLE %1$s EXCEPT ALL TABLE %2$s) x)
                         + (SELECT count(*) FROM (TABLE %2$s EXCEPT ALL TABLE %1$s) y)', a, b)
       INTO n;
    RETURN n;
END;
$$;

CREATE FUNCTION hostile_tools.row_count(t regclass) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', t) INTO n;
    RETURN n;
END;
$$;

CREATE FUNCTION hostile_tools.valid_utf8(s text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM convert_from(convert_to(s, 'UTF8'), 'UTF8');
    RETURN true;
EXCEPTION WHEN character_not_in_repertoire THEN
    RETURN false;
END;
$$;

CREATE FUNCTION hostile_tools.note(c hostile_tools.cases, plan bigint, what text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    detached boolean := (SELECT NOT relispartition FROM pg_class WHERE oid = c.source);
BEGIN
    INSERT INTO hostile_tools.log (label, what, state, differences, old_differences, layout,
                                   shadow_names, rolsuper)
    SELECT c.label, what,
           (SELECT CASE WHEN what = 'prepare_split' AND state IN ('preparing', 'backfilling', 'synced')
                        THEN 'under way' ELSE state END
              FROM presplit.plans WHERE id = plan),
           hostile_tools.differences(c.parent, c.copy),
           CASE WHEN detached THEN hostile_tools.differences(c.source, c.copy) END,
           CASE WHEN detached IS NOT DISTINCT FROM false THEN 'source'
                ELSE (SELECT count(*) FROM pg_inherits WHERE inhparent = c.parent) || ' new partitions' END,
           CASE WHEN what IN ('prepare_split', 'split_partition') THEN
               (SELECT string_agg(CASE WHEN NOT hostile_tools.valid_utf8(r.relname) THEN 'invalid UTF-8'
                                       WHEN octet_length(r.relname) > 63 THEN 'too long'
                                       ELSE 'ok' END, ', ' ORDER BY s.ordinal)
                  FROM presplit.progress s JOIN pg_class r ON r.oid = s.shadow
                 WHERE s.plan_id = plan) END,
           (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user);
END;
$$;

-- The writes of one phase, the same on the table and its copy: optionally a
-- TRUNCATE (then the original rows that are missing are put back), inserts,
-- updates of a value, keys moved across the split point both ways, deletes.
-- Each phase touches its own rows, so no key is ever taken twice.
CREATE FUNCTION hostile_tools.writes(c hostile_tools.cases, phase int, truncating text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    target regclass;
    missing int[];
BEGIN
    IF truncating IS NOT NULL THEN
        IF truncating = 'source' THEN
            target := c.source;
        ELSIF truncating = 'parent' THEN
            target := c.parent;
        ELSE    -- 'lowest': the partition holding the lowest key
            EXECUTE format('SELECT tableoid::regclass FROM %s ORDER BY %I LIMIT 1', c.parent, c.key_column)
               INTO target;
        END IF;
        EXECUTE format('DELETE FROM %s WHERE %I IN (SELECT %I FROM %s)',
                       c.copy, c.key_column, c.key_column, target);
        EXECUTE format('TRUNCATE %s', target);
        EXECUTE format('SELECT array_agg(i) FROM generate_series(0, 995, 5) i
                         WHERE NOT EXISTS (SELECT FROM %s WHERE %I = %s(i))', c.copy, c.key_column, c.key_of)
           INTO missing;
        PERFORM hostile_tools.on_both(c, 'INSERT INTO %1$s (%2$I, %3$I, %4$I)
                                          SELECT %5$s(i), i, i FROM unnest($2) i', phase, missing);
    END IF;
    PERFORM hostile_tools.on_both(c, 'INSERT INTO %1$s (%2$I, %3$I, %4$I)
                                      SELECT %5$s(i), i, i FROM generate_series(1, 996, 5) i
                                       WHERE mod(i / 5, 7) = $1', phase);
    PERFORM hostile_tools.on_both(c, 'UPDATE %1$s SET %4$I = %4$I + 1 WHERE mod(%3$I, 3) = mod($1, 3)', phase);
    PERFORM hostile_tools.on_both(c, 'UPDATE %1$s SET (%2$I, %3$I) = (%5$s(%3$I + 502), %3$I + 502)
                                       WHERE %3$I < 500 AND mod(%3$I, 5) = 0 AND mod(%3$I / 5, 14) = $1', phase);
    PERFORM hostile_tools.on_both(c, 'UPDATE %1$s SET (%2$I, %3$I) = (%5$s(%3$I - 497), %3$I - 497)
                                       WHERE %3$I >= 500 AND mod(%3$I, 5) = 0 AND mod(%3$I / 5, 14) = $1', phase);
    PERFORM hostile_tools.on_both(c, 'DELETE FROM %1$s WHERE mod(%3$I, 5) = 0 AND mod(%3$I / 5, 14) = $1 + 7', phase);
END;
$$;

-- The whole cycle for one case (from prepare_split, or from the plan given).
CREATE PROCEDURE hostile_tools.cycle(label text, first_plan bigint DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    c hostile_tools.cases;
    p bigint := first_plan;
BEGIN
    SELECT * INTO STRICT c FROM hostile_tools.cases WHERE cases.label = cycle.label;
    IF p IS NULL THEN
        EXECUTE format('SELECT presplit.prepare_split($1, $2::%s[])', c.key_type)
           INTO p USING c.source, c.points;
    END IF;
    PERFORM hostile_tools.note(c, p, 'prepare_split');
    COMMIT;
    PERFORM hostile_tools.writes(c, 0, 'source');       -- capture, racing the backfill
    COMMIT;
    PERFORM presplit.wait(p, 'synced', '60 s');
    PERFORM hostile_tools.note(c, p, 'backfilled');
    PERFORM hostile_tools.writes(c, 1);                 -- capture
    COMMIT;
    PERFORM hostile_tools.note(c, p, 'capture');
    PERFORM presplit.cutover(p);
    COMMIT;
    PERFORM hostile_tools.note(c, p, 'cutover');
    PERFORM hostile_tools.writes(c, 2, 'lowest');       -- reverse capture
    COMMIT;
    PERFORM hostile_tools.note(c, p, 'reverse capture');
    PERFORM presplit.rollback(p);
    COMMIT;
    PERFORM hostile_tools.note(c, p, 'rollback');
    PERFORM hostile_tools.writes(c, 3);                 -- no capture
    COMMIT;
    PERFORM hostile_tools.note(c, p, 'plain writes');
    -- The split points as an untyped array literal this time (read by the
    -- key type's array input: quotes and backslashes escaped).
    EXECUTE format('SELECT presplit.split_partition($1, %L, ramp => false)', c.points::text)
       INTO p USING c.source;
    COMMIT;
    PERFORM presplit.wait(p, 'switching', '60 s');
    PERFORM hostile_tools.note(c, p, 'split_partition');
    PERFORM hostile_tools.writes(c, 4, 'parent');       -- capture
    COMMIT;
    PERFORM hostile_tools.note(c, p, 'capture');
    PERFORM presplit.cutover(p);
    COMMIT;
    PERFORM hostile_tools.writes(c, 5);                 -- reverse capture
    COMMIT;
    PERFORM hostile_tools.note(c, p, 'reverse capture');
    PERFORM presplit.finalize(p);
    COMMIT;
    PERFORM hostile_tools.writes(c, 6);
    COMMIT;
    PERFORM hostile_tools.note(c, p, 'finalize');
END;
$$;

CREATE VIEW hostile_tools.report AS
SELECT label, what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.log;

-- The bounds of a table's partitions, in the order of their names (after
-- finalize: the shadows' suffixes _0, _1, ...).
CREATE FUNCTION hostile_tools.bounds(label text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT pg_get_expr(r.relpartbound, r.oid)
      FROM hostile_tools.cases c
      JOIN pg_inherits i ON i.inhparent = c.parent
      JOIN pg_class r ON r.oid = i.inhrelid
     WHERE c.label = bounds.label
     ORDER BY r.relname COLLATE "C";
$$;

------------------------------------------------------------------------------
-- Issue 11 as reported: the split point ends the capture function's dollar
-- quote. (In the owner's own schema, which "$user" puts on the search_path.
-- Column n and the rows are the test's.)
CREATE SCHEMA AUTHORIZATION CURRENT_ROLE;
create table t (k text primary key, v int) partition by range (k);
create table t0 partition of t for values from ('a') to ('z');
ALTER TABLE t ADD COLUMN n int;
CREATE FUNCTION "key_of$capture$"(i int) RETURNS text IMMUTABLE LANGUAGE sql
    AS $$ SELECT CASE WHEN i < 500 THEN 'b' ELSE 'p' END || lpad(i::text, 4, '0') || '$capture$' $$;
SELECT hostile_tools.setup('issue 11', 't', 't0', '"key_of$capture$"', 'n', 'v',
                           ARRAY['m$capture$; ALTER ROLE CURRENT_USER SUPERUSER; SELECT $capture$'],
                           manage => false);
select presplit.manage('t');
set check_function_bodies = off;
select presplit.prepare_split('t0', array['m$capture$; ALTER ROLE CURRENT_USER SUPERUSER; SELECT $capture$']) AS issue_plan \gset
select rolsuper from pg_roles where rolname = current_user;
RESET check_function_bodies;
CALL hostile_tools.cycle('issue 11', :issue_plan);
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'issue 11';
SELECT hostile_tools.bounds('issue 11');

-- The same with the owner named: under the old code the injected statement
-- ran as the bootstrap superuser, for whom CURRENT_USER is the superuser
-- itself; this one would have made the owner a superuser.
create table t2 (k text primary key, v int) partition by range (k);
create table t2_0 partition of t2 for values from ('a') to ('z');
ALTER TABLE t2 ADD COLUMN n int;
SELECT hostile_tools.setup('issue 11, owner named', 't2', 't2_0', '"key_of$capture$"', 'n', 'v',
                           ARRAY['m$capture$; ALTER ROLE "presplit hostile""owner" SUPERUSER; SELECT $capture$']);
set check_function_bodies = off;
select presplit.prepare_split('t2_0', array['m$capture$; ALTER ROLE "presplit hostile""owner" SUPERUSER; SELECT $capture$']) AS issue_plan \gset
select rolsuper from pg_roles where rolname = current_user;
RESET check_function_bodies;
CALL hostile_tools.cycle('issue 11, owner named', :issue_plan);
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'issue 11, owner named';
SELECT hostile_tools.bounds('issue 11, owner named');

------------------------------------------------------------------------------
-- text COLLATE "C": the tag, quotes and comment markers in every name and
-- in the split point; key values hold quotes, backslashes, a newline, a tab
-- and non-ASCII.
CREATE SCHEMA "s$capture$'""; --";
CREATE TABLE "s$capture$'""; --"."t$$'""/*" (
    "k$capture$""" text COLLATE "C" NOT NULL,
    "new" int NOT NULL,
    "v'; DROP TABLE x; --" int NOT NULL DEFAULT 0
        CONSTRAINT "c$capture$'"";" CHECK ("v'; DROP TABLE x; --" >= 0),
    "note $$" text DEFAULT E'de''fault $$ \\ $capture$',
    CONSTRAINT "pk$$'""" PRIMARY KEY ("k$capture$""")
) PARTITION BY RANGE ("k$capture$""");
CREATE INDEX "i$$""'--" ON "s$capture$'""; --"."t$$'""/*" ("v'; DROP TABLE x; --");
CREATE TABLE "s$capture$'""; --"."t$$'""/*_part; --" PARTITION OF "s$capture$'""; --"."t$$'""/*"
    FOR VALUES FROM ('a') TO ('z');
CREATE FUNCTION "s$capture$'""; --"."key$of"(i int) RETURNS text IMMUTABLE LANGUAGE sql
    AS $f$ SELECT CASE WHEN i < 500 THEN 'b' ELSE 'p' END || lpad(i::text, 4, '0')
                  || E'''"$$;--/*\\\n\t é $capture$' $f$;
SELECT hostile_tools.setup('text C', '"s$capture$''""; --"."t$$''""/*"',
                           '"s$capture$''""; --"."t$$''""/*_part; --"',
                           '"s$capture$''""; --"."key$of"', 'new', 'v''; DROP TABLE x; --',
                           ARRAY[E'm$capture$''"; DROP SCHEMA hostile_tools CASCADE; --\\/*']);
CALL hostile_tools.cycle('text C');
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'text C';
SELECT hostile_tools.bounds('text C');

------------------------------------------------------------------------------
-- text with an ICU collation (always created by initdb when PostgreSQL is
-- built with ICU, as Debian's is, whatever the system's locales): "é..."
-- sorts below the split point "mañana" and "Z..." above it -- the other way
-- round in "C" -- so any comparison made in the wrong collation sends rows
-- to the wrong partition. Non-ASCII names.
CREATE SCHEMA "schéma ünï";
CREATE TABLE "schéma ünï"."表 données" (
    "ключ" text COLLATE "und-x-icu" PRIMARY KEY,
    "número" int,
    "値" int
) PARTITION BY RANGE ("ключ");
CREATE TABLE "schéma ünï"."表 données ß" PARTITION OF "schéma ünï"."表 données"
    FOR VALUES FROM ('a') TO ('zzz');
CREATE FUNCTION "schéma ünï"."clé"(i int) RETURNS text IMMUTABLE LANGUAGE sql
    AS $$ SELECT CASE WHEN i < 500 THEN 'é' ELSE 'Z' END || lpad(i::text, 4, '0') || ' ñ' $$;
SELECT hostile_tools.setup('text ICU', '"schéma ünï"."表 données"', '"schéma ünï"."表 données ß"',
                           '"schéma ünï"."clé"', 'número', '値', ARRAY['mañana']);
CALL hostile_tools.cycle('text ICU');
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'text ICU';
SELECT hostile_tools.bounds('text ICU');

------------------------------------------------------------------------------
-- varchar: backslashes and newlines in the names and in the split point
-- (which is also what array literals escape).
CREATE SCHEMA "back\slash
new line";
CREATE TABLE "back\slash
new line"."tab\le" (
    "k\" varchar(40) PRIMARY KEY,
    "n$1" int,
    "v\\'" int
) PARTITION BY RANGE ("k\");
CREATE TABLE "back\slash
new line"."tab\le
part" PARTITION OF "back\slash
new line"."tab\le" FOR VALUES FROM ('a') TO ('z');
CREATE FUNCTION "back\slash
new line"."k\"(i int) RETURNS varchar(40) IMMUTABLE LANGUAGE sql
    AS $$ SELECT CASE WHEN i < 500 THEN 'b' ELSE 'p' END || lpad(i::text, 4, '0') || E'\\''\n\\' $$;
SELECT hostile_tools.setup('varchar', '"back\slash
new line"."tab\le"', '"back\slash
new line"."tab\le
part"', '"back\slash
new line"."k\"', 'n$1', 'v\\''', ARRAY[E'm\\''\n\\"}{,']);
CALL hostile_tools.cycle('varchar');
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'varchar';
SELECT hostile_tools.bounds('varchar');

------------------------------------------------------------------------------
-- uuid: columns named like the parameters of capture's prepared statements.
CREATE SCHEMA "$1";
CREATE TABLE "$1"."$1" ("$1" uuid PRIMARY KEY, "$2" int, "$3" int) PARTITION BY RANGE ("$1");
CREATE TABLE "$1"."$$" PARTITION OF "$1"."$1"
    FOR VALUES FROM ('00000000-0000-0000-0000-000000000000') TO ('ffffffff-ffff-ffff-ffff-ffffffffffff');
CREATE FUNCTION "$1"."$1"(i int) RETURNS uuid IMMUTABLE LANGUAGE sql
    AS $$ SELECT (lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i * 7919), 12, '0'))::uuid $$;
SELECT hostile_tools.setup('uuid', '"$1"."$1"', '"$1"."$$"', '"$1"."$1"', '$2', '$3',
                           ARRAY['000000fa-ffff-ffff-ffff-ffffffffffff', '000001f4-0000-0000-0000-000000000000']);
CALL hostile_tools.cycle('uuid');
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'uuid';
SELECT hostile_tools.bounds('uuid');

------------------------------------------------------------------------------
-- numeric: split points with more digits than the keys, one in exponent
-- form; a generated column; comment markers in names; a 63-byte partition
-- name (the shadows' names are cut to leave room for their suffix).
CREATE SCHEMA "/* not a comment";
CREATE TABLE "/* not a comment"."--" (
    "k--" numeric PRIMARY KEY,
    "n/*" int,
    "v*/" int,
    "gen$$" numeric GENERATED ALWAYS AS ("k--" * 2) STORED
) PARTITION BY RANGE ("k--");
CREATE TABLE "/* not a comment"."p'""$$;--/* sixty-three bytes, the longest name PostgreSQL keeps"
    PARTITION OF "/* not a comment"."--" FOR VALUES FROM (-1) TO (1000);
SELECT octet_length(relname) FROM pg_class WHERE relname LIKE 'p''"$$;--/* sixty-three%';
CREATE FUNCTION "/* not a comment"."*/"(i int) RETURNS numeric IMMUTABLE LANGUAGE sql
    AS $$ SELECT i::numeric / 7 $$;
SELECT hostile_tools.setup('numeric', '"/* not a comment"."--"',
                           '"/* not a comment"."p''""$$;--/* sixty-three bytes, the longest name PostgreSQL keeps"',
                           '"/* not a comment"."*/"', 'n/*', 'v*/',
                           ARRAY['3.5714285714285714285714285714285e1', '71.428571428571428571428571428571']);
CALL hostile_tools.cycle('numeric');
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'numeric';
SELECT hostile_tools.bounds('numeric');

------------------------------------------------------------------------------
-- timestamptz: a split point with fractional seconds and a +05:30 offset; a
-- 63-byte partition name of 4-byte characters, so that cutting it to make
-- room for the suffix can fall inside a character.
CREATE SCHEMA "ts;""";
CREATE TABLE "ts;"""."when;" ("ts;" timestamptz PRIMARY KEY, "n""" int, "v;--" int)
    PARTITION BY RANGE ("ts;");
CREATE TABLE "ts;"""."ts""😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀" PARTITION OF "ts;"""."when;"
    FOR VALUES FROM ('1999-12-31 00:00+00') TO ('2001-01-01 00:00+00');
SELECT octet_length(relname) FROM pg_class WHERE relname LIKE 'ts"😀%';
CREATE FUNCTION "ts;"""."at"(i int) RETURNS timestamptz IMMUTABLE LANGUAGE sql
    AS $$ SELECT timestamptz '2000-01-01 00:00:00+00' + i * interval '1 hour 1 second' $$;
SELECT hostile_tools.setup('timestamptz', '"ts;"""."when;"', '"ts;"""."ts""😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀"',
                           '"ts;"""."at"', 'n"', 'v;--', ARRAY['2000-01-22 01:00:00.123456+05:30']);
CALL hostile_tools.cycle('timestamptz');
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'timestamptz';
SELECT hostile_tools.bounds('timestamptz');

------------------------------------------------------------------------------
-- date: dollar-quote tags as names; a 63-byte ASCII partition name.
CREATE SCHEMA "$body$";
CREATE TABLE "$body$"."$function$" ("$capture$" date PRIMARY KEY, "$$" int, "$_$" int)
    PARTITION BY RANGE ("$capture$");
CREATE TABLE "$body$"."$function$ $capture$ $$ $x$ -- partition name of 63 bytes......"
    PARTITION OF "$body$"."$function$" FOR VALUES FROM ('2000-01-01') TO ('2003-01-01');
SELECT octet_length(relname) FROM pg_class WHERE relname LIKE '$function$ $capture$%';
CREATE FUNCTION "$body$"."$capture$"(i int) RETURNS date IMMUTABLE LANGUAGE sql
    AS $$ SELECT date '2000-01-01' + i $$;
SELECT hostile_tools.setup('date', '"$body$"."$function$"',
                           '"$body$"."$function$ $capture$ $$ $x$ -- partition name of 63 bytes......"',
                           '"$body$"."$capture$"', '$$', '$_$', ARRAY['2000-09-07', '2001-05-15']);
CALL hostile_tools.cycle('date');
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'date';
SELECT hostile_tools.bounds('date');

------------------------------------------------------------------------------
-- bigint: a partition from MINVALUE to MAXVALUE split at the type's least
-- value (an empty first range) and at 0.
CREATE SCHEMA "sch""ema";
CREATE TABLE "sch""ema"."big;int" ("id"" OR 1=1 --" bigint PRIMARY KEY, n int, v int)
    PARTITION BY RANGE ("id"" OR 1=1 --");
CREATE TABLE "sch""ema"."big;int all" PARTITION OF "sch""ema"."big;int"
    FOR VALUES FROM (MINVALUE) TO (MAXVALUE);
CREATE FUNCTION "sch""ema"."id"(i int) RETURNS bigint IMMUTABLE LANGUAGE sql
    AS $$ SELECT (i - 500)::bigint * 1000000000000000 $$;
SELECT hostile_tools.setup('bigint', '"sch""ema"."big;int"', '"sch""ema"."big;int all"',
                           '"sch""ema"."id"', 'n', 'v', ARRAY['-9223372036854775808', '0']);
CALL hostile_tools.cycle('bigint');
SELECT what, state, differences, old_differences, layout, shadow_names, rolsuper
  FROM hostile_tools.report WHERE label = 'bigint';
SELECT hostile_tools.bounds('bigint');

------------------------------------------------------------------------------
-- Every case, every step: the same rows as the copy.
SELECT label, count(*) AS steps, sum(differences) AS differences,
       sum(old_differences) AS old_differences, bool_or(rolsuper) AS ever_superuser
  FROM hostile_tools.log GROUP BY label ORDER BY min(step);
SELECT c.label, hostile_tools.row_count(c.parent) AS rows,
       hostile_tools.differences(c.parent, c.copy) AS differences
  FROM hostile_tools.cases c ORDER BY c.label COLLATE "C";

RESET ROLE;
-- The owner gained nothing: no attribute, no membership, nothing owned
-- outside its own schemas, no privilege on pg_presplit's objects.
SELECT item, value FROM hostile_privileges('"presplit hostile""owner"')
 WHERE item LIKE 'attribute %' OR item LIKE 'owns%' OR item LIKE '% on presplit.plan'
    OR item LIKE '% on presplit.managed_table' OR item LIKE '% on presplit.shadow'
 ORDER BY item COLLATE "C";
SELECT * FROM (
    (SELECT 'gained' AS change, * FROM hostile_privileges('"presplit hostile""owner"')
     EXCEPT SELECT 'gained', * FROM hostile_privileges_before)
    UNION ALL
    (SELECT 'lost', * FROM hostile_privileges_before
     EXCEPT SELECT 'lost', * FROM hostile_privileges('"presplit hostile""owner"'))) d
 ORDER BY change, item COLLATE "C";
SELECT count(*) AS memberships FROM pg_auth_members
 WHERE member = '"presplit hostile""owner"'::regrole OR roleid = '"presplit hostile""owner"'::regrole;

-- Clean up.
DROP OWNED BY "presplit hostile""owner";
DROP ROLE "presplit hostile""owner";
DROP TABLE hostile_privileges_before;
DROP FUNCTION hostile_privileges(regrole);
