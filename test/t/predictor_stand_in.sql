-- A stand-in for the predictor's interface (issue 13: presplit.forecast,
-- presplit.forecasts, presplit.offpeak_windows) with a known forecast for
-- accounts_0: a daily cycle of load with a rising trend that crosses its
-- threshold of 250 statements/s 30 hours from now, and an off-peak window
-- from 01:00 to 05:00 tomorrow. The real objects (whose data would take days
-- of load to grow) are taken out of the extension and replaced, so that the
-- client's tests draw a forecast they know.
DO $$
BEGIN
    IF to_regprocedure('presplit.forecast(regclass, integer)') IS NOT NULL THEN
        ALTER EXTENSION pg_presplit DROP FUNCTION presplit.forecast(regclass, integer);
        DROP FUNCTION presplit.forecast(regclass, integer);
    END IF;
    IF to_regclass('presplit.forecasts') IS NOT NULL THEN
        ALTER EXTENSION pg_presplit DROP VIEW presplit.forecasts;
        DROP VIEW presplit.forecasts;
    END IF;
    IF to_regclass('presplit.offpeak_windows') IS NOT NULL THEN
        ALTER EXTENSION pg_presplit DROP VIEW presplit.offpeak_windows;
        DROP VIEW presplit.offpeak_windows;
    END IF;
    IF to_regprocedure('presplit.forecast(regclass, integer)') IS NULL THEN
        CREATE FUNCTION presplit.forecast(partition regclass, hours int DEFAULT 48)
        RETURNS TABLE (at timestamptz, metric text, actual float8, predicted float8,
                       lower float8, upper float8)
        LANGUAGE sql AS $f$
            SELECT date_trunc('hour', now()) + h * interval '1 hour', 'load',
                   CASE WHEN h <= 0 THEN 120 + 60 * sin(h * pi() / 12) + h END,
                   CASE WHEN h > 0 THEN 120 + 60 * sin(h * pi() / 12) + 2 * h END,
                   CASE WHEN h > 0 THEN 100 + 60 * sin(h * pi() / 12) + 1.2 * h END,
                   CASE WHEN h > 0 THEN 140 + 60 * sin(h * pi() / 12) + 2.8 * h END
              FROM generate_series(-48, hours) h
             WHERE partition = to_regclass('accounts_0')
        $f$;
    END IF;
    IF to_regclass('presplit.forecasts') IS NULL THEN
        CREATE VIEW presplit.forecasts AS
        SELECT to_regclass('accounts_0') AS partition, 'load'::text AS metric, 120::float8 AS current,
               250::float8 AS threshold,
               date_trunc('hour', now()) + interval '30 hours' AS predicted_crossing,
               '10000'::text AS split_point, 'holt_winters'::text AS model, 0.7::float8 AS mase,
               NULL::text AS reason;
    END IF;
    IF to_regclass('presplit.offpeak_windows') IS NULL THEN
        CREATE VIEW presplit.offpeak_windows AS
        SELECT date_trunc('day', now()) + interval '1 day 1 hour' AS starts,
               date_trunc('day', now()) + interval '1 day 5 hours' AS ends,
               20::float8 AS predicted_load;
    END IF;
END
$$;
