-- The automatic ramp on a partition nobody reads (here: writes only). Its
-- steps need presplit.ramp_min_statements routed reads on each channel to be
-- judged; none come, so each step waits presplit.ramp_evidence_timeout, says
-- so in events (ramp_waiting), then steps on "without evidence", and the plan
-- reaches the cutover.
CREATE TABLE readings (
    id bigint PRIMARY KEY,
    v  int NOT NULL
) PARTITION BY RANGE (id);
CREATE TABLE readings_0 PARTITION OF readings FOR VALUES FROM (0) TO (1000);
INSERT INTO readings SELECT g, g FROM generate_series(0, 599) g;
SELECT presplit.manage('readings');

ALTER SYSTEM SET presplit.ramp_interval = '20ms';
ALTER SYSTEM SET presplit.ramp_step = 40;
ALTER SYSTEM SET presplit.ramp_min_statements = 20;
-- Longer than the worker's naptime (200 ms), so that a round sees each step
-- waiting before it steps on.
ALTER SYSTEM SET presplit.ramp_evidence_timeout = '1s';
SELECT pg_reload_conf();

SELECT presplit.split_partition('readings_0', '{300}') AS plan \gset
SELECT presplit.wait(:plan, 'switching', '60 s');
-- Writes only, while it ramps.
INSERT INTO readings SELECT g, g FROM generate_series(600, 699) g;
UPDATE readings SET v = v + 1 WHERE id % 10 = 0;
SELECT presplit.wait(:plan, 'cut_over', '60 s');

-- Nothing was routed: both channels served no statement...
SELECT channel, weight, statements FROM presplit.channels WHERE plan_id = :plan ORDER BY channel;
-- ...and each step after the first says it waited and went on without evidence.
SELECT kind, CASE WHEN kind <> 'cutover' THEN split_part(detail, ';', 1) END AS detail
  FROM presplit.events
 WHERE plan_id = :plan AND kind IN ('weight', 'ramp_waiting', 'cutover')
 ORDER BY id;
SELECT count(*), sum(v) FROM readings;

SELECT presplit.finalize(:plan);
SELECT state FROM presplit.plans WHERE id = :plan;
SELECT count(*), sum(v) FROM readings;

ALTER SYSTEM RESET presplit.ramp_interval;
ALTER SYSTEM RESET presplit.ramp_step;
ALTER SYSTEM RESET presplit.ramp_min_statements;
ALTER SYSTEM RESET presplit.ramp_evidence_timeout;
SELECT pg_reload_conf();
DROP TABLE readings;
