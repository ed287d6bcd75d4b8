#!/bin/bash
# bench/draw.sh: the scheduled draw over USERS eligible users on 2 MySQL
# shards (two databases on one mariadbd) and 2 Redis shards, against the
# storage's own limit.
#
# The eligible users 1..N are generated straight into the shards the ring
# gives them: the eligibility rows into MySQL (LOAD DATA), their combine
# records (field e, which cc-draw checks the rows against) into Redis
# (redis-cli --pipe).  Then:
#   1. cc-draw, timed end to end: drain, plan, per shard (in parallel) the
#      read and sort of the uids, the award batches with their done_upto,
#      the read-back check, the Redis fields (award_set.lua, pipelined),
#      the digest.
#   2. the limit: one INSERT ... SELECT per shard, both at once, writing
#      the same number of rows into a copy of the awards table (same keys)
#      in one transaction each: what the storage does with no client work.
# Durable settings for both: InnoDB flushes its log at every commit.
# On a shared machine the wall clock is noisy: the CPU seconds of cc-draw,
# mariadbd and the Redis servers during the draw are printed too.
#
# Goal: 10 million users drawn in under 60 s.
#
# Env: USERS (10000000) BATCH (20000) SPLIT (random) CAP (5000)
#      POOL_MB (4096, InnoDB buffer pool)
#      DRAW (build/workers/cc-draw: another build, to compare two)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

USERS=${USERS:-10000000} BATCH=${BATCH:-20000} SPLIT=${SPLIT:-random}
CAP=${CAP:-5000} POOL_MB=${POOL_MB:-4096}
DRAW=${DRAW:-build/workers/cc-draw}

scripts/deps.sh
make -s workers >/dev/null

out=$(mktemp -d /tmp/cc-bench-draw.XXXXXX)
. bench/lib.sh
free_ports 4
port=$FREE_BASE
r0=$((port + 1)) r1=$((port + 2))

trap bench_stop EXIT INT TERM

now() { date +%s.%N; }

mysql_start --innodb-buffer-pool-size="${POOL_MB}M" --innodb-log-file-size=1G \
    --max-allowed-packet=64M
redis_start "$r0" "$r1"
shards_init
redis="--redis 127.0.0.1:$r0 --redis 127.0.0.1:$r1"

cat > "$out/campaign" <<EOF
campaign    bench
pool_cents  $((USERS * 888 + 12345))
split       $SPLIT
$( [ "$SPLIT" = random ] && echo "cap_cents   $CAP" )
seed        bench-seed
credit      async
cutoff      1700000000
EOF

# the eligible, before the cutoff, each in its shards by the ring (cc-payout
# --shard-of): a row in its MySQL shard (LOAD DATA), the combine record
# (field e, "bench:0", as the row says) in its Redis shard (redis-cli
# --pipe), which cc-draw checks the row against
t0=$(now)
# shellcheck disable=SC2086
seq 1 "$USERS" | xargs -n 20000 build/workers/cc-payout \
    --campaign "$out/campaign" $redis $shards --shard-of \
  | awk -v r0="127.0.0.1:$r0" -v out="$out" '{
        printf "*4\r\n$4\r\nHSET\r\n$%d\r\ncc:{%s}:u\r\n$1\r\ne\r\n" \
               "$7\r\nbench:0\r\n", length($1) + 7, $1 \
               > (out "/e" ($2 == r0 ? 0 : 1) ".resp")
        print $1 > (out "/" substr($3, index($3, "/") + 1) ".uids") }'
for s in 0 1; do
    sql "LOAD DATA LOCAL INFILE '$out/cc_s$s.uids' INTO TABLE cc_s$s.eligibility
         (uid) SET request_id = 'bench', combined_at = 0" & eval "p$s=\$!"
done
redis-cli -p "$r0" --pipe < "$out/e0.resp" > /dev/null
redis-cli -p "$r1" --pipe < "$out/e1.resp" > /dev/null
wait "$p0" && wait "$p1"
rm -f "$out"/*.resp "$out"/*.uids
t1=$(now)
awk -v n="$USERS" -v a="$t0" -v b="$t1" 'BEGIN {
    printf "generated %d eligible users in %.1f s\n", n, b - a }'

read -r m0 ra0 <<< "$(server_ticks "$r0" "$r1")"

# 1. the draw
t0=$(now)
# shellcheck disable=SC2086
/usr/bin/time -f "%U %S" -o "$out/draw.cpu" \
    "$DRAW" --campaign "$out/campaign" $redis $shards \
    --batch "$BATCH" > "$out/draw.out" 2> "$out/draw.err" \
    || { cat "$out/draw.err" >&2; exit 1; }
t1=$(now)
read -r m1 ra1 <<< "$(server_ticks "$r0" "$r1")"
sed 's/^/  /' "$out/draw.out"
grep -E 'progress|read and ranked' "$out/draw.err" | tail -3 | sed 's/^/  /'
draw=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
rows=$(sql "SELECT (SELECT COUNT(*) FROM cc_s0.awards)
                 + (SELECT COUNT(*) FROM cc_s1.awards)")
if [ "$rows" != "$USERS" ]; then
    echo "draw: $rows award rows, want $USERS" >&2
    exit 1
fi

# 2. the storage's limit: the same rows by the server alone
for s in 0 1; do
    sql "CREATE TABLE cc_s$s.awards_limit LIKE cc_s$s.awards"
done
t0=$(now)
for s in 0 1; do
    sql "INSERT INTO cc_s$s.awards_limit (award_id, campaign, uid,
             amount_cents, status, created_at)
         SELECT CONCAT('bench:', uid), 'bench', uid, 888, 'pending', 0
         FROM cc_s$s.eligibility" & pids="${pids:-} $!"
done
for p in $pids; do wait "$p"; done
t1=$(now)
limit=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')

awk -v n="$USERS" -v d="$draw" -v l="$limit" -v bt="$BATCH" 'BEGIN {
    printf "cc-draw:        %d awards in %6.2f s (%.0f/s, batch %d; " \
           "goal < 60 s)\n", n, d, n / d, bt
    printf "storage limit:  %d rows   in %6.2f s (%.0f/s, " \
           "INSERT ... SELECT per shard)\n", n, l, n / l
    printf "ratio:          cc-draw takes %.2f x the storage limit\n", d / l }'
tck=$(getconf CLK_TCK)
read -r du ds < "$out/draw.cpu"
awk -v n="$USERS" -v du="$du" -v ds="$ds" -v m=$((m1 - m0)) \
    -v r=$((ra1 - ra0)) -v t="$tck" 'BEGIN {
    printf "cpu s per 1000 awards: cc-draw %.4f (user %.2f s, sys %.2f s), " \
           "mariadbd %.4f, redis %.4f\n", (du + ds) * 1000 / n, du, ds,
           m / t * 1000 / n, r / t * 1000 / n }'
