#!/bin/bash
# bench/payout-http.sh: credits per second of cc-payout through the HTTP
# wallet adapter (campaign file: wallet http) into cc-wallet-sim, against
# the ledger-only payout (the embedded wallet) in the same run, on the
# same machine and the same number of awards.
#
# Setup as bench/payout.sh: 2 MySQL shards on one mariadbd, 2 Redis
# shards, AWARDS pending awards per campaign written with SQL, each shard's
# pool funded.  Then, timed from start to exit, cc-payout --once of
# campaign "ledg" (wallet ledger) and of campaign "http" (wallet http, 64
# credits in flight: CC_WALLET_INFLIGHT): every award credited and
# notified; for http, two-phase (pending, then post) and each key once in
# the simulator's statement.  Both results are checked before the rates
# are printed.  Goal: http >= 0.5 x ledger.
#
# The simulator runs on the same cores (libmicrohttpd, a thread per
# connection, statement flushed per credit), so the http figure includes
# the wallet's own work.
#
# Env: AWARDS (100000) BATCH (5000)
set -eu
cd "$(dirname "$0")/.."

AWARDS=${AWARDS:-100000} BATCH=${BATCH:-5000}

scripts/deps.sh
make -s workers test-tools >/dev/null

out=$(mktemp -d /tmp/cc-bench-payout-http.XXXXXX)
. bench/lib.sh
port=$(free_ports 4)
r0=$((port + 1)) r1=$((port + 2)) wport=$((port + 3))
sim=""

stop() {
    [ -n "$sim" ] && kill "$sim" 2>/dev/null
    bench_stop
}
trap stop EXIT
trap 'exit 1' INT TERM

redis_start "$r0" "$r1"
mysql_start --innodb-buffer-pool-size=512M --innodb-log-file-size=256M
shards_init

head -c 48 /dev/urandom | base64 -w0 > "$out/wallet.secret"
chmod 600 "$out/wallet.secret"
build/workers/cc-wallet-sim --listen "127.0.0.1:$wport" \
    --secret-file "$out/wallet.secret" --statement "$out/statement.csv" \
    > "$out/sim.out" 2> "$out/sim.err" &
sim=$!
for i in $(seq 50); do
    grep -q '^listening' "$out/sim.out" && break
    sleep 0.1
done

for c in ledg http; do
    campaign_conf "$c" > "$out/$c.conf"
done
cat >> "$out/http.conf" <<CONF
wallet http
wallet_url http://127.0.0.1:$wport
wallet_insecure_loopback yes
wallet_timeout_ms 5000
wallet_secret_file $out/wallet.secret
CONF

echo "writing $AWARDS pending awards for each of the two campaigns"
# uids: ledg 1..AWARDS, http AWARDS+1..2*AWARDS (a wallet account each)
base=0
for c in ledg http; do
    for s in 0 1; do
        sql "INSERT INTO cc_s$s.awards (award_id, campaign, uid, amount_cents,
                 status, notified, created_at)
             SELECT CONCAT('$c:', seq + $base), '$c', seq + $base,
                 100 + seq % 50, 'pending', 0, 1700000000000
             FROM cc_s$s.seq_1_to_$AWARDS WHERE seq % 2 = 1 - $s"
        fund_pool "$c" "$s"
    done
    base=$AWARDS
done

# utime + stime of a process, in seconds
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
        "/proc/$1/stat"
}
mysql_pid=$(cat "$out/mysql.pid")

declare -A secs mcpu
for c in ledg http; do
    m0=$(cpu_of "$mysql_pid")
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    /usr/bin/time -f "$c: %U s user, %S s sys, %e s" -a -o "$out/cpu" \
    build/workers/cc-payout --campaign "$out/$c.conf" \
        --redis 127.0.0.1:$r0 --redis 127.0.0.1:$r1 $shards \
        --once --batch "$BATCH" --progress 2 2> "$out/$c.err" \
        || { cat "$out/$c.err"; exit 1; }
    t1=$(date +%s.%N)
    mcpu[$c]=$(awk -v a="$m0" -v b="$(cpu_of "$mysql_pid")" \
               'BEGIN { printf "%.2f", b - a }')
    sed "s/^/  $c: /" "$out/$c.err" | tail -3
    secs[$c]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
done

# the results, before their speed
count() {   # count SQL over both shards: $1 = the query with DB for the db
    echo $(( $(sql "${1//DB/cc_s0}") + $(sql "${1//DB/cc_s1}") ))
}
ok=$(count "SELECT COUNT(*) FROM DB.awards WHERE status = 'credited'
            AND notified = 1")
ledg_x=$(count "SELECT COUNT(*) FROM DB.ledger_transfers
                WHERE campaign = 'ledg' AND kind = 'credit'")
http_p=$(count "SELECT COUNT(*) FROM DB.ledger_transfers
                WHERE campaign = 'http' AND kind = 'pending'")
http_q=$(count "SELECT COUNT(*) FROM DB.ledger_transfers
                WHERE campaign = 'http' AND kind = 'post'")
inflight=$(count "SELECT COALESCE(SUM(debits + credits), 0)
                  FROM DB.ledger_pending")
left=$(count "SELECT COALESCE(SUM(credits - debits), 0) FROM DB.ledger_accounts
              WHERE account IN ('pool:ledg', 'pool:http')")
lines=$(wc -l < "$out/statement.csv")
keys=$(cut -d, -f1 "$out/statement.csv" | sort -u | wc -l)
if [ "$ok" != $((2 * AWARDS)) ] || [ "$ledg_x" != "$AWARDS" ] \
   || [ "$http_p" != "$AWARDS" ] || [ "$http_q" != "$AWARDS" ] \
   || [ "$inflight" != 0 ] || [ "$left" != 0 ] || [ "$lines" != "$AWARDS" ] \
   || [ "$keys" != "$AWARDS" ]; then
    echo "wrong result: $ok credited+notified, ledger $ledg_x credits," \
         "http $http_p pending + $http_q posts, $inflight still pending," \
         "$left cents in the pools, statement $lines lines of $keys keys" >&2
    exit 1
fi

awk -v n="$AWARDS" -v l="${secs[ledg]}" -v h="${secs[http]}" -v bt="$BATCH" \
    'BEGIN {
        printf "ledger only: %d awards in %.2f s: %.0f credits/s\n", n, l, n / l
        printf "wallet http: %d awards in %.2f s: %.0f credits/s " \
               "(64 in flight, batch %d)\n", n, h, n / h, bt
        printf "http / ledger = %.2f (goal >= 0.5)\n", l / h
    }'
sed 's/^/cpu of cc-payout /' "$out/cpu"
echo "cpu of cc-wallet-sim: $(cpu_of "$sim") s"
echo "cpu of mariadbd: ledg ${mcpu[ledg]} s, http ${mcpu[http]} s"
