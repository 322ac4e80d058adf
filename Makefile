# PGXS build of pg_presplit. The sources are listed once, in sources.mk.
#   make && make install      build and install into the server found by pg_config
#   make test                 every test suite (installs what it needs; see README)
#   make demo                 the demo on a throwaway cluster
EXTENSION = pg_presplit
MODULE_big = pg_presplit
EXTVERSION = 0.1.1
# The current version's install script, the previous one's (kept so that
# ALTER EXTENSION ... UPDATE is tested from it), and the upgrade scripts.
DATA = pg_presplit--$(EXTVERSION).sql pg_presplit--0.1.0.sql $(wildcard pg_presplit--*--*.sql)

PG_CONFIG ?= pg_config

include sources.mk
OBJS = $(patsubst %.cpp,%.o,$(PRESPLIT_CORE_SOURCES) $(PRESPLIT_PG_SOURCES))

# -isystem: PostgreSQL's headers are not C++-clean (-Wregister,
# -Wunused-parameter); warnings are for our code.
PG_CPPFLAGS = -Isrc -isystem $(shell $(PG_CONFIG) --includedir-server)
# The warning policy is in sources.mk, shared with CMake.
PRESPLIT_WERROR ?= ON
ifeq ($(PRESPLIT_WERROR),ON)
PG_CXXFLAGS = -std=c++17 $(PRESPLIT_WARNINGS)
else
PG_CXXFLAGS = -std=c++17 $(filter-out -Werror,$(PRESPLIT_WARNINGS))
endif
SHLIB_LINK = -lstdc++ $(ICU_LIBS)

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

# Before scripts/test.sh has installed postgresql-server-dev-15 there is no
# PGXS; `make test` and `make demo` must still work then.
ifneq ($(wildcard $(PGXS)),)
# No LLVM bitcode: it needs clang, and nothing here is hot enough to JIT-inline.
override with_llvm = no
# Rebuild objects when a header they include changes.
override autodepend = yes
include $(PGXS)
endif

.PHONY: test demo format
test:
	bash scripts/test.sh
demo:
	bash scripts/demo.sh
format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')
