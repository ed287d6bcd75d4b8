#!/bin/bash
# bench/payout.sh: credits per second of cc-payout into 2 MySQL shards (two
# databases on one mariadbd), with the notices to 2 Redis shards, against
# the storage's own limit in the same run.
#
# Writes AWARDS pending awards with SQL (the Sequence engine; odd uids in
# cc_s0, even in cc_s1: where the ring would put them does not change the
# work) for the campaign "bench", and as many of the campaign "limit"
# (other uids, so other wallets), and funds each shard's pools through
# the ledger (cc-ledger-cli fund).  Then:
#   1. cc-payout --once of "bench", timed from its start to its exit: every
#      award credited (ledger transfer, wallet, pool debit, award row) and
#      notified (award_set.lua in Redis, each batch's notice row told);
#   2. the limit: the same rows for "limit" written by the server alone,
#      one transaction per shard, both shards at once: the transfers by
#      INSERT ... SELECT from the awards, the wallets by INSERT ... SELECT
#      ... ON DUPLICATE KEY UPDATE, the pool's guarded debit, the awards'
#      UPDATE to credited; what the storage does with no client work and
#      no Redis.
# Durable settings for both: InnoDB flushes its log at every commit (the
# default).  Both results are checked before printing, then a line
# "payout / storage limit = R" (credits/s over credits/s; goal >= 0.5).
# The payout runs first: the limit writes into tables that hold its rows.
#
# On a shared machine the wall clock is noisy: the CPU seconds of
# cc-payout, mariadbd and the Redis servers during the payout (and of
# mariadbd during the limit) are printed too, per 1000 credits, to
# compare builds by.
#
# PROFILE=1: mariadbd runs with performance_schema (slower: a profile, not
# a figure), and the MySQL time of the payout, then of the limit, is
# printed by statement (the digests' total time, the top 12) and by kind
# (the prepared statements of the ledger's bulk execution have no digest:
# statement/com/Bulk_execute): where each one's MySQL time goes.
#
# Env: AWARDS (1000000) BATCH (5000) PROFILE (0) PAYOUT
#      (build/workers/cc-payout: another build of it, to compare two back
#      to back)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

AWARDS=${AWARDS:-1000000} BATCH=${BATCH:-5000} PROFILE=${PROFILE:-0}
PAYOUT=${PAYOUT:-build/workers/cc-payout}

scripts/deps.sh
make -s workers test-tools >/dev/null

out=$(mktemp -d /tmp/cc-bench-payout.XXXXXX)
. bench/lib.sh
free_ports 4
port=$FREE_BASE
r0=$((port + 1)) r1=$((port + 2))

trap bench_stop EXIT
trap 'exit 1' INT TERM

now() { date +%s.%N; }

redis_start "$r0" "$r1"
mysql_start --innodb-buffer-pool-size=512M --innodb-log-file-size=256M \
    "$(pfs_option)"
shards_init
campaign_conf bench > "$out/campaign"

# the limit's uids start above the bench's: wallets of their own
lim=1000000000
echo "writing $AWARDS pending awards, and $AWARDS for the limit"
for s in 0 1; do
    for c in bench limit; do
        base=0
        [ $c = limit ] && base=$lim
        sql "INSERT INTO cc_s$s.awards (award_id, campaign, uid, amount_cents,
                 status, notified, created_at)
             SELECT CONCAT('$c:', $base + seq), '$c', $base + seq,
                 100 + seq % 50, 'pending', 0, 1700000000000
             FROM cc_s$s.seq_1_to_$AWARDS WHERE seq % 2 = 1 - $s"
        fund_pool "$c" "$s"
    done
done

sql_profile_reset

# 1. the payout
read -r m0 ra0 <<< "$(server_ticks "$r0" "$r1")"
t0=$(now)
# shellcheck disable=SC2086
/usr/bin/time -f "%U %S" -o "$out/payout.cpu" \
    "$PAYOUT" --campaign "$out/campaign" \
    --redis 127.0.0.1:$r0 --redis 127.0.0.1:$r1 $shards \
    --once --batch "$BATCH" --progress 2 2> "$out/payout.err" \
    || { cat "$out/payout.err"; exit 1; }
t1=$(now)
read -r m1 ra1 <<< "$(server_ticks "$r0" "$r1")"
sed 's/^/  /' "$out/payout.err"

sql_profile "the payout"

# both_shards QUERY: the sum of QUERY's value on both shards (cc_sS in
# QUERY names the shard's database)
both_shards() { sql "SELECT (${1//cc_sS/cc_s0}) + (${1//cc_sS/cc_s1})"; }

# the result, before its speed
got=$(both_shards "SELECT COUNT(*) FROM cc_sS.awards WHERE campaign = 'bench'
           AND status = 'credited' AND notified = 1")
owed=$(both_shards "SELECT COUNT(*) FROM cc_sS.award_notices
            WHERE told_at = 0")
xfers=$(both_shards "SELECT COUNT(*) FROM cc_sS.ledger_transfers
             WHERE campaign = 'bench' AND kind = 'credit'")
left=$(both_shards "SELECT credits - debits FROM cc_sS.ledger_accounts
            WHERE account = 'pool:bench'")
notes=$(( $(redis-cli -p $r0 DBSIZE) + $(redis-cli -p $r1 DBSIZE) ))
if [ "$got" != "$AWARDS" ] || [ "$owed" != 0 ] || [ "$xfers" != "$AWARDS" ] \
   || [ "$left" != 0 ] || [ "$notes" != "$AWARDS" ]; then
    echo "wrong result: $got credited+notified, $owed notices owed, $xfers transfers," \
         "$left cents left in the pools, $notes users in Redis" >&2
    exit 1
fi

# 2. the storage's limit: the same rows for "limit", set-based, each
# shard one transaction (its own connection), both at once
ms=$(date +%s%3N)
read -r m2 ra2 <<< "$(server_ticks "$r0" "$r1")"
t2=$(now)
pids=
for s in 0 1; do
    sql "START TRANSACTION;
         INSERT INTO cc_s$s.ledger_transfers (transfer_id, debit, credit,
             amount_cents, campaign, kind, award_id, created_at)
         SELECT award_id, 'pool:limit', CONCAT('wallet:', uid),
             amount_cents, 'limit', 'credit', award_id, $ms
         FROM cc_s$s.awards WHERE campaign = 'limit' AND status = 'pending'
         ORDER BY award_id;
         INSERT INTO cc_s$s.ledger_accounts (account, credits, guard)
         SELECT CONCAT('wallet:', uid), amount_cents, 1
         FROM cc_s$s.awards WHERE campaign = 'limit' AND status = 'pending'
         ORDER BY award_id
         ON DUPLICATE KEY UPDATE credits = credits + VALUES(credits);
         SELECT SUM(amount_cents) INTO @sum FROM cc_s$s.awards
         WHERE campaign = 'limit' AND status = 'pending';
         UPDATE cc_s$s.ledger_accounts SET debits = debits + @sum
         WHERE account = 'pool:limit' AND guard = 1
             AND credits >= debits + @sum;
         UPDATE cc_s$s.awards SET status = 'credited', credited_at = $ms,
             notified = 1
         WHERE campaign = 'limit' AND status = 'pending';
         COMMIT" & pids="$pids $!"
done
for p in $pids; do wait "$p"; done
t3=$(now)
read -r m3 ra3 <<< "$(server_ticks "$r0" "$r1")"
sql_profile "the limit"

got=$(both_shards "SELECT COUNT(*) FROM cc_sS.awards WHERE campaign = 'limit'
           AND status = 'credited'")
xfers=$(both_shards "SELECT COUNT(*) FROM cc_sS.ledger_transfers
             WHERE campaign = 'limit' AND kind = 'credit'")
left=$(both_shards "SELECT credits - debits FROM cc_sS.ledger_accounts
            WHERE account = 'pool:limit'")
if [ "$got" != "$AWARDS" ] || [ "$xfers" != "$AWARDS" ] || [ "$left" != 0 ]
then
    echo "limit: wrong result: $got credited, $xfers transfers, $left cents" \
         "left in the pools" >&2
    exit 1
fi

awk -v n="$AWARDS" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
    -v bt="$BATCH" 'BEGIN {
    printf "credited and notified %d awards in 2 shards in %.2f s: %.0f credits/s (batch %d, goal >= 50000)\n",
           n, b - a, n / (b - a), bt
    printf "storage limit: the same rows set-based in %.2f s: %.0f credits/s (INSERT ... SELECT, UPDATE, a transaction per shard)\n",
           d - c, n / (d - c)
    printf "payout / storage limit = %.2f (goal >= 0.5)\n", (d - c) / (b - a) }'
tck=$(getconf CLK_TCK)
read -r pu ps < "$out/payout.cpu"
awk -v n="$AWARDS" -v pu="$pu" -v ps="$ps" -v m=$((m1 - m0)) \
    -v r=$((ra1 - ra0)) -v l=$((m3 - m2)) -v t="$tck" 'BEGIN {
    printf "cpu s per 1000 credits: cc-payout %.4f (user %.2f s, " \
           "sys %.2f s), mariadbd %.4f, redis %.4f; in the limit " \
           "mariadbd %.4f\n", (pu + ps) * 1000 / n, pu, ps,
           m / t * 1000 / n, r / t * 1000 / n, l / t * 1000 / n }'
