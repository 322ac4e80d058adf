# PGXS build of pg_presplit. The sources are listed once, in sources.mk.
#   make && make install      build and install into the server found by pg_config
#                             (the extension, and the pg_presplit client beside psql)
#   make test                 every test suite (installs what it needs; see README)
#   make demo                 the demo on a throwaway cluster
#   make demo-predict         the predictive manager over simulated days (about 4 minutes)
#   make demo-shard           a hot partition split onto a second server (about 1 minute)
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
PG_CPPFLAGS = -Isrc -isystem $(shell $(PG_CONFIG) --includedir-server) -isystem $(shell $(PG_CONFIG) --includedir)
# The warning policy is in sources.mk, shared with CMake.
PRESPLIT_WERROR ?= ON
ifeq ($(PRESPLIT_WERROR),ON)
PG_CXXFLAGS = -std=c++17 $(PRESPLIT_WARNINGS)
else
PG_CXXFLAGS = -std=c++17 $(filter-out -Werror,$(PRESPLIT_WARNINGS))
endif
# libpq: the connection to another server (src/remote/), as postgres_fdw links it.
# ICU: text keys under ICU collations take ICU sort keys.
SHLIB_LINK = -lstdc++ $(ICU_LIBS)
SHLIB_LINK_INTERNAL = $(libpq)

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

# The client, a program on libpq: PGXS builds one PROGRAM or modules, not
# both, so it has its own rules here; `make` builds it and `make install`
# puts it into $(bindir), beside psql.
PRESPLIT_CLIENT = src/client/pg_presplit
PRESPLIT_CLIENT_OBJS = $(patsubst %.cpp,%.o,$(PRESPLIT_CLIENT_CORE_SOURCES) $(PRESPLIT_CLIENT_SOURCES))
PRESPLIT_CLIENT_CXXFLAGS = -std=c++17 -O2 -g $(filter-out $(if $(filter ON,$(PRESPLIT_WERROR)),,-Werror),$(PRESPLIT_WARNINGS)) \
	-Isrc -I$(shell $(PG_CONFIG) --includedir) -DPRESPLIT_VERSION='"$(EXTVERSION)"' -MMD -MP
PRESPLIT_CLIENT_LIBS = -L$(shell $(PG_CONFIG) --libdir) -lpq
EXTRA_CLEAN += $(PRESPLIT_CLIENT) $(PRESPLIT_CLIENT_OBJS) $(PRESPLIT_CLIENT_OBJS:.o=.d)

ifneq ($(wildcard $(PGXS)),)
all: $(PRESPLIT_CLIENT)
install: install-client
uninstall: uninstall-client
endif

# More specific than PGXS's %.o: %.cpp, so make uses it for the client.
src/client/%.o: src/client/%.cpp
	$(CXX) $(PRESPLIT_CLIENT_CXXFLAGS) -c -o $@ $<

$(PRESPLIT_CLIENT): $(PRESPLIT_CLIENT_OBJS) src/core/text_array.o
	$(CXX) -o $@ $^ $(PRESPLIT_CLIENT_LIBS)

-include $(PRESPLIT_CLIENT_OBJS:.o=.d)

.PHONY: install-client uninstall-client
install-client: $(PRESPLIT_CLIENT)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(PRESPLIT_CLIENT) '$(DESTDIR)$(bindir)/pg_presplit'
uninstall-client:
	rm -f '$(DESTDIR)$(bindir)/pg_presplit'

.PHONY: test demo demo-predict demo-shard format
test:
	bash scripts/test.sh
demo:
	bash scripts/demo.sh
demo-predict:
	bash scripts/demo_predict.sh
demo-shard:
	bash scripts/demo_shard.sh
format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')
