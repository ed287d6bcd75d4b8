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

COMMON_SRCS := common/cc_ids.c common/cc_ring.c common/cc_cards.c
COMMON_HDRS := $(wildcard common/*.h)
MODULE_SRCS := $(wildcard ngx_module/*.c ngx_module/*.h) $(COMMON_SRCS) \
               $(COMMON_HDRS) config

UNIT_TESTS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))
CHECK_LIBS  := $(shell pkg-config --libs check 2>/dev/null)

PROVE_FILES ?= t/*.t

.PHONY: all module unit test test-unit test-nginx clean demo

all: module unit

module: $(MODULE_SO)

$(NGX_BUILD)/Makefile: config
	@mkdir -p $(NGX_BUILD)
	cd $(NGX_SRC) && ./configure --with-compat \
	    --with-cc-opt='$(NGX_CC_OPT)' \
	    --add-dynamic-module=$(CURDIR) --builddir=$(CURDIR)/$(NGX_BUILD) \
	    > $(CURDIR)/$(NGX_BUILD)/configure.log 2>&1 \
	    || { tail -20 $(CURDIR)/$(NGX_BUILD)/configure.log; exit 1; }

$(MODULE_SO): $(NGX_BUILD)/Makefile $(MODULE_SRCS)
	$(MAKE) -f $(CURDIR)/$(NGX_BUILD)/Makefile -C $(NGX_SRC) modules

unit: $(UNIT_TESTS)

$(BUILD)/unit/%: t/unit/%.c $(COMMON_SRCS) $(COMMON_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) -o $@ $< $(COMMON_SRCS) $(CHECK_LIBS)

test: all test-unit test-nginx

test-unit: unit
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

test-nginx: module
	prove -r $(PROVE_FILES)

demo: all
	./scripts/demo.sh

clean:
	rm -rf $(BUILD)
