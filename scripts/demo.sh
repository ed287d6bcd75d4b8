#!/bin/sh
# demo.sh: install what is missing, build, and run a small campaign on the
# embedded defaults: two redis-server shards and an nginx with the module,
# all under ./demo-run, on loopback ports.  Grants chances to a few users,
# flips cards for them, retries a flip, and prints a report.  Everything it
# started is stopped at the end; the logs stay in ./demo-run.
#
# Env: USERS (20) CHANCES (6) PORT (18480) REDIS_PORT (16480, and +1)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

USERS=${USERS:-20} CHANCES=${CHANCES:-6}
PORT=${PORT:-18480} REDIS_PORT=${REDIS_PORT:-16480}
R0=$REDIS_PORT R1=$((REDIS_PORT + 1))

scripts/deps.sh
make -s -j2 all >/dev/null

run="$top/demo-run"
rm -rf "$run"
mkdir -p "$run/logs" "$run/tmp"

stop() {
    [ -f "$run/nginx.pid" ] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null
    for p in "$R0" "$R1"; do
        redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    done
}
trap stop EXIT INT TERM

for p in "$R0" "$R1"; do
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --logfile "$run/logs/redis-$p.log" \
        --pidfile "$run/redis-$p.pid"
done
for p in "$R0" "$R1"; do
    for i in $(seq 50); do
        redis-cli -p "$p" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
done

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

    server {
        listen 127.0.0.1:$PORT;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/flip  { cc_flip; }
        location = /cc/grant { allow 127.0.0.1; deny all; cc_grant; }
    }
}
CONF
nginx -p "$run" -c "$run/nginx.conf"
for i in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done

url="http://127.0.0.1:$PORT"
post() { curl -s -X POST -H "X-CC-Uid: $1" "$url$2"; }

echo "== campaign demo: $USERS users, $CHANCES chances each, 2 redis shards"
for u in $(seq 1 "$USERS"); do
    post "$u" "/cc/grant?grant_id=signup-$u&n=$CHANCES" >/dev/null
done

echo "-- user 1 flips $((CHANCES + 1)) times (the last one has no chance left)"
for f in $(seq 1 $((CHANCES + 1))); do
    printf '   flip %s: %s\n' "$f" "$(post 1 "/cc/flip?request_id=u1-f$f")"
done
echo "-- user 1 retries flip 1 with the same request id: same answer"
printf '   retry:  %s\n' "$(post 1 "/cc/flip?request_id=u1-f1")"
echo "-- user 1's signup grant sent again adds nothing"
printf '   regrant: %s\n' "$(post 1 "/cc/grant?grant_id=signup-1&n=$CHANCES")"

ok=0 none=0
for u in $(seq 2 "$USERS"); do
    for f in $(seq 1 "$CHANCES"); do
        case $(post "$u" "/cc/flip?request_id=u$u-f$f") in
            *draw_id*) ok=$((ok + 1)) ;;
            *) none=$((none + 1)) ;;
        esac
    done
done

echo
echo "== report"
echo "flips answered 200: $((ok + CHANCES)), refused: $((none + 1))"
for p in "$R0" "$R1"; do
    n=$(redis-cli -p "$p" --scan --pattern 'cc:{*}:u' | wc -l)
    echo "redis shard 127.0.0.1:$p holds $n users"
done
printf 'cards held by kind (0..4):'
for k in 0 1 2 3 4; do
    t=0
    for p in "$R0" "$R1"; do
        for key in $(redis-cli -p "$p" --scan --pattern 'cc:{*}:u'); do
            v=$(redis-cli -p "$p" hget "$key" "k$k")
            t=$((t + ${v:-0}))
        done
    done
    printf ' %s' "$t"
done
echo
echo "logs: $run/logs"
