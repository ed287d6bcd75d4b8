# cardcampaign: `make` builds the nginx module and the tools, `make test`
# runs every test (unit tests with Check, then the nginx suite with prove).
#
# The module is built against Debian's nginx-dev sources in
# /usr/share/nginx/src, configured out of tree into build/nginx, so nothing
# under /usr is written.

NGX_SRC     ?= /usr/share/nginx/src
BUILD       := build
NGX_BUILD   := $(BUILD)/nginx
MODULE_SO   := $(NGX_BUILD)/ngx_http_cc_module.so

CC          ?= cc
CFLAGS      ?= -O2 -g
CFLAGS      += -Wall -Wextra -Werror -std=gnu99 -Icommon $(SANITIZE)
SANITIZE    ?=
NGX_CC_OPT  ?= -Wextra -Werror
NGX_LD_OPT  ?=

COMMON_SRCS := common/cc_ids.c common/cc_ring.c common/cc_cards.c \
               common/cc_campaign.c common/cc_split.c \
               common/cc_event.c common/cc_json.c common/cc_token.c \
               common/cc_log.c common/cc_addr.c common/cc_award.c
COMMON_HDRS := $(wildcard common/*.h)
LUA_SRCS    := $(wildcard ngx_module/lua/*.lua)
LUA_HDR     := $(BUILD)/gen/ngx_http_cc_lua.h
MODULE_SRCS := $(wildcard ngx_module/*.c ngx_module/*.h) $(COMMON_SRCS) \
               $(COMMON_HDRS) config $(LUA_HDR)

# worker binaries: build/workers/cc-<name> from workers/cc_<name>.c plus the
# shared worker files listed in WORKER_LIB
WORKERS     := cc-mockbroker cc-ingest cc-produce cc-reconcile cc-estimate \
               cc-token cc-payout cc-draw cc-wallet-sim
WORKER_BINS := $(addprefix $(BUILD)/workers/,$(WORKERS))
WORKER_LIB  := workers/cc_worker.c workers/cc_store.c workers/cc_drain.c \
               workers/cc_ledger.c workers/cc_promfile.c workers/cc_redis.c \
               workers/cc_alert.c workers/cc_sqlbuf.c
WORKER_LIBS := -lrdkafka -lhiredis -lcjson -lcrypto -lm \
               $(shell pkg-config --libs libmariadb)
WORKER_INCS := -Iworkers -I$(BUILD)/gen $(shell pkg-config --cflags libmariadb)
GEN_HDRS    := $(BUILD)/gen/cc_shard_sql.h $(BUILD)/gen/cc_money_sql.h \
               $(patsubst workers/lua/%.lua,$(BUILD)/gen/cc_%_lua.h,\
                   $(wildcard workers/lua/*.lua))

# programs only the tests run (build/test/<name> from t/tools/<name>.c)
TEST_TOOLS  := $(BUILD)/test/cc-ledger-cli

# tools: build/tools/cc-<name> from tools/cc_<name>.c (the load client)
TOOLS       := cc-load
TOOL_BINS   := $(addprefix $(BUILD)/tools/,$(TOOLS))

UNIT_TESTS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))
CHECK_LIBS  := $(shell pkg-config --libs check 2>/dev/null)

PROVE_FILES ?= t/*.t

.PHONY: all module workers tools unit lua test-tools test test-unit test-lua \
        test-nginx test-valgrind test-asan asan clean campaign fuzz \
        fuzz-build fuzz-regress

all: module workers tools unit test-tools

test-tools: $(TEST_TOOLS)

$(BUILD)/test/cc-ledger-cli: t/tools/cc_ledger_cli.c $(WORKER_LIB) \
                             $(COMMON_SRCS) $(COMMON_HDRS) \
                             $(wildcard workers/*.h) $(GEN_HDRS)
	@mkdir -p $(BUILD)/test
	$(CC) $(CFLAGS) $(WORKER_INCS) -o $@ $< $(WORKER_LIB) $(COMMON_SRCS) \
	    $(WORKER_LIBS)

workers: $(WORKER_BINS)

$(BUILD)/workers/cc-%: workers/cc_%.c $(WORKER_LIB) $(COMMON_SRCS) \
                       $(COMMON_HDRS) $(wildcard workers/*.h) $(GEN_HDRS)
	@mkdir -p $(BUILD)/workers
	$(CC) $(CFLAGS) $(WORKER_INCS) -o $@ $(filter %.c,$^) $(WORKER_LIBS)

tools: $(TOOL_BINS)

$(BUILD)/tools/cc-%: tools/cc_%.c $(COMMON_SRCS) $(COMMON_HDRS) \
                     $(wildcard tools/*.h)
	@mkdir -p $(BUILD)/tools
	$(CC) $(CFLAGS) -Itools -o $@ $(filter %.c,$^) -lcjson -lcrypto -lm

# cc-load's further sources: the HTTP client, the sessions, the stats, the
# latency histogram (cc_load.c has main and the options)
$(BUILD)/tools/cc-load: tools/cc_load_http.c tools/cc_load_session.c \
                        tools/cc_load_stats.c tools/cc_load_hist.c

# $(call cc_embed,NAME,FILE): FILE as the C string NAME, on stdout
cc_embed = awk 'BEGIN { print "static const char $(1)[] =" } \
                { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); \
                  printf "    \"%s\\n\"\n", $$0 } \
                END { print "    ;" }' $(2)

# the module's Lua scripts, ngx_module/lua/NAME.lua as ngx_http_cc_lua_NAME
# (written whole, then renamed: nginx's build sees a complete header)
lua: $(LUA_HDR)

$(LUA_HDR): $(LUA_SRCS)
	@mkdir -p $(BUILD)/gen
	{ echo '/* generated from ngx_module/lua/NAME.lua: do not edit */'; \
	  $(foreach f,$(LUA_SRCS),\
	    $(call cc_embed,ngx_http_cc_lua_$(basename $(notdir $(f))),$(f));) \
	} > $@.tmp
	mv $@.tmp $@

# cc-draw draws each shard in a thread of its own
$(BUILD)/workers/cc-draw: WORKER_LIBS += -pthread
$(BUILD)/workers/cc-payout: WORKER_LIBS += -pthread

# the one caller of workers/lua/award_set.lua, for both
$(BUILD)/workers/cc-draw $(BUILD)/workers/cc-payout: workers/cc_award_set.c
# cc-draw's further files: a shard's thread, the Redis pipelines
$(BUILD)/workers/cc-draw: workers/cc_draw_shard.c workers/cc_draw_redis.c

# the simulated external wallet (libmicrohttpd), for tests and the bench
$(BUILD)/workers/cc-wallet-sim: workers/cc_wallet_sim.c \
                                workers/cc_wallet_sign.c workers/cc_worker.c \
                                $(COMMON_SRCS) $(COMMON_HDRS) \
                                $(wildcard workers/*.h)
	@mkdir -p $(BUILD)/workers
	$(CC) $(CFLAGS) $(WORKER_INCS) -o $@ $(filter %.c,$^) -lmicrohttpd \
	    -lcjson -lcrypto -pthread

# wallet http: the adapter (libcurl) in cc-payout and cc-reconcile
WALLET_SRCS := workers/cc_wallet.c workers/cc_wallet_ledger.c \
               workers/cc_wallet_sign.c workers/cc_wallet_answer.c
$(BUILD)/workers/cc-payout $(BUILD)/workers/cc-reconcile: $(WALLET_SRCS)
$(BUILD)/workers/cc-payout $(BUILD)/workers/cc-reconcile: \
    WORKER_LIBS += -lcurl

# a worker's own further sources: the money checks of cc-reconcile
# (cc_reconcile_money*.c, one part a file) and the wallet's statement
$(BUILD)/workers/cc-reconcile: workers/cc_reconcile_money.c \
                              workers/cc_reconcile_money_mysql.c \
                              workers/cc_reconcile_money_awards.c \
                              workers/cc_reconcile_money_ledger.c \
                              workers/cc_reconcile_money_redis.c \
                              workers/cc_reconcile_money_repair.c \
                              workers/cc_reconcile_money_report.c \
                              workers/cc_reconcile_statement.c \
                              workers/cc_reconcile_statement_line.c

# sql/<name>.sql as cc_<name>_sql, so a schema has one source
$(BUILD)/gen/cc_%_sql.h: sql/%.sql
	@mkdir -p $(BUILD)/gen
	{ echo '/* generated from $<: do not edit */'; \
	  $(call cc_embed,cc_$*_sql,$<); } > $@

# workers/lua/<name>.lua (a worker's Redis scripts) as cc_<name>_lua
$(BUILD)/gen/cc_%_lua.h: workers/lua/%.lua
	@mkdir -p $(BUILD)/gen
	{ echo '/* generated from $<: do not edit */'; \
	  $(call cc_embed,cc_$*_lua,$<); } > $@

module: $(MODULE_SO)

$(NGX_BUILD)/Makefile: config | $(LUA_HDR)
	@mkdir -p $(NGX_BUILD)
	cd $(NGX_SRC) && CC_GEN_DIR=$(CURDIR)/$(BUILD)/gen ./configure --with-compat \
	    --with-cc-opt='$(NGX_CC_OPT)' --with-ld-opt='$(NGX_LD_OPT)' \
	    --add-dynamic-module=$(CURDIR) --builddir=$(CURDIR)/$(NGX_BUILD) \
	    > $(CURDIR)/$(NGX_BUILD)/configure.log 2>&1 \
	    || { tail -20 $(CURDIR)/$(NGX_BUILD)/configure.log; exit 1; }

$(MODULE_SO): $(NGX_BUILD)/Makefile $(MODULE_SRCS)
	$(MAKE) -f $(CURDIR)/$(NGX_BUILD)/Makefile -C $(NGX_SRC) modules

unit: $(UNIT_TESTS)

# the workers' unit tests link the worker library too
WORKER_UNIT := $(BUILD)/unit/test_store $(BUILD)/unit/test_worker \
               $(BUILD)/unit/test_promfile
$(WORKER_UNIT): $(BUILD)/unit/%: t/unit/%.c $(WORKER_LIB) $(COMMON_SRCS) \
                $(COMMON_HDRS) $(wildcard workers/*.h) $(GEN_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(WORKER_INCS) -o $@ $< $(WORKER_LIB) $(COMMON_SRCS) \
	    $(CHECK_LIBS) $(WORKER_LIBS)

# the workers' pure parsers (no MySQL, Redis or libcurl): their tests link
# the one file, t/unit/test_<name>.c against workers/cc_<name>.c
PURE_UNIT := $(BUILD)/unit/test_wallet_answer \
             $(BUILD)/unit/test_reconcile_statement_line
$(PURE_UNIT): $(BUILD)/unit/test_%: t/unit/test_%.c workers/cc_%.c \
              workers/cc_%.h $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) -Iworkers -o $@ $< workers/cc_$*.c $(COMMON_SRCS) \
	    $(CHECK_LIBS) -lcjson -lcrypto

$(BUILD)/unit/%: t/unit/%.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) -o $@ $< $(COMMON_SRCS) $(CHECK_LIBS) -lcjson -lcrypto

test: all test-lua test-unit fuzz-regress test-nginx

# every script parses as Lua 5.1 (Redis's Lua)
test-lua:
	luac5.1 -p $(LUA_SRCS) $(wildcard workers/lua/*.lua scripts/lua/*.lua bench/lua/*.lua t/lua/*.lua)

test-unit: unit
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

test-nginx: module workers tools test-tools
	prove -r $(PROVE_FILES)

# The nginx suite with every nginx process under valgrind (slow: minutes),
# and every worker the tests spawn too: build/valgrind/workers/cc-NAME
# (and build/valgrind/test/cc-NAME, the test tools) links to
# t/tools/valgrind-worker, which runs build/workers/cc-NAME under
# valgrind.  Any error or leak but "still reachable" fails the run.  The
# tests need the tools and test tools too (t/040, t/050).
# VALGRIND_PROVE_FILES picks the test files: all but the two whose point
# is timing, which valgrind (20-50x slower) takes away.  t/044 asserts its
# seeded kills fell inside the draw's writes: under valgrind they all fall
# before them.  t/055, the chaos run, holds fault windows and status rules
# to seconds, and stops nginx by signals mid-start, where stock nginx's
# own cycle pools show as "possibly lost" (no module frame).  Both run
# under ASan and UBSan in make test-asan; cc-draw's leaks are checked here
# by t/043, the workers' kills by t/012 and t/042.
VALGRIND_PROVE_FILES ?= $(filter-out t/044-draw-kill.t t/055-chaos.t,$(wildcard $(PROVE_FILES)))
test-valgrind: module workers tools test-tools
	rm -rf $(BUILD)/valgrind
	mkdir -p $(BUILD)/valgrind/workers $(BUILD)/valgrind/test
	for w in $(WORKERS); do \
	    ln -s $(CURDIR)/t/tools/valgrind-worker $(BUILD)/valgrind/workers/$$w; \
	done
	for t in $(notdir $(TEST_TOOLS)); do \
	    ln -s $(CURDIR)/t/tools/valgrind-worker $(BUILD)/valgrind/test/$$t; \
	done
	VALGRIND_LOGS=$(CURDIR)/$(BUILD)/valgrind \
	CC_WORKER_DIR=$(CURDIR)/$(BUILD)/valgrind/workers \
	CC_REAL_WORKER_DIR=$(CURDIR)/$(BUILD)/workers \
	CC_TEST_TOOL_DIR=$(CURDIR)/$(BUILD)/valgrind/test \
	CC_REAL_TEST_TOOL_DIR=$(CURDIR)/$(BUILD)/test \
	TEST_NGINX_BINARY=$(CURDIR)/t/tools/valgrind-nginx \
	prove $(VALGRIND_PROVE_FILES)
	t/tools/valgrind-report $(BUILD)/valgrind

# The module and the workers built with ASan and UBSan into build/asan (a
# build tree of its own: build/asan/nginx, build/asan/workers); the module
# is loaded by the stock nginx with libasan preloaded (t/tools/asan-nginx),
# the tests spawn the workers from build/asan/workers.  A report stops the
# process (no recovery) and the harness fails the test file on any report
# in nginx's logs or a worker's stderr.  ASAN_PROVE_FILES picks the files.
# t/042's SIGKILL rounds: ASAN_KILL_ROUNDS here, not the plain pass's 20
# (the pass looks for memory errors on the kill and restart paths, which a
# few rounds reach; each round takes seconds under ASan).
ASAN_BUILD       := $(BUILD)/asan
ASAN_FLAGS       := -fsanitize=address,undefined -fno-sanitize-recover=all \
                    -fno-omit-frame-pointer
ASAN_PROVE_FILES ?= $(PROVE_FILES)
ASAN_KILL_ROUNDS ?= 6
asan:
	$(MAKE) BUILD=$(ASAN_BUILD) SANITIZE='$(ASAN_FLAGS)' \
	    NGX_CC_OPT='-Wextra -Werror $(ASAN_FLAGS)' \
	    NGX_LD_OPT='-fsanitize=address,undefined' \
	    module workers tools test-tools

# ---- fuzzing: fuzz/fuzz_<name>.c, a libFuzzer target over one parser of
# common/ (or of a worker's pure file in FUZZ_WORKER_SRCS) that checks the
# parser's contract (see fuzz/fuzz.h).
#
#   make fuzz            build, then fuzz each target FUZZ_SECONDS from its
#                        seeds (fuzz/corpus/<name>) and regressions
#                        (fuzz/regressions/<name>); the corpus it grows and
#                        any crash stay in build/fuzz/
#   make fuzz-regress    replay the seeds and regressions once, without
#                        libFuzzer (fuzz/replay.c), under ASan and UBSan: a
#                        few seconds, part of make test
#
# A crash found goes into fuzz/regressions/<name>/ (and a Check test).

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 180
FUZZ_BUILD    := $(BUILD)/fuzz
FUZZ_TARGETS  := ids token event log addr campaign award split \
                 wallet statement secret streamid
# the workers' parsers of outside input, each a file with no MySQL, Redis
# or libcurl in it: the wallet's answer, a statement line
FUZZ_WORKER_SRCS := workers/cc_wallet_answer.c \
                    workers/cc_reconcile_statement_line.c
FUZZ_SRCS     := $(wildcard common/*.c) $(FUZZ_WORKER_SRCS)
FUZZ_HDRS     := $(COMMON_HDRS) $(FUZZ_WORKER_SRCS:.c=.h)
FUZZ_CFLAGS   := -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
                 -std=gnu99 -Icommon -Iworkers -Ifuzz
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_LIBS     := -lcjson -lcrypto

# the longest input of each target: a little past what the parser accepts
FUZZ_MAXLEN_ids      := 48
FUZZ_MAXLEN_token    := 320
FUZZ_MAXLEN_event    := 600
FUZZ_MAXLEN_log      := 4096
FUZZ_MAXLEN_addr     := 300
FUZZ_MAXLEN_campaign := 4096
FUZZ_MAXLEN_award    := 100
FUZZ_MAXLEN_split    := 512
FUZZ_MAXLEN_wallet   := 600
FUZZ_MAXLEN_statement := 200
FUZZ_MAXLEN_secret   := 1100
FUZZ_MAXLEN_streamid := 64

fuzz-build: $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< \
	    $(FUZZ_SRCS) $(FUZZ_LIBS)

$(FUZZ_BUILD)/replay_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h \
                        $(FUZZ_SRCS) $(FUZZ_HDRS)
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -o $@ $< fuzz/replay.c \
	    $(FUZZ_SRCS) $(FUZZ_LIBS)

fuzz: $(addprefix fuzz-run-,$(FUZZ_TARGETS))

# The grown corpus first: libFuzzer writes new inputs into the first
# folder.  A smaller ASan quarantine than the 256 MB default: the machine
# is shared and the targets free little.
fuzz-run-%: $(FUZZ_BUILD)/fuzz_%
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/crashes/$*
	@echo "== fuzz_$* for $(FUZZ_SECONDS) s (log: $(FUZZ_BUILD)/$*.log)"
	@ASAN_OPTIONS=$${ASAN_OPTIONS:-quarantine_size_mb=32} \
	$< -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAXLEN_$*) \
	    -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/crashes/$*/ \
	    $(FUZZ_BUILD)/corpus/$* fuzz/corpus/$* \
	    $(wildcard fuzz/regressions/$*) > $(FUZZ_BUILD)/$*.log 2>&1 \
	    || { tail -40 $(FUZZ_BUILD)/$*.log; \
	         echo "fuzz_$*: crash kept in $(FUZZ_BUILD)/crashes/$*/"; \
	         exit 1; }
	@grep -E '^#[0-9]+[[:space:]]+DONE|^Done' $(FUZZ_BUILD)/$*.log

fuzz-regress: $(patsubst %,$(FUZZ_BUILD)/replay_%,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
	    $(FUZZ_BUILD)/replay_$$t fuzz/corpus/$$t fuzz/regressions/$$t; \
	done

test-asan: asan
	CC_MODULE_SO=$(CURDIR)/$(ASAN_BUILD)/nginx/ngx_http_cc_module.so \
	CC_WORKER_DIR=$(CURDIR)/$(ASAN_BUILD)/workers \
	CC_TEST_TOOL_DIR=$(CURDIR)/$(ASAN_BUILD)/test \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	CC_TEST_KILL_ROUNDS=$${CC_TEST_KILL_ROUNDS:-$(ASAN_KILL_ROUNDS)} \
	TEST_NGINX_BINARY=$(CURDIR)/t/tools/asan-nginx prove $(ASAN_PROVE_FILES)

campaign: all
	./scripts/campaign.sh

clean:
	rm -rf $(BUILD)
