#!/bin/bash
# bench/gift.sh: gifts per second (POST /cc/gift, giver and receiver on
# different Redis shards) against flips per second (POST /cc/flip), in one
# run on the same servers, alternating flip gift flip gift.  A gift is two
# script calls on two shards before its answer (gift_out.lua on the
# giver's, then gift_in.lua on the receiver's) and a third after it
# (gift_done.lua on the giver's, in a detached batch of many gifts' that
# leaves within 10 ms), a flip one on one shard: the goal is half the
# flips' throughput at least and twice their p99 at most.
#
# Sets up USERS users (uids 1..USERS) on 2 Redis shards, each placed by
# the ring (cc-redrive --shard-of, the module's), each with CHANCES chances
# and CARDS cards of kind 0 written into its hash (cc:{uid}:u, as the
# tests seed them); pairs each user of one shard with one of the other,
# both ways.  Starts the module (CC_WORKERS workers, trusted-header
# identity, cc_gift_limit 10000).  The same wrk script (bench/gift.wrk.lua:
# one pair picked at random, one new request id) sends the flips (the
# giver flips) and the gifts (the giver gives one kind-0 card to the
# receiver).  After the runs, at rest (two readings 0.5 s apart agree):
# every answer 200, and the cards add up:
# Σ cards held + gifts in transit (outbox entries not applied) = the cards
# seeded + the draws (Σ s: each flip adds one card, a gift moves one).
#
# Where the time goes, each run: the CPU time per request of the nginx
# workers and of each Redis (/proc/PID/stat), and the Redis commands per
# request and their time inside Redis (INFO commandstats, reset before
# the run: the scripts' EVALSHA calls, a call a batch of requests).
#
# Prints each run, then the medians, and last:
#     gift/flip throughput: R      (goal >= 0.5)
#     gift/flip p99: P             (goal <= 2)
#
# Env: ROUNDS (2) DURATION (10s) CONNS (64) THREADS (2) USERS (100000)
#      CHANCES (1000) CARDS (100) CC_WORKERS (2)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-10s} CONNS=${CONNS:-64}
THREADS=${THREADS:-2} USERS=${USERS:-100000} CHANCES=${CHANCES:-1000}
CARDS=${CARDS:-100} CC_WORKERS=${CC_WORKERS:-2}

scripts/deps.sh bench
make -s module workers >/dev/null

out=$(mktemp -d /tmp/cc-bench-gift.XXXXXX)
. bench/lib.sh
run=$out me=gift
. scripts/lib/run.sh
free_ports 3
port=$FREE_BASE
r0=$((port + 1)) r1=$((port + 2)) http=$port
trap bench_stop EXIT
trap 'exit 1' INT TERM

mkdir -p "$out/logs" "$out/tmp"
redis_start "$r0" "$r1"
ring="--redis 127.0.0.1:$r0 --redis 127.0.0.1:$r1"

echo "placing $USERS users on 2 shards, $CHANCES chances and $CARDS kind-0 cards each"
# shellcheck disable=SC2086
seq 1 "$USERS" | xargs build/workers/cc-redrive $ring --shard-of > "$out/shards.txt"
for r in $r0 $r1; do
    awk -v a="127.0.0.1:$r" -v c="$CHANCES" -v n="$CARDS" '$2 == a {
        k = "cc:{" $1 "}:u"
        printf "*6\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$1\r\nc\r\n$%d\r\n%s\r\n$2\r\nk0\r\n$%d\r\n%s\r\n",
               length(k), k, length(c), c, length(n), n }' "$out/shards.txt" \
        | redis-cli -p "$r" --pipe >/dev/null
    awk -v a="127.0.0.1:$r" '$2 == a { print $1 }' "$out/shards.txt" > "$out/on$r.txt"
done
n=$(( $(wc -l < "$out/on$r0.txt") < $(wc -l < "$out/on$r1.txt") \
      ? $(wc -l < "$out/on$r0.txt") : $(wc -l < "$out/on$r1.txt") ))
# each pair "giver receiver" on different shards, both ways
{ paste -d' ' <(head -n "$n" "$out/on$r0.txt") <(head -n "$n" "$out/on$r1.txt")
  paste -d' ' <(head -n "$n" "$out/on$r1.txt") <(head -n "$n" "$out/on$r0.txt")
} > "$out/pairs.txt"
seeded=$(( ($(redis-cli -p "$r0" DBSIZE) + $(redis-cli -p "$r1" DBSIZE)) * CARDS ))
[ "$seeded" = $(( USERS * CARDS )) ] || {
    echo "setup: $seeded cards seeded, want $(( USERS * CARDS ))" >&2; exit 1; }

cat > "$out/nginx.conf" <<CONF
load_module $top/build/nginx/ngx_http_cc_module.so;
worker_processes $CC_WORKERS;
error_log $out/logs/error.log warn;
pid $out/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $out/tmp;
    cc_redis_shards 127.0.0.1:$r0 127.0.0.1:$r1;
    cc_redis_timeout 1s;
    cc_cards 3000 3000 2500 1400 100;
    cc_gift_limit 10000;
    server {
        listen 127.0.0.1:$http reuseport;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/flip { cc_flip; }
        location = /cc/gift { cc_gift; }
    }
}
CONF
nginx -p "$out" -c "$out/nginx.conf"
read -r g0 g1 < "$out/pairs.txt"
for i in $(seq 50); do
    curl -sf -o /dev/null -X POST -H "X-CC-Uid: $g0" \
        "http://127.0.0.1:$http/cc/flip?request_id=up$$" && break
    sleep 0.1
done
up=$(curl -s -X POST -H "X-CC-Uid: $g0" \
     "http://127.0.0.1:$http/cc/gift?to=$g1&kind=0&request_id=up$$")
case $up in
    *'"status":"delivered"'*) ;;
    *) echo "setup: the first gift answered $up" >&2; exit 1 ;;
esac

# the CPU ticks so far of the nginx workers together, Redis r0, Redis r1
hz=$(getconf CLK_TCK)
cpu_ticks() {
    local n=0 p
    for p in $(pgrep -P "$(cat "$out/nginx.pid")"); do n=$(( n + $(ticks "$p") )); done
    echo "$n $(ticks "$(cat "$out/redis$r0.pid")") $(ticks "$(cat "$out/redis$r1.pid")")"
}
# the commands both shards ran since the reset: "calls usec"
redis_calls() {
    for r in $r0 $r1; do redis-cli -p "$r" INFO commandstats; done |
        awk -F'[:,=]' '/^cmdstat_/ { c += $3; u += $5 } END { print c + 0, u + 0 }'
}

# load MODE: one wrk run; prints "rps p99_us delivered sent other", and
# where its time went into $out/cpu.txt
load() {
    local before after
    for r in $r0 $r1; do redis-cli -p "$r" CONFIG RESETSTAT >/dev/null; done
    before=$(cpu_ticks)
    MODE=$1 PAIRS=$out/pairs.txt wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" \
        -s bench/gift.wrk.lua "http://127.0.0.1:$http" > "$out/wrk.txt"
    after=$(cpu_ticks)
    echo "$before $after $(redis_calls)" | awk -v hz="$hz" -v f="$out/wrk.txt" '
        BEGIN { while ((getline l < f) > 0) if (l ~ /^ *[0-9]+ requests in/) { split(l, a, " "); n = a[1] } }
        { t = 1e6 / hz / (n ? n : 1)
          printf "    cpu per request: nginx %.1f us, redis %.1f + %.1f us; redis commands %.2f a request, %.1f us inside Redis\n",
                 ($4 - $1) * t, ($5 - $2) * t, ($6 - $3) * t, $7 / (n ? n : 1), $8 / (n ? n : 1) }' \
        > "$out/cpu.txt"
    # the commands by their time inside Redis, the first 8, per request
    for r in $r0 $r1; do redis-cli -p "$r" INFO commandstats; done |
        awk -F'[:,=]' -v f="$out/wrk.txt" '
            BEGIN { while ((getline l < f) > 0) if (l ~ /^ *[0-9]+ requests in/) { split(l, a, " "); n = a[1] } }
            /^cmdstat_/ { sub(/^cmdstat_/, "", $1); c[$1] += $3; u[$1] += $5 }
            END { for (k in u) printf "%s %.2f %.1f\n", k, c[k] / (n ? n : 1), u[k] / (n ? n : 1) }' |
        sort -k3,3 -rn | head -8 |
        awk '{ s = s sep $1 " " $2 "x " $3 "us"; sep = ", " } END { print "    redis per request: " s }' \
        >> "$out/cpu.txt"
    awk '/^Requests\/sec/ { rps = $2 }
         /p99_us=/ { for (i = 1; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } }
         END { printf "%d %d %d %d %d\n", rps, v["p99_us"], v["delivered"],
                      v["sent"], v["other"] }' "$out/wrk.txt"
}

# warm up: both paths once, 2 s each, not counted
DURATION=2s load flip >/dev/null
DURATION=2s load gift >/dev/null

: > "$out/flip.txt"
: > "$out/gift.txt"
bad=0
for r in $(seq 1 "$ROUNDS"); do
    for m in flip gift; do
        # shellcheck disable=SC2046   # the figures, split on purpose
        set -- $(load $m)
        printf 'round %d  %-4s %6d %s/s  p99 %6d us  200 %d (sent, not delivered: %d)  other %d  load %s\n' \
            "$r" "$m" "$1" "$m"s "$2" $(( $3 + $4 )) "$4" "$5" \
            "$(cut -d' ' -f1-3 /proc/loadavg)"
        cat "$out/cpu.txt"
        echo "$1 $2" >> "$out/$m.txt"
        bad=$(( bad + $5 ))
    done
done

# the books: cards held + in transit = seeded + drawn, at rest: the
# requests wrk left in progress end (on a loaded machine, after the load's
# own reads) and the gift_done batches run, so the books are read until
# two readings 0.5 s apart agree (10 s at most).  The shards are read one
# after the other: a gift between its halves while they are read would
# count its card on neither side.
books() {
    # shellcheck disable=SC2046   # the sums, split on purpose
    set -- $(user_sums "$r0") $(user_sums "$r1")
    draws=$(( $1 + $8 ))
    held=$(( $2 + $3 + $4 + $5 + $6 + $9 + ${10} + ${11} + ${12} + ${13} ))
    transit=$(gifts_in_transit build/workers/cc-redrive "$r0" "$r1" |
              awk '{ s += $2 } END { print s + 0 }')
    outbox=$(( $(redis-cli -p "$r0" ZCARD cc:outbox) + $(redis-cli -p "$r1" ZCARD cc:outbox) ))
    echo "$held $transit $draws $outbox"
}
sleep 1
now=$(books)
for _ in $(seq 20); do
    sleep 0.5
    was=$now now=$(books)
    [ "$now" = "$was" ] && break
done
read -r held transit draws outbox <<< "$now"
echo "cards: held $held + in transit $transit = $(( held + transit ));" \
     "seeded $seeded + drawn $draws = $(( seeded + draws )) ($outbox gifts left in the outboxes)"
if [ $(( held + transit )) != $(( seeded + draws )) ]; then
    echo "gift.sh: the cards do not add up" >&2
    exit 1
fi
if [ "$bad" != 0 ]; then
    echo "gift.sh: $bad answers were not 200 (see $out/logs/error.log)" >&2
    exit 1
fi

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
frps=$(cut -d' ' -f1 "$out/flip.txt" | median)
fp99=$(cut -d' ' -f2 "$out/flip.txt" | median)
grps=$(cut -d' ' -f1 "$out/gift.txt" | median)
gp99=$(cut -d' ' -f2 "$out/gift.txt" | median)

echo
echo "medians over $ROUNDS rounds of $DURATION, wrk -t$THREADS -c$CONNS, $USERS users on 2 shards, $CC_WORKERS nginx workers"
echo "flip: $frps flips/s, p99 $fp99 us"
echo "gift: $grps gifts/s, p99 $gp99 us (giver and receiver on different shards)"
awk -v a="$grps" -v b="$frps" -v c="$gp99" -v d="$fp99" 'BEGIN {
    printf "gift/flip throughput: %.2f\n", a / b
    printf "gift/flip p99: %.2f\n", c / d }'
