#!/bin/bash
# bench/payout.sh: credits per second of cc-payout into 2 MySQL shards (two
# databases on one mariadbd), with the notices to 2 Redis shards.
#
# Writes AWARDS pending awards with SQL (the Sequence engine; odd uids in
# cc_s0, even in cc_s1: where the ring would put them does not change the
# work), funds each shard's pool through the ledger (cc-ledger-cli fund),
# then times cc-payout --once from its start to its exit: every award
# credited (ledger transfer, wallet, pool debit, award row) and notified
# (award_set.lua in Redis, notified = 1).  Durable settings: InnoDB
# flushes its log at every commit (the default), one commit per shard per
# batch plus one for its notices.  Checks the result before printing it.
#
# On a shared machine the wall clock is noisy: the CPU seconds of
# cc-payout, mariadbd and the Redis servers during the run are printed
# too, per 1000 credits, to compare builds by.
#
# Env: AWARDS (1000000) BATCH (5000) PAYOUT (build/workers/cc-payout:
# another build of it, to compare two back to back)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

AWARDS=${AWARDS:-1000000} BATCH=${BATCH:-5000}
PAYOUT=${PAYOUT:-build/workers/cc-payout}

scripts/deps.sh
make -s workers test-tools >/dev/null

out=$(mktemp -d /tmp/cc-bench-payout.XXXXXX)
. bench/lib.sh
port=$(free_ports 4)
r0=$((port + 1)) r1=$((port + 2))

trap bench_stop EXIT
trap 'exit 1' INT TERM

redis_start "$r0" "$r1"
mysql_start --innodb-buffer-pool-size=512M --innodb-log-file-size=256M
shards_init
campaign_conf bench > "$out/campaign"

echo "writing $AWARDS pending awards"
for s in 0 1; do
    sql "INSERT INTO cc_s$s.awards (award_id, campaign, uid, amount_cents,
             status, notified, created_at)
         SELECT CONCAT('bench:', seq), 'bench', seq, 100 + seq % 50,
             'pending', 0, 1700000000000
         FROM cc_s$s.seq_1_to_$AWARDS WHERE seq % 2 = 1 - $s"
    fund_pool bench "$s"
done

read -r m0 ra0 <<< "$(server_ticks "$r0" "$r1")"

t0=$(date +%s.%N)
# shellcheck disable=SC2086
/usr/bin/time -f "%U %S" -o "$out/payout.cpu" \
    "$PAYOUT" --campaign "$out/campaign" \
    --redis 127.0.0.1:$r0 --redis 127.0.0.1:$r1 $shards \
    --once --batch "$BATCH" --progress 2 2> "$out/payout.err" \
    || { cat "$out/payout.err"; exit 1; }
t1=$(date +%s.%N)
read -r m1 ra1 <<< "$(server_ticks "$r0" "$r1")"
sed 's/^/  /' "$out/payout.err"

# the result, before its speed
got=$(sql "SELECT (SELECT COUNT(*) FROM cc_s0.awards WHERE status = 'credited'
                   AND notified = 1)
                + (SELECT COUNT(*) FROM cc_s1.awards WHERE status = 'credited'
                   AND notified = 1)")
xfers=$(sql "SELECT (SELECT COUNT(*) FROM cc_s0.ledger_transfers
                     WHERE kind = 'credit')
                  + (SELECT COUNT(*) FROM cc_s1.ledger_transfers
                     WHERE kind = 'credit')")
left=$(sql "SELECT (SELECT credits - debits FROM cc_s0.ledger_accounts
                    WHERE account = 'pool:bench')
                 + (SELECT credits - debits FROM cc_s1.ledger_accounts
                    WHERE account = 'pool:bench')")
notes=$(( $(redis-cli -p $r0 DBSIZE) + $(redis-cli -p $r1 DBSIZE) ))
if [ "$got" != "$AWARDS" ] || [ "$xfers" != "$AWARDS" ] || [ "$left" != 0 ] \
   || [ "$notes" != "$AWARDS" ]; then
    echo "wrong result: $got credited+notified, $xfers transfers," \
         "$left cents left in the pools, $notes users in Redis" >&2
    exit 1
fi

awk -v n="$AWARDS" -v a="$t0" -v b="$t1" -v bt="$BATCH" 'BEGIN {
    printf "credited and notified %d awards in 2 shards in %.2f s: %.0f credits/s (batch %d, goal >= 50000)\n",
           n, b - a, n / (b - a), bt }'
tck=$(getconf CLK_TCK)
read -r pu ps < "$out/payout.cpu"
awk -v n="$AWARDS" -v pu="$pu" -v ps="$ps" -v m=$((m1 - m0)) \
    -v r=$((ra1 - ra0)) -v t="$tck" 'BEGIN {
    printf "cpu s per 1000 credits: cc-payout %.4f (user %.2f s, " \
           "sys %.2f s), mariadbd %.4f, redis %.4f\n", (pu + ps) * 1000 / n,
           pu, ps, m / t * 1000 / n, r / t * 1000 / n }'
