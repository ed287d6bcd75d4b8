#!/bin/bash
# bench/ingest.sh: draws per second from a preloaded topic into 2 MySQL
# shards (two databases on one mariadbd), through cc-ingest.
#
# Preloads DRAWS synthetic draw events (cc-produce --draws) onto the mock
# broker's topic, then times cc-ingest from its start until every row is in
# MySQL (counted with SELECT COUNT(*)).  Durable settings: InnoDB flushes
# its log at every commit (the default), one commit per shard per batch.
#
# The mock broker keeps about 5 MB a partition (older messages are dropped),
# so the preload is spread over enough partitions to stay under that.
#
# Env: DRAWS (400000) USERS (100000) BATCH (5000) PARTITIONS (16)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

DRAWS=${DRAWS:-400000} USERS=${USERS:-100000} BATCH=${BATCH:-5000}
PARTITIONS=${PARTITIONS:-16}

scripts/deps.sh
make -s workers >/dev/null

out=$(mktemp -d /tmp/cc-bench-ingest.XXXXXX)
. bench/lib.sh
free_ports 4
port=$FREE_BASE

stop() {
    [ -n "${mock:-}" ] && kill "$mock" 2>/dev/null
    bench_stop
}
trap stop EXIT INT TERM

mysql_start --innodb-buffer-pool-size=512M --innodb-log-file-size=256M

"$top/build/workers/cc-mockbroker" --partitions "$PARTITIONS" \
    > "$out/mock.out" 2> "$out/mock.err" &
mock=$!
for i in $(seq 50); do
    grep -q bootstrap= "$out/mock.out" 2>/dev/null && break
    sleep 0.1
done
brokers=$(sed -n 's/^bootstrap=//p' "$out/mock.out")

shards_init

echo "preloading $DRAWS draws of $USERS users onto $PARTITIONS partitions"
build/workers/cc-produce --brokers "$brokers" --draws "$DRAWS" \
    --users "$USERS" 2>/dev/null

count() {
    sql 'SELECT (SELECT COUNT(*) FROM cc_s0.draws) + (SELECT COUNT(*) FROM cc_s1.draws)'
}

t0=$(date +%s.%N)
# shellcheck disable=SC2086
build/workers/cc-ingest --brokers "$brokers" --assign --batch "$BATCH" \
    --progress 2 $shards 2> "$out/ingest.err" &
ingest=$!
last=0 still=0
while [ "$(count)" -lt "$DRAWS" ]; do
    sleep 0.05
    kill -0 "$ingest" 2>/dev/null || { cat "$out/ingest.err"; exit 1; }
    now=$(count)
    if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
    last=$now
    if [ "$still" -gt 200 ]; then
        echo "no progress for 10 s at $now of $DRAWS rows:" >&2
        tail -3 "$out/ingest.err" >&2
        exit 1
    fi
done
t1=$(date +%s.%N)
kill -TERM "$ingest"
wait "$ingest" || true

grep 'inserted' "$out/ingest.err" | sed 's/^/  /'
awk -v n="$DRAWS" -v a="$t0" -v b="$t1" -v bt="$BATCH" 'BEGIN {
    printf "ingested %d draws into 2 shards in %.2f s: %.0f draws/s (batch %d, goal >= 50000)\n",
           n, b - a, n / (b - a), bt }'
