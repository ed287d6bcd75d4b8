# fuzz/fuzz.mk, included by the top Makefile: fuzz/fuzz_<name>.c, a
# libFuzzer target over one parser of common/ (or of a worker's pure file
# in FUZZ_WORKER_SRCS) that checks the parser's contract (see fuzz/fuzz.h).
#
#   make fuzz            build, then fuzz each target FUZZ_SECONDS from its
#                        seeds (fuzz/corpus/<name>) and regressions
#                        (fuzz/regressions/<name>); the corpus it grows and
#                        any crash stay in build/fuzz/
#   make fuzz-regress    replay the seeds and regressions once, without
#                        libFuzzer (fuzz/replay.c), under ASan and UBSan: a
#                        few seconds, part of make test
#
# Two flavours, each source compiled once in each: build/fuzz/obj (ASan and
# UBSan: the replays) and build/fuzz/obj-fuzz (the same plus libFuzzer's
# coverage: the fuzzers).  A crash found goes into fuzz/regressions/<name>/
# (and a Check test).

.PHONY: fuzz fuzz-build fuzz-regress

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 180
FUZZ_BUILD    := $(BUILD)/fuzz
FUZZ_TARGETS  := ids token event log addr campaign award split \
                 wallet statement secret streamid logtext outbox
# the workers' parsers of outside input, each a file with no MySQL, Redis
# or libcurl in it: the wallet's answer, a statement line
FUZZ_WORKER_SRCS := workers/money/cc_wallet_answer.c \
                    workers/reconcile/cc_stmt_line.c
FUZZ_SRCS     := $(wildcard common/*.c) $(FUZZ_WORKER_SRCS)
FUZZ_CFLAGS   := -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
                 -std=gnu99 -Icommon -Iworkers/money -Iworkers/reconcile \
                 -Ifuzz
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
FUZZ_MAXLEN_logtext  := 600
FUZZ_MAXLEN_outbox   := 160

FUZZ_OBJ_R    := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRCS))
FUZZ_OBJ_F    := $(patsubst %.c,$(FUZZ_BUILD)/obj-fuzz/%.o,$(FUZZ_SRCS))

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/obj-fuzz/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	    -MMD -MP -c -o $@ $<

-include $(FUZZ_OBJ_R:.o=.d) $(FUZZ_OBJ_F:.o=.d) \
         $(patsubst %,$(FUZZ_BUILD)/obj/fuzz/fuzz_%.d,$(FUZZ_TARGETS)) \
         $(patsubst %,$(FUZZ_BUILD)/obj-fuzz/fuzz/fuzz_%.d,$(FUZZ_TARGETS))

fuzz-build: $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj-fuzz/fuzz/fuzz_%.o $(FUZZ_OBJ_F)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

$(FUZZ_BUILD)/replay_%: $(FUZZ_BUILD)/obj/fuzz/fuzz_%.o \
                        $(FUZZ_BUILD)/obj/fuzz/replay.o $(FUZZ_OBJ_R)
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

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
