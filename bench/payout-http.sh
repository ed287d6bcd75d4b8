#!/bin/bash
# bench/payout-http.sh: credits per second of cc-payout through the HTTP
# wallet adapter (campaign file: wallet http) into cc-wallet-sim, against
# the ledger-only payout (the embedded wallet) in the same run, on the
# same machine and the same number of awards.
#
# Setup as bench/payout.sh: 2 MySQL shards on one mariadbd, 2 Redis
# shards, AWARDS pending awards per campaign written with SQL, each shard's
# pool funded.  Then, timed from start to exit, cc-payout --once of
# campaign "ledg" (wallet ledger), of campaign "http" (wallet http,
# wallet_mode per_credit, 64 credits in flight: CC_WALLET_HTTP_INFLIGHT)
# and of campaign "htb" (wallet http, wallet_mode batch, the default:
# batches of WALLET_BATCH details, issue 20): every award credited and
# notified; for http and htb, two-phase (pending, then post, into the
# clearing account: a post a credit for http, a round post a batch for
# htb) and each key once in the simulator's statement.  The
# results are checked before the rates are printed.  Goals: per-credit
# http >= 0.5 x ledger; batch http >= 0.7 x ledger (the line
# "batch http / ledger = R").  The CPU of each process is printed per
# 100k credits, and the line "batch http / ledger, CPU bound = C": the
# ratio of the CPU a credit costs each way (all three processes), the
# best R these cores allow if no process ever waited for another; and
# "MySQL bound = M": the same with only the batch run's mariadbd counted
# (cc-payout and the wallet free), the most the books' rows allow.
#
# The simulator runs on the same cores (libmicrohttpd, epoll threads;
# the statement flushed per credit, per batch in batch mode; batches
# processed --process-ms 0 after acceptance), so the http figures include
# the wallet's own work.
#
# Env: AWARDS (100000) BATCH (5000) WALLET_BATCH (1000) PROFILE (0; 1:
#      mariadbd with performance_schema, and after each campaign's run its
#      MySQL time by statement and by kind, as bench/payout.sh's)
set -eu
cd "$(dirname "$0")/.."

AWARDS=${AWARDS:-100000} BATCH=${BATCH:-5000} WALLET_BATCH=${WALLET_BATCH:-1000}
PROFILE=${PROFILE:-0}

scripts/deps.sh
make -s workers test-tools >/dev/null

out=$(mktemp -d /tmp/cc-bench-payout-http.XXXXXX)
. bench/lib.sh
free_ports 4
port=$FREE_BASE
r0=$((port + 1)) r1=$((port + 2)) wport=$((port + 3))
sim=""

stop() {
    [ -n "$sim" ] && kill "$sim" 2>/dev/null
    bench_stop
}
trap stop EXIT
trap 'exit 1' INT TERM

redis_start "$r0" "$r1"
mysql_start --innodb-buffer-pool-size=512M --innodb-log-file-size=256M \
    "$(pfs_option)"
shards_init

head -c 48 /dev/urandom | base64 -w0 > "$out/wallet.secret"
chmod 600 "$out/wallet.secret"
build/workers/cc-wallet-sim --listen "127.0.0.1:$wport" \
    --secret-file "$out/wallet.secret" --statement "$out/statement.csv" \
    --process-ms 0 > "$out/sim.out" 2> "$out/sim.err" &
sim=$!
for i in $(seq 50); do
    grep -q '^listening' "$out/sim.out" && break
    sleep 0.1
done

for c in ledg http htb; do
    campaign_conf "$c" > "$out/$c.conf"
done
for c in http htb; do
    cat >> "$out/$c.conf" <<CONF
wallet http
wallet_url http://127.0.0.1:$wport
wallet_insecure_loopback yes
wallet_timeout_ms 5000
wallet_secret_file $out/wallet.secret
CONF
done
echo "wallet_mode per_credit" >> "$out/http.conf"
echo "wallet_batch_max $WALLET_BATCH" >> "$out/htb.conf"

echo "writing $AWARDS pending awards for each of the three campaigns"
# uids: ledg 1..AWARDS, http AWARDS+1..2*AWARDS, htb 2*AWARDS+1..3*AWARDS
base=0
for c in ledg http htb; do
    for s in 0 1; do
        sql "INSERT INTO cc_s$s.awards (award_id, campaign, uid, amount_cents,
                 status, notified, created_at)
             SELECT CONCAT('$c:', seq + $base), '$c', seq + $base,
                 100 + seq % 50, 'pending', 0, 1700000000000
             FROM cc_s$s.seq_1_to_$AWARDS WHERE seq % 2 = 1 - $s"
        fund_pool "$c" "$s"
    done
    base=$((base + AWARDS))
done

# utime + stime of a process, in seconds
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' \
        "/proc/$1/stat"
}
mysql_pid=$(cat "$out/mysql.pid")

sql_profile_reset

declare -A secs mcpu scpu
for c in ledg http htb; do
    m0=$(cpu_of "$mysql_pid")
    s0=$(cpu_of "$sim")
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
    scpu[$c]=$(awk -v a="$s0" -v b="$(cpu_of "$sim")" \
               'BEGIN { printf "%.2f", b - a }')
    sed "s/^/  $c: /" "$out/$c.err" | tail -3
    secs[$c]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    sql_profile "$c"
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
htb_p=$(count "SELECT COUNT(*) FROM DB.ledger_transfers
               WHERE campaign = 'htb' AND kind = 'pending'")
# batch mode posts a round a batch (bpost:..., the sum of its details)
htb_q=$(count "SELECT COUNT(*) FROM DB.ledger_transfers
               WHERE campaign = 'htb' AND kind = 'post'
               AND transfer_id LIKE 'bpost:%' AND award_id IS NULL")
htb_qn=$(count "SELECT COUNT(*) FROM DB.ledger_transfers
                WHERE campaign = 'htb' AND kind = 'post'")
htb_qs=$(count "SELECT COALESCE(SUM(amount_cents), 0) FROM DB.ledger_transfers
                WHERE campaign = 'htb' AND kind = 'post'")
htb_sum=$(count "SELECT COALESCE(SUM(amount_cents), 0) FROM DB.awards
                 WHERE campaign = 'htb'")
clr=$(count "SELECT COALESCE(SUM(credits), 0) FROM DB.ledger_accounts
             WHERE account IN ('clearing:http', 'clearing:htb')")
paid=$(count "SELECT COALESCE(SUM(amount_cents), 0) FROM DB.awards
              WHERE campaign IN ('http', 'htb')")
inflight=$(count "SELECT COALESCE(SUM(debits + credits), 0)
                  FROM DB.ledger_pending")
left=$(count "SELECT COALESCE(SUM(credits - debits), 0) FROM DB.ledger_accounts
              WHERE account IN ('pool:ledg', 'pool:http', 'pool:htb')")
lines=$(wc -l < "$out/statement.csv")
keys=$(cut -d, -f1 "$out/statement.csv" | sort -u | wc -l)
if [ "$ok" != $((3 * AWARDS)) ] || [ "$ledg_x" != "$AWARDS" ] \
   || [ "$http_p" != "$AWARDS" ] || [ "$http_q" != "$AWARDS" ] \
   || [ "$htb_p" != "$AWARDS" ] || [ "$htb_q" != "$htb_qn" ] \
   || [ "$htb_q" -lt 1 ] || [ "$htb_qs" != "$htb_sum" ] \
   || [ "$clr" != "$paid" ] \
   || [ "$inflight" != 0 ] || [ "$left" != 0 ] \
   || [ "$lines" != $((2 * AWARDS)) ] || [ "$keys" != $((2 * AWARDS)) ]; then
    echo "wrong result: $ok credited+notified, ledger $ledg_x credits," \
         "http $http_p pending + $http_q posts, htb $htb_p pending +" \
         "$htb_q round posts of $htb_qn, $htb_qs of $htb_sum cents, clearing $clr of $paid, $inflight still pending," \
         "$left cents in the pools, statement $lines lines of $keys keys" >&2
    exit 1
fi

awk -v n="$AWARDS" -v l="${secs[ledg]}" -v h="${secs[http]}" -v bt="$BATCH" \
    -v b="${secs[htb]}" -v wb="$WALLET_BATCH" \
    'BEGIN {
        printf "ledger only: %d awards in %.2f s: %.0f credits/s\n", n, l, n / l
        printf "wallet http: %d awards in %.2f s: %.0f credits/s " \
               "(per_credit, 64 in flight, batch %d)\n", n, h, n / h, bt
        printf "batch http: %d awards in %.2f s: %.0f credits/s " \
               "(batches of %d, batch %d)\n", n, b, n / b, wb, bt
        printf "http / ledger = %.2f (goal >= 0.5)\n", l / h
        printf "batch http / ledger = %.2f (goal >= 0.7)\n", l / b
    }'
sed 's/^/cpu of cc-payout /' "$out/cpu"
echo "cpu of cc-wallet-sim: http ${scpu[http]} s, htb ${scpu[htb]} s"
echo "cpu of mariadbd: ledg ${mcpu[ledg]} s, http ${mcpu[http]} s, htb ${mcpu[htb]} s"
# The ceiling of R on these cores, same run: the CPU a credit costs each
# way (cc-payout + mariadbd + cc-wallet-sim) and the cores the batch run
# kept busy.  R can reach the ratio of the CPU costs only if no process
# ever waited for another; below it, the run waits more than it works.
cores=$(nproc)
cpu_all() {
    awk -v c="$1:" -v m="${mcpu[$1]}" -v s="${scpu[$1]:-0}" \
        '$1 == c { printf "%.2f", $2 + $5 + m + s }' "$out/cpu"
}
awk -v l="${secs[ledg]}" -v b="${secs[htb]}" -v cl="$(cpu_all ledg)" \
    -v cb="$(cpu_all htb)" -v k="$cores" \
    'BEGIN {
        printf "batch http / ledger, CPU bound = %.2f (cpu a credit: ledger " \
               "%.2f s, batch %.2f s for the awards; batch run kept %.2f " \
               "of %d cores busy, ledger %.2f)\n", cl / cb, cl, cb, cb / b, k,
               cl / l
    }'
# The same bound with cc-payout and the wallet free: the ledger's whole
# CPU against the batch run's mariadbd alone.  Below the goal, the rows
# the batch's books write (two-phase transfers, the details) are the
# limit, not the HTTP side.
awk -v cl="$(cpu_all ledg)" -v m="${mcpu[htb]}" \
    'BEGIN {
        printf "batch http / ledger, MySQL bound = %.2f (the ledger'"'"'s cpu " \
               "%.2f s against the batch run'"'"'s mariadbd %.2f s: R if " \
               "cc-payout and the wallet cost nothing)\n", cl / m, cl, m
    }'
# CPU seconds per 100k credits, each process and campaign
for c in ledg http htb; do
    awk -v c="$c" -v n="$AWARDS" -v m="${mcpu[$c]}" -v s="${scpu[$c]:-0}" \
        -v p="$(awk -v c="$c:" '$1 == c { print $2 + $5 }' "$out/cpu")" \
        'BEGIN { k = 100000 / n
                 printf "cpu per 100k credits, %s: cc-payout %.2f s, " \
                        "mariadbd %.2f s, cc-wallet-sim %.2f s\n", \
                        c, p * k, m * k, s * k }'
done
