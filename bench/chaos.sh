#!/bin/bash
# bench/chaos.sh: a campaign on loopback under faults, then the books.
#
# The parts run as in production, each its own process: two redis-server
# shards with appendonly yes (appendfsync everysec), one mariadbd holding
# two MySQL shards, the Kafka mock broker, cc-ingest, and four nginx
# instances, each with its own pid file and error log: the edge (routing
# by uid, `hash ... consistent`, proxy_next_upstream as in
# nginx.conf.example), app1 and app2 (the module, token identity) and an
# internal admin (grants).  A steady load of flips and combines goes
# through the edge, new users round after round (cc-load grant, then
# cc-load flip --combine), while these faults come, each at a time drawn
# from the seed, in sequence and overlapping:
#
#   worker     one nginx worker (edge, app1 or app2) killed with kill -9
#   app        app1 or app2 stopped (nginx -s quit) and started again
#   redis      one Redis shard restarted: SHUTDOWN (the AOF is fsynced),
#              start, the data kept
#   redis9     the other shard killed with kill -9, started again
#   broker     the broker down for BROKER_S (cc-mockbroker SIGUSR1/USR2)
#   ingest     cc-ingest killed with kill -9 under load, started again
#   mysql      mariadbd restarted (SIGTERM, start)
#
# Then the window closes (the app nodes reloaded with the cutoff), cc-draw
# runs and is killed with kill -9, and runs again to the end; cc-payout
# credits while winners claim through the edge, is killed with kill -9
# between two of its batches' commits (some awards credited, some not) and
# started again.  Once every award is paid: cc-reconcile --once --grace 0
# (the draw logs into MySQL) and cc-reconcile --money.
#
# What a Redis kill -9 can lose.  Redis writes each command's effects to
# the AOF file (write(2)) before it sends the answer, so a killed process
# loses nothing the kernel holds; appendfsync everysec only bounds what a
# host crash loses (about a second), and when an fsync takes longer than
# 2 s Redis answers before it writes (its log says "Asynchronous AOF fsync
# is taking too long"): up to 2 s of answered flips can then be lost to a
# kill -9 too.  The flip script's state and its draw log entry are one
# AOF entry: both are kept or both lost.  What is kept, cc-reconcile
# writes into MySQL even when the Kafka copy was lost with the dying
# worker.  What is lost is not covered: the user's sequence goes back, and
# a draw Kafka already carried stays in MySQL while Redis lost it; this
# run's checks (draws in Redis = rows in MySQL, cards equal) catch it.
#
# The run ends with its figures and these checks; any failure exits 1:
#   - requests sent, answers by status and endpoint;
#   - only documented statuses: 200 (202 for a claim still pending); 429
#     from the edge's per-user limit, at any time; 503 from an app node
#     (storage_unavailable) only while a Redis shard is down, plus a few
#     seconds of reconnect; 502 and 504 from the edge, and client
#     connection errors, only while an nginx worker dies or an app node is
#     stopped, and for the edge's fail_timeout (5 s) after (a node that
#     failed stays out that long: with both out the edge answers 502); no
#     user given up, no retry answered differently;
#   - draws: Σ s in Redis = rows in MySQL = the client's draws, no request
#     id drawn twice, cards and eligible users equal in both;
#   - awards: one per eligible user, each credited exactly once (one
#     ledger transfer of its amount), Σ credits = the pool, and
#     cc-reconcile --money clean;
#   - logs: no [alert], [emerg] or "signal 11" in any nginx log, except the
#     one "worker process PID exited on signal 9" of the worker killed here
#     (that PID, in that instance's log).
#
# Env: SHORT=1 (about a minute) or the full run (a few minutes);
#      FLIP_S (150, short 30) seconds of flip load, BROKER_S (30, short 8),
#      APP_DOWN_S (10, short 4), REDIS_DOWN_S (2), CONC (8),
#      ROUND_USERS (400), CHANCES (12), POOL_CENTS (5000000),
#      CHAOS_SEED (random; printed, replays the fault schedule),
#      PORT_BASE (18700: +0..3 nginx, +10 +11 Redis, +20 MySQL),
#      RUN (./chaos-run)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

if [ "${SHORT:-0}" = 1 ]; then
    FLIP_S=${FLIP_S:-30} BROKER_S=${BROKER_S:-8} APP_DOWN_S=${APP_DOWN_S:-4}
else
    FLIP_S=${FLIP_S:-150} BROKER_S=${BROKER_S:-30} APP_DOWN_S=${APP_DOWN_S:-10}
fi
REDIS_DOWN_S=${REDIS_DOWN_S:-2} CONC=${CONC:-8} ROUND_USERS=${ROUND_USERS:-400}
CHANCES=${CHANCES:-12} POOL_CENTS=${POOL_CENTS:-5000000}
CHAOS_SEED=${CHAOS_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) % 32768 ))}
PORT_BASE=${PORT_BASE:-18700}
run=${RUN:-$top/chaos-run}

for v in FLIP_S BROKER_S APP_DOWN_S REDIS_DOWN_S CONC ROUND_USERS CHANCES \
         POOL_CENTS CHAOS_SEED PORT_BASE; do
    case ${!v} in ''|*[!0-9]*) echo "chaos: $v must be a decimal" >&2; exit 2 ;; esac
done
[ "$FLIP_S" -ge 20 ] || { echo "chaos: FLIP_S must be 20 or more" >&2; exit 2; }
[ "$CHANCES" -le 15 ] || { echo "chaos: CHANCES above 15 meets the edge's burst of 20" >&2; exit 2; }
[ "$CHAOS_SEED" -le 32767 ] || { echo "chaos: CHAOS_SEED is 0..32767" >&2; exit 2; }

EDGE=$PORT_BASE APP1=$((PORT_BASE + 1)) APP2=$((PORT_BASE + 2))
ADMIN=$((PORT_BASE + 3)) R0=$((PORT_BASE + 10)) R1=$((PORT_BASE + 11))
MYSQL_PORT=$((PORT_BASE + 20))
WEIGHTS="3000 3000 2500 1400 100"

busy=""
for p in "$EDGE" "$APP1" "$APP2" "$ADMIN" "$R0" "$R1" "$MYSQL_PORT"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy="$busy $p"
done
if [ -n "$busy" ]; then
    echo "chaos: ports in use:$busy (another run? set PORT_BASE)" >&2
    exit 2
fi

make -s -j2 workers tools module >/dev/null

echo "CHAOS_SEED=$CHAOS_SEED"
RANDOM=$CHAOS_SEED
t0=$(date +%s%3N)
rm -rf "$run"
mkdir -p "$run/logs" "$run/tmp" "$run/stats"
W=$top/build/workers T=$top/build/tools
jobs_bg=""

now_ms() { date +%s%3N; }
say() { printf '== chaos [%6.1fs] %s\n' "$(( $(now_ms) - t0 ))e-3" "$*"; }
wait_for() {    # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local end=$(( $(now_ms) + $1 * 1000 )); shift
    while [ "$(now_ms)" -lt "$end" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "chaos: timed out waiting for: $*" >&2
    return 1
}
gone() { ! kill -0 "$1" 2>/dev/null; }
pidof_file() { cat "$run/$1.pid" 2>/dev/null || true; }
fault() {       # fault NAME START_MS [DETAIL]: a fault window, open
    printf '%s\t%s\t-\t%s\n' "$1" "$2" "${3:-}" >> "$run/faults.tsv"
}
fault_end() {   # fault_end NAME: closes its window
    printf '%s\t-\t%s\t-\n' "$1" "$(now_ms)" >> "$run/faults.tsv"
}

stop() {         # every server, and waits until they are gone
    set +e
    local n p left=""
    for j in $jobs_bg; do kill "$j" 2>/dev/null; done
    for n in edge app1 app2 admin ingest payout draw mock mysql; do
        p=$(pidof_file "$n")
        [ -n "$p" ] && kill "$p" 2>/dev/null && left="$left $p"
    done
    for p in "$R0" "$R1"; do
        redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    done
    for p in $left; do wait_for 30 gone "$p" 2>/dev/null; done
    wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

# ---- the servers ------------------------------------------------------------

redis_start() { # redis_start PORT: appendonly, its own dir, its data kept
    mkdir -p "$run/redis-$1"
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly yes \
        --appendfsync everysec --dir "$run/redis-$1" --daemonize yes \
        --logfile "$run/logs/redis-$1.log" --pidfile "$run/redis-$1.pid"
    wait_for 10 redis-cli -p "$1" ping
}

mysql_start() {
    mariadbd --no-defaults --datadir="$run/mysql" --user=root \
        --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
        --socket="$run/mysql.sock" --pid-file="$run/mysql.pid" \
        --log-error="$run/logs/mysql.err" --tmpdir="$run/mysql-tmp" \
        --skip-log-bin --innodb-buffer-pool-size=128M --skip-name-resolve \
        --character-set-server=utf8mb4 < /dev/null 2>> "$run/logs/mysql.err" &
    wait_for 60 sql 'select 1'
}
sql() { mariadb --no-defaults -S "$run/mysql.sock" -uroot -N -B -e "$1"; }
both() {        # both "SELECT ... FROM {db}.t": Σ over the two shards
    local a b
    a=$(sql "${1//\{db\}/cc_s0}") b=$(sql "${1//\{db\}/cc_s1}")
    echo $(( ${a:-0} + ${b:-0} ))
}

shards="--mysql 127.0.0.1:$MYSQL_PORT/cc_s0 --mysql 127.0.0.1:$MYSQL_PORT/cc_s1"
redis="--redis 127.0.0.1:$R0 --redis 127.0.0.1:$R1"

ingest_start() {
    # shellcheck disable=SC2086
    "$W/cc-ingest" --brokers "$brokers" $shards --batch 500 --batch-ms 100 \
        --progress 5 2>> "$run/logs/cc-ingest.log" < /dev/null &
    echo $! > "$run/ingest.pid"
}

# conf NAME: the nginx.conf of one instance; END is the window's end
conf_common() {
    cat <<CONF
worker_processes $2;
worker_rlimit_nofile 8192;
error_log $run/logs/$1.log notice;
pid $run/$1.pid;
events { worker_connections 4096; }
CONF
}
conf_temp() {
    mkdir -p "$run/tmp/$1"
    cat <<CONF
    access_log off;
    client_body_temp_path $run/tmp/$1/body;
    proxy_temp_path $run/tmp/$1/proxy;
    fastcgi_temp_path $run/tmp/$1/fastcgi;
    uwsgi_temp_path $run/tmp/$1/uwsgi;
    scgi_temp_path $run/tmp/$1/scgi;
CONF
}
conf_module() {
    cat <<CONF
    cc_redis_shards 127.0.0.1:$R0 127.0.0.1:$R1;
    cc_redis_timeout 500ms;
    cc_cards $WEIGHTS;
    cc_campaign_start $start;
    cc_campaign_end $END;
    cc_combine_cutoff $END;
    cc_kafka_brokers $brokers;
    cc_claim_wait 1s;
CONF
}
conf_app() {    # conf_app NAME PORT
    { echo "load_module $top/build/nginx/ngx_http_cc_module.so;"
      conf_common "$1" 2
      echo "http {"; conf_temp "$1"; conf_module
      cat <<CONF
    server {
        listen 127.0.0.1:$2 backlog=1024;
        add_header X-CC-Node $1 always;
        cc_identity token $run/token.secret;
        location = /cc/flip        { cc_flip; }
        location = /cc/combine     { cc_combine; }
        location = /cc/eligibility { cc_eligibility; }
        location = /cc/award       { cc_award; }
        location = /cc/claim       { cc_claim; }
        location = /cc/metrics     { allow 127.0.0.1; deny all; cc_metrics; }
    }
}
CONF
    } > "$run/$1.conf"
}
conf_admin() {
    { echo "load_module $top/build/nginx/ngx_http_cc_module.so;"
      conf_common admin 1
      echo "http {"; conf_temp admin; conf_module
      cat <<CONF
    server {
        listen 127.0.0.1:$ADMIN backlog=1024;
        allow 127.0.0.1;
        deny all;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/grant   { cc_grant; }
        location = /cc/metrics { cc_metrics; }
    }
}
CONF
    } > "$run/admin.conf"
}
conf_edge() {   # the example's edge tier
    { conf_common edge 2
      echo "http {"; conf_temp edge
      cat <<CONF
    map \$http_authorization \$cc_token_uid {
        "~^Bearer (?<uid>[1-9][0-9]{0,19})\\." \$uid;
        default                                "";
    }
    upstream cc_app {
        hash \$cc_token_uid consistent;
        server 127.0.0.1:$APP1 max_fails=1 fail_timeout=5s;
        server 127.0.0.1:$APP2 max_fails=1 fail_timeout=5s;
        keepalive 64;
    }
    limit_req_zone \$cc_token_uid zone=cc_per_user:16m rate=10r/s;
    limit_req_status 429;
    server {
        listen 127.0.0.1:$EDGE backlog=1024;
        client_max_body_size 1k;
        location ~ ^/cc/(flip|combine|eligibility|award|claim)\$ {
            limit_req zone=cc_per_user burst=20 nodelay;
            proxy_pass http://cc_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_read_timeout 3s;
            proxy_next_upstream error timeout non_idempotent;
        }
        location / { return 404; }
    }
}
CONF
    } > "$run/edge.conf"
}
nginx_start() { # nginx_start NAME PORT
    nginx -p "$run" -c "$run/$1.conf" 2>> "$run/logs/$1.log"
    wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2"
}
nginx_stop() {  # nginx_stop NAME: graceful, until the master is gone
    local p; p=$(pidof_file "$1")
    [ -n "$p" ] || return 0
    kill -QUIT "$p" 2>/dev/null || true
    wait_for 20 gone "$p"
}

say "starting the servers under $run"
redis_start "$R0"
redis_start "$R1"
mkdir -p "$run/mysql-tmp"
mariadb-install-db --no-defaults --datadir="$run/mysql" --user=root \
    --auth-root-authentication-method=normal --skip-test-db \
    --tmpdir="$run/mysql-tmp" > "$run/logs/mysql-install.log" 2>&1
mysql_start

"$W/cc-mockbroker" --partitions 4 > "$run/mock.out" 2> "$run/logs/mock.log" < /dev/null &
echo $! > "$run/mock.pid"
wait_for 5 grep -q bootstrap= "$run/mock.out"
brokers=$(sed -n 's/^bootstrap=//p' "$run/mock.out")

# shellcheck disable=SC2086
"$W/cc-ingest" --init-shards $shards 2>> "$run/logs/cc-ingest.log"
ingest_start

head -c 48 /dev/urandom | base64 | tr -d '\n' > "$run/token.secret"
chmod 600 "$run/token.secret"
start=$(( $(date +%s) - 60 ))
END=$(( $(date +%s) + 86400 ))
conf_app app1 "$APP1"; conf_app app2 "$APP2"; conf_admin; conf_edge
nginx_start app1 "$APP1"; nginx_start app2 "$APP2"
nginx_start admin "$ADMIN"; nginx_start edge "$EDGE"
say "up: edge :$EDGE, app1 :$APP1, app2 :$APP2, admin :$ADMIN, redis :$R0 :$R1, mysql :$MYSQL_PORT"

# ---- the load: rounds of new users until the flip phase ends ---------------

flip_end=$(( $(now_ms) + FLIP_S * 1000 ))
(
    round=0
    while [ "$(now_ms)" -lt "$flip_end" ]; do
        first=$(( 1 + round * ROUND_USERS ))
        "$T/cc-load" grant --url "http://127.0.0.1:$ADMIN" --first-uid "$first" \
            --users "$ROUND_USERS" --chances "$CHANCES" --conc "$CONC" \
            --max-tries 40 --quiet --stats "$run/stats/grant-$round.jsonl" \
            2>> "$run/logs/load.log" || echo "grant round $round: exit $?" >> "$run/load.fail"
        "$T/cc-load" flip --url "http://127.0.0.1:$EDGE" --first-uid "$first" \
            --users "$ROUND_USERS" --secret "$run/token.secret" --retry-pct 5 \
            --combine --seed "$round" --conc "$CONC" --max-tries 40 --quiet \
            --stats "$run/stats/flip-$round.jsonl" \
            2>> "$run/logs/load.log" || echo "flip round $round: exit $?" >> "$run/load.fail"
        round=$((round + 1))
        echo "$round" > "$run/rounds"
    done
) &
load=$!
jobs_bg="$jobs_bg $load"

# ---- the faults, each at a time from the seed -------------------------------

: > "$run/faults.tsv"
: > "$run/expected-alerts"
at() {          # at: the fault's moment in ms, in [10%, 70%] of the phase
    echo $(( FLIP_S * 100 + (RANDOM * 32768 + RANDOM) % (FLIP_S * 600) ))
}
sleep_cs() { sleep "$(( $1 / 1000 )).$(printf %03d $(( $1 % 1000 )))"; }

f_worker() {
    local inst p w n
    inst=$1
    p=$(pidof_file "$inst")
    if [ -z "$p" ] || gone "$p"; then inst=edge; p=$(pidof_file edge); fi
    mapfile -t w < <(pgrep -P "$p" | sort -n)
    n=${#w[@]}
    [ "$n" -gt 0 ] || { echo "chaos: no worker of $inst" >&2; return 1; }
    local victim=${w[$2 % n]}
    fault worker "$(now_ms)" "$inst pid $victim"
    kill -9 "$victim"
    printf '%s\t%s\n' "$inst" "$victim" >> "$run/expected-alerts"
    sleep 3
    fault_end worker
}
f_app() {
    fault app "$(now_ms)" "$1"
    nginx_stop "$1"
    sleep "$APP_DOWN_S"
    nginx_start "$1" "$2"
    sleep 2
    fault_end app
}
f_redis() {
    fault redis "$(now_ms)" "shutdown + start :$1"
    local p; p=$(pidof_file "redis-$1")
    redis-cli -p "$1" shutdown >/dev/null 2>&1 || true
    wait_for 20 gone "$p"
    sleep "$REDIS_DOWN_S"
    redis_start "$1"
    sleep 3
    fault_end redis
}
f_redis9() {
    fault redis9 "$(now_ms)" "kill -9 + start :$1"
    local p; p=$(pidof_file "redis-$1")
    kill -9 "$p"
    wait_for 20 gone "$p"
    sleep 1
    redis_start "$1"
    sleep 3
    fault_end redis9
}
f_broker() {
    fault broker "$(now_ms)" "${BROKER_S}s"
    kill -USR1 "$(pidof_file mock)"
    sleep "$BROKER_S"
    kill -USR2 "$(pidof_file mock)"
    fault_end broker
}
f_ingest() {
    fault ingest "$(now_ms)" "kill -9"
    kill -9 "$(pidof_file ingest)"
    sleep 1
    ingest_start
    fault_end ingest
}
f_mysql() {
    fault mysql "$(now_ms)" "SIGTERM + start"
    local p; p=$(pidof_file mysql)
    kill "$p"
    wait_for 60 gone "$p"
    mysql_start
    fault_end mysql
}

rs=$(( RANDOM % 2 ))
rshard=$R0 r9shard=$R1
[ "$rs" = 1 ] && { rshard=$R1 r9shard=$R0; }
apps=(app1 app2) appports=("$APP1" "$APP2")
a=$(( RANDOM % 2 ))
insts=(edge app1 app2)
wi=${insts[RANDOM % 3]} wk=$RANDOM
schedule=(
    "worker $(at) f_worker $wi $wk"
    "app $(at) f_app ${apps[a]} ${appports[a]}"
    "redis $(at) f_redis $rshard"
    "redis9 $(at) f_redis9 $r9shard"
    "broker $(at) f_broker"
    "ingest $(at) f_ingest"
    "mysql $(at) f_mysql"
)
fjobs=""
for s in "${schedule[@]}"; do
    set -- $s
    name=$1 ms=$2; shift 2
    say "fault $name at +$((ms / 1000)).$(( ms % 1000 / 100 ))s: $*"
    ( sleep_cs "$ms"; "$@" >> "$run/logs/faults.log" 2>&1 ) &
    fjobs="$fjobs $!"
    jobs_bg="$jobs_bg $!"
done

say "flip load for ${FLIP_S}s: rounds of $ROUND_USERS users x $CHANCES chances, conc $CONC"
fail=0
for j in $fjobs; do wait "$j" || { echo "chaos: a fault job failed (logs/faults.log)" >&2; fail=1; }; done
say "every fault done; the load goes on to the end of the phase"
wait "$load" || true
say "flip load done: $(cat "$run/rounds") rounds"
[ "$fail" = 0 ] || exit 1

# ---- recovery: the fast path catches up -------------------------------------

sum_s_lua='local cur, n = "0", 0
repeat
  local r = redis.call("SCAN", cur, "MATCH", "cc:{*}:u", "COUNT", 1000)
  cur = r[1]
  for _, key in ipairs(r[2]) do n = n + (tonumber(redis.call("HGET", key, "s")) or 0) end
until cur == "0"
return n'
redis_draws() {
    echo $(( $(redis-cli -p "$R0" eval "$sum_s_lua" 0) + $(redis-cli -p "$R1" eval "$sum_s_lua" 0) ))
}
# until MySQL holds every draw, or holds no more for 5 s (30 s at most):
# what a killed app worker had not yet handed to Kafka waits for the drain
s=$(now_ms) last=-1 since=$s
while :; do
    m=$(both "SELECT COUNT(*) FROM {db}.draws") r=$(redis_draws)
    if [ "$m" = "$r" ]; then
        catchup="Kafka and cc-ingest caught up $(( ($(now_ms) - s) / 1000 )) s after the load"
        break
    fi
    [ "$m" != "$last" ] && last=$m since=$(now_ms)
    if [ $(( $(now_ms) - since )) -ge 5000 ] || [ $(( $(now_ms) - s )) -ge 30000 ]; then
        catchup="MySQL lacks $((r - m)) draws $(( ($(now_ms) - s) / 1000 )) s after the load (Kafka lost them with a killed worker: the drain writes them)"
        break
    fi
    sleep 0.5
done
say "recovery: $catchup"

# ---- close, draw (killed, run again), payout (killed) with claims ----------

cutoff=$(( $(date +%s) + 2 ))
say "close: the window ends at $cutoff (app1 and app2 reloaded)"
END=$cutoff
conf_app app1 "$APP1"; conf_app app2 "$APP2"
nginx -p "$run" -c "$run/app1.conf" -s reload
nginx -p "$run" -c "$run/app2.conf" -s reload
while [ "$(date +%s)" -le "$cutoff" ]; do sleep 0.2; done

cat > "$run/campaign.conf" <<CAMPAIGN
# written by bench/chaos.sh; read by cc-draw, cc-payout, cc-reconcile
campaign     chaos$CHAOS_SEED
pool_cents   $POOL_CENTS
split        equal
seed         chaos-$CHAOS_SEED
credit       async_client_sync
cutoff       $cutoff
pending_max  600
alert        cat > $run/alert.json
wallet       ledger
CAMPAIGN

awards() { both "SELECT COUNT(*) FROM {db}.awards"; }
credited() { both "SELECT COUNT(*) FROM {db}.awards WHERE status = 'credited'"; }

say "draw: cc-draw, killed with kill -9 once it has written awards"
# shellcheck disable=SC2086
"$W/cc-draw" --campaign "$run/campaign.conf" $redis $shards --batch 2 \
    > "$run/draw-killed.out" 2>> "$run/logs/cc-draw.log" &
echo $! > "$run/draw.pid"
draw=$!
for _ in $(seq 3000); do
    gone "$draw" && break
    [ "$(awards)" -gt 0 ] && break
    sleep 0.01
done
sleep_cs $(( RANDOM % 30 ))
kill -9 "$draw" 2>/dev/null && draw_kill="killed with $(awards) awards written" \
    || draw_kill="not killed: it ended first"
wait "$draw" 2>/dev/null || true
say "draw: $draw_kill; run again"
# shellcheck disable=SC2086
"$W/cc-draw" --campaign "$run/campaign.conf" $redis $shards --batch 5 \
    > "$run/draw.out" 2>> "$run/logs/cc-draw.log" \
    || { echo "chaos: cc-draw after the kill: exit $?" >&2; exit 1; }
sed 's/^/   /' "$run/draw.out"
n_awards=$(awards)

payout_start() {
    # shellcheck disable=SC2086
    "$W/cc-payout" --campaign "$run/campaign.conf" $redis $shards --batch 10 \
        --interval 1 --progress 2 2>> "$run/logs/cc-payout.log" < /dev/null &
    echo $! > "$run/payout.pid"
}
say "payout: cc-payout credits $n_awards awards while winners claim through the edge"
users=$(( $(cat "$run/rounds") * ROUND_USERS ))
"$T/cc-load" claim --url "http://127.0.0.1:$EDGE" --users "$users" \
    --secret "$run/token.secret" --pct 50 --conc "$CONC" --max-tries 40 --quiet \
    --stats "$run/stats/claim.jsonl" 2>> "$run/logs/load.log" &
claim=$!
jobs_bg="$jobs_bg $claim"
payout_start
payout_kill="not killed: every award was credited first"
for _ in $(seq 3000); do
    c=$(credited)
    if [ "$c" -gt 0 ] && [ "$c" -lt "$n_awards" ]; then
        kill -9 "$(pidof_file payout)"
        payout_kill="killed with $c of $n_awards credited"
        break
    fi
    [ "$c" -ge "$n_awards" ] && break
    sleep 0.01
done
say "payout: $payout_kill; started again"
sleep 0.5
gone "$(pidof_file payout)" && payout_start
unpaid() {
    both "SELECT COUNT(*) FROM {db}.awards WHERE status = 'pending' OR notified = 0"
}
paid() { [ "$(unpaid)" = 0 ]; }
wait_for 120 paid || true
claim_rc=0
wait "$claim" || claim_rc=$?
kill "$(pidof_file payout)" 2>/dev/null && wait_for 20 gone "$(pidof_file payout)"

say "books: cc-reconcile --once --grace 0, then cc-reconcile --money"
# shellcheck disable=SC2086
"$W/cc-reconcile" $redis $shards --once --grace 0 \
    > "$run/reconcile-drain.out" 2>> "$run/logs/cc-reconcile.log" \
    || { echo "chaos: cc-reconcile --once: exit $?" >&2; exit 1; }
grep -h "pass done" "$run/logs/cc-reconcile.log" | sed 's/^/   /'
set +e
# shellcheck disable=SC2086
"$W/cc-reconcile" --money --campaign "$run/campaign.conf" $redis $shards \
    --json "$run/reconcile.json" > "$run/reconcile.out" 2>> "$run/logs/cc-reconcile.log"
rc_money=$?
set -e
grep -h "break(s)" "$run/logs/cc-reconcile.log" | sed 's/^/   /'
sed 's/^/   /' "$run/reconcile.out"

# ---- the facts and the checks -------------------------------------------------

say "checks"
# one SCAN over each Redis shard: Σ s, Σ k0..k4, users with e
sum_lua='local cur, t = "0", {0, 0, 0, 0, 0, 0, 0}
repeat
  local r = redis.call("SCAN", cur, "MATCH", "cc:{*}:u", "COUNT", 1000)
  cur = r[1]
  for _, key in ipairs(r[2]) do
    local v = redis.call("HMGET", key, "s", "k0", "k1", "k2", "k3", "k4", "e")
    for i = 1, 6 do t[i] = t[i] + (tonumber(v[i]) or 0) end
    if v[7] then t[7] = t[7] + 1 end
  end
until cur == "0"
return t'
{
    echo "redis $(for p in "$R0" "$R1"; do redis-cli -p "$p" eval "$sum_lua" 0 | tr '\n' ' '; done)"
    echo "draws $(both "SELECT COUNT(*) FROM {db}.draws")"
    echo "twice $(both "SELECT COUNT(*) FROM (SELECT 1 FROM {db}.draws GROUP BY uid, request_id HAVING COUNT(*) > 1) x")"
    for k in 0 1 2 3 4; do
        echo "card$k $(both "SELECT COALESCE(SUM(n), 0) FROM {db}.user_cards WHERE card = $k")"
    done
    echo "eligible $(both "SELECT COUNT(*) FROM {db}.eligibility")"
    echo "awards $n_awards"
    echo "credited $(credited)"
    echo "award_sum $(both "SELECT COALESCE(SUM(amount_cents), 0) FROM {db}.awards")"
    echo "credit_sum $(both "SELECT COALESCE(SUM(amount_cents), 0) FROM {db}.ledger_transfers WHERE kind = 'credit'")"
    echo "credit_bad $(both "SELECT COUNT(*) FROM {db}.awards a WHERE (SELECT COUNT(*) FROM {db}.ledger_transfers t WHERE t.award_id = a.award_id AND t.kind = 'credit' AND t.amount_cents = a.amount_cents AND t.credit = CONCAT('wallet:', a.uid)) <> 1")"
    echo "credit_orphan $(both "SELECT COUNT(*) FROM {db}.ledger_transfers t WHERE t.kind = 'credit' AND NOT EXISTS (SELECT 1 FROM {db}.awards a WHERE a.award_id = t.award_id)")"
    echo "credit_n $(both "SELECT COUNT(*) FROM {db}.ledger_transfers WHERE kind = 'credit'")"
    echo "rc_money $rc_money"
    echo "claim_rc $claim_rc"
    echo "draw_kill $draw_kill"
    echo "payout_kill $payout_kill"
    echo "catchup $catchup"
    echo "aof_late $(cat "$run"/logs/redis-*.log | grep -c 'fsync is taking too long' || true)"
    echo "aof_loaded $(cat "$run"/logs/redis-*.log | grep -c 'loaded from append only file' || true)"
    echo "drained $(sed -n 's/.* \([0-9]*\) were missing from MySQL.*/\1/p' "$run/logs/cc-draw.log" "$run/logs/cc-reconcile.log" | awk '{ s += $1 } END { print s + 0 }')"
} > "$run/facts.txt"

set +e
perl -MJSON::PP -e '
    my ($run, $pool) = @ARGV;
    my (@breaks, %f);
    sub brk { push @breaks, $_[0] }
    open my $fh, "<", "$run/facts.txt" or die;
    while (<$fh>) { chomp; my ($k, $v) = split / /, $_, 2; $f{$k} = $v }

    # fault windows: name -> [start, end, detail]
    my %win;
    open my $w, "<", "$run/faults.tsv" or die;
    while (<$w>) {
        chomp; my ($n, $s, $e, $d) = split /\t/;
        $win{$n}[0] = $s if $s ne "-";
        $win{$n}[1] = $e if $e ne "-";
        $win{$n}[2] = $d if $d ne "-";
    }
    my @faults = sort { $win{$a}[0] <=> $win{$b}[0] } keys %win;
    brk("fault $_ never ended") for grep { !defined $win{$_}[1] } @faults;
    my $t0 = (sort { $a <=> $b } map { $win{$_}[0] } @faults)[0];
    my %allowed = (503 => [qw(redis redis9)], 502 => [qw(worker app)],
                   504 => [qw(worker app)], errors => [qw(worker app)]);
    # 2 s of slack around a fault; after a node fault, the edge keeps a
    # node that failed out for its fail_timeout (5 s, max_fails=1): with
    # the other node out too (stopped, or its worker just killed) the edge
    # has no live upstream and answers 502 until the timeout passes.
    my $slack = 2000;
    my %after = (503 => 2000, 502 => 7000, 504 => 7000, errors => 7000);
    sub inside {
        my ($what, $from, $to) = @_;
        for my $n (@{ $allowed{$what} }) {
            my $x = $win{$n} or next;
            return 1 if $from <= ($x->[1] // 9e15) + $after{$what} && $to >= $x->[0] - $slack;
        }
        return 0;
    }

    my (%st, %ep, $sent, $errs, %tot);
    my @files = glob("$run/stats/*.jsonl");
    for my $file (@files) {
        open my $h, "<", $file or die;
        my (%sec, $secerr, $total) = ();
        my @lines;
        while (<$h>) { my $j = decode_json($_); if ($j->{type} eq "second") { push @lines, $j } else { $total = $j } }
        if (!$total) { brk("$file: no totals (cc-load died?)"); next }
        my $end = $total->{started_ms} + $total->{elapsed_s} * 1000;
        my (%left, $lefterr) = %{ $total->{status} };
        $lefterr = $total->{errors_total};
        for my $l (@lines) {
            for my $s (keys %{ $l->{status} }) { $left{$s} -= $l->{status}{$s} }
            $lefterr -= $l->{errors};
        }
        push @lines, { ts_ms => $end, status => \%left, errors => $lefterr };
        for my $l (@lines) {
            my ($from, $to) = ($l->{ts_ms} - 1000, $l->{ts_ms});
            for my $s (keys %{ $l->{status} }) {
                my $n = $l->{status}{$s} or next;
                next if $s == 200 || $s == 429 || ($s == 202 && $total->{phase} eq "claim");
                my $at = sprintf "%.1f s", ($to - $t0) / 1000;
                if (!$allowed{$s}) { brk("$n answers $s ($total->{phase}) at +$at: never allowed") }
                elsif (!inside($s, $from, $to)) { brk("$n answers $s ($total->{phase}) at +$at: no fault that allows it then") }
            }
            if ($l->{errors} && !inside("errors", $from, $to)) {
                brk(sprintf "%d client errors (%s) at +%.1f s: no fault that allows them then",
                    $l->{errors}, $total->{phase}, ($to - $t0) / 1000);
            }
        }
        $sent += $total->{sent};
        $st{$_} += $total->{status}{$_} for keys %{ $total->{status} };
        for my $e (keys %{ $total->{endpoints} }) {
            my $x = $total->{endpoints}{$e};
            $ep{$e}{$_} += $x->{$_} for grep { !ref $x->{$_} } keys %$x;
            $ep{$e}{$_} += $x->{status}{$_} for keys %{ $x->{status} // {} };
        }
        $errs += $total->{errors_total};
        $tot{$_} += $total->{$_} // 0 for qw(gave_up bad_answers resends reconnects);
        if (my $p = $total->{flip}) { $tot{$_} += $p->{$_} // 0 for qw(draws retries_sent retries_differ dup_draw_ids combined combines_200) }
        if (my $p = $total->{claim}) { $tot{$_} += $p->{$_} // 0 for qw(claims_sent claims_200 claims_202 claims_404 award_pending award_credited award_none) }
    }
    brk("$tot{gave_up} users given up") if $tot{gave_up};
    brk("$tot{bad_answers} answers broke the contract") if $tot{bad_answers};
    brk("$tot{retries_differ} retries answered differently") if $tot{retries_differ};
    brk("$tot{dup_draw_ids} new request ids answered an old draw") if $tot{dup_draw_ids};
    brk("$tot{claims_404} claims answered 404") if $tot{claims_404};
    brk("cc-load claim exit $f{claim_rc}") if $f{claim_rc};
    if (-s "$run/load.fail") { open my $x, "<", "$run/load.fail"; brk("cc-load $_") for map { chomp; $_ } <$x> }

    printf "chaos: requests sent %d, answers by status: %s; client errors %d, resends %d, reconnects %d\n",
        $sent, join(", ", map { "$_ $st{$_}" } sort keys %st), $errs, $tot{resends}, $tot{reconnects};
    for my $e (sort keys %ep) {
        printf "chaos:   %-12s %s\n", $e, join(", ", map { "$_ $ep{$e}{$_}" } grep { /^\d+$/ } sort keys %{ $ep{$e} });
    }
    for my $n (@faults) {
        printf "chaos: fault %-7s +%6.1f s .. +%6.1f s  %s\n", $n, ($win{$n}[0] - $t0) / 1000,
            (($win{$n}[1] // $win{$n}[0]) - $t0) / 1000, $win{$n}[2] // "";
    }

    my @r = split " ", $f{redis};
    my $s_redis = $r[0] + $r[7];
    my $e_redis = $r[6] + $r[13];
    brk("draws: Redis $s_redis, MySQL $f{draws}") if $s_redis != $f{draws};
    brk("draws: the client saw $tot{draws} new draws, Redis holds $s_redis") if $tot{draws} != $s_redis;
    brk("draws: $f{twice} request ids drawn twice in MySQL") if $f{twice};
    for my $k (0 .. 4) {
        my $kr = $r[1 + $k] + $r[8 + $k] + $e_redis;
        brk("cards of kind $k: Redis $kr, MySQL $f{\"card$k\"}") if $kr != $f{"card$k"};
    }
    printf "chaos: draws Redis %d = MySQL %d = client %d, none twice (%d request ids with two rows)\n",
        $s_redis, $f{draws}, $tot{draws}, $f{twice};
    brk("eligible: Redis $e_redis, MySQL $f{eligible}, client combined $tot{combined}")
        if $e_redis != $f{eligible} || $tot{combined} != $e_redis;
    brk("awards $f{awards} for $f{eligible} eligible users") if $f{awards} != $f{eligible};
    brk("credited $f{credited} of $f{awards}") if $f{credited} != $f{awards};
    brk("$f{credit_bad} awards without exactly one credit of their amount") if $f{credit_bad};
    brk("$f{credit_orphan} credits without an award") if $f{credit_orphan};
    brk("Σ awards $f{award_sum} != pool $pool") if $f{award_sum} != $pool;
    brk("Σ credits $f{credit_sum} != pool $pool") if $f{credit_sum} != $pool;
    brk("cc-reconcile --money: exit $f{rc_money}") if $f{rc_money};
    printf "chaos: eligible %d (Redis %d, client %d); awards %d, credited %d, each once (%d credits, %d not exactly once); Σ ledger credits %d = pool %d; reconcile --money exit %d\n",
        $f{eligible}, $e_redis, $tot{combined}, $f{awards}, $f{credited}, $f{credit_n}, $f{credit_bad},
        $f{credit_sum}, $pool, $f{rc_money};
    printf "chaos: claims sent %d: 200 %d, 202 %d, 404 %d\n", $tot{claims_sent}, $tot{claims_200}, $tot{claims_202}, $tot{claims_404};
    printf "chaos: cc-draw %s; cc-payout %s\n", $f{draw_kill}, $f{payout_kill};
    printf "chaos: redis: %d starts loaded the AOF; %d AOF writes postponed past a slow fsync (a kill -9 then may lose up to 2 s of answered writes)\n",
        $f{aof_loaded}, $f{aof_late};
    printf "chaos: recovery: %s; the drains (cc-draw, cc-reconcile) wrote %d draws and combines MySQL lacked\n", $f{catchup}, $f{drained};

    # the logs: nothing but the one expected alert per killed worker
    my %expect;
    open my $x, "<", "$run/expected-alerts" or die;
    while (<$x>) { chomp; my ($i, $p) = split /\t/; $expect{$i}{$p} = 0 }
    my $bad = 0;
    for my $log (glob("$run/logs/*")) {
        open my $h, "<", $log or next;
        my ($inst) = $log =~ m{/(edge|app1|app2|admin)\.log$};
        while (my $l = <$h>) {
            if ($inst && $l =~ /worker process (\d+) exited on signal 9$/ && exists $expect{$inst}{$1}) {
                $expect{$inst}{$1}++;
                next;
            }
            next unless ($inst && $l =~ /\[(alert|emerg)\]/) || $l =~ /signal 11\b/;
            chomp $l; $bad++;
            brk("$log: $l") if $bad <= 20;
        }
    }
    for my $i (sort keys %expect) {
        brk("$i: no line for the worker $_ killed") for grep { !$expect{$i}{$_} } keys %{ $expect{$i} };
    }
    printf "chaos: logs: %d [alert]/[emerg]/signal 11 lines beyond the %d expected worker kill line(s)\n",
        $bad, scalar map { keys %$_ } values %expect;
    print "chaos: BREAK $_\n" for @breaks;
    print @breaks ? "chaos: FAIL (" . scalar(@breaks) . " breaks)\n" : "chaos: PASS\n";
    exit(@breaks ? 1 : 0);
' "$run" "$POOL_CENTS" | tee "$run/summary.txt"
rc=${PIPESTATUS[0]}
set -e
say "done in $(( ($(now_ms) - t0) / 1000 )) s; run dir $run (logs, stats, summary.txt); CHAOS_SEED=$CHAOS_SEED"
exit "$rc"
