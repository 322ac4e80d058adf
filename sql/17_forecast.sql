-- The predictive shard manager's settings and presplit.forecast: defaults,
-- bad input (clear errors with SQLSTATEs, nothing changed), privileges.
-- (Forecasts over days of history: test/t/014_prediction.pl, on a fast clock.)
\set VERBOSITY sqlstate
SHOW presplit.predict;
SHOW presplit.split_load_threshold;
SHOW presplit.split_size_threshold;
SHOW presplit.prediction_horizon;
SHOW presplit.maintenance_window;
SHOW presplit.clock_rate;
SHOW presplit.late_copy_outside_windows;
SHOW presplit.prediction_interval;
-- Bad values are refused (ALTER SYSTEM validates without changing anything).
ALTER SYSTEM SET presplit.predict = 'often';
ALTER SYSTEM SET presplit.split_load_threshold = -1;
ALTER SYSTEM SET presplit.prediction_horizon = '30min';
ALTER SYSTEM SET presplit.clock_rate = 0.5;
ALTER SYSTEM SET presplit.late_copy_outside_windows = 'sometimes';
ALTER SYSTEM SET presplit.prediction_interval = 1;
ALTER SYSTEM SET presplit.prediction_interval = 0.4;
\set VERBOSITY default
ALTER SYSTEM SET presplit.predict = 'often';
ALTER SYSTEM SET presplit.late_copy_outside_windows = 'sometimes';
-- Copies strictly inside the windows.
ALTER SYSTEM SET presplit.late_copy_outside_windows = off;
ALTER SYSTEM RESET presplit.late_copy_outside_windows;
-- Sizes take units.
ALTER SYSTEM SET presplit.split_size_threshold = '10GB';
ALTER SYSTEM RESET presplit.split_size_threshold;
-- Only at server start (clock_rate) or at a reload (the others), not per session.
\set VERBOSITY sqlstate
SET presplit.clock_rate = 2;
SET presplit.late_copy_outside_windows = off;
SET presplit.prediction_interval = 0.95;
\set VERBOSITY default

CREATE TABLE weather (id int PRIMARY KEY, v int NOT NULL) PARTITION BY RANGE (id);
CREATE TABLE weather_0 PARTITION OF weather FOR VALUES FROM (0) TO (1000);
CREATE TABLE weather_1 PARTITION OF weather FOR VALUES FROM (1000) TO (2000);
CREATE TABLE not_managed (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE not_managed_0 PARTITION OF not_managed FOR VALUES FROM (0) TO (1000);
SELECT presplit.manage('weather');
SELECT presplit.reset_stats('weather');

-- No complete hour of history yet: no rows, not an error.
SELECT count(*) FROM presplit.forecast('weather_0');

\set VERBOSITY sqlstate
SELECT * FROM presplit.forecast('not_managed_0');
SELECT * FROM presplit.forecast('weather');            -- the parent, not a partition
SELECT * FROM presplit.forecast('weather_0', 0);
SELECT * FROM presplit.forecast('weather_0', 169);
SELECT * FROM presplit.forecast('weather_0', NULL);
SELECT * FROM presplit.forecast(NULL);
SELECT * FROM presplit.forecast('no_such_table');
\set VERBOSITY default
SELECT * FROM presplit.forecast('not_managed_0');
SELECT * FROM presplit.forecast('weather_0', 0);

-- Someone else's partition.
CREATE ROLE presplit_forecast_reader;
SET ROLE presplit_forecast_reader;
\set VERBOSITY sqlstate
SELECT * FROM presplit.forecast('weather_0');
\set VERBOSITY default
RESET ROLE;
DROP ROLE presplit_forecast_reader;

SELECT presplit.unmanage('weather');
DROP TABLE weather, not_managed;
