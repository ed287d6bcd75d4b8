#!/bin/bash
# demo.sh: install what is missing, build, and run a small campaign on the
# embedded defaults, all under ./demo-run on loopback ports: two
# redis-server shards, nginx with the module, the Kafka mock broker, a
# mariadbd holding two MySQL shards, cc-ingest and cc-reconcile.  Grants
# chances, flips cards (with a retry), waits for every draw to reach MySQL
# and prints a report.  Everything it started is stopped at the end; the
# logs stay in ./demo-run/logs.
#
# Env: USERS (20) CHANCES (12) PORT (18480) REDIS_PORT (16480, and +1)
#      MYSQL_PORT (13480)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

USERS=${USERS:-20} CHANCES=${CHANCES:-12}
PORT=${PORT:-18480} REDIS_PORT=${REDIS_PORT:-16480}
MYSQL_PORT=${MYSQL_PORT:-13480}
R0=$REDIS_PORT R1=$((REDIS_PORT + 1))

scripts/deps.sh
make -s -j2 all >/dev/null

run="$top/demo-run"
rm -rf "$run"
mkdir -p "$run/logs" "$run/tmp"
W="$top/build/workers"
pids=""

stop() {
    [ -f "$run/nginx.pid" ] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in "$R0" "$R1"; do
        redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    done
    [ -f "$run/mysql.pid" ] && kill "$(cat "$run/mysql.pid")" 2>/dev/null
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM

wait_for() {    # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local n=$(($1 * 10)); shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "demo: timed out waiting for: $*" >&2
    return 1
}

echo "== starting the servers under $run"
for p in "$R0" "$R1"; do
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --logfile "$run/logs/redis-$p.log" \
        --pidfile "$run/redis-$p.pid"
done
for p in "$R0" "$R1"; do wait_for 5 redis-cli -p "$p" ping; done

mariadb-install-db --no-defaults --datadir="$run/mysql" --user=root \
    --auth-root-authentication-method=normal --skip-test-db \
    > "$run/logs/mysql-install.log" 2>&1
mariadbd --no-defaults --datadir="$run/mysql" --user=root \
    --port="$MYSQL_PORT" --bind-address=127.0.0.1 --socket="$run/mysql.sock" \
    --pid-file="$run/mysql.pid" --log-error="$run/logs/mysql.err" \
    --skip-log-bin --innodb-buffer-pool-size=64M --skip-name-resolve \
    --character-set-server=utf8mb4 &
pids="$pids $!"
sql() { mariadb --no-defaults -S "$run/mysql.sock" -uroot -N -B -e "$1"; }
wait_for 20 sql 'select 1'

"$W/cc-mockbroker" --partitions 4 > "$run/mock.out" 2> "$run/logs/mock.log" &
pids="$pids $!"
wait_for 5 grep -q bootstrap= "$run/mock.out"
brokers=$(sed -n 's/^bootstrap=//p' "$run/mock.out")

shards="--mysql 127.0.0.1:$MYSQL_PORT/cc_s0 --mysql 127.0.0.1:$MYSQL_PORT/cc_s1"
# shellcheck disable=SC2086
"$W/cc-ingest" --init-shards $shards 2>> "$run/logs/cc-ingest.log"
# shellcheck disable=SC2086
"$W/cc-ingest" --brokers "$brokers" $shards --batch 500 --batch-ms 50 \
    --progress 2 2>> "$run/logs/cc-ingest.log" &
pids="$pids $!"

cat > "$run/nginx.conf" <<CONF
load_module $top/build/nginx/ngx_http_cc_module.so;
worker_processes 2;
error_log $run/logs/error.log notice;
pid $run/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $run/tmp/body;
    proxy_temp_path $run/tmp/proxy;
    fastcgi_temp_path $run/tmp/fastcgi;
    uwsgi_temp_path $run/tmp/uwsgi;
    scgi_temp_path $run/tmp/scgi;

    cc_redis_shards 127.0.0.1:$R0 127.0.0.1:$R1;
    cc_redis_timeout 200ms;
    cc_cards 3000 3000 2500 1400 100;
    cc_kafka_brokers $brokers;

    server {
        listen 127.0.0.1:$PORT;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/flip    { cc_flip; }
        location = /cc/combine { cc_combine; }
        location = /cc/eligibility { cc_eligibility; }
        location = /cc/grant   { allow 127.0.0.1; deny all; cc_grant; }
        location = /cc/metrics { allow 127.0.0.1; deny all; cc_metrics; }
    }
}
CONF
nginx -p "$run" -c "$run/nginx.conf"
wait_for 5 curl -sf -o /dev/null "http://127.0.0.1:$PORT/cc/metrics"

url="http://127.0.0.1:$PORT"
post() { curl -s -X POST -H "X-CC-Uid: $1" "$url$2"; }

echo "== campaign: $USERS users, $CHANCES chances each"
for u in $(seq 1 "$USERS"); do
    post "$u" "/cc/grant?grant_id=signup-$u&n=$CHANCES" >/dev/null
done

echo "-- user 1 flips $((CHANCES + 1)) times (the last one has no chance left)"
for f in $(seq 1 $((CHANCES + 1))); do
    printf '   flip %s: %s\n' "$f" "$(post 1 "/cc/flip?request_id=u1-f$f")"
done
echo "-- user 1 retries flip 1 with the same request id: same answer"
printf '   retry:   %s\n' "$(post 1 "/cc/flip?request_id=u1-f1")"
echo "-- user 1's signup grant sent again adds nothing"
printf '   regrant: %s\n' "$(post 1 "/cc/grant?grant_id=signup-1&n=$CHANCES")"

ok=$CHANCES refused=1
for u in $(seq 2 "$USERS"); do
    for f in $(seq 1 "$CHANCES"); do
        case $(post "$u" "/cc/flip?request_id=u$u-f$f") in
            *draw_id*) ok=$((ok + 1)) ;;
            *) refused=$((refused + 1)) ;;
        esac
    done
done

echo "-- every user tries to combine a full set (合成)"
eligible=0
for u in $(seq 1 "$USERS"); do
    case $(post "$u" "/cc/combine?request_id=set-$u") in
        *'"combined":true'*) eligible=$((eligible + 1)) ;;
    esac
done
printf '   user 1: %s\n' "$(curl -s -H 'X-CC-Uid: 1' "$url/cc/eligibility")"

rows() {
    sql 'SELECT (SELECT COUNT(*) FROM cc_s0.draws) + (SELECT COUNT(*) FROM cc_s1.draws)'
}
echo "-- waiting for the $ok draws to reach MySQL through Kafka and cc-ingest"
for _ in $(seq 100); do [ "$(rows)" -ge "$ok" ] && break; sleep 0.1; done
elig_rows() {
    sql 'SELECT (SELECT COUNT(*) FROM cc_s0.eligibility) + (SELECT COUNT(*) FROM cc_s1.eligibility)'
}
for _ in $(seq 100); do [ "$(elig_rows)" -ge "$eligible" ] && break; sleep 0.1; done

# shellcheck disable=SC2086
"$W/cc-reconcile" --once --grace 0 --redis "127.0.0.1:$R0" \
    --redis "127.0.0.1:$R1" $shards 2> "$run/logs/cc-reconcile.log"

echo
echo "== report"
echo "flips answered 200: $ok, refused: $refused"
for p in "$R0" "$R1"; do
    n=$(redis-cli -p "$p" --scan --pattern 'cc:{*}:u' | wc -l)
    echo "redis shard 127.0.0.1:$p holds $n users"
done
redis_cards=""
for k in 0 1 2 3 4; do
    t=0
    for p in "$R0" "$R1"; do
        for key in $(redis-cli -p "$p" --scan --pattern 'cc:{*}:u'); do
            v=$(redis-cli -p "$p" hget "$key" "k$k")
            t=$((t + ${v:-0}))
        done
    done
    redis_cards="$redis_cards $t"
done
echo "cards held by kind 0..4 in Redis:$redis_cards"
mysql_cards=""
for k in 0 1 2 3 4; do
    drawn=$(sql "SELECT COALESCE(SUM(n), 0) FROM (SELECT n FROM cc_s0.user_cards WHERE card = $k UNION ALL SELECT n FROM cc_s1.user_cards WHERE card = $k) x")
    mysql_cards="$mysql_cards $((drawn - $(elig_rows)))"
done
echo "cards held by kind 0..4 in MySQL (drawn less the combined sets):$mysql_cards"
echo "eligible users: $eligible by the API, $(elig_rows) in MySQL's eligibility tables"
for db in cc_s0 cc_s1; do
    echo "mysql shard $db: $(sql "SELECT COUNT(*) FROM $db.draws") draws of $(sql "SELECT COUNT(DISTINCT uid) FROM $db.draws") users"
done
echo "cc-reconcile: $(grep -o 'pass done.*' "$run/logs/cc-reconcile.log")"
echo "metrics:"
curl -s "$url/cc/metrics" | grep -v '^#' | sed 's/^/   /'
if [ "$(rows)" = "$ok" ] && [ "$redis_cards" = "$mysql_cards" ] \
   && [ "$(elig_rows)" = "$eligible" ]; then
    echo "RESULT: MySQL holds every draw and combine exactly once, cards equal Redis"
else
    echo "RESULT: MySQL and Redis differ" >&2
    exit 1
fi
echo "logs: $run/logs"
