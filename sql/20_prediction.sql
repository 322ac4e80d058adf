-- The predictive shard manager's catalog: the views, per-table thresholds,
-- a predicted plan's held copy, and split_partition(source) reusing a
-- predicted plan. (The manager's rounds over days of load:
-- test/t/014_prediction.pl, on a fast clock.)
CREATE FUNCTION presplit_test_create_predicted_plan(regclass, text, boolean) RETURNS bigint
    AS 'pg_presplit' LANGUAGE C STRICT;

CREATE TABLE pred_orders (id bigint PRIMARY KEY, v int NOT NULL DEFAULT 0) PARTITION BY RANGE (id);
CREATE TABLE pred_orders_0 PARTITION OF pred_orders FOR VALUES FROM (0) TO (1000);
CREATE TABLE pred_orders_1 PARTITION OF pred_orders FOR VALUES FROM (1000) TO (2000);
INSERT INTO pred_orders SELECT g FROM generate_series(0, 1999) g;
SELECT presplit.manage('pred_orders');

-- presplit.maintenance_window is checked where it is set.
\set VERBOSITY sqlstate
ALTER SYSTEM SET presplit.maintenance_window = '25:00-26:00';
\set VERBOSITY default
ALTER SYSTEM SET presplit.maintenance_window = '1am-5am';
ALTER SYSTEM SET presplit.maintenance_window = '01:00-05:00, 22:00-02:00';
ALTER SYSTEM RESET presplit.maintenance_window;

-- The views' columns, readable by everyone.
SELECT * FROM presplit.forecasts WHERE false;
SELECT * FROM presplit.offpeak_windows WHERE false;
CREATE ROLE prediction_reader;
SET ROLE prediction_reader;
SELECT count(*) >= 0 AS readable FROM presplit.forecasts;
SELECT count(*) >= 0 AS readable FROM presplit.offpeak_windows;
-- ... but not the tables behind them, nor another owner's thresholds.
\set VERBOSITY sqlstate
SELECT * FROM presplit.prediction;
SELECT presplit.set_split_thresholds('pred_orders', 10);
RESET ROLE;

-- Per-table thresholds: NULL is the setting's value; bad input is refused
-- before anything changes.
SELECT presplit.set_split_thresholds('pred_orders', 2.5, '10GB');
SELECT split_load_threshold, split_size_threshold FROM presplit.managed_table
 WHERE parent = 'pred_orders'::regclass;
SELECT presplit.set_split_thresholds('pred_orders', -1);
SELECT presplit.set_split_thresholds('pred_orders', 'NaN');
SELECT presplit.set_split_thresholds('pred_orders', 1, 'ten gigabytes');
SELECT presplit.set_split_thresholds('pred_orders', 1, '-5MB');
SELECT presplit.set_split_thresholds('pred_orders_0', 1);
SELECT presplit.set_split_thresholds(NULL, 1);
\set VERBOSITY default
SELECT presplit.set_split_thresholds('pred_orders_0', 1);
SELECT split_load_threshold, split_size_threshold FROM presplit.managed_table
 WHERE parent = 'pred_orders'::regclass;
SELECT presplit.set_split_thresholds('pred_orders');
SELECT split_load_threshold, split_size_threshold FROM presplit.managed_table
 WHERE parent = 'pred_orders'::regclass;

-- A predicted plan outside its off-peak window: created as the manager
-- creates one, its copy held. The worker leaves it at preparing.
SELECT presplit_test_create_predicted_plan('pred_orders_0', '500', true) AS plan \gset
SELECT origin, state, copy_held, split_points FROM presplit.plan WHERE id = :plan;
-- The plans view says the copy waits; no copy rate measured yet; the split's
-- kind (the test function's default: a load split).
SELECT copy_held, copy_bytes_per_second, split_kind FROM presplit.plans WHERE id = :plan;
SELECT pg_get_userbyid(owner::oid) = current_user AS owner_is_table_owner
  FROM presplit.plan WHERE id = :plan;
-- "Nothing happened" is proved by waiting for the worker, not for time: two
-- whole rounds (as in 08_switchover).
CREATE FUNCTION wait_for_worker_rounds(rounds int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    start_loops bigint := (SELECT loops FROM presplit.worker_status);
    deadline timestamptz := clock_timestamp() + interval '60 s';
BEGIN
    LOOP
        PERFORM 1 FROM presplit.worker_status WHERE loops >= start_loops + 2 * rounds;
        IF FOUND THEN
            RETURN true;
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END;
$$;
SELECT wait_for_worker_rounds(2);
SELECT state, copy_held FROM presplit.plan WHERE id = :plan;

-- split_partition(source), without split points or with the same ones,
-- reuses it: the switch is requested, the copy released.
SELECT presplit.split_partition('pred_orders_0', '{500}', ramp => false) = :plan AS reused;
SELECT switch_requested, copy_held, ramp FROM presplit.plan WHERE id = :plan;
SELECT copy_held FROM presplit.plans WHERE id = :plan;
SELECT presplit.split_partition('pred_orders_0', ramp => false) = :plan AS reused_again;
-- Other split points are still an error.
\set VERBOSITY terse
SELECT presplit.split_partition('pred_orders_0', '{600}');
\set VERBOSITY default
SELECT presplit.wait(:plan, 'switching', '2 min');
SELECT presplit.rollback(:plan);
SELECT state FROM presplit.plan WHERE id = :plan;

-- A predicted plan cancelled by its owner ends like any other.
SELECT presplit_test_create_predicted_plan('pred_orders_1', '1500', true) AS plan2 \gset
SELECT presplit.cancel(:plan2);
SELECT state, origin FROM presplit.plan WHERE id = :plan2;

SELECT presplit.unmanage('pred_orders');
DROP TABLE pred_orders;
DROP ROLE prediction_reader;
DROP FUNCTION presplit_test_create_predicted_plan(regclass, text, boolean);
DROP FUNCTION wait_for_worker_rounds(int);
