#!/bin/bash
# bench/chaos.sh: a campaign on loopback under faults, then the books.
#
# The parts run as in production, each its own process: two redis-server
# shards with appendonly yes (appendfsync everysec), one mariadbd holding
# two MySQL shards, the Kafka mock broker, cc-ingest, and four nginx
# instances, each with its own pid file and error log: the edge (the edge
# server of nginx.conf.example, taken from that file: see conf_edge), app1
# and app2 (the module, token identity) and an internal admin (grants).
#
# Flip phase (FLIP_S): rounds of new users (cc-load grant, then cc-load
# flip --combine, then two rounds of cc-load social: SOCIAL_PCT of the
# users give their duplicates to a partner (送福), ask it for the kinds
# they lack (要福) and answer its asks, and the sets gifts completed are
# combined) through the edge, while these faults come at times drawn
# from the seed; two pairs overlap by construction (a worker is killed
# while an app node is stopped, a Redis shard is killed while the broker is
# down), the rest wherever the seed puts them:
#
#   ingest     cc-ingest killed with kill -9 in the middle of a batch, then
#              started again
#   app        app1 or app2 stopped (nginx -s quit) and started again
#   worker     inside app's window: one nginx worker of the edge or of the
#              other app node killed with kill -9 (with app2 down and app1's
#              worker dead the edge has no node: its 503)
#   mysql      mariadbd restarted (SIGTERM, start)
#   broker     the broker down for BROKER_S (cc-mockbroker SIGUSR1/USR2)
#   redis9     inside broker's window: a Redis shard killed with kill -9,
#              started again
#   redis      the other shard restarted: SHUTDOWN (the AOF is fsynced),
#              start, the data kept
#
# Then the window closes (the app nodes reloaded with the cutoff), cc-draw
# runs and is killed with kill -9 in the middle of a batch, and runs again
# to the end.  Claim phase (PAY_S at least, until every award is paid):
# rounds of winners reading their award and claiming it through the edge
# (cc-load claim), while cc-payout credits; cc-payout is killed with kill -9
# in the middle of a batch and started again, and then, while it credits:
#
#   plock      both MySQL shards' pool rows held by a long transaction (a
#              slow MySQL): cc-payout's batches wait with their transfers
#              written, claims wait (202), until pmysql ends it; so the
#              faults below meet unpaid awards and open batches however
#              fast this machine credits
#   predis     a Redis shard restarted (SHUTDOWN, start)
#   pmysql     inside predis's window: mariadbd restarted
#   pworker    one app node's nginx worker killed with kill -9
#
# Once every award is paid: cc-redrive --once --grace 0 (the gifts left in
# the outboxes delivered), cc-reconcile --once --grace 0 (the draw logs
# into MySQL), cc-reconcile --money and cc-reconcile --cards.
#
# How a kill lands mid-batch (cc-ingest, cc-draw, cc-payout): a session of
# this script holds a row lock the worker's next transaction needs (a slow
# MySQL, as a lock held by a long query), taken once the worker is under
# way: cc-ingest's user_cards of one shard, cc-draw's plan row of a shard
# it is writing, cc-payout's pool account of one shard.  The worker's
# transaction writes its first rows (the draws, the awards, the transfers)
# and waits on the lock; the run sees it in information_schema.innodb_trx
# (LOCK WAIT, rows modified > 0), kills the worker, releases the lock and
# sees the waiting connection close (so the transaction was the killed
# worker's, and it rolled back).  No such wait within the try's time (no
# batch in flight): the try is drawn again; a kill that never landed is a
# break.
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
#   - only the README's statuses: 200, 202 (a claim still pending), 429
#     (the edge's per-user limit) at any time; 503 only in a fault's
#     window: from an app node (storage_unavailable) while a Redis shard is
#     down and 2 s after, from the edge (unavailable) while an app node or
#     one of its workers dies and for the edge's fail_timeout (10 s) after;
#     never 502 or 504; client connection errors only when an edge worker
#     dies (its connections die with it); no user given up, no retry
#     answered differently;
#   - each kill landed mid-batch; the constructed overlaps overlapped; each
#     claim-phase fault came while awards were still unpaid and claims were
#     answered in its window;
#   - draws: Σ s in Redis = rows in MySQL = the client's draws, no request
#     id drawn twice, cards and eligible users equal in both;
#   - gifts: each gift the users were answered 200 for is one given and
#     one received half in MySQL; the cards per kind, in Redis: Σ held +
#     Σ in transit (outbox entries not in the receiver's cc:{uid}:gi) =
#     Σ drawn (the client's answers) - Σ combined (users with e), and
#     cc-reconcile --cards clean (Redis against MySQL, user by user);
#   - awards: one per eligible user, each credited exactly once (one
#     ledger transfer of its amount), Σ credits = the pool, and
#     cc-reconcile --money clean;
#   - logs: no [alert], [emerg] or "signal 11" in any nginx log, except the
#     "worker process PID exited on signal 9" of each worker killed here
#     (that PID, in that instance's log); no sanitizer report in any log.
#
# Every step is bounded (timeout(1), STEP_S); the whole run too (LIMIT_S):
# past it the run is stopped with SIGTERM, its servers with it.
#
# Env: SHORT=1 (about a minute) or the full run (a few minutes);
#      FLIP_S (150, short 20) seconds of flip load, BROKER_S (30, short 8),
#      APP_DOWN_S (10, short 4), PAY_S (30, short 8) seconds of claims at
#      least, REDIS_DOWN_S (2), CONC (8), ROUND_USERS (400), CHANCES (12),
#      POOL_CENTS (5000000), SOCIAL_PCT (30: the users who give and ask),
#      STEP_S (120), LIMIT_S (FLIP_S + PAY_S + 600),
#      CHAOS_SEED (random; printed, replays the fault schedule),
#      PORT_BASE (18700: +0..3 nginx, +10 +11 Redis, +20 MySQL),
#      RUN (./chaos-run); CC_WORKER_DIR, CC_MODULE_SO, TEST_NGINX_BINARY
#      (the workers, the module and the nginx to run: make test-asan's
#      sanitized builds; default build/workers, build/nginx, nginx).
set -euo pipefail
case ${1:-} in
    '') ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "chaos: no arguments but --help; settings are environment variables (see --help)" >&2; exit 2 ;;
esac
self=$(readlink -f "$0")       # for the exec below, from any folder
cd "$(dirname "$self")/.."
top=$(pwd)

if [ "${SHORT:-0}" = 1 ]; then
    FLIP_S=${FLIP_S:-20} BROKER_S=${BROKER_S:-8} APP_DOWN_S=${APP_DOWN_S:-4}
    PAY_S=${PAY_S:-8}
else
    FLIP_S=${FLIP_S:-150} BROKER_S=${BROKER_S:-30} APP_DOWN_S=${APP_DOWN_S:-10}
    PAY_S=${PAY_S:-30}
fi
REDIS_DOWN_S=${REDIS_DOWN_S:-2} CONC=${CONC:-8} ROUND_USERS=${ROUND_USERS:-400}
CHANCES=${CHANCES:-12} POOL_CENTS=${POOL_CENTS:-5000000} STEP_S=${STEP_S:-120}
SOCIAL_PCT=${SOCIAL_PCT:-30}
CHAOS_SEED=${CHAOS_SEED:-$(( $(od -An -N2 -tu2 /dev/urandom) % 32768 ))}
PORT_BASE=${PORT_BASE:-18700}
LIMIT_S=${LIMIT_S:-$(( ${FLIP_S//[!0-9]/0} + ${PAY_S//[!0-9]/0} + 600 ))}
run=${RUN:-$top/chaos-run}

for v in FLIP_S BROKER_S APP_DOWN_S PAY_S REDIS_DOWN_S CONC ROUND_USERS \
         CHANCES POOL_CENTS SOCIAL_PCT STEP_S LIMIT_S CHAOS_SEED PORT_BASE; do
    case ${!v} in ''|*[!0-9]*) echo "chaos: $v must be a decimal" >&2; exit 2 ;; esac
done
[ "$FLIP_S" -ge 20 ] || { echo "chaos: FLIP_S must be 20 or more" >&2; exit 2; }
[ "$APP_DOWN_S" -ge 3 ] || { echo "chaos: APP_DOWN_S must be 3 or more" >&2; exit 2; }
[ "$BROKER_S" -ge 4 ] || { echo "chaos: BROKER_S must be 4 or more" >&2; exit 2; }
[ "$CHANCES" -le 15 ] || { echo "chaos: CHANCES above 15 meets the edge's burst of 20" >&2; exit 2; }
[ "$CHAOS_SEED" -le 32767 ] || { echo "chaos: CHAOS_SEED is 0..32767" >&2; exit 2; }
[ "$SOCIAL_PCT" -le 100 ] || { echo "chaos: SOCIAL_PCT is 0..100" >&2; exit 2; }

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

# The whole run bounded: timeout(1) sends this script SIGTERM past LIMIT_S
# (the trap below stops every server and ends every job), SIGKILL 120 s
# later (stop takes 50 s at most: a Redis shutdown 2 x 10 s, then 30 s
# for the others, all signalled at once).  The steps' own timeouts are --foreground (no process group of
# their own), and the long ones run through bounded, so that the SIGTERM
# is taken at once, not when the step ends.
if [ -z "${CHAOS_BOUNDED:-}" ]; then
    CHAOS_BOUNDED=1 exec timeout --foreground -k 120 "$LIMIT_S" "$self" "$@"
fi

bounded() {     # bounded SECONDS COMMAND...: at most SECONDS, a job
    timeout --foreground "$@" &
    wait "$!"
}
W=${CC_WORKER_DIR:-$top/build/workers} T=$top/build/tools
MODULE_SO=${CC_MODULE_SO:-$top/build/nginx/ngx_http_cc_module.so}
NGINX=${TEST_NGINX_BINARY:-nginx}
mk=tools
[ -n "${CC_WORKER_DIR:-}" ] || mk="$mk workers"
[ -n "${CC_MODULE_SO:-}" ] || mk="$mk module"
# shellcheck disable=SC2086
bounded "$STEP_S" make -s -j2 $mk >/dev/null
for b in cc-ingest cc-draw cc-payout cc-reconcile cc-redrive cc-mockbroker; do
    [ -x "$W/$b" ] || { echo "chaos: no $W/$b" >&2; exit 2; }
done
[ -f "$MODULE_SO" ] || { echo "chaos: no $MODULE_SO" >&2; exit 2; }

echo "CHAOS_SEED=$CHAOS_SEED"
RANDOM=$CHAOS_SEED
t0=$(date +%s%3N)
rm -rf "$run"
mkdir -p "$run/logs" "$run/tmp" "$run/stats"
holder=""

me=chaos
# shell helpers shared with scripts/campaign.sh (now_ms, wait_for, gone,
# is_ours, user_sums), and the key names from common/cc_keys.h
. "$top/scripts/lib/run.sh"
say() { printf '== chaos [%6.1fs] %s\n' "$(( $(now_ms) - t0 ))e-3" "$*"; }
# pidof_file NAME: the pid in NAME.pid while that process is still the one
# started (a killed one's pid may since belong to another program: pids
# wrap, and this run forks all the time)
pidof_file() {
    local p
    p=$(cat "$run/$1.pid" 2>/dev/null) || return 0
    [ -n "$p" ] && is_ours "$p" "$1" && echo "$p"
    return 0
}
fault() {       # fault NAME START_MS [DETAIL]: a fault window, open
    printf '%s\t%s\t-\t%s\n' "$1" "$2" "${3:--}" >> "$run/faults.tsv"
}
fault_detail() { # fault_detail NAME DETAIL: what the fault did
    printf '%s\t-\t-\t%s\n' "$1" "$2" >> "$run/faults.tsv"
}
fault_end() {   # fault_end NAME: closes its window
    printf '%s\t-\t%s\t-\n' "$1" "$(now_ms)" >> "$run/faults.tsv"
}
rnd() {         # rnd LO HI: a number in [LO, HI] from the seed
    echo $(( $1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1) ))
}

kill_tree() {   # kill_tree PID: PID and every process under it, SIGKILL
    local c
    kill -STOP "$1" 2>/dev/null
    for c in $(pgrep -P "$1"); do kill_tree "$c"; done
    kill -KILL "$1" 2>/dev/null
}
stop() {         # every server, and waits until they are gone
    set +e
    local n p j left="" servers=" "
    for n in edge app1 app2 admin ingest payout draw mock mysql; do
        servers="$servers$(pidof_file "$n") "
    done
    # this shell's live jobs but the servers: the load, the fault jobs, a
    # step in flight (clients, sleeps, the lock's session), killed
    for j in $(jobs -p); do
        case $servers in *" $j "*) ;; *) kill_tree "$j" ;; esac
    done
    for n in edge app1 app2 admin ingest payout draw mock mysql; do
        p=$(pidof_file "$n")
        [ -n "$p" ] && kill "$p" 2>/dev/null && left="$left $p"
    done
    for p in "$R0" "$R1"; do
        timeout --foreground 10 redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    done
    for p in $left; do wait_for 30 gone "$p" 2>/dev/null; done
    wait 2>/dev/null || true
}
trap stop EXIT
trap 'echo "chaos: stopped by a signal (LIMIT_S=$LIMIT_S s, STEP_S=$STEP_S s)" >&2; exit 130' INT TERM HUP PIPE

# ---- the servers ------------------------------------------------------------

redis_start() { # redis_start PORT: appendonly, its own dir, its data kept
    mkdir -p "$run/redis-$1"
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly yes \
        --appendfsync everysec --dir "$run/redis-$1" --daemonize yes \
        --logfile "$run/logs/redis-$1.log" --pidfile "$run/redis-$1.pid"
    wait_for 20 redis-cli -p "$1" ping
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
sql() {
    timeout --foreground 30 mariadb --no-defaults -S "$run/mysql.sock" -uroot -N -B -e "$1"
}
both() {        # both "SELECT ... FROM {db}.t": Σ over the two shards
    local a b
    a=$(sql "${1//\{db\}/cc_s0}") && b=$(sql "${1//\{db\}/cc_s1}") || return 1
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

# ---- killing a worker mid-batch (see the top) --------------------------------

hold_lock() {   # hold_lock SQL: a session holding SQL's row locks
    : > "$run/holder.out"
    printf "SELECT CONNECTION_ID();\nBEGIN;\n%s;\nSELECT 'locked';\nSELECT SLEEP(%d);\n" \
        "$1" "$STEP_S" |
        timeout --foreground $((STEP_S + 10)) mariadb --no-defaults -S "$run/mysql.sock" \
            -uroot -N -B --unbuffered > "$run/holder.out" \
            2>> "$run/logs/holder.log" &
    holder=$!
    wait_for 20 grep -qx locked "$run/holder.out"
}
release_lock() { # ... until this: its connection killed, its locks gone
    local id
    id=$(head -1 "$run/holder.out" 2>/dev/null || true)
    if [ -n "$id" ]; then sql "KILL $id" >/dev/null 2>&1 || true; fi
    if [ -n "$holder" ]; then
        kill "$holder" 2>/dev/null || true
        wait "$holder" 2>/dev/null || true
    fi
    holder=""
}
wait_trx() {    # wait_trx SECONDS: "thread rows" of a transaction waiting
    local end=$(( $(now_ms) + $1 * 1000 )) r
    while [ "$(now_ms)" -lt "$end" ]; do
        r=$(sql "SELECT trx_mysql_thread_id, trx_rows_modified FROM
                 information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'
                 AND trx_rows_modified > 0 LIMIT 1" 2>/dev/null) || r=""
        [ -n "$r" ] && { echo "$r" | tr '\t' ' '; return 0; }
        sleep 0.05
    done
    return 1
}
thread_gone() {
    [ "$(sql "SELECT COUNT(*) FROM information_schema.processlist WHERE id = $1")" = 0 ]
}
# mid_kill NAME DB LOCK_SQL SECONDS: kill -9 NAME (its pid file) while its
# transaction waits on LOCK_SQL's lock with rows written; prints how, or
# fails having killed nothing (no such wait within SECONDS)
mid_kill() {
    local pid tr tid rows
    pid=$(pidof_file "$1")
    { [ -n "$pid" ] && ! gone "$pid"; } || return 1
    hold_lock "$3" || { release_lock; return 1; }
    tr=$(wait_trx "$4") || { release_lock; return 1; }
    tid=${tr% *} rows=${tr#* }
    kill -9 "$pid" 2>/dev/null || { release_lock; return 1; }
    release_lock
    wait_for 30 thread_gone "$tid" || return 1
    echo "its transaction in $2 (connection $tid, $rows rows written) was waiting; closed with the kill, rolled back"
}

say "starting the servers under $run"
redis_start "$R0"
redis_start "$R1"
mkdir -p "$run/mysql-tmp"
bounded "$STEP_S" mariadb-install-db --no-defaults --datadir="$run/mysql" --user=root \
    --auth-root-authentication-method=normal --skip-test-db \
    --tmpdir="$run/mysql-tmp" > "$run/logs/mysql-install.log" 2>&1
mysql_start

"$W/cc-mockbroker" --partitions 4 > "$run/mock.out" 2> "$run/logs/mock.log" < /dev/null &
echo $! > "$run/mock.pid"
wait_for 10 grep -q bootstrap= "$run/mock.out"
brokers=$(sed -n 's/^bootstrap=//p' "$run/mock.out")

# the workers' role users (sql/grants.sql): each worker connects as its own
mariadb --no-defaults -S "$run/mysql.sock" -uroot < sql/grants.sql
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-ingest" --init-shards $shards 2>> "$run/logs/cc-ingest.log"
ingest_start

head -c 48 /dev/urandom | base64 | tr -d '\n' > "$run/token.secret"
chmod 600 "$run/token.secret"
start=$(( $(date +%s) - 60 ))
END=$(( $(date +%s) + 86400 ))

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
    client_body_temp_path $run/tmp/$1/body;
    proxy_temp_path $run/tmp/$1/proxy;
    fastcgi_temp_path $run/tmp/$1/fastcgi;
    uwsgi_temp_path $run/tmp/$1/uwsgi;
    scgi_temp_path $run/tmp/$1/scgi;
CONF
}
# the app tier as the example's, but for cc_redis_timeout: 500ms, not
# 200ms, on a machine shared with the load and every server (200ms gives
# 503s outside any fault when the machine is busy)
conf_module() {
    cat <<CONF
    access_log off;
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
    { echo "load_module $MODULE_SO;"
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
        location = /cc/gift        { cc_gift; }
        location = /cc/ask         { cc_ask; }
        location = /cc/gifts       { cc_gifts; }
        location = /cc/metrics     { allow 127.0.0.1; deny all; cc_metrics; }
    }
}
CONF
    } > "$run/$1.conf"
}
conf_admin() {
    { echo "load_module $MODULE_SO;"
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
# The edge is nginx.conf.example's, taken from that file: its http lines
# before the app tier (access_log, server_tokens, the client timeouts) and
# its edge tier (the uid maps, the upstream, the limits, the body rule, the
# edge server), with the example's ports 8080, 8081, 8082 made this run's.
# The only differences are the instance's own (conf_common, conf_temp):
# 2 workers (auto), 4096 connections each (16384), this run's log, pid and
# temp paths.  A change of the example's layout that this cannot follow
# stops the run.
conf_edge() {
    { conf_common edge 2
      echo "http {"; conf_temp edge
      awk '/^http \{/ { h = 1; next }
           /# ---- the app tier/ { h = 0 }
           /# ---- the edge tier/ { e = 1 }
           /# ---- the app nodes/ { e = 0 }
           h || e' "$top/nginx.conf.example" |
          sed -e "s/127\.0\.0\.1:8080\b/127.0.0.1:$EDGE/" \
              -e "s/127\.0\.0\.1:8081\b/127.0.0.1:$APP1/" \
              -e "s/127\.0\.0\.1:8082\b/127.0.0.1:$APP2/" \
              -e "s/^\( *\)limit_req zone=cc_per_addr_req .*/\1# per-address limit off: every client is 127.0.0.1/"
      echo "}"
    } > "$run/edge.conf"
    local want
    for want in "listen 127.0.0.1:$EDGE;" "server 127.0.0.1:$APP1 " \
                "server 127.0.0.1:$APP2 " 'hash $cc_route_uid consistent;' \
                'proxy_next_upstream error timeout non_idempotent;' \
                'error_page 502 504 = @cc_unavailable;' 'return 413;' \
                'limit_conn cc_per_addr' 'client_header_timeout'; do
        grep -qF "$want" "$run/edge.conf" || {
            echo "chaos: the edge taken from nginx.conf.example lacks: $want" >&2
            exit 2
        }
    done
    if grep -q 'cc_redis\|8081\|8082\|8091' "$run/edge.conf"; then
        echo "chaos: the edge taken from nginx.conf.example has app-tier lines" >&2
        exit 2
    fi
}
nginx_start() { # nginx_start NAME PORT
    timeout --foreground 30 "$NGINX" -p "$run" -c "$run/$1.conf" 2>> "$run/logs/$1.log"
    wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2"
}
nginx_stop() {  # nginx_stop NAME: graceful, until the master is gone
    local p; p=$(pidof_file "$1")
    [ -n "$p" ] || return 0
    kill -QUIT "$p" 2>/dev/null || true
    wait_for 20 gone "$p"
}
conf_app app1 "$APP1"; conf_app app2 "$APP2"; conf_admin; conf_edge
nginx_start app1 "$APP1"; nginx_start app2 "$APP2"
nginx_start admin "$ADMIN"; nginx_start edge "$EDGE"
say "up: edge :$EDGE (nginx.conf.example's), app1 :$APP1, app2 :$APP2, admin :$ADMIN, redis :$R0 :$R1, mysql :$MYSQL_PORT"

# ---- the flip phase: rounds of new users until it ends ---------------------

flip_end=$(( $(now_ms) + FLIP_S * 1000 ))
(
    round=0
    while [ "$(now_ms)" -lt "$flip_end" ]; do
        first=$(( 1 + round * ROUND_USERS ))
        timeout --foreground "$STEP_S" "$T/cc-load" grant --url "http://127.0.0.1:$ADMIN" \
            --first-uid "$first" --users "$ROUND_USERS" --chances "$CHANCES" \
            --conc "$CONC" --max-tries 40 --quiet \
            --stats "$run/stats/grant-$round.jsonl" \
            2>> "$run/logs/load.log" || echo "grant round $round: exit $?" >> "$run/load.fail"
        timeout --foreground "$STEP_S" "$T/cc-load" flip --url "http://127.0.0.1:$EDGE" \
            --first-uid "$first" --users "$ROUND_USERS" \
            --secret "$run/token.secret" --retry-pct 5 --combine --seed "$round" \
            --conc "$CONC" --max-tries 40 --quiet \
            --stats "$run/stats/flip-$round.jsonl" \
            2>> "$run/logs/load.log" || echo "flip round $round: exit $?" >> "$run/load.fail"
        for sr in 1 2; do
            timeout --foreground "$STEP_S" "$T/cc-load" social --url "http://127.0.0.1:$EDGE" \
                --first-uid "$first" --users "$ROUND_USERS" \
                --secret "$run/token.secret" --social-pct "$SOCIAL_PCT" --seed "$round" \
                --rid-prefix "s$sr" --conc "$CONC" --max-tries 40 --quiet \
                --stats "$run/stats/social-$round-$sr.jsonl" \
                2>> "$run/logs/load.log" || echo "social round $round.$sr: exit $?" >> "$run/load.fail"
        done
        round=$((round + 1))
        echo "$round" > "$run/rounds"
    done
) &
load=$!

# ---- the faults -----------------------------------------------------------------

: > "$run/faults.tsv"
: > "$run/expected-alerts"
sleep_ms() { sleep "$(( $1 / 1000 )).$(printf %03d $(( $1 % 1000 )))"; }

f_worker() {    # f_worker NAME INSTANCE K: kill -9 the K-th worker (mod n)
    local inst=$2 p w n victim
    p=$(pidof_file "$inst")
    { [ -n "$p" ] && ! gone "$p"; } || { echo "chaos: $inst is not running" >&2; return 1; }
    mapfile -t w < <(pgrep -P "$p" | sort -n)
    n=${#w[@]}
    [ "$n" -gt 0 ] || { echo "chaos: no worker of $inst" >&2; return 1; }
    victim=${w[$3 % n]}
    fault "$1" "$(now_ms)" "$inst pid $victim${4:+ $4}"
    kill -9 "$victim"
    printf '%s\t%s\n' "$inst" "$victim" >> "$run/expected-alerts"
    sleep 3
    fault_end "$1"
}
f_app() {
    fault app "$(now_ms)" "$1"
    nginx_stop "$1"
    sleep "$APP_DOWN_S"
    nginx_start "$1" "$2"
    sleep 2
    fault_end app
}
f_redis() {     # f_redis NAME PORT [DETAIL]: SHUTDOWN (AOF fsynced), start
    fault "$1" "$(now_ms)" "shutdown + start :$2${3:+ $3}"
    local p; p=$(pidof_file "redis-$2")
    timeout --foreground 30 redis-cli -p "$2" shutdown >/dev/null 2>&1 || true
    wait_for 30 gone "$p"
    sleep "$REDIS_DOWN_S"
    redis_start "$2"
    sleep 2
    fault_end "$1"
}
f_redis9() {
    fault redis9 "$(now_ms)" "kill -9 + start :$1"
    local p; p=$(pidof_file "redis-$1")
    kill -9 "$p"
    wait_for 20 gone "$p"
    sleep 1
    redis_start "$1"
    sleep 2
    fault_end redis9
}
f_broker() {
    fault broker "$(now_ms)" "${BROKER_S}s"
    kill -USR1 "$(pidof_file mock)"
    sleep "$BROKER_S"
    kill -USR2 "$(pidof_file mock)"
    fault_end broker
}
f_ingest() {    # f_ingest DB: kill -9 mid-batch (its user_cards in DB held)
    local try how=""
    fault ingest "$(now_ms)"
    for try in 1 2 3 4 5; do
        how=$(mid_kill ingest "$1" \
              "SELECT COUNT(*) FROM $1.user_cards WHERE uid > 0 FOR UPDATE" 8) \
            && break
        how=""
        sleep 1
    done
    if [ -z "$how" ]; then
        fault_detail ingest "NOT KILLED: no batch in flight in 5 tries"
        ingest_start
        fault_end ingest
        return 1
    fi
    fault_detail ingest "kill -9 mid-batch, try $try: $how"
    ingest_start
    fault_end ingest
}
f_mysql() {     # f_mysql NAME [DETAIL]: SIGTERM, start
    fault "$1" "$(now_ms)" "SIGTERM + start${2:+ $2}"
    local p; p=$(pidof_file mysql)
    kill "$p"
    wait_for 60 gone "$p"
    mysql_start
    fault_end "$1"
}

# The flip phase's schedule, every choice from the seed, here in the
# parent (a subshell's RANDOM is its own).  The pairs (app, worker) and
# (broker, redis9) overlap by construction: the second starts inside the
# first's window.
F=$(( FLIP_S * 1000 ))
a=$(( RANDOM % 2 )) rs=$(( RANDOM % 2 )) wk=$RANDOM
apps=(app1 app2) appports=("$APP1" "$APP2") rports=("$R0" "$R1")
if [ $(( RANDOM % 2 )) = 0 ]; then wi=edge; else wi=${apps[1 - a]}; fi
t_ingest=$(rnd $(( F / 10 )) $(( F / 5 )))
t_app=$(rnd $(( F * 15 / 100 )) $(( F * 25 / 100 )))
t_worker=$(( t_app + 1000 + $(rnd 0 $(( APP_DOWN_S * 1000 - 1500 ))) ))
t_mysql=$(rnd $(( F * 30 / 100 )) $(( F * 38 / 100 )))
t_broker=$(rnd $(( F * 40 / 100 )) $(( F * 45 / 100 )))
t_redis9=$(( t_broker + 1000 + $(rnd 0 $(( BROKER_S * 1000 / 2 ))) ))
t_redis=$(rnd $(( F * 55 / 100 )) $(( F * 65 / 100 )))
schedule=(
    "ingest $t_ingest f_ingest cc_s$(( RANDOM % 2 ))"
    "app $t_app f_app ${apps[a]} ${appports[a]}"
    "worker $t_worker f_worker worker $wi $wk"
    "mysql $t_mysql f_mysql mysql"
    "broker $t_broker f_broker"
    "redis9 $t_redis9 f_redis9 ${rports[rs]}"
    "redis $t_redis f_redis redis ${rports[1 - rs]}"
)
run_schedule() { # run_schedule ENTRY...: each "NAME MS FUNCTION ARGS"
    local s name ms
    fjobs=""
    for s in "$@"; do
        # shellcheck disable=SC2086
        set -- $s
        name=$1 ms=$2; shift 2
        say "fault $name at +$(( ms / 1000 )).$(( ms % 1000 / 100 ))s: $*"
        ( sleep_ms "$ms"; "$@" >> "$run/logs/faults.log" 2>&1 ) &
        fjobs="$fjobs $!"
    done
}
wait_faults() {
    local j fail=0
    for j in $fjobs; do
        wait "$j" || { echo "chaos: a fault job failed (logs/faults.log)" >&2; fail=1; }
    done
    return "$fail"
}
# The draw's and the claim phase's choices, drawn now (the loops that
# follow take as long as they take): the draw's and cc-payout's first
# shard to kill in, then a Redis shard restarted while cc-payout credits,
# mariadbd restarted inside its window (by construction), an app node's
# worker killed.
dk=$(( RANDOM % 2 )) pk=$(( RANDOM % 2 ))
t_predis=$(rnd 200 800)
t_pmysql=$(( t_predis + $(rnd 300 $(( REDIS_DOWN_S * 1000 ))) ))
t_pworker=$(( t_predis + $(rnd 0 $(( t_pmysql - t_predis - 100 ))) ))
pay_faults=(
    "predis $t_predis pf_redis ${rports[RANDOM % 2]}"
    "pmysql $t_pmysql pf_mysql"
    "pworker $t_pworker pf_worker ${apps[RANDOM % 2]} $RANDOM"
)
run_schedule "${schedule[@]}"
say "flip load for ${FLIP_S}s: rounds of $ROUND_USERS users x $CHANCES chances, conc $CONC"
fail=0
wait_faults || fail=1
say "every fault done; the load goes on to the end of the phase"
wait "$load" || true
say "flip load done: $(cat "$run/rounds") rounds"
[ "$fail" = 0 ] || exit 1

# ---- recovery: the fast path catches up -------------------------------------

redis_draws() {
    local a b
    a=$(user_sums "$R0") b=$(user_sums "$R1")
    echo $(( ${a%% *} + ${b%% *} ))
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
        # two ways the fast path loses draws here, both the drain's to
        # write: a killed app worker's producer queue, and the mock
        # broker's small log (about 5 MB a partition), which drops what
        # cc-ingest had not read yet while it lagged (it then resets its
        # offset: "Offset out of range" in its log)
        resets=$(grep -c 'Offset out of range' "$run/logs/cc-ingest.log" 2>/dev/null || true)
        catchup="MySQL lacks $((r - m)) draws $(( ($(now_ms) - s) / 1000 )) s after the load: lost on the fast path (killed app workers' producer queues; the mock broker's log dropped unread messages: ${resets:-0} offset resets in cc-ingest's log); the drain writes them"
        break
    fi
    sleep 0.5
done
say "recovery: $catchup"

# ---- close; the draw, killed mid-batch, run again ----------------------------

cutoff=$(( $(date +%s) + 2 ))
say "close: the window ends at $cutoff (app1 and app2 reloaded)"
END=$cutoff
conf_app app1 "$APP1"; conf_app app2 "$APP2"
timeout --foreground 30 "$NGINX" -p "$run" -c "$run/app1.conf" -s reload
timeout --foreground 30 "$NGINX" -p "$run" -c "$run/app2.conf" -s reload
while [ "$(date +%s)" -le "$cutoff" ]; do sleep 0.2; done

camp=chaos$CHAOS_SEED
cat > "$run/campaign.conf" <<CAMPAIGN
# written by bench/chaos.sh; read by cc-draw, cc-payout, cc-reconcile
campaign     $camp
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

say "draw: cc-draw, killed with kill -9 in the middle of a batch"
# shellcheck disable=SC2086
"$W/cc-draw" --campaign "$run/campaign.conf" $redis $shards --batch 1 \
    > "$run/draw-killed.out" 2>> "$run/logs/cc-draw.log" &
draw=$!
echo "$draw" > "$run/draw.pid"
kill_draw="NOT KILLED: cc-draw ended before a batch of a shard's first half was seen"
end=$(( $(now_ms) + STEP_S * 1000 ))
while [ "$(now_ms)" -lt "$end" ] && ! gone "$draw"; do
    for k in $dk $(( 1 - dk )); do
        row=$(sql "SELECT done_upto, eligible FROM cc_s$k.draw_plans WHERE
                   campaign = '$camp' AND shard = $k" 2>/dev/null) || row=""
        [ -n "$row" ] || continue
        read -r upto elig <<< "$row"
        [ "$upto" -gt 0 ] && [ $(( upto * 2 )) -lt "$elig" ] || continue
        how=$(mid_kill draw "cc_s$k" "SELECT done_upto FROM cc_s$k.draw_plans
              WHERE campaign = '$camp' AND shard = $k FOR UPDATE" 5) || continue
        upto=$(sql "SELECT done_upto FROM cc_s$k.draw_plans WHERE campaign = '$camp' AND shard = $k")
        rows=$(sql "SELECT COUNT(*) FROM cc_s$k.awards WHERE campaign = '$camp'")
        kill_draw="killed mid-batch on shard $k: $rows of its $elig awards committed (done_upto $upto); $how"
        [ "$rows" = "$upto" ] || kill_draw="NOT WHOLE: shard $k holds $rows awards, done_upto $upto"
        break 2
    done
    sleep 0.02
done
wait "$draw" 2>/dev/null || true
say "draw: $kill_draw; run again"
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-draw" --campaign "$run/campaign.conf" $redis $shards \
    --batch 5 > "$run/draw.out" 2>> "$run/logs/cc-draw.log" \
    || { echo "chaos: cc-draw after the kill: exit $?" >&2; exit 1; }
sed 's/^/   /' "$run/draw.out"
n_awards=$(awards)

# ---- the claim phase: claims and cc-payout under faults ----------------------

payout_start() {
    # shellcheck disable=SC2086
    "$W/cc-payout" --campaign "$run/campaign.conf" $redis $shards --batch 1 \
        --claims-batch 1 --interval 1 --progress 2 \
        2>> "$run/logs/cc-payout.log" < /dev/null &
    echo $! > "$run/payout.pid"
}
unpaid() {
    both "SELECT COUNT(*) FROM {db}.awards WHERE status = 'pending' OR notified = 0"
}
paid() { [ "$(unpaid)" = 0 ]; }

users=$(( $(cat "$run/rounds") * ROUND_USERS ))
pay_t0=$(now_ms)
rm -f "$run/claims.stop"
(
    round=0
    while [ ! -e "$run/claims.stop" ]; do
        timeout --foreground "$STEP_S" "$T/cc-load" claim --url "http://127.0.0.1:$EDGE" \
            --users "$users" --secret "$run/token.secret" --pct 50 \
            --conc "$CONC" --max-tries 40 --quiet \
            --stats "$run/stats/claim-$round.jsonl" \
            2>> "$run/logs/load.log" || echo "claim round $round: exit $?" >> "$run/load.fail"
        round=$((round + 1))
    done
) &
claims=$!
say "payout: cc-payout credits $n_awards awards (batches of 1) while winners claim through the edge"
payout_start
some_credited() { local c; c=$(credited) && [ "$c" -gt 0 ]; }
wait_for 60 some_credited || true
kill_payout="NOT KILLED: no batch seen waiting on a shard's pool"
for kk in $pk $(( 1 - pk )) $pk $(( 1 - pk )); do
    c=$(credited) || c=0
    [ "$c" -lt "$n_awards" ] || break
    how=$(mid_kill payout "cc_s$kk" "SELECT credits FROM cc_s$kk.ledger_accounts
          WHERE account = 'pool:$camp' FOR UPDATE" 5) || continue
    kill_payout="killed mid-batch with $c of $n_awards credited; $how"
    break
done
case $kill_payout in
    killed*) wait_for 20 gone "$(pidof_file payout)"; payout_start ;;
esac
say "payout: $kill_payout; started again"

# The claim phase's faults (drawn with the flip phase's), each noting the
# awards credited at its start.  First both shards' pool rows are held (a
# slow MySQL: a long query holding them), so cc-payout's batches wait
# with their transfers written: the faults that follow meet it with awards
# unpaid and batches open, however fast this machine credits.  mariadbd's
# restart ends the hold (the holding session dies with it).
at_credit() { echo "with $(credited 2>/dev/null || echo '?') of $n_awards credited"; }
pf_redis() { f_redis predis "$1" "$(at_credit)"; }
pf_mysql() {
    local at; at=$(at_credit)
    fault_end plock
    f_mysql pmysql "$at"
}
pf_worker() { f_worker pworker "$1" "$2" "$(at_credit)"; }
hold_lock "SELECT credits FROM cc_s0.ledger_accounts WHERE account = 'pool:$camp'
           FOR UPDATE; SELECT credits FROM cc_s1.ledger_accounts WHERE
           account = 'pool:$camp' FOR UPDATE"
fault plock "$(now_ms)" "both pools' rows held until pmysql, $(at_credit)"
run_schedule "${pay_faults[@]}"
wait_faults || fail=1
release_lock
say "claim-phase faults done; claims go on until every award is paid and ${PAY_S}s passed"
wait_for "$STEP_S" paid || true
while [ $(( $(now_ms) - pay_t0 )) -lt $(( PAY_S * 1000 )) ]; do sleep 0.2; done
: > "$run/claims.stop"
claim_rc=0
wait "$claims" || claim_rc=$?
kill "$(pidof_file payout)" 2>/dev/null && wait_for 30 gone "$(pidof_file payout)"
[ "$fail" = 0 ] || exit 1

say "books: cc-redrive --once --grace 0, cc-reconcile --once --grace 0, cc-reconcile --money, cc-reconcile --cards"
# the gifts still in an outbox (their receiver's half lost to a fault)
# delivered, once: then nothing is in transit
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-redrive" $redis --once --grace 0 \
    2>> "$run/logs/cc-redrive.log" \
    || { echo "chaos: cc-redrive --once: exit $?" >&2; exit 1; }
grep -h "pass done" "$run/logs/cc-redrive.log" | sed 's/^/   /'
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-reconcile" $redis $shards --once --grace 0 \
    > "$run/reconcile-drain.out" 2>> "$run/logs/cc-reconcile.log" \
    || { echo "chaos: cc-reconcile --once: exit $?" >&2; exit 1; }
grep -h "pass done" "$run/logs/cc-reconcile.log" | sed 's/^/   /'
set +e
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-reconcile" --money --campaign "$run/campaign.conf" \
    $redis $shards --json "$run/reconcile.json" > "$run/reconcile.out" \
    2>> "$run/logs/cc-reconcile.log"
rc_money=$?
set -e
grep -h "break(s)" "$run/logs/cc-reconcile.log" | sed 's/^/   /'
sed 's/^/   /' "$run/reconcile.out"
# the cards, Redis against MySQL (read-only; the logs drained above)
set +e
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-reconcile" --once --grace 0 --cards $redis $shards \
    > /dev/null 2> "$run/logs/cc-reconcile-cards.log"
rc_cards=$?
set -e
grep -E 'cards: (kind|[0-9]+ users)' "$run/logs/cc-reconcile-cards.log" \
    | sed 's/^.*cards: /cards: /' > "$run/cards.txt" || true

# ---- the facts and the checks -------------------------------------------------

say "checks"
{
    echo "redis $(user_sums "$R0") $(user_sums "$R1")"
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
    echo "rc_cards $rc_cards"
    echo "social_pct $SOCIAL_PCT"
    echo "redriven $(sed -n 's/.*pass done: \([0-9]*\) gifts redriven.*/\1/p' "$run/logs/cc-redrive.log" | awk '{ s += $1 } END { print s + 0 }')"
    echo "gift_halves $(both "SELECT COUNT(*) FROM {db}.gift_moves WHERE side = 'o'") $(both "SELECT COUNT(*) FROM {db}.gift_moves WHERE side = 'i'")"
    echo "transit $(gifts_in_transit "$W/cc-redrive" "$R0" "$R1" | awk '{ printf "%s%s=%s", s, $1, $2; s = "," }')"
    echo "claim_rc $claim_rc"
    echo "kill_draw $kill_draw"
    echo "kill_payout $kill_payout"
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
        $win{$n}[2] = join("; ", grep { defined } $win{$n}[2], $d) if $d ne "-";
    }
    my @faults = sort { $win{$a}[0] <=> $win{$b}[0] } keys %win;
    brk("fault $_ never ended") for grep { !defined $win{$_}[1] } @faults;
    my $t0 = (sort { $a <=> $b } map { $win{$_}[0] } @faults)[0];

    # Where each answer other than 200, 202 (claims) and 429 may come:
    # 503 from an app node while a Redis shard is down, and 2 s after (the
    # reconnect); 503 from the edge when no node answers: while an app node
    # is stopped or one of its workers dies, and for the edge fail_timeout
    # (10 s, max_fails=1) after, a node that failed being out that long;
    # client connection errors when an edge worker dies (its connections
    # die with it), 2 s after.  2 s of slack before each window.
    my %edge_kill = map { ($_ => 1) } grep { ($win{$_}[2] // "") =~ /^edge / } qw(worker pworker);
    my %allowed = (503 => [qw(redis redis9 predis app worker pworker)],
                   errors => [sort keys %edge_kill]);
    my %after = (redis => 2000, redis9 => 2000, predis => 2000,
                 app => 12000, worker => 12000, pworker => 12000);
    my $slack = 2000;
    sub inside {
        my ($what, $from, $to) = @_;
        for my $n (@{ $allowed{$what} }) {
            my $x = $win{$n} or next;
            my $after = $what eq "errors" ? 2000 : $after{$n};
            return 1 if $from <= ($x->[1] // 9e15) + $after && $to >= $x->[0] - $slack;
        }
        return 0;
    }

    my (%st, %ep, $sent, $errs, %tot, %claim_in, @drawn);
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
                if ($total->{phase} eq "claim") {
                    for my $x (qw(predis pmysql pworker)) {
                        my $y = $win{$x} or next;
                        $claim_in{$x} += $n if $to > $y->[0] && $from < ($y->[1] // 0);
                    }
                }
                next if $s == 200 || $s == 429 || ($s == 202 && $total->{phase} eq "claim");
                my $at = sprintf "%.1f s", ($to - $t0) / 1000;
                if (!$allowed{$s}) { brk("$n answers $s ($total->{phase}) at +$at: never allowed") }
                elsif (!inside($s, $from, $to)) { brk("$n answers $s ($total->{phase}) at +$at: no fault that allows it then") }
            }
            if ($l->{errors} && !inside("errors", $from, $to)) {
                brk(sprintf "%d client errors (%s) at +%.1f s: no edge worker died then",
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
        if (my $p = $total->{flip}) {
            $tot{$_} += $p->{$_} // 0 for qw(draws retries_sent retries_differ dup_draw_ids combined combines_200);
            $drawn[$_] += $p->{cards}[$_] // 0 for 0 .. 4;
        }
        if (my $p = $total->{social}) {
            $tot{"social_$_"} += $p->{$_} // 0
                for qw(social_users gifts_delivered gifts_sent gifts_refused answers asks asks_refused combined);
        }
        if (my $p = $total->{claim}) { $tot{$_} += $p->{$_} // 0 for qw(claims_sent claims_200 claims_202 claims_404 award_pending award_credited award_none) }
    }
    $tot{$_} //= 0 for map { "social_$_" } qw(social_users gifts_delivered gifts_sent gifts_refused answers asks asks_refused combined);
    $tot{combined} += $tot{social_combined};    # the sets gifts completed
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

    # the overlaps: every pair of windows that overlapped; the three built
    # to overlap must have
    my @ov;
    for my $i (0 .. $#faults) {
        for my $j ($i + 1 .. $#faults) {
            my ($x, $y) = @win{ @faults[$i, $j] };
            my $o = (($x->[1] // 0) < ($y->[1] // 0) ? $x->[1] : $y->[1]) - ($x->[0] > $y->[0] ? $x->[0] : $y->[0]);
            push @ov, [ "$faults[$i]&$faults[$j]", $o ] if $o > 0;
        }
    }
    my %ov = map { (join("&", sort split /&/, $_->[0]) => $_->[1]) } @ov;
    for my $pair (qw(app&worker broker&redis9 pmysql&predis)) {
        brk("the faults $pair did not overlap") unless $ov{$pair};
    }
    printf "chaos: overlaps: %s\n", join(", ", map { sprintf "%s %.1f s", $_->[0], $_->[1] / 1000 } @ov);

    # every kill landed mid-batch; each claim-phase fault came while awards
    # were unpaid, and claims were answered in its window
    my %kill = (ingest => $win{ingest}[2] // "", draw => $f{kill_draw}, payout => $f{kill_payout});
    for my $k (sort keys %kill) {
        brk("cc-$k: $kill{$k}") unless $kill{$k} =~ /mid-batch/ && $kill{$k} =~ /rolled back/;
    }
    for my $x (qw(predis pmysql pworker)) {
        my ($c) = ($win{$x}[2] // "") =~ /with (\d+) of \d+ credited/;
        brk("$x: not while cc-payout credits ($c of $f{awards} credited at its start)")
            unless defined $c && $c < $f{awards};
        brk("$x: no claim answered in its window") unless $claim_in{$x};
    }
    printf "chaos: claim-phase faults met claims: %s\n", join(", ", map { "$_ " . ($claim_in{$_} // 0) . " answers" } qw(predis pmysql pworker));

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
    # the gifts: each one answered 200 is one given and one received half
    # in MySQL (the drains wrote both; the redrive delivered what a fault
    # left in an outbox); the cards per kind in Redis: held + in transit =
    # drawn (the client saw each new draw) - combined (a card of each kind
    # a combine); then cc-reconcile --cards, Redis against MySQL by user
    my $gave = $tot{social_gifts_delivered} + $tot{social_gifts_sent};
    my ($go, $gi) = split " ", $f{gift_halves};
    brk("gifts: the users were answered 200 for $gave, MySQL holds $go given and $gi received halves")
        if $gave != $go || $go != $gi;
    brk("gifts: $tot{social_gifts_refused} refused, $tot{social_asks_refused} asks refused")
        if $tot{social_gifts_refused} || $tot{social_asks_refused};
    printf "chaos: gifts: %d users social (%s%%), %d given: %d delivered at once, %d sent (the receiver\x27s half later), %d redriven by cc-redrive; MySQL %d given = %d received; %d asks, %d answered; %d sets completed by a gift\n",
        $tot{social_social_users}, $f{social_pct}, $gave, $tot{social_gifts_delivered}, $tot{social_gifts_sent}, $f{redriven},
        $go, $gi, $tot{social_asks}, $tot{social_answers}, $tot{social_combined};
    my %transit = map { split /=/ } grep { length } split /,/, $f{transit} // "";
    for my $k (0 .. 4) {
        my $held = $r[1 + $k] + $r[8 + $k];
        my $t = $transit{$k} // 0;
        my $ok = $held + $t == $drawn[$k] - $e_redis;
        brk("cards of kind $k: held $held + in transit $t != drawn $drawn[$k] - combined $e_redis") unless $ok;
        printf "chaos: cards kind %d: held %d + in transit %d = %d; drawn %d - combined %d = %d: %s\n",
            $k, $held, $t, $held + $t, $drawn[$k], $e_redis, $drawn[$k] - $e_redis, $ok ? "ok" : "DIFFERENCE";
    }
    brk("cc-reconcile --cards: exit $f{rc_cards}") if $f{rc_cards};
    if (open my $c, "<", "$run/cards.txt") { print "chaos: cc-reconcile --cards: $_" for <$c> }
    printf "chaos: cc-reconcile --cards exit %d\n", $f{rc_cards};
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
    printf "chaos: kill -9: cc-ingest %s\n", $kill{ingest};
    printf "chaos: kill -9: cc-draw %s\n", $kill{draw};
    printf "chaos: kill -9: cc-payout %s\n", $kill{payout};
    printf "chaos: redis: %d starts loaded the AOF; %d AOF writes postponed past a slow fsync (a kill -9 then may lose up to 2 s of answered writes)\n",
        $f{aof_loaded}, $f{aof_late};
    printf "chaos: recovery: %s; the drains (cc-draw, cc-reconcile) wrote %d draws and combines MySQL lacked\n", $f{catchup}, $f{drained};

    # the logs: nothing but the one expected alert per killed worker, and
    # no sanitizer report anywhere (make test-asan runs this)
    my %expect;
    open my $x, "<", "$run/expected-alerts" or die;
    while (<$x>) { chomp; my ($i, $p) = split /\t/; $expect{$i}{$p} = 0 }
    my ($bad, $san) = (0, 0);
    for my $log (glob("$run/logs/*")) {
        open my $h, "<", $log or next;
        my ($inst) = $log =~ m{/(edge|app1|app2|admin)\.log$};
        while (my $l = <$h>) {
            if ($l =~ /ERROR: (?:Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer/) {
                chomp $l; $san++;
                brk("$log: $l") if $san <= 20;
                next;
            }
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
    printf "chaos: logs: %d [alert]/[emerg]/signal 11 lines beyond the %d expected worker kill line(s); %d sanitizer reports\n",
        $bad, scalar(map { keys %$_ } values %expect), $san;
    print "chaos: BREAK $_\n" for @breaks;
    print @breaks ? "chaos: FAIL (" . scalar(@breaks) . " breaks)\n" : "chaos: PASS\n";
    exit(@breaks ? 1 : 0);
' "$run" "$POOL_CENTS" | tee "$run/summary.txt"
rc=${PIPESTATUS[0]}
set -e
say "done in $(( ($(now_ms) - t0) / 1000 )) s; run dir $run (logs, stats, summary.txt); CHAOS_SEED=$CHAOS_SEED"
exit "$rc"
