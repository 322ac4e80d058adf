-- The analyzer's key samples beyond index scan keys (docs/analyzer.md,
-- "Keys"): keys of inserted rows (INSERT through the parent or a leaf,
-- INSERT ... SELECT, ON CONFLICT, WITH, COPY), `= ANY` / IN lists, and text
-- (under an ICU collation) and uuid keys. Every statement is recorded
-- (presplit.analyzer_sample_every = 1), so the counts are exact where fewer
-- keys than a sample holds (8 per statement) are involved.
CREATE TABLE events (id bigint PRIMARY KEY, payload text) PARTITION BY RANGE (id);
CREATE TABLE events_0 PARTITION OF events FOR VALUES FROM (0) TO (10000);
CREATE TABLE events_1 PARTITION OF events FOR VALUES FROM (10000) TO (20000);
INSERT INTO events SELECT g, 'old' FROM generate_series(0, 4999) g;
SELECT presplit.manage('events');
SELECT presplit.reset_stats('events');

-- An append-only time series through the parent: 200 single-row INSERTs of
-- growing keys 5000..5199. Their heat is in the bucket [5000, 5500), and the
-- split that balances them lies among them (each candidate key only ever
-- sees later, larger keys; the access points place the split: a candidate
-- near their middle).
DO $$
BEGIN
    FOR i IN 5000..5199 LOOP
        INSERT INTO events VALUES (i, 'new');
    END LOOP;
END;
$$;
SELECT partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat('events', 20) WHERE accesses > 0 ORDER BY partition::text, bucket;
SELECT partition, split_point::bigint BETWEEN 5000 AND 5199 AS inside_the_appended_range,
       abs(left_share - 0.5) < 0.1 AS balanced, contained_share, samples
  FROM presplit.split_suggestions WHERE partition = 'events_0'::regclass;

-- INSERT ... SELECT of 1000 rows: 8 of them sampled, each weighing 125
-- rows; all 1000 counted as written.
SELECT presplit.reset_stats('events');
INSERT INTO events SELECT g, 'bulk' FROM generate_series(6000, 6999) g;
SELECT partition, sum(accesses) AS sampled_keys,
       bool_and(accesses = 0 OR lower_bound::bigint >= 6000 AND upper_bound::bigint <= 7000)
         AS all_in_the_inserted_range
  FROM presplit.key_heat('events', 10) GROUP BY partition ORDER BY partition::text;
SELECT partition, writes, rows_written FROM presplit.partition_stats
 WHERE parent = 'events'::regclass ORDER BY partition::text;

-- ON CONFLICT (the key of the conflicting row), a leaf named directly, an
-- INSERT in WITH, rows routed to both partitions by one statement.
SELECT presplit.reset_stats('events');
INSERT INTO events VALUES (100, 'again') ON CONFLICT (id) DO UPDATE SET payload = 'updated';
INSERT INTO events_1 VALUES (15000, 'leaf');
WITH w AS (INSERT INTO events VALUES (15001, 'with') RETURNING id) SELECT count(*) FROM w;
INSERT INTO events VALUES (9999, 'left'), (10000, 'right');
SELECT partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat('events', 4) WHERE accesses > 0 ORDER BY partition::text, bucket;

-- COPY through the parent: 1000 rows, 8 keys read back from the pages they
-- went to.
SELECT presplit.reset_stats('events');
COPY events (id) FROM PROGRAM 'seq 7000 7999';
SELECT partition, sum(accesses) AS sampled_keys,
       bool_and(accesses = 0 OR lower_bound::bigint >= 7000 AND upper_bound::bigint <= 8000)
         AS all_in_the_copied_range
  FROM presplit.key_heat('events', 10) GROUP BY partition ORDER BY partition::text;
SELECT partition, writes, rows_written FROM presplit.partition_stats
 WHERE parent = 'events'::regclass ORDER BY partition::text;

-- IN and = ANY: each element a point access of the partition it lies in
-- (every partition's scan gets the whole array), constants, parameters and
-- arrays computed at run time alike. 40 elements: 8 sampled.
SELECT presplit.reset_stats('events');
SELECT count(*) FROM events WHERE id IN (10, 20, 30, 12000);
PREPARE by_ids(bigint[]) AS SELECT count(*) FROM events WHERE id = ANY($1);
EXECUTE by_ids('{600, 700, 15500}');
SELECT partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat('events', 20) WHERE accesses > 0 ORDER BY partition::text, bucket;
SELECT presplit.reset_stats('events');
SELECT count(*) FROM events WHERE id = ANY(ARRAY(SELECT g FROM generate_series(2000, 2390, 10) g));
SELECT partition, sum(accesses) AS sampled_elements
  FROM presplit.key_heat('events', 20) GROUP BY partition ORDER BY partition::text;

-- text under a non-C collation (ICU, English): 'customer-alpha' sorts
-- before 'customer-Bravo' there, after it in C. Lookups alternate between
-- the two: the split is 'customer-Bravo', in the key's own form, and it
-- divides the lookups as it says under the partition key's collation (not
-- under C). The other partition's keys share their first 11 characters: its
-- positions start after what its bounds share.
CREATE TABLE customers (name text COLLATE "en-x-icu" PRIMARY KEY, v int)
    PARTITION BY RANGE (name);
CREATE TABLE customers_low PARTITION OF customers
    FOR VALUES FROM (MINVALUE) TO ('customer-000000');
CREATE TABLE customers_numbered PARTITION OF customers
    FOR VALUES FROM ('customer-000000') TO ('customer-001000');
CREATE TABLE customers_named PARTITION OF customers
    FOR VALUES FROM ('customer-001000') TO ('customer-zzz');
CREATE TABLE customers_high PARTITION OF customers FOR VALUES FROM ('customer-zzz') TO (MAXVALUE);
INSERT INTO customers SELECT 'customer-' || lpad(g::text, 6, '0'), g FROM generate_series(0, 999) g;
INSERT INTO customers VALUES ('customer-alpha', 1), ('customer-Bravo', 2);
SELECT presplit.manage('customers');
DO $$
BEGIN
    FOR i IN 1..30 LOOP
        PERFORM v FROM customers WHERE name = 'customer-alpha';
        PERFORM v FROM customers WHERE name = 'customer-Bravo';
        PERFORM v FROM customers WHERE name = 'customer-000100';
        PERFORM v FROM customers WHERE name = 'customer-000900';
    END LOOP;
END;
$$;
SELECT partition, split_point, left_share, right_share, samples
  FROM presplit.split_suggestions
 WHERE partition::text LIKE 'customers%' ORDER BY partition::text;
WITH lookups(name, times) AS (VALUES ('customer-alpha', 30), ('customer-Bravo', 30)),
     split AS (SELECT split_point FROM presplit.split_suggestions
                WHERE partition = 'customers_named'::regclass)
SELECT sum(times) FILTER (WHERE name < split_point COLLATE "en-x-icu") AS left_in_icu_order,
       sum(times) FILTER (WHERE name >= split_point COLLATE "en-x-icu") AS right_in_icu_order,
       coalesce(sum(times) FILTER (WHERE name < split_point COLLATE "C"), 0) AS left_in_c_order
  FROM lookups, split;
-- The heat map's edges are keys too: the bounds, and sampled keys.
SELECT partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat('customers', 4) ORDER BY partition::text, bucket;
-- Rows inserted through the parent go to their leaf in the collation's
-- order: 'customer-b5' to customers_named; 'customer-000555' exists (an
-- access of customers_numbered, not a write).
SELECT presplit.reset_stats('customers');
INSERT INTO customers VALUES ('customer-b5', 5), ('customer-000555', 555) ON CONFLICT DO NOTHING;
SELECT s.partition, s.writes, s.rows_written, h.accesses
  FROM presplit.partition_stats s
  JOIN (SELECT partition, sum(accesses) AS accesses FROM presplit.key_heat('customers')
         GROUP BY partition) h USING (partition)
 WHERE s.parent = 'customers'::regclass ORDER BY s.partition::text;

-- varchar under the database's default collation, a range scan, a key
-- longer than a key image holds (31 bytes: the split comes back cut, still a
-- key between the two hot ones). 60 accesses: every one is a candidate (64
-- of them), so the outcome does not depend on the random draws.
CREATE TABLE tags (tag varchar(100) PRIMARY KEY, v int) PARTITION BY RANGE (tag);
CREATE TABLE tags_a PARTITION OF tags FOR VALUES FROM ('a') TO ('m');
CREATE TABLE tags_m PARTITION OF tags FOR VALUES FROM ('m') TO ('zzzz');
INSERT INTO tags VALUES ('apple', 1), ('kiwi-and-a-long-tail-beyond-thirty-one-bytes', 2);
SELECT presplit.manage('tags');
DO $$
BEGIN
    FOR i IN 1..20 LOOP
        PERFORM v FROM tags WHERE tag = 'apple';
        PERFORM v FROM tags WHERE tag = 'kiwi-and-a-long-tail-beyond-thirty-one-bytes';
        PERFORM v FROM tags WHERE tag >= 'd' AND tag < 'e';
    END LOOP;
END;
$$;
SELECT partition, split_point, split_point > 'apple' AND split_point <= 'kiwi' || repeat('z', 40)
         AS between_the_hot_keys, samples
  FROM presplit.split_suggestions WHERE partition::text LIKE 'tags%' ORDER BY partition::text;
SELECT partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat('tags', 4) ORDER BY partition::text, bucket;

-- uuid: memcmp order; the bytes a partition's bounds share (here 0x33) are
-- stripped, the next 53 bits are the position, and a split comes back as
-- those bits followed by zeros: a uuid between the two hot ones.
CREATE TABLE devices (id uuid PRIMARY KEY, v int) PARTITION BY RANGE (id);
CREATE TABLE devices_a PARTITION OF devices
    FOR VALUES FROM (MINVALUE) TO ('33330000-0000-0000-0000-000000000000');
CREATE TABLE devices_b PARTITION OF devices
    FOR VALUES FROM ('33330000-0000-0000-0000-000000000000') TO ('33340000-0000-0000-0000-000000000000');
CREATE TABLE devices_c PARTITION OF devices
    FOR VALUES FROM ('33340000-0000-0000-0000-000000000000') TO (MAXVALUE);
INSERT INTO devices VALUES ('33331111-0000-0000-0000-000000000001', 1),
                           ('33333333-4444-5555-6666-777777777777', 2);
SELECT presplit.manage('devices');
DO $$
BEGIN
    FOR i IN 1..30 LOOP
        PERFORM v FROM devices WHERE id = '33331111-0000-0000-0000-000000000001';
        PERFORM v FROM devices WHERE id = '33333333-4444-5555-6666-777777777777';
    END LOOP;
END;
$$;
SELECT partition, split_point, left_share, right_share, samples,
       split_point::uuid > '33331111-0000-0000-0000-000000000001'
         AND split_point::uuid <= '33333333-4444-5555-6666-777777777777' AS between_the_hot_keys
  FROM presplit.split_suggestions WHERE partition::text LIKE 'devices%' ORDER BY partition::text;
SELECT partition, bucket, lower_bound, upper_bound, accesses
  FROM presplit.key_heat('devices', 4) ORDER BY partition::text, bucket;

SELECT presplit.unmanage('events'), presplit.unmanage('customers'), presplit.unmanage('tags'),
       presplit.unmanage('devices');
DROP TABLE events, customers, tags, devices;
