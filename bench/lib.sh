# Shared by the benchmarks: a throwaway PostgreSQL 15 cluster with
# pg_presplit preloaded. initdb and postgres refuse root, so as root the
# cluster runs as the unprivileged user postgres.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/presplit-bench.XXXXXX)}
BENCH_PORT=${BENCH_PORT:-55432}
export PGHOST=$BENCH_DIR PGPORT=$BENCH_PORT PGDATABASE=postgres PGUSER=postgres

as_pg_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_cluster() { # extra postgresql.conf lines as arguments
    chmod 755 "$BENCH_DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$BENCH_DIR"
    as_pg_user "$PG_BIN/initdb" -D "$BENCH_DIR/data" -A trust -U postgres >/dev/null
    {
        echo "port = $BENCH_PORT"
        echo "unix_socket_directories = '$BENCH_DIR'"
        echo "listen_addresses = ''"
        echo "shared_buffers = 1GB"
        echo "max_wal_size = 8GB"
        echo "checkpoint_timeout = 30min"
        echo "synchronous_commit = off"
        echo "presplit.database = 'postgres'"
        echo "presplit.naptime = 100"
        for line in "$@"; do echo "$line"; done
    } >>"$BENCH_DIR/data/postgresql.conf"
    as_pg_user "$PG_BIN/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w start >/dev/null
    trap stop_cluster EXIT
}

# A second throwaway server, without pg_presplit, in $BENCH_DIR/$1 on port $2
# (its socket beside the first's); extra postgresql.conf lines as further
# arguments. stop_second_cluster $1 stops it.
start_second_cluster() { # name port [lines...]
    local name=$1 port=$2
    shift 2
    as_pg_user "$PG_BIN/initdb" -D "$BENCH_DIR/$name" -A trust -U postgres >/dev/null
    {
        echo "port = $port"
        echo "unix_socket_directories = '$BENCH_DIR'"
        echo "listen_addresses = ''"
        echo "shared_buffers = 512MB"
        echo "max_wal_size = 8GB"
        for line in "$@"; do echo "$line"; done
    } >>"$BENCH_DIR/$name/postgresql.conf"
    as_pg_user "$PG_BIN/pg_ctl" -D "$BENCH_DIR/$name" -l "$BENCH_DIR/$name.log" -w start >/dev/null
}
stop_second_cluster() { # name
    as_pg_user "$PG_BIN/pg_ctl" -D "$BENCH_DIR/$1" -m immediate stop >/dev/null 2>&1 || true
}

# Stops the cluster and starts it with the PostgreSQL in the bin directory $1,
# and so with the pg_presplit build installed there (BASELINE_BIN: a second
# relocatable copy with another build, measured side by side in one run).
# Not pg_ctl restart: it would start the postgres binary the cluster last ran
# with (postmaster.opts).
start_with_bin() { # bin directory
    as_pg_user "$PG_BIN/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null
    as_pg_user "$1/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/server.log" -w start >/dev/null
}

stop_cluster() {
    as_pg_user "$PG_BIN/pg_ctl" -D "$BENCH_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    if [ -n "${BENCH_KEEP:-}" ]; then
        echo "kept $BENCH_DIR (server.log)" >&2
    else
        rm -rf "$BENCH_DIR"
    fi
}

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }

# accounts(id bigint PRIMARY KEY, balance bigint, note text): $1 rows in 4
# range partitions accounts_0..3 of equal size, balance 1000 each, analyzed.
create_accounts() {
    local rows=$1
    sql "CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)
           PARTITION BY RANGE (id)"
    for i in 0 1 2 3; do
        sql "CREATE TABLE accounts_$i PARTITION OF accounts
               FOR VALUES FROM ($((i * rows / 4))) TO ($(((i + 1) * rows / 4)))"
    done
    sql "INSERT INTO accounts SELECT g, 1000, 'account ' || g FROM generate_series(0, $rows - 1) g"
    sql "VACUUM ANALYZE accounts"
}

# The demos' load. dir/workload.sql: a transfer between two of the accounts
# 0 .. rows-1, 80 % of them debiting the first quarter (accounts_0, the hot
# partition), then a read; the total never changes.
write_transfer_workload() { # dir rows
    local rows=$2
    cat >"$1/workload.sql" <<EOF
\set hot random(1, 100)
\if :hot <= 80
\set a random(0, $((rows / 4 - 1)))
\else
\set a random($((rows / 4)), $((rows - 1)))
\endif
\set b random(0, $((rows - 1)))
UPDATE accounts SET balance = balance + CASE WHEN id = :a THEN -1 ELSE 1 END
 WHERE id IN (:a, :b) AND :a <> :b;
SELECT balance FROM accounts WHERE id = :a;
EOF
    chmod 644 "$1/workload.sql"
}

# pgbench, 4 clients, running dir/workload.sql in runs of 5 s until dir/stop
# exists, so that every run ends and writes its log (dir/client<run>.*,
# dir/pgbench.out). Run it in the background and wait for it after the stop.
run_transfer_load() { # dir max_tries
    cd "$1" || return
    local run=0
    while [ ! -f stop ]; do
        run=$((run + 1))
        as_pg_user "$PG_BIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U postgres -c 4 -j 2 -T 5 \
            --max-tries="$2" -l --log-prefix="client$run" -f workload.sql postgres >>pgbench.out 2>&1
    done
}

set_config() { # name value: ALTER SYSTEM + reload
    sql "ALTER SYSTEM SET $1 = '$2'" && sql "SELECT pg_reload_conf()" >/dev/null
}

# pgbench TPS (excluding connection time) of a script for some seconds.
pgbench_tps() { # script seconds clients
    as_pg_user "$PG_BIN/pgbench" -n -h "$PGHOST" -p "$PGPORT" -U postgres -c "$3" -j 2 \
        -T "$2" -f "$1" postgres 2>/dev/null | awk '/^tps = /{print $3}'
}

# CPU time in ms of the server processes that have exited: the postmaster's
# cutime + cstime (the children it has reaped). Taken around a pgbench run,
# the difference is the CPU its backends used (plus that of any autovacuum
# worker that ended meanwhile), however long they waited for a core: on a
# shared machine steadier than TPS.
reaped_cpu_ms() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($16 + $17) * 1000 / hz }' \
        "/proc/$(head -1 "$BENCH_DIR/data/postmaster.pid")/stat"
}

# Runs pgbench (its arguments) and prints "TPS CPU-microseconds-per-transaction"
# (the server's, see reaped_cpu_ms).
pgbench_tps_cpu() {
    local before after out
    sleep 0.3 # backends of earlier commands (psql) are gone and reaped
    before=$(reaped_cpu_ms)
    out=$(as_pg_user "$PG_BIN/pgbench" "$@" 2>/dev/null)
    sleep 0.3 # the postmaster reaps the backends
    after=$(reaped_cpu_ms)
    awk -v ms=$((after - before)) -F': ' '
        /^number of transactions actually processed/ { split($2, n, "/"); count = n[1] }
        /^tps = / { split($0, t, " "); tps = t[3] }
        END { if (count > 0) printf "%s %.1f\n", tps, ms * 1000 / count }' <<<"$out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a / b}'; }
mean() { awk '{s+=$1; n++} END{printf "%.1f", s / n}'; }
median() { sort -g | awk '{v[NR]=$1} END{printf "%.1f", NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
