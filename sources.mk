# The one list of sources, read by the PGXS Makefile and by CMakeLists.txt.

# The one warning policy for our sources, in both builds (PostgreSQL's
# headers are included with -isystem: their warnings are not ours). Warnings
# are errors unless PRESPLIT_WERROR=OFF is given (make PRESPLIT_WERROR=OFF,
# cmake -DPRESPLIT_WERROR=OFF), e.g. with a newer compiler than this was
# tested with.
PRESPLIT_WARNINGS = -Wall -Wextra -Werror

# CORE: pure C++ (no PostgreSQL headers); linked into the unit tests as well.
# PG:   the thin layer that talks to PostgreSQL.
PRESPLIT_CORE_SOURCES = \
	src/core/plan_state.cpp \
	src/core/offpeak.cpp \
	src/core/split_decision.cpp \
	src/core/copy_schedule.cpp \
	src/core/prediction_policy.cpp \
	src/core/server_choice.cpp \
	src/core/split_points.cpp \
	src/core/text_array.cpp \
	src/core/throttle.cpp \
	src/core/load_history.cpp \
	src/core/key_sampler.cpp \
	src/core/size_history.cpp \
	src/core/stream_sample.cpp \
	src/core/key_bytes.cpp \
	src/core/ramp.cpp \
	src/core/latency_histogram.cpp \
	src/core/lock_wait.cpp \
	src/core/lag_drain.cpp \
	src/core/plan_work.cpp \
	src/core/forecast.cpp \
	src/core/forecast_models.cpp \
	src/core/range_drift.cpp \
	src/core/range_handoff.cpp \
	src/core/retry_backoff.cpp \
	src/core/succession.cpp \
	src/core/remote_chunks.cpp \
	src/core/copy_text.cpp

PRESPLIT_PG_SOURCES = \
	src/module.cpp \
	src/hooks.cpp \
	src/pg/guard.cpp \
	src/pg/clock.cpp \
	src/pg/backend_random.cpp \
	src/pg/shared_memory.cpp \
	src/pg/spi.cpp \
	src/pg/relation.cpp \
	src/catalog/catalog.cpp \
	src/catalog/direct_scan.cpp \
	src/catalog/routes.cpp \
	src/catalog/table_watch.cpp \
	src/catalog/remote_moves.cpp \
	src/analyzer/key_axis.cpp \
	src/analyzer/managed_set.cpp \
	src/analyzer/leaf_access.cpp \
	src/analyzer/write_counts.cpp \
	src/analyzer/inserted_keys.cpp \
	src/analyzer/stats_store.cpp \
	src/analyzer/recorder.cpp \
	src/analyzer/maintenance.cpp \
	src/migration/layout.cpp \
	src/migration/split_request.cpp \
	src/migration/shadows.cpp \
	src/migration/capture.cpp \
	src/migration/backfill.cpp \
	src/migration/copy_rate.cpp \
	src/switchover/lock_holders.cpp \
	src/switchover/switchover.cpp \
	src/switchover/channel_stats.cpp \
	src/switchover/route_shapes.cpp \
	src/switchover/route_indexes.cpp \
	src/switchover/plan_rewrite.cpp \
	src/switchover/route_marker.cpp \
	src/switchover/routing.cpp \
	src/remote/connection.cpp \
	src/remote/replication.cpp \
	src/remote/snapshot_copy.cpp \
	src/remote/chunks.cpp \
	src/remote/split.cpp \
	src/remote/warmup.cpp \
	src/remote/move.cpp \
	src/remote/reverse.cpp \
	src/remote/copy_throttle.cpp \
	src/worker/lifecycle.cpp \
	src/worker/transaction.cpp \
	src/worker/migration_job.cpp \
	src/worker/readiness.cpp \
	src/worker/switchover_job.cpp \
	src/worker/plan_workers.cpp \
	src/worker/worker.cpp \
	src/api/arguments.cpp \
	src/api/analyzer_views.cpp \
	src/api/extension.cpp \
	src/api/manage.cpp \
	src/api/plans.cpp \
	src/api/switching.cpp \
	src/api/status.cpp \
	src/api/moves.cpp \
	src/api/test_support.cpp \
	src/api/forecasts.cpp \
	src/predictor/series.cpp \
	src/predictor/manager.cpp

# The pg_presplit client: a program on libpq (src/client/, installed beside
# psql). CLIENT_CORE: pure C++ without libpq (argument parsing, formatting,
# the terminal charts, SVG, JSON), linked into the unit tests as well;
# CLIENT: main and the libpq side. Both link src/core/text_array.cpp.
PRESPLIT_CLIENT_CORE_SOURCES = \
	src/client/options.cpp \
	src/client/json.cpp \
	src/client/text.cpp \
	src/client/heat.cpp \
	src/client/chart.cpp \
	src/client/svg.cpp \
	src/client/follow.cpp \
	src/client/status_report.cpp

PRESPLIT_CLIENT_SOURCES = \
	src/client/pq.cpp \
	src/client/commands.cpp \
	src/client/main.cpp
