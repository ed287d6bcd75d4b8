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

stop() {
    for p in "$out"/redis*.pid "$out/mysql.pid"; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
    done
    sleep 1
    rm -rf "$out"
}
trap stop EXIT
trap 'exit 1' INT TERM

for r in $r0 $r1; do
    redis-server --port "$r" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$out/redis$r.pid" --dir "$out" \
        --logfile "$out/redis$r.log"
done
for r in $r0 $r1; do
    for i in $(seq 50); do
        redis-cli -p "$r" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    redis-cli -p "$r" ping >/dev/null 2>&1 || {
        echo "redis on :$r did not start:" >&2; cat "$out/redis$r.log" >&2
        exit 1; }
done

mariadb-install-db --no-defaults --datadir="$out/data" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults --datadir="$out/data" --user=root --port="$port" \
    --bind-address=127.0.0.1 --socket="$out/mysql.sock" \
    --pid-file="$out/mysql.pid" --log-error="$out/mysql.err" --skip-log-bin \
    --innodb-buffer-pool-size=512M --innodb-log-file-size=256M \
    --skip-name-resolve &
# a busy machine starts slowly: wait up to 60 s, and say it when it did not
for i in $(seq 600); do
    mariadb --no-defaults -S "$out/mysql.sock" -uroot -e 'select 1' \
        >/dev/null 2>&1 && break
    sleep 0.1
done
for r in $r0 $r1; do
    for i in $(seq 100); do
        redis-cli -p "$r" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
done
mariadb --no-defaults -S "$out/mysql.sock" -uroot -e 'select 1' >/dev/null \
    || { echo "mariadbd did not start: $(tail -3 "$out/mysql.err")" >&2
         exit 1; }
for r in $r0 $r1; do
    [ -s "$out/redis$r.pid" ] \
        || { echo "redis on $r did not start: $(tail -2 "$out/redis$r.log")" >&2
             exit 1; }
done

sql() {
    mariadb --no-defaults -S "$out/mysql.sock" -uroot -N -B -e "$1"
}

shards="--mysql 127.0.0.1:$port/cc_s0 --mysql 127.0.0.1:$port/cc_s1"
# the workers' role users (sql/grants.sql): each worker connects as its own
mariadb --no-defaults -S "$out/mysql.sock" -uroot < sql/grants.sql
# shellcheck disable=SC2086
build/workers/cc-ingest --init-shards $shards > "$out/init.err" 2>&1 \
    || { cat "$out/init.err" >&2; exit 1; }

cat > "$out/campaign" <<CONF
campaign bench
pool_cents 100000000000
split equal
seed bench
credit async
cutoff 1700000000
CONF

echo "writing $AWARDS pending awards"
for s in 0 1; do
    sql "INSERT INTO cc_s$s.awards (award_id, campaign, uid, amount_cents,
             status, notified, created_at)
         SELECT CONCAT('bench:', seq), 'bench', seq, 100 + seq % 50,
             'pending', 0, 1700000000000
         FROM cc_s$s.seq_1_to_$AWARDS WHERE seq % 2 = 1 - $s"
    sum=$(sql "SELECT SUM(amount_cents) FROM cc_s$s.awards")
    build/test/cc-ledger-cli --mysql "127.0.0.1:$port/cc_s$s" \
        fund bench "$s" "$sum" | grep -q '^fund done'
done

# utime + stime of a process, in clock ticks
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
mpid=$(cat "$out/mysql.pid") rpid0=$(cat "$out/redis$r0.pid")
rpid1=$(cat "$out/redis$r1.pid")
m0=$(ticks "$mpid") ra0=$(( $(ticks "$rpid0") + $(ticks "$rpid1") ))

t0=$(date +%s.%N)
# shellcheck disable=SC2086
/usr/bin/time -f "%U %S" -o "$out/payout.cpu" \
    "$PAYOUT" --campaign "$out/campaign" \
    --redis 127.0.0.1:$r0 --redis 127.0.0.1:$r1 $shards \
    --once --batch "$BATCH" --progress 2 2> "$out/payout.err" \
    || { cat "$out/payout.err"; exit 1; }
t1=$(date +%s.%N)
m1=$(ticks "$mpid") ra1=$(( $(ticks "$rpid0") + $(ticks "$rpid1") ))
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
