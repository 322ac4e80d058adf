-- Installing the extension: its objects, settings and pg_dump registration.
CREATE EXTENSION pg_presplit;

SELECT extname, extversion, extnamespace::regnamespace AS schema
  FROM pg_extension WHERE extname = 'pg_presplit';

-- Everything lives in schema presplit.
SELECT pg_describe_object(classid, objid, 0) AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_presplit')
   AND deptype = 'e'
 ORDER BY 1;

-- pg_dump keeps the catalog tables and their sequences.
SELECT unnest(extconfig)::regclass AS dumped
  FROM pg_extension WHERE extname = 'pg_presplit' ORDER BY 1;

-- Users read the views, not the tables.
SELECT c.relname, c.relkind, has_table_privilege('public', c.oid, 'SELECT') AS public_can_read
  FROM pg_class c
 WHERE c.relnamespace = 'presplit'::regnamespace AND c.relkind IN ('r', 'v')
 ORDER BY 1;

-- Settings, and the reserved prefix.
SHOW presplit.database;
SELECT name, setting, unit, context FROM pg_settings WHERE name LIKE 'presplit.%' ORDER BY 1;
SET presplit.no_such_setting = 1;

-- A helper for the error tests that follow: the SQLSTATE and every field a
-- DBA sees, or nothing if the statement succeeds.
CREATE FUNCTION public.error_of(statement text)
RETURNS TABLE (code text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN NEXT;
END;
$$;
