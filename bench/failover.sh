#!/bin/bash
# bench/failover.sh: issue 18's proof, "lose any one server and keep going",
# on loopback, bounded, everything it starts stopped at the end.
#
# The servers, each its own process under a temp folder: two Redis shards
# (cc0, cc1), each a primary and two replicas (README "Losing a server":
# with cc_redis_wait 1, a promoted replica needs one of its own to WAIT
# for), three Sentinels watching both (down-after 1000 ms, quorum 2); two MySQL shards (cc_s0, cc_s1), each a
# primary with a semi-synchronous replica (MariaDB: GTID strict mode,
# rpl_semi_sync_master_enabled, wait point AFTER_SYNC; README "Losing a
# server"); the Kafka mock broker; two nginx instances with the module,
# trusted-header identity, the shards by master name through the
# Sentinels: W with `cc_redis_wait 1 1s`, N without it; cc-ingest and,
# after the draw, cc-payout, given both servers of each MySQL shard.
#
# Phases:
#   throughput  cc-load flip at full speed against W alone, then N alone,
#               in ROUNDS rounds of four slices of SLICE_S (W N N W, then
#               N W W N, in turn), one replica a shard (the second ones
#               join after it): R = the median of the rounds' W/N ratios;
#               the median of N's rounds is the capacity
#   winners     WINNERS users flip 12 chances each and combine (through N)
#   users       LOAD_S seconds of the flip load's users granted one chance
#               each (cc-load grant, full speed)
#   faults      flip clients (cc-load flip --rate --max-flips 1 --answers:
#               one flip a user, a 503 or a timeout sent again with the
#               same request id, every answer logged) on W and on N, at
#               half the capacity in all (SHORT: a quarter), while:
#                 kill -9 of cc0's primary, its replicas' links cut and
#                 their resync refused CUT_MS before (what the primary
#                 acknowledged meanwhile is on it alone); started again,
#                 empty, once the load stopped (not SHORT; the Sentinels
#                 make it a replica: a full sync of the shard, which
#                 under the load took 40 s and more);
#                 SIGSTOP of cc1's primary for 5 s, then SIGCONT: it must
#                 come back a replica (not SHORT);
#                 kill -9 of cc_s0's MySQL primary, the replica promoted as
#                 the README says (this script is the orchestrator)
#   books       Kafka drained; cc-reconcile --lost, then --restore; each
#               200 checked against the Redis primaries again
#   money       window closed, cc-draw, cc-payout; kill -9 of cc_s1's MySQL
#               primary mid-payout, promoted (not SHORT); cc-reconcile
#               --money
#
# The last lines, and the goals (any missed: exit 1):
#   unavailable: S s           longest gap without a flip answered 200 for
#                              the faulted Redis shard's users, over the
#                              Redis faults, the longer of W's and N's
#                              (each on the line before; goal <= 5)
#   other shards non-200: N    flip answers not 200 for users of a shard
#                              no fault was on at that moment (goal 0)
#   acknowledged flips lost: N (cc_redis_wait 1)   W's flips answered 200
#                              whose answer field the final Redis lacks
#                              (goal 0)
#   lost without wait: N found, N restored   N's flips answered 200 that
#                              Redis lacked after the faults, and how many
#                              of them are back after --restore (goal:
#                              all; found = cc-reconcile --lost's count)
#   money: ok|broken           every award credited once, Σ = pool,
#                              cc-reconcile --money exit 0
#   wait/nowait throughput: R  (goal >= 0.8; SHORT prints it only:
#                              its one round cannot resolve 20% on a
#                              shared host)
#
# Env: SHORT=1 (70 to 90 s: no SIGSTOP, no payout kill, no restart of
#      the killed Redis, a quarter of the capacity, shorter phases),
#      ROUNDS (5, short 1: the round measures the
#      capacity the load's RATE is a share of), SLICE_S (2), WINNERS (3000, short 500),
#      CLIENTS (flip clients per nginx: 2, short 1), RATE (flips/s of all
#      the flip clients: half the measured capacity, SHORT a quarter),
#      LOAD_S (the users granted for the flip load, in seconds of RATE:
#      90, short 30; the load stops early if they run out, and says so),
#      CONC (connections of a flip client: 2000), STEP_S (120: any wait),
#      CUT_MS (700: cc0's replication cut before the kill; 0: a plain
#      kill -9, which on loopback loses nothing), LIMIT_S (900, short
#      240: the whole run), KEEP=1 (keep the temp folder); CC_WORKER_DIR,
#      CC_MODULE_SO, TEST_NGINX_BINARY as the other benches.
set -euo pipefail
case ${1:-} in
    '') ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "failover: no arguments but --help; settings are environment variables" >&2; exit 2 ;;
esac
self=$(readlink -f "$0")
cd "$(dirname "$self")/.."
top=$(pwd)

if [ "${SHORT:-0}" = 1 ]; then
    ROUNDS=${ROUNDS:-1} WINNERS=${WINNERS:-500} CLIENTS=${CLIENTS:-1}
    LOAD_S=${LOAD_S:-30} LIMIT_S=${LIMIT_S:-240}
else
    ROUNDS=${ROUNDS:-5} WINNERS=${WINNERS:-3000} CLIENTS=${CLIENTS:-2}
    LOAD_S=${LOAD_S:-90} LIMIT_S=${LIMIT_S:-900}
fi
SLICE_S=${SLICE_S:-2} CONC=${CONC:-2000}
STEP_S=${STEP_S:-120} CUT_MS=${CUT_MS:-700}
for v in ROUNDS SLICE_S WINNERS CLIENTS LOAD_S CONC LIMIT_S STEP_S CUT_MS; do
    case ${!v} in ''|*[!0-9]*) echo "failover: $v must be a decimal" >&2; exit 2 ;; esac
done

# the whole run bounded: SIGTERM past LIMIT_S (the trap stops everything)
if [ -z "${FAILOVER_BOUNDED:-}" ]; then
    FAILOVER_BOUNDED=1 exec timeout --foreground -k 60 "$LIMIT_S" "$self" "$@"
fi

W=${CC_WORKER_DIR:-$top/build/workers} T=$top/build/tools
MODULE_SO=${CC_MODULE_SO:-$top/build/nginx/ngx_http_cc_module.so}
NGINX=${TEST_NGINX_BINARY:-nginx}
for b in "$W/cc-ingest" "$W/cc-draw" "$W/cc-payout" "$W/cc-reconcile" \
         "$W/cc-mockbroker" "$T/cc-load" "$MODULE_SO"; do
    [ -e "$b" ] || { echo "failover: no $b (make all)" >&2; exit 2; }
done

out=$(mktemp -d /tmp/cc-bench-failover.XXXXXX)
# shellcheck disable=SC2034   # run and me: read by scripts/lib/run.sh
run=$out me=failover
. "$top/bench/lib.sh"
. "$top/scripts/lib/run.sh"
t0=$(now_ms)
say() { printf '== failover [%6.1fs] %s\n' "$(( $(now_ms) - t0 ))e-3" "$*"; }
mkdir -p "$out/pids" "$out/logs" "$out/ans"

# ---- every process this run starts has a pid file in $out/pids ------------

started() { echo "$2" > "$out/pids/$1.pid"; }
pid_of() { cat "$out/pids/$1.pid" 2>/dev/null || true; }
stop_all() {
    set +e
    local f p left=""
    touch "$out/stop"
    for f in "$out"/pids/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        kill -CONT "$p" 2>/dev/null
        kill "$p" 2>/dev/null && left="$left $p"
    done
    for p in $left; do
        wait_for 20 gone "$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "failover: kept $out" >&2; else rm -rf "$out"; fi
}
trap stop_all EXIT
# bounded SECONDS COMMAND...: a step, at most SECONDS, as a job, so that a
# signal to this script is taken at once (bash runs a trap only once the
# foreground command ends)
bounded() {
    timeout --foreground "$@" &
    wait "$!"
}
trap 'echo "failover: stopped by a signal (LIMIT_S=$LIMIT_S)" >&2; exit 130' INT TERM HUP

free_ports 18
base=$FREE_BASE
RP=("$base" $((base + 2))) RR=($((base + 1)) $((base + 3)))   # Redis primaries, replicas
RR2=($((base + 16)) $((base + 17)))                            # their second replicas
SENT=($((base + 4)) $((base + 5)) $((base + 6)))
MP=($((base + 7)) $((base + 9))) MR=($((base + 8)) $((base + 10)))  # MySQL
PW=$((base + 11)) PN=$((base + 12)) KAFKA=$((base + 13))

# ---- Redis and the Sentinels ----------------------------------------------

# redis_node PORT [PRIMARY_PORT]: no persistence, a replica of PRIMARY_PORT.
# As README "Losing a server" asks: a backlog that holds what the shard
# writes while a failover re-points the replicas (the default 1 MB is
# half a second of this load: the replica left after a promotion then
# needs a full resync, and the shard answers the server with
# cc_redis_wait 503 until it is done), and a full sync that starts at once
redis_node() {
    mkdir -p "$out/redis$1"
    redis-server --port "$1" --bind 127.0.0.1 --save '' --appendonly no \
        --repl-backlog-size 64mb --repl-diskless-sync-delay 0 \
        --dir "$out/redis$1" --logfile "$out/logs/redis$1.log" \
        ${2:+--replicaof 127.0.0.1 "$2"} < /dev/null > /dev/null 2>&1 &
    started "redis$1" $!
    wait_for 10 redis-cli -p "$1" ping
}
rcli() { timeout --foreground 10 redis-cli "$@"; }
rpipe() { timeout --foreground "$STEP_S" perl "$top/bench/failover-redis.pl" "$1"; }
role() { rcli -p "$1" role 2>/dev/null | head -1; }
link_up() { rcli -p "$1" info replication | grep -q 'master_link_status:up'; }
master_of() {   # master_of NAME: the port all three Sentinels name, or fails
    local s a seen=""
    for s in "${SENT[@]}"; do
        a=$(rcli -p "$s" sentinel get-master-addr-by-name "$1" 2>/dev/null | tail -1)
        [ -n "$a" ] || return 1
        [ -z "$seen" ] || [ "$seen" = "$a" ] || return 1
        seen=$a
    done
    echo "$seen"
}
promoted() {    # promoted NAME OLD_PORT: the Sentinels name another, a master
    local m; m=$(master_of "$1") || return 1
    [ "$m" != "$2" ] && [ "$(role "$m")" = master ]
}
replica_of_new() {  # replica_of_new NAME PORT: PORT is a connected replica of the primary named
    local m; m=$(master_of "$1") || return 1
    [ "$(role "$2")" = slave ] && link_up "$2" \
        && rcli -p "$2" info replication | grep -q "master_port:$m"
}

# ---- MySQL: a semi-sync primary and its replica a shard ----------------------

mysql_tmpl() {
    mkdir -p "$out/tmp"
    mariadb-install-db --no-defaults --datadir="$out/mysql-tmpl" --user="$(id -un)" \
        --auth-root-authentication-method=normal --skip-test-db \
        --innodb-log-file-size=16M --tmpdir="$out/tmp" \
        > "$out/logs/mysql-install.log" 2>&1
}
msql() {        # msql PORT SQL: as root on that mariadbd, no header
    timeout --foreground 30 mariadb --no-defaults -S "$out/mysql$1/sock" -uroot -N -B -e "$2"
}
mysql_node() {  # mysql_node PORT SERVER_ID primary|replica: started, not waited for
    local d=$out/mysql$1 extra
    cp -a "$out/mysql-tmpl" "$d"
    if [ "$3" = primary ]; then
        extra="--rpl-semi-sync-master-enabled=ON --rpl-semi-sync-master-wait-point=AFTER_SYNC --rpl-semi-sync-master-timeout=10000"
    else
        extra="--read-only=1 --skip-slave-start --rpl-semi-sync-slave-enabled=ON"
    fi
    # shellcheck disable=SC2086
    mariadbd --no-defaults --datadir="$d" --user="$(id -un)" --port="$1" \
        --bind-address=127.0.0.1 --socket="$d/sock" --pid-file="$d/pid" \
        --log-error="$out/logs/mysql$1.err" --tmpdir="$out/tmp" \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --server-id="$2" --log-bin="mysql$1-bin" --binlog-format=ROW \
        --log-slave-updates --gtid-strict-mode=ON \
        --log-bin-trust-function-creators=ON $extra < /dev/null \
        >> "$out/logs/mysql$1.err" 2>&1 &
    started "mysql$1" $!
}
semi_ok() {      # semi_ok PORT: the primary counts a semi-sync replica
    [ "$(msql "$1" "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'" | cut -f2)" -ge 1 ]
}
mysql_pairs() { # both shards' primaries MP[K] and replicas MR[K], started at once
    local k p r
    for k in 0 1; do
        mysql_node "${MP[$k]}" $((10 + k * 2)) primary
        mysql_node "${MR[$k]}" $((11 + k * 2)) replica
    done
    for k in 0 1; do
        p=${MP[$k]} r=${MR[$k]}
        wait_for 60 msql "$p" 'select 1'
        wait_for 60 msql "$r" 'select 1'
        # not in the binary log: a commit there would wait for a replica
        # not yet connected (rpl_semi_sync_master_timeout, 10 s)
        msql "$p" "SET SESSION sql_log_bin = 0;
                   CREATE USER cc_repl IDENTIFIED BY 'cc_repl';
                   GRANT REPLICATION SLAVE ON *.* TO cc_repl"
        msql "$r" "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $p,
                   MASTER_USER = 'cc_repl', MASTER_PASSWORD = 'cc_repl',
                   MASTER_CONNECT_RETRY = 1, MASTER_USE_GTID = slave_pos; START SLAVE"
    done
    for k in 0 1; do
        wait_for 30 semi_ok "${MP[$k]}"
        mariadb --no-defaults -S "$out/mysql${MP[$k]}/sock" -uroot < sql/grants.sql
    done
}
# mysql_promote K: README "Losing a server", the primary killed (fenced):
# the replica applies what it received, then is made a writable primary
mysql_promote() {
    local r=${MR[$1]} pos w
    msql "$r" 'STOP SLAVE IO_THREAD'
    pos=$(timeout --foreground 30 mariadb --no-defaults -S "$out/mysql$r/sock" -uroot -E \
          -e 'SHOW SLAVE STATUS' | sed -n 's/^ *Gtid_IO_Pos: *//p')
    if [ -n "$pos" ]; then
        w=$(msql "$r" "SELECT MASTER_GTID_WAIT('$pos', 30)")
        [ "$w" = 0 ] || { echo "failover: the relay log of :$r not applied in 30 s" >&2; return 1; }
    fi
    msql "$r" 'STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0'
}
mysql_kill() {  # mysql_kill PORT: kill -9
    local p; p=$(pid_of "mysql$1")
    { kill -9 "$p"; wait "$p"; } 2> /dev/null || true
    rm -f "$out/pids/mysql$1.pid"
}
# where each shard is written now (after a promotion: the replica)
declare -A MNOW=([0]=${MP[0]} [1]=${MP[1]})
both() {        # both "SELECT ... FROM {db}.t": Σ over the two shards' primaries now
    local a b
    a=$(msql "${MNOW[0]}" "${1//\{db\}/cc_s0}") && b=$(msql "${MNOW[1]}" "${1//\{db\}/cc_s1}") || return 1
    echo $(( ${a:-0} + ${b:-0} ))
}
shards="--mysql 127.0.0.1:${MP[0]},127.0.0.1:${MR[0]}/cc_s0 --mysql 127.0.0.1:${MP[1]},127.0.0.1:${MR[1]}/cc_s1"
sentinel_args="--sentinel 127.0.0.1:${SENT[0]} --sentinel 127.0.0.1:${SENT[1]} --sentinel 127.0.0.1:${SENT[2]}"
redis="$sentinel_args --redis cc0 --redis cc1"

# ---- start ---------------------------------------------------------------------

say "servers under $out (ports $base..$((base + 17)))"
for k in 0 1; do redis_node "${RP[$k]}"; redis_node "${RR[$k]}" "${RP[$k]}"; done
for k in 0 1; do wait_for 20 link_up "${RR[$k]}"; done
for i in 0 1 2; do
    s=${SENT[$i]}
    mkdir -p "$out/sentinel$s"
    { echo "port $s"; echo "bind 127.0.0.1"; echo "dir $out/sentinel$s"
      echo "logfile $out/logs/sentinel$s.log"
      for k in 0 1; do
          echo "sentinel monitor cc$k 127.0.0.1 ${RP[$k]} 2"
          echo "sentinel down-after-milliseconds cc$k 1000"
          echo "sentinel failover-timeout cc$k 3000"
          echo "sentinel parallel-syncs cc$k 1"
      done; } > "$out/sentinel$s/sentinel.conf"
    redis-sentinel "$out/sentinel$s/sentinel.conf" < /dev/null > /dev/null 2>&1 &
    started "sentinel$s" $!
done
sentinels_agree() {   # sentinels_agree REPLICAS: each Sentinel knows the others and them
    local s k
    for s in "${SENT[@]}"; do
        for k in 0 1; do
            rcli -p "$s" sentinel master "cc$k" | tr '\n' ' ' \
                | grep -q "num-other-sentinels 2 .*num-slaves $1 \\|num-slaves $1 .*num-other-sentinels 2" || return 1
        done
    done
}
wait_for 30 sentinels_agree 1
say "Redis and Sentinels up"; mysql_tmpl; say "MySQL installed"
mysql_pairs; say "MySQL up"
"$W/cc-mockbroker" --port "$KAFKA" > "$out/mock.out" 2> "$out/logs/mock.log" < /dev/null &
started mock $!
wait_for 10 grep -q bootstrap= "$out/mock.out"
brokers=$(sed -n 's/^bootstrap=//p' "$out/mock.out")
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-ingest" --init-shards $shards \
    >> "$out/logs/cc-ingest.log" 2>&1
ingest_start() {
    # shellcheck disable=SC2086
    "$W/cc-ingest" --brokers "$brokers" $shards --batch 500 --batch-ms 100 \
        --progress 5 >> "$out/logs/cc-ingest.log" 2>&1 < /dev/null &
    started ingest $!
}
ingest_start

start_s=$(( $(date +%s) - 60 )) END=$(( $(date +%s) + 86400 ))
nginx_conf() {  # nginx_conf NAME PORT [WAIT LINE]
    mkdir -p "$out/nginx-$1"
    cat > "$out/nginx-$1/nginx.conf" <<CONF
load_module $MODULE_SO;
worker_processes 2;
worker_rlimit_nofile 16384;
error_log $out/logs/nginx-$1.log notice;
pid $out/nginx-$1/nginx.pid;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $out/nginx-$1/body;
    proxy_temp_path $out/nginx-$1/proxy;
    fastcgi_temp_path $out/nginx-$1/fastcgi;
    uwsgi_temp_path $out/nginx-$1/uwsgi;
    scgi_temp_path $out/nginx-$1/scgi;
    cc_redis_sentinels 127.0.0.1:${SENT[0]} 127.0.0.1:${SENT[1]} 127.0.0.1:${SENT[2]};
    cc_redis_shards cc0 cc1;
    cc_redis_timeout 500ms;
    cc_redis_failover_wait 1000 3s;
    $3
    cc_cards 2000 2000 2000 2000 2000;
    cc_campaign_start $start_s;
    cc_campaign_end $END;
    cc_combine_cutoff $END;
    cc_kafka_brokers $brokers;
    server {
        listen 127.0.0.1:$2 backlog=1024;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/flip    { cc_flip; }
        location = /cc/combine { cc_combine; }
        location = /cc/grant   { cc_grant; }
        location = /cc/metrics { cc_metrics; }
    }
}
CONF
    timeout --foreground 30 "$NGINX" -p "$out/nginx-$1" -c "$out/nginx-$1/nginx.conf" \
        2>> "$out/logs/nginx-$1.log"
    wait_for 10 test -s "$out/nginx-$1/nginx.pid"
    started "nginx-$1" "$(cat "$out/nginx-$1/nginx.pid")"
    wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2"
}
nginx_conf w "$PW" 'cc_redis_wait 1 1s;'
nginx_conf n "$PN" ''
say "up: Redis cc0 :${RP[0]}/:${RR[0]}, cc1 :${RP[1]}/:${RR[1]}, Sentinels :${SENT[*]}; MySQL cc_s0 :${MP[0]}/:${MR[0]}, cc_s1 :${MP[1]}/:${MR[1]}; nginx W :$PW (cc_redis_wait 1 1s), N :$PN"

# ---- throughput: W alone, then N alone, full speed ------------------------------

flips_ok() {
    curl -s "http://127.0.0.1:$1/cc/metrics" | sed -n 's/^cc_flips_total{result="ok"} //p'
}
grant_thru() {  # grant_thru PORT FIRST_UID: 2000 users, chances for any slice
    bounded "$STEP_S" "$T/cc-load" grant --url "http://127.0.0.1:$1" \
        --first-uid "$2" --users 2000 --chances 100000 --conc 64 --quiet \
        --stats /dev/null 2>> "$out/logs/load.log"
}
slice() {       # slice PORT FIRST_UID SECONDS: "FLIPS MS" at full speed
    local a b t1 t2
    a=$(flips_ok "$1") t1=$(now_ms)
    bounded -s KILL "$3" "$T/cc-load" flip --url "http://127.0.0.1:$1" \
        --first-uid "$2" --users 2000 --conc 64 --quiet --stats /dev/null \
        --rid-prefix "s$t1" 2>> "$out/logs/load.log" || true
    b=$(flips_ok "$1") t2=$(now_ms)
    echo "$(( b - a )) $(( t2 - t1 ))"
}
# ROUNDS rounds of four slices, SLICE_S each, each server alone: W N N W,
# then N W W N, in turn.  A round's ratio is W's flips/s over N's, each
# over its two slices, so that a drift of the machine within the round
# (the other work on it, MySQL catching up) falls on both alike; R is the
# median of the rounds' ratios, which leaves out a round that a burst of
# other work hit
grant_thru "$PW" 1000001
grant_thru "$PN" 2000001
ws="" ns="" rs=""
for i in $(seq "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then order="$PW $PN $PN $PW"; else order="$PN $PW $PW $PN"; fi
    fw=0 mw=0 fn=0 mn=0
    for port in $order; do
        if [ "$port" = "$PW" ]; then
            read -r f m <<< "$(slice "$PW" 1000001 "$SLICE_S")"; fw=$((fw + f)) mw=$((mw + m))
        else
            read -r f m <<< "$(slice "$PN" 2000001 "$SLICE_S")"; fn=$((fn + f)) mn=$((mn + m))
        fi
    done
    tw=$(( fw * 1000 / mw )) tn=$(( fn * 1000 / mn ))
    ws="$ws $tw" ns="$ns $tn"
    rs="$rs $(awk -v a="$tw" -v b="$tn" 'BEGIN { printf "%.3f", b ? a / b : 0 }')"
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
tw=$(echo "$ws" | median) tn=$(echo "$ns" | median)
tn=${tn%.*} tw=${tw%.*}
R=$(echo "$rs" | median | awk '{ printf "%.2f", $1 }')
say "throughput, each alone, $ROUNDS rounds of four ${SLICE_S}s slices (W N N W, N W W N, ...), one replica a shard:"
say "   W (cc_redis_wait 1) flips/s:$ws (median $tw)"
say "   N flips/s:              $ns (median $tn: the capacity)"
thru_load=$(cut -d' ' -f1-3 /proc/loadavg)
say "   W/N a round:           $rs (median $R); load average $thru_load"
# half the capacity; SHORT (make test, on whatever else the host runs) a
# quarter: at half, a busy 2-core host stalled the shard not faulted past
# cc_redis_timeout in two SHORT runs of five (503s counted as the other
# shard's), which measures the host, not the failover
if [ "${SHORT:-0}" = 1 ]; then share=4 share_name="a quarter"; else share=2 share_name=half; fi
RATE=${RATE:-$(( tn / share ))}

# ---- the second replicas: the layout cc_redis_wait 1 needs through a failover --

for k in 0 1; do redis_node "${RR2[$k]}" "${RP[$k]}"; done
for k in 0 1; do wait_for 60 link_up "${RR2[$k]}"; done
say "second replicas up: cc0 :${RR2[0]}, cc1 :${RR2[1]} (the Sentinels find them by the primaries' INFO)"

# ---- winners: users with a full set, for the draw -----------------------------

bounded "$STEP_S" "$T/cc-load" grant --url "http://127.0.0.1:$PN" \
    --first-uid 3000001 --users "$WINNERS" --chances 12 --conc 32 --quiet \
    --stats /dev/null 2>> "$out/logs/load.log"
bounded "$STEP_S" "$T/cc-load" flip --url "http://127.0.0.1:$PN" \
    --first-uid 3000001 --users "$WINNERS" --combine --conc 32 --quiet \
    --stats /dev/null 2>> "$out/logs/load.log"
say "winners: $WINNERS users flipped 12 chances and combined"

# ---- the faults under a steady flip load -----------------------------------------

# each client's users (uids SERVER + c * 1,000,000 on): one chance each,
# granted before (a grant is a request as dear as a flip: granted during
# the load, it would double it)
per=$(( RATE / 2 / CLIENTS )); [ "$per" -ge 1 ] || per=1
users=$(( per * LOAD_S )); [ "$users" -le 999999 ] || users=999999
tg=$(now_ms) grants=""
for c in $(seq 0 $((CLIENTS - 1))); do
    for srv in "w $PW 10000000" "n $PN 20000000"; do
        read -r x port first <<< "$srv"
        bounded "$STEP_S" "$T/cc-load" grant --url "http://127.0.0.1:$port" \
            --first-uid $((first + c * 1000000)) --users "$users" --chances 1 \
            --grant-id g --conc 64 --quiet --stats /dev/null 2>> "$out/logs/load.log" &
        grants="$grants $!"
    done
done
for p in $grants; do wait "$p"; done
say "users: $((users * CLIENTS * 2)) granted a chance in $(( $(now_ms) - tg )) ms"
wait_for 30 sentinels_agree 2

# one cc-load a client, its users started at $per a second, each flipping
# once (request id f-1) and sending a 503 or a timeout again with the same
# id (backoff 50 ms doubling to 1 s), every answer a line of ans/SERVERc.txt
loads=""
for c in $(seq 0 $((CLIENTS - 1))); do
    for srv in "w $PW 10000000" "n $PN 20000000"; do
        read -r x port first <<< "$srv"
        "$T/cc-load" flip --url "http://127.0.0.1:$port" --first-uid $((first + c * 1000000)) \
            --users "$users" --rate "$per" --max-flips 1 --rid-prefix f --conc "$CONC" \
            --timeout 2000 --max-tries 1000 --quiet --stats "$out/load-$x$c.json" \
            --answers "$out/ans/$x$c.txt" 2>> "$out/logs/load.log" < /dev/null &
        started "flip$x$c" $!; loads="$loads $!"
    done
done
tl=$(now_ms)
say "flip load: $((CLIENTS * 2)) clients (cc-load), $per users/s each, $users users each (target $RATE flips/s: $share_name of N's capacity)"
: > "$out/faults.tsv"
fault() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(now_ms)" >> "$out/faults.tsv"; }  # NAME SHARD open|close
sleep 3

# kill -9 of cc0's primary (started again, empty, once the load stopped)
old=${RP[0]} reps="${RR[0]} ${RR2[0]}"
fault redis9 cc0 open
if [ "$CUT_MS" -gt 0 ]; then
    # the replicas' links cut and their resync refused (NOPERM), so that
    # the writes of the next CUT_MS are on the primary alone when it dies
    # (what a lagging replica loses, made sure of on loopback).  Not
    # frozen (SIGSTOP, as t/098): frozen, the Sentinels' offsets of them
    # were stale when they chose, and they promoted the one behind, so
    # the other, ahead, could only follow it by a full resync (W's users
    # of the shard then went 30 s without a 200); cut this way, both stop
    # at the same offset and answer the Sentinels' INFO
    say "cc0: its replicas :${reps// /, :} cut off (CLIENT KILL TYPE replica, their PSYNC refused) for ${CUT_MS} ms"
    rcli -p "$old" acl setuser default -psync -sync -replconf > /dev/null
    rcli -p "$old" client kill type replica > /dev/null
    sleep "$(awk -v m="$CUT_MS" 'BEGIN { printf "%.3f", m / 1000 }')"
fi
say "kill -9 of cc0's primary :$old"
p=$(pid_of "redis$old")
{ kill -9 "$p"; wait "$p"; } 2> /dev/null || true
rm -f "$out/pids/redis$old.pid"
tk=$(now_ms)
wait_for 20 promoted cc0 "$old" || true
new0=$(master_of cc0); new0=${new0##*:}
say "cc0: promoted :$new0 after $(( $(now_ms) - tk )) ms"
# W's cc0 users need no more than the other replica, now the promoted
# one's (a partial resync)
sleep 6
fault redis9 cc0 close

if [ "${SHORT:-0}" != 1 ]; then
    sleep 3
    old1=${RP[1]}
    say "SIGSTOP of cc1's primary :$old1 for 5 s"
    fault stop cc1 open
    kill -STOP "$(pid_of "redis$old1")"
    ts=$(now_ms)
    sleep 5
    kill -CONT "$(pid_of "redis$old1")"
    say "SIGCONT :$old1"
    wait_for 20 promoted cc1 "$old1" || true
    new1=$(master_of cc1); new1=${new1##*:}
    # the fault lasts until the old primary is a replica in sync again:
    # its full sync (it took 15 to 50 s under the load) forks the new
    # primary, whose answers then came late enough for W's batches to
    # answer 503 (a run that closed the window earlier counted them as
    # another shard's)
    wait_for 90 replica_of_new cc1 "$old1" || true
    stop_role=$(role "$old1")
    say "cc1: the Sentinels name :$new1; :$old1 came back a $stop_role, in sync ($(( $(now_ms) - ts )) ms after the stop)"
    sleep 2
    fault stop cc1 close
fi

# kill -9 of cc_s0's MySQL primary mid-ingest, the replica promoted
sleep 2
mi=$(both "SELECT COUNT(*) FROM {db}.draws")
say "kill -9 of cc_s0's MySQL primary :${MP[0]} mid-ingest ($mi draws in MySQL)"
fault mysql9 - open
mysql_kill "${MP[0]}"
tm=$(now_ms)
mysql_promote 0
MNOW[0]=${MR[0]}
say "cc_s0: :${MR[0]} promoted in $(( $(now_ms) - tm )) ms"
sleep 4
fault mysql9 - close
tl2=$(now_ms)
ran_out=""
for p in $loads; do kill -0 "$p" 2>/dev/null || ran_out=" (a client ran out of users before the end: raise LOAD_S)"; done
# shellcheck disable=SC2086
kill -TERM $loads 2>/dev/null || true     # no new user; those under way finish
for p in $loads; do wait "$p" || true; done
# cc0's killed node back, empty (not SHORT): only once the Sentinels
# promoted (an empty primary back before they agree it is down stays the
# primary, and its replicas sync from it); they make it a replica of the
# promoted one
if [ "${SHORT:-0}" != 1 ]; then
    tk=$(now_ms)
    redis_node "$old"
    wait_for 90 replica_of_new cc0 "$old" || true
    say "cc0: :$old back, empty: $(role "$old") of :$new0 after $(( $(now_ms) - tk )) ms"
fi
sent=$(cat "$out"/ans/*.txt | wc -l)
ok200=$(cat "$out"/ans/*.txt | awk '$3 == 200' | wc -l)
say "flip load stopped: $sent flip answers logged, $ok200 of them 200 in $(( tl2 - tl )) ms:"
say "   $(( ok200 * 1000 / (tl2 - tl) )) flips/s answered 200, target $RATE, capacity $tn (N alone)$ran_out"

# ---- books: Kafka drained, the lost found, restored -----------------------------

# the users' shard: where their hash is now
cat "$out"/ans/*.txt | awk '{ print $2 }' | sort -u > "$out/uids"
for k in 0 1; do
    m=$(master_of "cc$k"); m=${m##*:}
    sed 's/.*/EXISTS cc:{&}:u/' "$out/uids" | rpipe "$m" > "$out/exists$k"
done
paste "$out/uids" "$out/exists0" "$out/exists1" \
    | awk '{ print $1, ($2 == 1 ? "cc0" : ($3 == 1 ? "cc1" : "-")) }' > "$out/shard_of"
# a user with no hash on either (its grant lost with the cut: its flip
# answered 409): the ring says where it lives (cc-payout --shard-of)
campaign_conf ring > "$out/ring.conf"
awk '$2 == "-" { print $1 }' "$out/shard_of" > "$out/homeless"
if [ -s "$out/homeless" ]; then
    # shellcheck disable=SC2086
    xargs -n 500 "$W/cc-payout" --campaign "$out/ring.conf" $redis $shards --shard-of \
        < "$out/homeless" | awk '{ print $1, $2 }' > "$out/ring_of"
    awk 'NR == FNR { r[$1] = $2; next } { print $1, ($2 == "-" && ($1 in r) ? r[$1] : $2) }' \
        "$out/ring_of" "$out/shard_of" > "$out/shard_of.new"
    mv "$out/shard_of.new" "$out/shard_of"
    say "$(wc -l < "$out/homeless") users with no hash on either shard (their grant lost): placed by the ring"
fi

# missing FILE: the 200 answers of the clients' files whose answer field
# (":f-1" = "SEQ:CARD:...") the Redis primaries lack now, one "uid" a line
missing() {
    local k m
    awk '$3 == 200 { split($5, a, "\""); split(a[4], d, ":"); c = $5;
                     sub(/.*"card":/, "", c); sub(/,.*/, "", c);
                     print $2, d[2] ":" c ":" }' "$@" > "$out/acked"
    for k in 0 1; do
        m=$(master_of "cc$k"); m=${m##*:}
        awk '{ print "HGET cc:{" $1 "}:u :f-1" }' "$out/acked" | rpipe "$m" > "$out/hget$k"
    done
    paste -d' ' "$out/acked" "$out/hget0" "$out/hget1" \
        | awk '{ if (index($3, $2) != 1 && index($4, $2) != 1) print $1 }'
}

drained() {     # MySQL's draws hold still for 3 s
    local a b
    a=$(both "SELECT COUNT(*) FROM {db}.draws")
    sleep 3
    b=$(both "SELECT COUNT(*) FROM {db}.draws")
    [ "$a" = "$b" ]
}
wait_for 90 drained || true
lost_w=$(missing "$out"/ans/w*.txt | wc -l)
missing "$out"/ans/n*.txt > "$out/lost_n"
lost_n=$(wc -l < "$out/lost_n")
say "acknowledged flips the Redis primaries lack: W $lost_w, N $lost_n"

set +e
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-reconcile" $redis $shards --once --grace 0 --lost \
    > "$out/lost.out" 2> "$out/logs/reconcile-lost.log"
found=$(sed -n 's/.*lost: [0-9]* users compared; \([0-9]*\) draws.*/\1/p' "$out/logs/reconcile-lost.log" | tail -1)
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-reconcile" $redis $shards --once --grace 0 --restore \
    > "$out/restore.out" 2> "$out/logs/reconcile-restore.log"
rc_restore=$?
set -e
grep -h 'lost:' "$out/logs/reconcile-lost.log" | sed 's/^/   /'
grep -h 'restored:' "$out/logs/reconcile-restore.log" | sed 's/^/   /'
still_n=$(missing "$out"/ans/n*.txt | wc -l)
restored=$(( lost_n - still_n ))
lost_w_after=$(missing "$out"/ans/w*.txt | wc -l)
found=${found:-0}

# the gaps and the other shards' non-200s, from the answers and the windows
read -r S S_w other <<< "$(perl -e '
    my ($dir) = @ARGV;
    my (%shard, %win, @open);
    open my $s, "<", "$dir/shard_of" or die; while (<$s>) { my ($u, $k) = split; $shard{$u} = $k }
    open my $f, "<", "$dir/faults.tsv" or die;
    while (<$f>) { chomp; my ($n, $k, $oc, $t) = split /\t/; $win{$n}{$oc} = $t / 1000; $win{$n}{shard} = $k }
    my (%ans);
    for my $file (glob("$dir/ans/*.txt")) {
        my ($srv) = $file =~ m{/(w|n)\d+\.txt$};
        open my $h, "<", $file or die;
        while (<$h>) { my ($t, $u, $st) = split; push @{ $ans{$srv} }, [$t, $u, $st] }
    }
    my %gap = (w => 0, n => 0);
    my $other = 0;
    for my $srv (qw(w n)) {
        my @a = sort { $a->[0] <=> $b->[0] } @{ $ans{$srv} || [] };
        my $last = @a ? $a[-1][0] : 0;     # the load stopped: no gap after it
        for my $n (grep { $win{$_}{shard} ne "-" } keys %win) {
            my ($from, $to, $k) = ($win{$n}{open}, $win{$n}{close}, $win{$n}{shard});
            $to = $last if $last < $to;
            my @t = ($from, (map { $_->[0] } grep { $_->[2] == 200 && ($shard{$_->[1]} // "") eq $k
                                                    && $_->[0] >= $from && $_->[0] <= $to } @a), $to);
            for my $i (1 .. $#t) { $gap{$srv} = $t[$i] - $t[$i - 1] if $t[$i] - $t[$i - 1] > $gap{$srv} }
        }
        for my $x (@a) {
            next if $x->[2] == 200;
            my $k = $shard{$x->[1]} // "-";
            my $in = grep { $win{$_}{shard} eq $k && $x->[0] >= $win{$_}{open} - 0.5
                            && $x->[0] <= $win{$_}{close} } keys %win;
            next if $in;
            $other++;
            # each one explained: which server, shard, status, when
            my @open = sort { $a->[1] <=> $b->[1] } map { [$_, $win{$_}{open}] } keys %win;
            my $at = join ", ", map { sprintf "%+.1f s from %s", $x->[0] - $_->[1], $_->[0] } @open;
            print STDERR "failover: other-shard non-200: server $srv uid $x->[1] (shard $k) status $x->[2] at $at\n"
                if $other <= 20;
        }
    }
    printf "%.1f %.1f %d\n", $gap{n}, $gap{w}, $other;
' "$out")"
S_n=$S
S=$(awk -v a="$S_n" -v b="$S_w" 'BEGIN { printf "%.1f", (a > b) ? a : b }')
say "longest gap without a 200 for the faulted shard's users: W ${S_w}s, N ${S_n}s"

# ---- money: close, draw, payout (kill -9 of a MySQL primary mid-payout) ----------

cutoff=$(( $(date +%s) + 1 ))
camp=failover
cat > "$out/campaign.conf" <<CAMPAIGN
campaign     $camp
pool_cents   5000000
split        equal
seed         failover
credit       async
cutoff       $cutoff
wallet       ledger
CAMPAIGN
while [ "$(date +%s)" -le "$cutoff" ]; do sleep 0.2; done
set +e
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-draw" --campaign "$out/campaign.conf" $redis $shards \
    > "$out/draw.out" 2>> "$out/logs/cc-draw.log"
rc_draw=$?
if [ "$rc_draw" != 0 ]; then      # the README: cc-draw exits 1, to be run again
    say "cc-draw: exit $rc_draw ($(tail -1 "$out/logs/cc-draw.log")); run again"
    # shellcheck disable=SC2086
    bounded "$STEP_S" "$W/cc-draw" --campaign "$out/campaign.conf" $redis $shards \
        > "$out/draw.out" 2>> "$out/logs/cc-draw.log"
    rc_draw=$?
fi
set -e
awards=$(both "SELECT COUNT(*) FROM {db}.awards WHERE campaign = '$camp'")
say "cc-draw: exit $rc_draw, $awards awards"
credited() { both "SELECT COUNT(*) FROM {db}.awards WHERE campaign = '$camp' AND status = 'credited'"; }
# shellcheck disable=SC2086
"$W/cc-payout" --campaign "$out/campaign.conf" $redis $shards --batch 5 \
    --interval 1 --progress 2 >> "$out/logs/cc-payout.log" 2>&1 < /dev/null &
started payout $!
if [ "${SHORT:-0}" != 1 ]; then
    some() { c=$(credited); [ "$c" -gt 0 ]; }
    wait_for 60 some || true
    c=$(credited)
    say "kill -9 of cc_s1's MySQL primary :${MP[1]} mid-payout ($c of $awards credited)"
    mysql_kill "${MP[1]}"
    tm=$(now_ms)
    mysql_promote 1
    MNOW[1]=${MR[1]}
    say "cc_s1: :${MR[1]} promoted in $(( $(now_ms) - tm )) ms"
fi
all_paid() { [ "$(both "SELECT COUNT(*) FROM {db}.awards WHERE campaign = '$camp' AND (status <> 'credited' OR notified = 0)")" = 0 ]; }
wait_for "$STEP_S" all_paid || true
say "cc-payout: $(credited) of $awards credited"
kill "$(pid_of payout)"; wait_for 20 gone "$(pid_of payout)" || true
set +e
# shellcheck disable=SC2086
bounded "$STEP_S" "$W/cc-reconcile" --money --campaign "$out/campaign.conf" \
    $redis $shards > "$out/money.out" 2>> "$out/logs/reconcile-money.log"
rc_money=$?
if [ "$rc_money" != 0 ]; then     # award fields a failover lost: mended, then checked
    say "cc-reconcile --money: exit $rc_money; --repair, then again"
    # shellcheck disable=SC2086
    bounded "$STEP_S" "$W/cc-reconcile" --money --repair --campaign "$out/campaign.conf" \
        $redis $shards > "$out/repair.out" 2>> "$out/logs/reconcile-money.log"
    # shellcheck disable=SC2086
    bounded "$STEP_S" "$W/cc-reconcile" --money --campaign "$out/campaign.conf" \
        $redis $shards > "$out/money.out" 2>> "$out/logs/reconcile-money.log"
    rc_money=$?
fi
set -e
sed 's/^/   /' "$out/money.out"
credit_sum=$(both "SELECT COALESCE(SUM(amount_cents), 0) FROM {db}.ledger_transfers WHERE kind = 'credit'")
credit_bad=$(both "SELECT COUNT(*) FROM {db}.awards a WHERE (SELECT COUNT(*) FROM {db}.ledger_transfers t WHERE t.award_id = a.award_id AND t.kind = 'credit' AND t.amount_cents = a.amount_cents) <> 1")
money=broken
[ "$rc_draw" = 0 ] && [ "$rc_money" = 0 ] && [ "$awards" -gt 0 ] && [ "$credit_bad" = 0 ] \
    && [ "$credit_sum" = 5000000 ] && money=ok
say "money: cc-reconcile --money exit $rc_money; Σ credits $credit_sum of pool 5000000; $credit_bad awards not credited exactly once"

# ---- the figures -------------------------------------------------------------------

say "done in $(( ($(now_ms) - t0) / 1000 )) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "unavailable, each server: W (cc_redis_wait 1) $S_w s, N (without) $S_n s"
echo "flip load: $(( ok200 * 1000 / (tl2 - tl) )) flips/s answered 200 over $(( (tl2 - tl) / 1000 )) s, target $RATE: $share_name of the capacity, $tn flips/s (N alone, the median of $ROUNDS rounds)"
echo "wait/nowait rounds (W/N, four ${SLICE_S}s slices a round):$rs (median $R); load average then $thru_load"
echo "unavailable: $S s (longest gap without a 200 for the killed shard's users)"
echo "other shards non-200: $other"
echo "acknowledged flips lost: $lost_w_after (cc_redis_wait 1)"
echo "lost without wait: $found found, $restored restored"
echo "money: $money"
echo "wait/nowait throughput: $R (same run, one replica each)"
fail=0
awk -v s="$S" 'BEGIN { exit !(s <= 5) }' || fail=1
[ "$other" = 0 ] || fail=1
[ "$lost_w_after" = 0 ] || fail=1
[ "$found" -ge "$lost_n" ] && [ "$restored" = "$lost_n" ] && [ "$rc_restore" = 0 ] || fail=1
[ "$money" = ok ] || fail=1
# R is a throughput ratio: SHORT's one round on a CI host shared with
# other tests cannot resolve 20% (single rounds measured 0.50 to 1.52),
# so SHORT prints it and only the full run holds it to the goal
if [ "${SHORT:-0}" != 1 ]; then
    awk -v r="$R" 'BEGIN { exit !(r >= 0.8) }' || fail=1
fi
exit "$fail"
