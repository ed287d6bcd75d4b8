# t/valgrind.mk, included by the top Makefile: make test-valgrind.
#
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
# by t/043, the workers' kills by t/012 and t/042.  t/056, the failover
# bench, measures seconds without a 200 and a throughput ratio: its pieces
# run here in t/085 to t/099.
VALGRIND_PROVE_FILES ?= $(filter-out t/044-draw-kill.t t/055-chaos.t t/056-failover-bench.t,$(wildcard $(PROVE_FILES)))
.PHONY: test-valgrind
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

