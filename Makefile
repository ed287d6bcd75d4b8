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
CFLAGS      += -Wall -Wextra -Werror -std=gnu99 -Icommon
NGX_CC_OPT  ?= -Wextra -Werror
NGX_LD_OPT  ?=

COMMON_SRCS := common/cc_ids.c common/cc_ring.c common/cc_cards.c \
               common/cc_campaign.c common/cc_split.c \
               common/cc_event.c common/cc_token.c common/cc_log.c \
               common/cc_addr.c
COMMON_HDRS := $(wildcard common/*.h)
LUA_SRCS    := $(wildcard ngx_module/lua/*.lua)
LUA_HDR     := $(BUILD)/gen/ngx_http_cc_lua.h
MODULE_SRCS := $(wildcard ngx_module/*.c ngx_module/*.h) $(COMMON_SRCS) \
               $(COMMON_HDRS) config $(LUA_HDR)

# worker binaries: build/workers/cc-<name> from workers/cc_<name>.c plus the
# shared worker files listed in WORKER_LIB
WORKERS     := cc-mockbroker cc-ingest cc-produce cc-reconcile cc-estimate \
               cc-token cc-payout cc-draw
WORKER_BINS := $(addprefix $(BUILD)/workers/,$(WORKERS))
WORKER_LIB  := workers/cc_worker.c workers/cc_store.c workers/cc_drain.c \
               workers/cc_ledger.c workers/cc_promfile.c
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
        test-nginx test-valgrind test-asan clean demo

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

$(BUILD)/tools/cc-%: tools/cc_%.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(BUILD)/tools
	$(CC) $(CFLAGS) -o $@ $< $(COMMON_SRCS) -lcjson -lcrypto -lm

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

# a worker's own further sources: the money checks of cc-reconcile
$(BUILD)/workers/cc-reconcile: workers/cc_reconcile_money.c

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

$(BUILD)/unit/%: t/unit/%.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) -o $@ $< $(COMMON_SRCS) $(CHECK_LIBS) -lcjson -lcrypto

test: all test-lua test-unit test-nginx

# every script parses as Lua 5.1 (Redis's Lua)
test-lua:
	luac5.1 -p $(LUA_SRCS) $(wildcard workers/lua/*.lua)

test-unit: unit
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

test-nginx: module workers tools test-tools
	prove -r $(PROVE_FILES)

# The nginx suite with every nginx process under valgrind (slow: minutes).
test-valgrind: module
	rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	VALGRIND_LOGS=$(CURDIR)/$(BUILD)/valgrind \
	TEST_NGINX_BINARY=$(CURDIR)/t/tools/valgrind-nginx prove $(PROVE_FILES)
	t/tools/valgrind-report $(BUILD)/valgrind

# The module built with ASan and UBSan into build/asan, loaded by the stock
# nginx with libasan preloaded.
ASAN_BUILD := $(BUILD)/asan
test-asan:
	$(MAKE) NGX_BUILD=$(ASAN_BUILD) \
	    NGX_CC_OPT='-Wextra -Werror -fsanitize=address,undefined -fno-omit-frame-pointer' \
	    NGX_LD_OPT='-fsanitize=address,undefined' module
	CC_MODULE_SO=$(CURDIR)/$(ASAN_BUILD)/ngx_http_cc_module.so \
	TEST_NGINX_BINARY=$(CURDIR)/t/tools/asan-nginx prove $(PROVE_FILES)

demo: all
	./scripts/demo.sh

clean:
	rm -rf $(BUILD)
