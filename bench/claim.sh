#!/bin/bash
# bench/claim.sh: the latency of POST /cc/claim at a steady rate while
# cc-payout is busy crediting a large backlog of pending awards.
#
# Sets up what cc-draw leaves: AWARDS pending awards (uids 1..AWARDS), each
# in its user's MySQL shard and, as "p:amount:award_id" in field w, in its
# user's Redis shard (both by the rings, from cc-payout --shard-of), the
# pools funded through the ledger.  Starts the module (2 workers, 2 Redis
# shards, trusted-header identity, cc_claim_wait 1s) and cc-payout, which
# starts its bulk pass at once.  Then wrk (bench/claim.wrk.lua) claims for
# RATE distinct pending winners a second for DURATION: the winners the bulk
# pass reaches last (the greatest award ids), so each claim is paid by the
# claim path (cc:claims) while the bulk pass runs.  A claim answers 200
# once cc-payout committed its credit, 202 after cc_claim_wait.
#
# Checks before printing: awards were still pending when wrk ended (the
# payout was busy throughout), every answer was 200 or 202, the pace held.
#
# Goal: p99 < 50 ms.
#
# Env: AWARDS (1500000: at 1M the ledger's payout ran out of backlog
#      inside 20 s) RATE (200 claims/s) DURATION (20s) CONNS (2 x
#      RATE, at least 32: a claim may take cc_claim_wait, 1 s) THREADS (1)
#      BATCH (5000: cc-payout's bulk batch) CC_WORKERS (2)
#      WALLET (ledger | http: the awards paid into cc-wallet-sim in batch
#      mode, issue 20, the wallet on the same cores processing a batch
#      PROCESS_MS (5) after accepting it; a claimed award goes out on
#      the claims' lane as a single call, POST /credits, answered at once,
#      not in a batch; the line before the latency says how many).  A
#      claim's turn: its credit (ledger: one transaction; http: the
#      reserve committed, the call, the post committed), then Redis; its
#      notified = 1 rides the claims' next transaction on the shard
#      WAKE (on | off: cc_claim_wake, whether the workers hear cc-payout's
#      cc:credited and answer a claim when its credit lands, or only at
#      the re-reads, 5 ms doubling to 100 ms, as before issue 20's H)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

AWARDS=${AWARDS:-1500000} RATE=${RATE:-200} DURATION=${DURATION:-20s}
THREADS=${THREADS:-1} BATCH=${BATCH:-5000} CC_WORKERS=${CC_WORKERS:-2}
CONNS=${CONNS:-$(( RATE > 16 ? 2 * RATE : 32 ))}
WALLET=${WALLET:-ledger} PROCESS_MS=${PROCESS_MS:-5} WAKE=${WAKE:-on}
case $WAKE in on|off) ;; *) echo "claim.sh: WAKE is on or off" >&2; exit 2 ;; esac
case $WALLET in ledger|http) ;; *) echo "claim.sh: WALLET is ledger or http" >&2; exit 2 ;; esac
secs=${DURATION%s}
need=$(( RATE * secs + RATE * secs / 5 + THREADS ))
if [ "$need" -gt $(( AWARDS / 2 )) ]; then
    echo "claim.sh: RATE x DURATION (+20%) = $need claims; keep it under" \
         "AWARDS / 2 = $(( AWARDS / 2 ))" >&2
    exit 2
fi

scripts/deps.sh bench
make -s module workers test-tools >/dev/null

out=$(mktemp -d /tmp/cc-bench-claim.XXXXXX)
. bench/lib.sh
free_ports 5
port=$FREE_BASE
r0=$((port + 1)) r1=$((port + 2)) http=$((port + 3)) wport=$((port + 4))
sim=""

stop() {
    [ -n "${payout:-}" ] && kill -TERM "$payout" 2>/dev/null && wait "$payout"
    [ -n "$sim" ] && kill "$sim" 2>/dev/null
    bench_stop                           # nginx, Redis, mariadbd
}
trap stop EXIT
trap 'exit 1' INT TERM

mkdir -p "$out/logs" "$out/tmp"
redis_start "$r0" "$r1"
mysql_start --innodb-buffer-pool-size=512M --innodb-log-file-size=256M \
    --secure-file-priv="$out"
shards_init
campaign_conf bench > "$out/campaign"
if [ "$WALLET" = http ]; then
    head -c 48 /dev/urandom | base64 -w0 > "$out/wallet.secret"
    chmod 600 "$out/wallet.secret"
    build/workers/cc-wallet-sim --listen "127.0.0.1:$wport" \
        --secret-file "$out/wallet.secret" --statement "$out/statement.csv" \
        --process-ms "$PROCESS_MS" > "$out/sim.out" 2> "$out/sim.err" &
    sim=$!
    for i in $(seq 50); do
        grep -q '^listening' "$out/sim.out" && break
        sleep 0.1
    done
    cat >> "$out/campaign" <<CONF
wallet http
wallet_url http://127.0.0.1:$wport
wallet_insecure_loopback yes
wallet_timeout_ms 5000
wallet_secret_file $out/wallet.secret
CONF
fi
rings="--redis 127.0.0.1:$r0 --redis 127.0.0.1:$r1 $shards"

echo "writing $AWARDS pending awards (MySQL and Redis, by the rings)"
# shellcheck disable=SC2086
seq 1 "$AWARDS" | xargs build/workers/cc-payout --campaign "$out/campaign" \
    $rings --shard-of > "$out/shards.txt"
for s in 0 1; do
    awk -v db="cc_s$s" '$3 ~ "/" db "$" { print $1 }' "$out/shards.txt" \
        > "$out/mysql$s.txt"
    sql "CREATE TABLE cc_s$s.bench_uids (uid BIGINT UNSIGNED PRIMARY KEY);
         LOAD DATA INFILE '$out/mysql$s.txt' INTO TABLE cc_s$s.bench_uids;
         INSERT INTO cc_s$s.awards (award_id, campaign, uid, amount_cents,
             status, notified, created_at)
         SELECT CONCAT('bench:', uid), 'bench', uid, 100 + uid % 50,
             'pending', 0, 1700000000000 FROM cc_s$s.bench_uids;
         DROP TABLE cc_s$s.bench_uids"
    fund_pool bench "$s"
done
for r in $r0 $r1; do
    awk -v a="127.0.0.1:$r" '$2 == a {
        k = "cc:{" $1 "}:u"; v = "p:" (100 + $1 % 50) ":bench:" $1
        printf "*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$1\r\nw\r\n$%d\r\n%s\r\n",
               length(k), k, length(v), v }' "$out/shards.txt" \
        | redis-cli -p "$r" --pipe >/dev/null
done
n=$(( $(redis-cli -p "$r0" DBSIZE) + $(redis-cli -p "$r1" DBSIZE) ))
m=$(sql "SELECT (SELECT COUNT(*) FROM cc_s0.awards)
              + (SELECT COUNT(*) FROM cc_s1.awards)")
if [ "$n" != "$AWARDS" ] || [ "$m" != "$AWARDS" ]; then
    echo "setup: $n users in Redis, $m awards in MySQL, want $AWARDS" >&2
    exit 1
fi

# the winners the bulk pass (award id order) reaches last
awk '{ print $1 }' "$out/shards.txt" | LC_ALL=C sort -r | head -n "$need" \
    > "$out/claimers.txt"

cat > "$out/nginx.conf" <<CONF
load_module $top/build/nginx/ngx_http_cc_module.so;
worker_processes $CC_WORKERS;
error_log $out/logs/error.log warn;
pid $out/nginx.pid;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $out/tmp;
    cc_redis_shards 127.0.0.1:$r0 127.0.0.1:$r1;
    cc_redis_timeout 1s;
    cc_claim_wait 1s;
    cc_claim_wake $WAKE;
    server {
        listen 127.0.0.1:$http reuseport;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/claim { cc_claim; }
        location = /cc/award { cc_award; }
    }
}
CONF
nginx -p "$out" -c "$out/nginx.conf"
for i in $(seq 50); do
    curl -sf -o /dev/null -H 'X-CC-Uid: 1' "http://127.0.0.1:$http/cc/award" \
        && break
    sleep 0.1
done

pending() {
    sql "SELECT (SELECT COUNT(*) FROM cc_s0.awards WHERE status = 'pending')
              + (SELECT COUNT(*) FROM cc_s1.awards WHERE status = 'pending')"
}

# shellcheck disable=SC2086
build/workers/cc-payout --campaign "$out/campaign" $rings --batch "$BATCH" \
    --progress 2 --metrics-file "$out/payout.prom" 2> "$out/payout.err" &
payout=$!
sleep 0.5
kill -0 "$payout" 2>/dev/null || { cat "$out/payout.err" >&2; exit 1; }
before=$(pending)

echo "claiming $RATE/s for $DURATION over $CONNS connections while" \
     "cc-payout credits $before pending awards"
UIDS="$out/claimers.txt" RATE=$RATE THREADS=$THREADS \
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s \
    -s bench/claim.wrk.lua "http://127.0.0.1:$http" > "$out/wrk.txt"
after=$(pending)
kill -TERM "$payout"
wait "$payout" || true
payout=
sed 's/^/  /' "$out/payout.err" | tail -4
claimed=$(awk '/^cc_payout_claims_total / { print $2 }' "$out/payout.prom")
calls=$(awk '/^cc_payout_wallet_claim_calls_total / { print $2 }' \
        "$out/payout.prom")

line=$(grep '^claim ' "$out/wrk.txt") || { cat "$out/wrk.txt" >&2; exit 1; }
eval "$(echo "${line#claim }" | tr ' ' '\n' | sed 's/^/w_/')"
rps=$(( w_sent / secs ))

bad=
[ "$after" -gt 0 ] \
    || bad="the backlog ran out during the run ($before at first): raise AWARDS"
[ "$w_other" = 0 ] || bad="$w_other answers neither 200 nor 202"
[ "$w_reused" = 0 ] || bad="the claimer list ran out ($w_reused reused)"
[ "$w_late" -le $(( w_requests / 100 )) ] \
    || bad="$w_late of $w_requests claims late on their slot: raise CONNS"
[ "$rps" -ge $(( RATE * 9 / 10 )) ] || bad="sent $rps/s, not the $RATE/s asked"
[ "$w_requests" -gt 0 ] || bad="no claim answered"
if [ -n "$bad" ]; then
    sed 's/^/  /' "$out/wrk.txt" >&2
    echo "claim.sh: $bad" >&2
    exit 1
fi

echo "pending awards: $before when wrk started, $after when it ended;" \
     "cc-payout credited $claimed on claims"
if [ "$WALLET" = http ]; then
    echo "wallet http: $calls claimed awards sent as single calls"
fi
echo "claims: $w_sent sent, $w_requests answered in time: $w_s200 x 200" \
     "credited, $w_s202 x 202 pending (after cc_claim_wait 1s);" \
     "$w_late late on their slot"
awk -v r="$rps" -v p50="$w_p50_us" -v p90="$w_p90_us" -v p99="$w_p99_us" \
    -v mx="$w_max_us" -v b="$BATCH" -v w="$WALLET" 'BEGIN {
    printf "claim latency at %d claims/s, cc-payout busy (batch %d, wallet %s): " \
           "p50 %d us, p90 %d us, p99 %d us, max %d us (goal p99 < 50000 us)\n",
           r, b, w, p50, p90, p99, mx }'
