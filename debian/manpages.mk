# A man page for each program, made by help2man from its --help (the text
# README.md's "Every worker option" holds too), into build/man.  Run by
# debian/rules after the build: make -f debian/manpages.mk VERSION=V

VERSION ?= 0
MAN     := build/man

name_cc-ingest     := consume the campaign's Kafka draws into sharded MySQL
name_cc-reconcile  := replay the Redis draw logs into MySQL, or reconcile the money
name_cc-redrive    := deliver the gifts left in the Redis outboxes
name_cc-draw       := the scheduled draw of a card campaign
name_cc-payout     := pay the drawn awards out
name_cc-estimate   := storage and capacity estimates of a card campaign
name_cc-token      := mint and check the nginx module's signed user tokens
name_cc-mockbroker := an in-memory Kafka cluster, for tests and demos
name_cc-produce    := put draw messages on a Kafka topic, for tests and load
name_cc-wallet-sim := a simulated external HTTP wallet with injected faults
name_cc-load       := the HTTP load client of the campaign run and the benchmarks

PROGS := $(addprefix build/workers/,cc-ingest cc-reconcile cc-redrive cc-draw cc-payout \
           cc-estimate cc-token cc-mockbroker cc-produce cc-wallet-sim) \
         build/tools/cc-load

all: $(foreach p,$(PROGS),$(MAN)/$(notdir $(p)).1)

define man_rule
$(MAN)/$(notdir $(1)).1: $(1)
	@mkdir -p $(MAN)
	help2man --no-info --no-discard-stderr --version-string=$(VERSION) \
	    --name="$(name_$(notdir $(1)))" --output=$$@ $(1)
endef
$(foreach p,$(PROGS),$(eval $(call man_rule,$(p))))
