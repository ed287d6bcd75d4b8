# cardcampaign: `make` builds the nginx module and the programs, `make test`
# runs every test (unit tests with Check, then the nginx suite with prove).
#
# The module is built against Debian's nginx-dev sources in
# /usr/share/nginx/src, configured out of tree into build/nginx, so nothing
# under /usr is written.  Everything else is compiled here, each source once
# per flavour into build/obj/<path>.o (with -MMD -MP: a header edit rebuilds
# only what includes it), the shared folders archived once into
# build/lib/libcc<name>.a, and each program linked from one line of the
# table below.  The ASan flavour is the same rules with BUILD=build/asan;
# the fuzz flavour is in fuzz/fuzz.mk, the valgrind run in t/valgrind.mk.

NGX_SRC     ?= /usr/share/nginx/src
BUILD       := build
NGX_BUILD   := $(BUILD)/nginx
MODULE_SO   := $(NGX_BUILD)/ngx_http_cc_module.so
OBJ         := $(BUILD)/obj

CC          ?= cc
AR          ?= ar
CFLAGS      ?= -O2 -g
# glibc's checked string functions, as Debian's build uses them (make deb):
# an snprintf bound past its buffer fails the build here too
CPPFLAGS    ?= -D_FORTIFY_SOURCE=2
LDFLAGS     ?=
SANITIZE    ?=
INCS        := -Icommon -Iworkers/lib -Iworkers/money -I$(BUILD)/gen \
               $(shell pkg-config --cflags libmariadb)
override CFLAGS += -Wall -Wextra -Werror -std=gnu99 -pthread $(SANITIZE)
NGX_CC_OPT  ?= -Wextra -Werror
NGX_LD_OPT  ?=

# $(call cc_objs,SOURCES): the object of each source in this flavour
cc_objs      = $(patsubst %.c,$(OBJ)/%.o,$(1))

# ---- the shared code, each folder one archive
#   common        plain C shared by the module and every program
#   workers/lib   the runtime every worker shares (logging, MySQL shards,
#                 Redis, metrics files, alerts, the log pass, award fields)
#   workers/money the books: the ledger, the wallet interface, its wallets
LIB_common  := $(BUILD)/lib/libcccommon.a
LIB_worker  := $(BUILD)/lib/libccworker.a
LIB_money   := $(BUILD)/lib/libccmoney.a
SRCS_common := $(wildcard common/*.c)
SRCS_worker := $(wildcard workers/lib/*.c)
SRCS_money  := $(wildcard workers/money/*.c)

$(LIB_common): $(call cc_objs,$(SRCS_common))
$(LIB_worker): $(call cc_objs,$(SRCS_worker))
$(LIB_money):  $(call cc_objs,$(SRCS_money))
$(BUILD)/lib/libcc%.a:
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# ---- the system libraries, by what they reach
SYS_BASE    := -lcjson -lcrypto -lm
SYS_MYSQL   := $(shell pkg-config --libs libmariadb)
SYS_REDIS   := -lhiredis
SYS_KAFKA   := -lrdkafka
SYS_CURL    := -lcurl
SYS_HTTPD   := -lmicrohttpd

# ---- the programs: one line each
# $(call cc_prog,NAME,BIN DIR,SOURCES,ARCHIVES,SYSTEM LIBRARIES) links
# $(BUILD)/BIN DIR/NAME from the sources' objects and the archives (named
# as in LIB_<name>, the library folders' order: money, worker, common).
define cc_prog
$(1)_OBJS := $$(call cc_objs,$$(wildcard $(3)))
$(1)_LIBS := $$(foreach a,$(4),$$(LIB_$$(a)))
$(BUILD)/$(2)/$(1): $$($(1)_OBJS) $$($(1)_LIBS)
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $$($(1)_LIBS) $(5)
PROG_SRCS += $$(wildcard $(3))
endef
cc_prog_line = $(eval $(call cc_prog,$(strip $(1)),$(strip $(2)),$(strip $(3)),$(strip $(4)),$(5)))

#   name            bin dir  sources                       archives             system libraries
$(call cc_prog_line,cc-ingest,    workers,workers/ingest/*.c,    worker common,       $(SYS_MYSQL) $(SYS_KAFKA) $(SYS_BASE))
$(call cc_prog_line,cc-reconcile, workers,workers/reconcile/*.c, money worker common, $(SYS_MYSQL) $(SYS_REDIS) $(SYS_CURL) $(SYS_BASE))
$(call cc_prog_line,cc-redrive,   workers,workers/redrive/*.c,   worker common,       $(SYS_MYSQL) $(SYS_REDIS) $(SYS_BASE))
$(call cc_prog_line,cc-draw,      workers,workers/draw/*.c,      money worker common, $(SYS_MYSQL) $(SYS_REDIS) $(SYS_CURL) $(SYS_BASE))
$(call cc_prog_line,cc-payout,    workers,workers/payout/*.c,    money worker common, $(SYS_MYSQL) $(SYS_REDIS) $(SYS_CURL) $(SYS_BASE))
$(call cc_prog_line,cc-estimate,  workers,tools/estimate/*.c,    worker common,       $(SYS_BASE))
$(call cc_prog_line,cc-token,     workers,tools/token/*.c,       worker common,       $(SYS_BASE))
$(call cc_prog_line,cc-load,      tools,  tools/load/*.c,        common,              $(SYS_BASE))
$(call cc_prog_line,cc-mockbroker,workers,sim/cc_mockbroker.c,   worker common,       $(SYS_KAFKA) $(SYS_BASE))
$(call cc_prog_line,cc-produce,   workers,sim/cc_produce.c,      worker common,       $(SYS_KAFKA) $(SYS_BASE))
$(call cc_prog_line,cc-wallet-sim,workers,sim/cc_wallet_sim*.c,  money worker common, $(SYS_HTTPD) $(SYS_BASE))
$(call cc_prog_line,cc-ledger-cli,test,   t/tools/cc_ledger_cli.c, money worker common, $(SYS_MYSQL) $(SYS_BASE))
$(call cc_prog_line,cc-kafka-dump,test,   t/tools/cc_kafka_dump.c, common,            $(SYS_KAFKA) $(SYS_BASE))

# the binaries keep their place: build/workers/ (what systemd units, the
# scripts and the tests run), build/tools/cc-load, build/test/ (the tests')
WORKERS     := cc-mockbroker cc-ingest cc-produce cc-reconcile cc-redrive cc-estimate \
               cc-token cc-payout cc-draw cc-wallet-sim
WORKER_BINS := $(addprefix $(BUILD)/workers/,$(WORKERS))
TOOL_BINS   := $(BUILD)/tools/cc-load
TEST_TOOLS  := $(BUILD)/test/cc-ledger-cli $(BUILD)/test/cc-kafka-dump

# ---- generated headers: the Lua scripts and the SQL schemas as C strings
LUA_SRCS    := $(wildcard ngx_module/lua/*.lua)
LUA_HDR     := $(BUILD)/gen/ngx_http_cc_lua.h
GEN_HDRS    := $(BUILD)/gen/cc_shard_sql.h $(BUILD)/gen/cc_money_sql.h \
               $(BUILD)/gen/cc_shard_grants_sql.h $(BUILD)/gen/cc_gift_lua.h \
               $(patsubst workers/lib/lua/%.lua,$(BUILD)/gen/cc_%_lua.h,\
                   $(wildcard workers/lib/lua/*.lua))

# $(call cc_embed,NAME,FILE): FILE as the C string NAME, on stdout
cc_embed = awk 'BEGIN { print "static const char $(1)[] =" } \
                { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); \
                  printf "    \"%s\\n\"\n", $$0 } \
                END { print "    ;" }' $(2)

# sql/<name>.sql as cc_<name>_sql, so a schema has one source
$(BUILD)/gen/cc_%_sql.h: sql/%.sql
	@mkdir -p $(BUILD)/gen
	{ echo '/* generated from $<: do not edit */'; \
	  $(call cc_embed,cc_$*_sql,$<); } > $@

# workers/lib/lua/<name>.lua (a worker's Redis scripts) as cc_<name>_lua
$(BUILD)/gen/cc_%_lua.h: workers/lib/lua/%.lua
	@mkdir -p $(BUILD)/gen
	{ echo '/* generated from $<: do not edit */'; \
	  $(call cc_embed,cc_$*_lua,$<); } > $@

# the gift's receiver's half and done, the module's scripts that cc-redrive
# runs too (one text, two users): cc_gift_in_lua, cc_gift_done_lua
$(BUILD)/gen/cc_gift_lua.h: ngx_module/lua/gift_in.lua ngx_module/lua/gift_done.lua
	@mkdir -p $(BUILD)/gen
	{ echo '/* generated from ngx_module/lua/gift_*.lua: do not edit */'; \
	  $(call cc_embed,cc_gift_in_lua,ngx_module/lua/gift_in.lua); \
	  $(call cc_embed,cc_gift_done_lua,ngx_module/lua/gift_done.lua); } > $@

# the module's Lua scripts, ngx_module/lua/NAME.lua as ngx_http_cc_lua_NAME
# (written whole, then renamed: nginx's build sees a complete header)
$(LUA_HDR): $(LUA_SRCS)
	@mkdir -p $(BUILD)/gen
	{ echo '/* generated from ngx_module/lua/NAME.lua: do not edit */'; \
	  $(foreach f,$(LUA_SRCS),\
	    $(call cc_embed,ngx_http_cc_lua_$(basename $(notdir $(f))),$(f));) \
	} > $@.tmp
	mv $@.tmp $@

.SECONDARY:

# ---- objects: each source once; the generated headers exist before any
# compile (order only: after the first build the .d files name them)
$(OBJ)/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(INCS) -MMD -MP -c -o $@ $<

# ---- the unit tests (Check): build/unit/test_<name> from
# t/unit/test_<name>.c, linked with the archives (only the objects a test
# uses are taken from them)
UNIT_SRCS   := $(wildcard t/unit/test_*.c)
UNIT_TESTS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
CHECK_LIBS  := $(shell pkg-config --libs check 2>/dev/null)
UNIT_ARCH   := $(LIB_money) $(LIB_worker) $(LIB_common)
$(OBJ)/t/unit/%.o: INCS += -Iworkers/reconcile
# a program's own file under test: its object too
$(BUILD)/unit/test_stmt_line: \
    $(OBJ)/workers/reconcile/cc_stmt_line.o
$(BUILD)/unit/test_cardcheck: \
    $(OBJ)/workers/reconcile/cc_cardcheck_rules.o
$(BUILD)/unit/%: $(OBJ)/t/unit/%.o $(UNIT_ARCH)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(UNIT_ARCH) $(CHECK_LIBS) $(SYS_MYSQL) \
	    $(SYS_REDIS) $(SYS_CURL) $(SYS_BASE)

-include $(patsubst %.c,$(OBJ)/%.d,$(SRCS_common) $(SRCS_worker) \
            $(SRCS_money) $(PROG_SRCS) $(UNIT_SRCS))

# ---- the module
MODULE_SRCS := $(wildcard ngx_module/*.c ngx_module/*.h common/*.c \
                 common/*.h) config $(LUA_HDR)

.PHONY: all module workers tools unit lua test-tools test test-unit test-lua \
        test-rules test-nginx test-asan asan clean campaign

all: module workers tools unit test-tools

module: $(MODULE_SO)
workers: $(WORKER_BINS)
tools: $(TOOL_BINS)
test-tools: $(TEST_TOOLS)
unit: $(UNIT_TESTS)
lua: $(LUA_HDR)

# (nginx's configure would take $CFLAGS from the environment in place of
# its own flags: the module's come in NGX_CC_OPT and NGX_LD_OPT only)
$(NGX_BUILD)/Makefile: config | $(LUA_HDR)
	@mkdir -p $(NGX_BUILD)
	cd $(NGX_SRC) && env -u CFLAGS -u CPPFLAGS -u LDFLAGS CC_GEN_DIR=$(CURDIR)/$(BUILD)/gen ./configure --with-compat \
	    --with-cc-opt='$(NGX_CC_OPT)' --with-ld-opt='$(NGX_LD_OPT)' \
	    --add-dynamic-module=$(CURDIR) --builddir=$(CURDIR)/$(NGX_BUILD) \
	    > $(CURDIR)/$(NGX_BUILD)/configure.log 2>&1 \
	    || { tail -20 $(CURDIR)/$(NGX_BUILD)/configure.log; exit 1; }

$(MODULE_SO): $(NGX_BUILD)/Makefile $(MODULE_SRCS)
	$(MAKE) -f $(CURDIR)/$(NGX_BUILD)/Makefile -C $(NGX_SRC) modules

# ---- the tests
PROVE_FILES ?= t/*.t

test: all test-lua test-rules test-unit fuzz-regress test-nginx

# every script parses as Lua 5.1 (Redis's Lua)
test-lua:
	luac5.1 -p $(LUA_SRCS) $(wildcard workers/lib/lua/*.lua scripts/lua/*.lua bench/lua/*.lua t/lua/*.lua)

# the Prometheus rules parse, and each alert fires and stays quiet in its
# unit tests (the series are made up: a second or two); t/080-watching.t
# checks the metrics they read against what the module and workers write
test-rules:
	promtool check rules contrib/prometheus/cardcampaign.rules.yml
	promtool test rules contrib/prometheus/tests/*.yml

test-unit: unit
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

# The suite in one run of prove, two files at a time (PROVE_JOBS: each
# file starts its own servers on free ports under its own folder, and most
# of a file's time is spent waiting on them), with one rule: the files
# whose assertions are about time (latencies, poll counts, failover gaps,
# kill points inside a phase, the chaos run's windows), SERIAL_FILES, run
# one at a time, each beside at most one file that asserts no time, never
# beside another timing file.  prove's --rules: a seq group of them, in
# parallel with every other file (TAP::Parser::Scheduler), each other file
# a seq group of its own: the scheduler serves a group before a bare file,
# so the timing files would otherwise wait for all the rest.  Before, they
# ran alone after the others, and the suite took their sum on top:
# PROVE_SCHEDULE=after does that still.  $(call cc_prove,FILES,PROVE
# COMMAND) runs FILES.
PROVE_JOBS     ?= 2
PROVE_SCHEDULE ?= beside
SERIAL_FILES   ?= t/024-latency.t t/032-claim-wait.t t/033-claim-waiters.t \
                  t/044-draw-kill.t t/046-payout-claims.t t/055-chaos.t \
                  t/060-hostile.t t/085-sentinel-failover.t \
                  t/086-redis-wait.t t/087-failover-wait.t \
                  t/056-failover-bench.t t/088-sentinel-discovery.t \
                  t/084-wallet-batch-age.t t/106-gift-done-detached.t
cc_comma     := ,
cc_empty     :=
cc_space     := $(cc_empty) $(cc_empty)
cc_prove_par = $(filter-out $(SERIAL_FILES),$(wildcard $(1)))
cc_prove_seq = $(filter $(SERIAL_FILES),$(wildcard $(1)))
cc_prove_after = set -e; \
               $(if $(call cc_prove_par,$(1)),$(2) -j$(PROVE_JOBS) $(call cc_prove_par,$(1));) \
               $(if $(call cc_prove_seq,$(1)),$(2) $(call cc_prove_seq,$(1));) true
cc_prove_beside = $(2) -j$(PROVE_JOBS) \
               $(if $(call cc_prove_seq,$(1)),--rules='seq={$(subst $(cc_space),$(cc_comma),$(strip $(call cc_prove_seq,$(1))))}') \
               $(foreach f,$(call cc_prove_par,$(1)),--rules='seq=$(f)') \
               $(call cc_prove_seq,$(1)) $(call cc_prove_par,$(1))
cc_prove     = $(if $(filter after,$(PROVE_SCHEDULE)),$(call cc_prove_after,$(1),$(2)),$(call cc_prove_beside,$(1),$(2)))

test-nginx: module workers tools test-tools
	$(call cc_prove,$(PROVE_FILES),prove)

# The module and the programs built with ASan and UBSan into build/asan (a
# build tree of its own: build/asan/nginx, build/asan/obj,
# build/asan/workers); the module is loaded by the stock nginx with libasan
# preloaded (t/tools/asan-nginx), the tests spawn the workers from
# build/asan/workers.  A report stops the process (no recovery) and the
# harness fails the test file on any report in nginx's logs or a worker's
# stderr.  ASAN_PROVE_FILES picks the files.  t/042's SIGKILL rounds:
# ASAN_KILL_ROUNDS here, not the plain pass's 20, and t/073's
# ASAN_WALLET_KILL_ROUNDS, not its 5 (the pass looks for memory errors on
# the kill and restart paths, which a few rounds reach; each round takes
# seconds under ASan: t/073's 12 s).
ASAN_BUILD       := $(BUILD)/asan
ASAN_FLAGS       := -fsanitize=address,undefined -fno-sanitize-recover=all \
                    -fno-omit-frame-pointer
# All but two timing files, to keep .ci/run near 15 minutes: t/046 (a
# claim's latency against a bulk batch; the claim and payout paths run
# under ASan in t/041, t/047 and t/031-033) and t/086 (WAIT with a replica
# stopped; the WAIT, shortfall and failover paths run under ASan in t/085
# and t/087), and t/091 (42,000 details through cc-wallet-sim's slices:
# CPU, not paths; every batch of t/076, t/078 and t/089 goes through the
# same slices under ASan).
ASAN_PROVE_FILES ?= $(filter-out t/046-payout-claims.t t/086-redis-wait.t t/091-wallet-sim-slices.t,$(wildcard $(PROVE_FILES)))
ASAN_KILL_ROUNDS ?= 6
ASAN_WALLET_KILL_ROUNDS ?= 2
asan:
	$(MAKE) BUILD=$(ASAN_BUILD) SANITIZE='$(ASAN_FLAGS)' CPPFLAGS= \
	    NGX_CC_OPT='-Wextra -Werror $(ASAN_FLAGS)' \
	    NGX_LD_OPT='-fsanitize=address,undefined' \
	    module workers tools test-tools

test-asan: asan
	export CC_MODULE_SO=$(CURDIR)/$(ASAN_BUILD)/nginx/ngx_http_cc_module.so \
	CC_WORKER_DIR=$(CURDIR)/$(ASAN_BUILD)/workers \
	CC_TEST_TOOL_DIR=$(CURDIR)/$(ASAN_BUILD)/test \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	CC_TEST_KILL_ROUNDS=$${CC_TEST_KILL_ROUNDS:-$(ASAN_KILL_ROUNDS)} \
	CC_TEST_WALLET_KILL_ROUNDS=$${CC_TEST_WALLET_KILL_ROUNDS:-$(ASAN_WALLET_KILL_ROUNDS)} \
	TEST_NGINX_BINARY=$(CURDIR)/t/tools/asan-nginx; \
	$(call cc_prove,$(ASAN_PROVE_FILES),prove)

include fuzz/fuzz.mk
include t/valgrind.mk

campaign: all
	./scripts/campaign.sh

clean:
	rm -rf $(BUILD)

# ---- the Debian packages (debian/, README "Install from packages"):
# dpkg-buildpackage runs in a copy of the tree, build/deb/src/cardcampaign,
# so that its own files (debian/files, debian/<package>/, the stamps) and
# the .debs it writes beside the tree stay under build/; the .debs, the
# .buildinfo and the .changes end up in build/deb/.  The copy is the
# files git knows (tracked or not ignored), or the tree without build/.
DEB_TREE := $(BUILD)/deb/src/cardcampaign
DEB_JOBS ?= 2

.PHONY: deb deb-lint
deb:
	rm -rf $(BUILD)/deb
	mkdir -p $(DEB_TREE)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	    git ls-files -z -c -o --exclude-standard \
	    | tar --null --ignore-failed-read -T - -cf - 2>/dev/null; \
	else tar --exclude=./$(BUILD) -cf - .; fi | tar -C $(DEB_TREE) -xf -
	cd $(DEB_TREE) && dpkg-buildpackage -us -uc -b -J$(DEB_JOBS)
	mv $(BUILD)/deb/src/*.deb $(BUILD)/deb/src/*.buildinfo $(BUILD)/deb/src/*.changes $(BUILD)/deb/
	rm -rf $(BUILD)/deb/src
	@ls -l $(BUILD)/deb

# lintian over the built packages: an error fails (warnings are listed;
# the ones we keep are in debian/*.lintian-overrides with their reason)
deb-lint:
	lintian --fail-on error --display-info $(BUILD)/deb/*.changes
