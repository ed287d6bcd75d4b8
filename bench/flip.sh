#!/bin/bash
# bench/flip.sh: the module's flip against the OpenResty peer in
# ../shared/peers, same wrk script, same machine, in one run, alternating
# A B A B.  Prints each run, then medians of both and the ratios.
#
# Env: ROUNDS (2) DURATION (10s) CONNS (64) THREADS (2) USERS (100000)
#      CC_WORKERS (2: the module's nginx workers, as the peer has)
#      CHANCES (1000) PEERS (../shared/peers)
#      CEILING=1: each round also loads a plain nginx `return 200` of the
#                 same body (same workers, same wrk script): what any
#                 module could reach on this machine
#      CPU=1:     after each module run, the CPU time per flip of wrk, each
#                 nginx worker and Redis (from /proc/PID/stat)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-10s} CONNS=${CONNS:-64}
THREADS=${THREADS:-2} USERS=${USERS:-100000} CHANCES=${CHANCES:-1000}
CC_WORKERS=${CC_WORKERS:-2} CEILING=${CEILING:-0} CPU=${CPU:-0}
PEERS=${PEERS:-$top/../shared/peers}
PEER_PORT=18090 PEER_REDIS=16390 CC_PORT=18091 CC_REDIS=16391 PLAIN_PORT=18092

scripts/deps.sh bench
make -s module >/dev/null

out=$(mktemp -d /tmp/cc-bench.XXXXXX)
mkdir -p "$out/peer" "$out/cc/logs" "$out/cc/tmp"

stop() {
    "$PEERS/openresty/down.sh" "$out/peer" >/dev/null 2>&1 || true
    [ -f "$out/cc/nginx.pid" ] && kill "$(cat "$out/cc/nginx.pid")" 2>/dev/null
    redis-cli -p "$CC_REDIS" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$out"
}
trap stop EXIT INT TERM

echo "starting the peer (OpenResty + lua-resty-redis) on :$PEER_PORT"
PORT=$PEER_PORT REDIS_PORT=$PEER_REDIS USERS=$USERS CHANCES=$CHANCES \
    "$PEERS/openresty/up.sh" "$out/peer" >/dev/null

echo "starting the module on :$CC_PORT"
redis-server --port "$CC_REDIS" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --logfile "$out/cc/redis.log"
for i in $(seq 50); do
    redis-cli -p "$CC_REDIS" ping >/dev/null 2>&1 && break
    sleep 0.1
done
seq 1 "$USERS" | awk -v n="$CHANCES" '{
    k = "cc:{" $1 "}:u"
    printf "*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$1\r\nc\r\n$%d\r\n%s\r\n",
           length(k), k, length(n), n }' \
    | redis-cli -p "$CC_REDIS" --pipe >/dev/null

cat > "$out/cc/nginx.conf" <<CONF
load_module $top/build/nginx/ngx_http_cc_module.so;
worker_processes $CC_WORKERS;
error_log $out/cc/logs/error.log warn;
pid $out/cc/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $out/cc/tmp;
    cc_redis_shards 127.0.0.1:$CC_REDIS;
    cc_redis_timeout 1s;
    server {
        listen 127.0.0.1:$CC_PORT reuseport;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/flip { cc_flip; }
    }
    server {
        listen 127.0.0.1:$PLAIN_PORT reuseport;
        location = /cc/flip {
            default_type application/json;
            return 200 '{"draw_id":"12345:1","card":1,"chances_left":999}';
        }
    }
}
CONF
nginx -p "$out/cc" -c "$out/cc/nginx.conf"
for i in $(seq 50); do
    curl -sf -o /dev/null -X POST -H 'X-CC-Uid: 1' \
        "http://127.0.0.1:$CC_PORT/cc/flip?request_id=up$$" && break
    sleep 0.1
done

# wrk's figures from $out/wrk.txt: "rps p99_us non2xx"
wrk_result() {
    awk '/^Requests\/sec/ { rps = $2 }
         /Non-2xx/ { bad = $NF }
         /p99_us=/ { split($2, a, "="); p99 = a[2] }
         END { printf "%d %d %d\n", rps, p99, bad + 0 }' "$out/wrk.txt"
}

# one wrk run on PORT; its CPU time goes to $out/wrk.cpu
load() {
    USERS=$USERS /usr/bin/time -f "%U %S" -o "$out/wrk.cpu" \
        wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" \
        -s "$PEERS/flip.wrk.lua" "http://127.0.0.1:$1" > "$out/wrk.txt"
    wrk_result
}

# CPU ticks of a process (user + system)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# load_cpu PORT: load() and, in $out/cpu.txt, the CPU us per request of
# each nginx worker of the module, its Redis, and wrk
load_cpu() {
    local pids hz before after res
    pids="$(pgrep -P "$(cat "$out/cc/nginx.pid")") $(pgrep -f "redis-server 127.0.0.1:$CC_REDIS")"
    hz=$(getconf CLK_TCK)
    before=$(for p in $pids; do ticks "$p"; done)
    res=$(load "$1")
    after=$(for p in $pids; do ticks "$p"; done)
    set -- $res
    paste <(echo "$before") <(echo "$after") \
          <(for p in $pids; do tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-20; done) \
        | awk -v hz="$hz" -v n="$(( $1 * ${DURATION%s} ))" '
            { printf "    cpu %-24s %5.2f us/flip\n", $3 " " $4 " " $5, ($2 - $1) / hz * 1e6 / n }' \
        > "$out/cpu.txt"
    awk -v n="$(( $1 * ${DURATION%s} ))" '
        { printf "    cpu %-24s %5.2f us/flip\n", "wrk", ($1 + $2) * 1e6 / n }' \
        "$out/wrk.cpu" >> "$out/cpu.txt"
    echo "$res"
}

: > "$out/peer.txt"
: > "$out/cc.txt"
: > "$out/plain.txt"
for r in $(seq 1 "$ROUNDS"); do
    set -- $(load $PEER_PORT)
    echo "round $r  peer    ${1} flips/s  p99 ${2} us  non-2xx $3"
    echo "$1 $2" >> "$out/peer.txt"
    if [ "$CPU" = 1 ]; then
        set -- $(load_cpu $CC_PORT)
    else
        set -- $(load $CC_PORT)
    fi
    echo "round $r  module  ${1} flips/s  p99 ${2} us  non-2xx $3"
    echo "$1 $2" >> "$out/cc.txt"
    [ "$CPU" = 1 ] && cat "$out/cpu.txt"
    if [ "$CEILING" = 1 ]; then
        set -- $(load $PLAIN_PORT)
        echo "round $r  plain   ${1} req/s    p99 ${2} us  (nginx return 200)"
        echo "$1 $2" >> "$out/plain.txt"
    fi
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
prps=$(cut -d' ' -f1 "$out/peer.txt" | median)
pp99=$(cut -d' ' -f2 "$out/peer.txt" | median)
crps=$(cut -d' ' -f1 "$out/cc.txt" | median)
cp99=$(cut -d' ' -f2 "$out/cc.txt" | median)

echo
echo "medians over $ROUNDS rounds of $DURATION, wrk -t$THREADS -c$CONNS, $USERS users"
echo "peer:   $prps flips/s, p99 $pp99 us"
echo "module: $crps flips/s, p99 $cp99 us"
awk -v a="$crps" -v b="$prps" -v c="$cp99" -v d="$pp99" 'BEGIN {
    printf "throughput ratio module/peer: %.2f (goal >= 2)\n", a / b
    printf "p99 ratio module/peer:        %.2f (goal <= 0.5)\n", c / d }'
if [ "$CEILING" = 1 ]; then
    lrps=$(cut -d' ' -f1 "$out/plain.txt" | median)
    echo "plain:  $lrps req/s (nginx return 200, no module work)"
    awk -v a="$lrps" -v b="$prps" -v c="$crps" 'BEGIN {
        printf "ceiling ratio plain/peer:     %.2f; module/plain %.2f\n", a / b, c / a }'
fi
