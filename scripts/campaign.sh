#!/bin/bash
# campaign.sh: the README's first command.  Installs what is missing,
# builds, and runs a whole campaign on the embedded defaults, everything
# under one folder (./campaign-run) on loopback, each part its own
# process with its own pid file and log:
#
#   edge     nginx routing each user by uid (`hash ... consistent`), with
#            nginx.conf.example's limits and timeouts; stock nginx, no module
#   app1     nginx loading ngx_http_cc_module, token identity; its internal
#   app2     admin server (grants, metrics) on its own port, 127.0.0.1 only
#   redis    two redis-server shards
#   mysql    one mariadbd holding two MySQL shards
#   kafka    the mock broker (cc-mockbroker), cc-ingest, then cc-payout
#   redrive  cc-redrive, delivering the gifts whose receiver's half did
#            not follow at once (the whole run)
#
# Then, as a real campaign does:
#
#   grant    every user gets chances through the app nodes' internal ports
#   flip     users flip through the edge with signed tokens, some requests
#            retried with their request id, and combine once they hold a set
#   social   --social-pct of the users give a duplicate to a partner
#            (送福) and ask it for the kinds they lack (要福), twice (cc-load
#            social): the second round answers the first's asks, and the
#            users whose set a gift completed combine
#   close    the window closes (end and cutoff, both app nodes reloaded)
#   draw     cc-draw drains the Redis logs and splits the pool
#   payout   winners come to claim as soon as the awards are out, spread
#            over --claim-s seconds; cc-payout (async_client_sync) starts
#            --payout-after-s seconds later: the early claims wait and get
#            202, the later ones 200
#   books    cc-reconcile --money proves the books; cc-reconcile --cards
#            that gifts only moved cards (per kind, held + in transit =
#            drawn - combined, and each user's MySQL cards = Redis's)
#
# With --wallet http, the awards are paid into cc-wallet-sim (the
# simulated external wallet, port +30) in batch mode (wallet_mode batch,
# issue 20) with its faults on: 20% of details failed, 5% of connections
# dropped after accepting a batch, 2% of details listed twice; the books
# book the clearing account, and the books phase is the three-way
# reconcile (cc-reconcile --money --statement the wallet's statement),
# its three sums in the report.
#
# With --ha, the same campaign on issue 18's replicated layout
# (scripts/lib/ha.sh; README "Losing a server"): each Redis shard a
# primary and a replica under the master names cc0 and cc1, watched by
# three redis-sentinel processes (down-after 1000 ms); the app nodes with
# cc_redis_sentinels and cc_redis_wait 1; the mariadbd a semi-sync primary
# with a replica (each MySQL shard is on both); the workers with
# --sentinel and the candidate lists --mysql P,R/db.  Two faults:
#
#   flip     once a third of the draws are made, kill -9 of cc0's primary;
#            the sentinels promote its replica, and the lost node comes
#            back as the new primary's replica (its rebuild)
#   payout   once a third of the awards are credited, kill -9 of the MySQL
#            primary; the script promotes the replica as the README's
#            promotion steps say the operator's tool must
#   lost     after the flips, cc-reconcile --lost: acknowledged flips the
#            failover lost (0 with WAIT)
#
# The report marks each event on its time charts and says what it cost:
# cc0's users' longest time without a 200, the 503s, the re-sends, the
# promotion times, the flips lost.
#
# A progress line a second for every phase (cc-load's for grant, flip and
# the claims; the script's for draw, payout and books).  Writes
# RUN/report.txt and RUN/report.html; RUN/pids names every process it
# started, and all of them are stopped at the end; the report, the stats
# and the logs (RUN/logs) stay.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

usage() {
    cat <<'USAGE'
usage: scripts/campaign.sh [options]

Runs a whole campaign on loopback, from the first grant to the last cent
and the books, and writes RUN/report.txt and RUN/report.html (the logs
stay in RUN/logs).  Each option can also be given by the environment
variable in brackets; an option wins over its variable.

  --users N          users in the campaign (USERS, 100000)
  --chances N        chances granted to each user (CHANCES, 12)
  --conc N           concurrent clients of the flip phase (CONC, 512)
  --pool-cents N     the prize pool, cents (POOL_CENTS, 5000000)
  --split MODE       random | equal (SPLIT, random)
  --cap-cents N      the largest award of a random split (CAP_CENTS, 5000)
  --stock N          rare cards of kind 4 issued at most, every shard
                     together (STOCK, 3000)
  --claim-pct P      percent of the winners who claim (CLAIM_PCT, 30)
  --social-pct P     percent of the users who give their duplicates away
                     and ask for the kinds they lack (SOCIAL_PCT, 30)
  --wildcard 0|1     1: the rare kind (4) is also the wildcard
                     (cc_wildcard_kind): the set is kinds 0..3, a combine
                     takes a wildcard for each kind lacked (WILDCARD, 0)
  --claim-s SEC      the claims arrive over about SEC seconds (CLAIM_S, 8)
  --payout-after-s SEC  cc-payout starts SEC seconds after the first
                     claims (PAYOUT_AFTER_S, 3)
  --seed HEX         the draw's seed (SEED, random)
  --port-base PORT   ports PORT+0..4 nginx, +10 +11 Redis, +20 MySQL
                     (PORT_BASE, 18600)
  --run DIR          the run's folder, emptied first (RUN, ./campaign-run)
  --limit-s SEC      the run's time limit, a check of the report
                     (LIMIT_S, 300)
  --wallet W         ledger | http: http pays cc-wallet-sim (port +30) in
                     batches, with faults, and the books are the
                     three-way reconcile (WALLET, ledger)
  --ha 0|1           1: replicas and Sentinels, a Redis primary killed
                     mid-flip and the MySQL primary mid-payout (HA, 0);
                     ports also +12 +13 Redis replicas, +15..17
                     Sentinels, +21 the MySQL replica
  -h, --help         this text

Exit: 0 every check of the report passed; 1 a check failed or the books
broke; 2 a bad option or a port in use (nothing started).
USAGE
}

USERS=${USERS:-100000} CHANCES=${CHANCES:-12} CONC=${CONC:-512}
POOL_CENTS=${POOL_CENTS:-5000000} CAP_CENTS=${CAP_CENTS:-5000}
STOCK=${STOCK:-3000} SPLIT=${SPLIT:-random} CLAIM_PCT=${CLAIM_PCT:-30}
SOCIAL_PCT=${SOCIAL_PCT:-30} WILDCARD=${WILDCARD:-0}
CLAIM_S=${CLAIM_S:-8} PAYOUT_AFTER_S=${PAYOUT_AFTER_S:-3}
SEED=${SEED:-} PORT_BASE=${PORT_BASE:-18600} LIMIT_S=${LIMIT_S:-300}
HA=${HA:-0} WALLET=${WALLET:-ledger}
RUN=${RUN:-$top/campaign-run}

bad() { echo "campaign: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    opt=$1 val=""
    case $opt in
        -h|--help) usage; exit 0 ;;
        --*=*) val=${opt#*=} opt=${opt%%=*} ;;
        --*) [ $# -ge 2 ] || bad "$opt needs a value (see --help)"
             val=$2; shift ;;
        *) bad "unknown argument \"$opt\" (see --help)" ;;
    esac
    shift
    case $opt in
        --users) USERS=$val ;;
        --chances) CHANCES=$val ;;
        --conc) CONC=$val ;;
        --pool-cents) POOL_CENTS=$val ;;
        --split) SPLIT=$val ;;
        --cap-cents) CAP_CENTS=$val ;;
        --stock) STOCK=$val ;;
        --claim-pct) CLAIM_PCT=$val ;;
        --social-pct) SOCIAL_PCT=$val ;;
        --wildcard) WILDCARD=$val ;;
        --claim-s) CLAIM_S=$val ;;
        --payout-after-s) PAYOUT_AFTER_S=$val ;;
        --seed) SEED=$val ;;
        --port-base) PORT_BASE=$val ;;
        --run) RUN=$val ;;
        --limit-s) LIMIT_S=$val ;;
        --ha) HA=$val ;;
        --wallet) WALLET=$val ;;
        *) bad "unknown argument \"$opt\" (see --help)" ;;
    esac
done

case $SPLIT in random|equal) ;; *) bad "SPLIT is random or equal" ;; esac
case $HA in 0|1) ;; *) bad "HA is 0 or 1" ;; esac
case $WILDCARD in 0|1) ;; *) bad "WILDCARD is 0 or 1" ;; esac
case $WALLET in ledger|http) ;; *) bad "WALLET is ledger or http" ;; esac
for v in USERS CHANCES CONC POOL_CENTS CAP_CENTS STOCK CLAIM_PCT SOCIAL_PCT CLAIM_S \
         PAYOUT_AFTER_S PORT_BASE LIMIT_S; do
    case ${!v} in ''|*[!0-9]*) bad "$v must be a decimal" ;; esac
done
[ "$USERS" -ge 1 ] || bad "USERS must be 1 or more"
[ "$CLAIM_S" -ge 1 ] || bad "CLAIM_S must be 1 or more"
[ "$CLAIM_PCT" -le 100 ] || bad "CLAIM_PCT is 0..100"
[ "$SOCIAL_PCT" -le 100 ] || bad "SOCIAL_PCT is 0..100"
if [ "$PORT_BASE" -lt 1024 ] || [ "$PORT_BASE" -gt 65500 ]; then
    bad "PORT_BASE is 1024..65500"
fi
case $SEED in *[!0-9a-fA-F]*) bad "SEED is hex digits" ;; esac
SEED=${SEED:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
case $RUN in /*) ;; *) RUN=$top/$RUN ;; esac
run=$RUN

EDGE=$PORT_BASE APP1=$((PORT_BASE + 1)) APP2=$((PORT_BASE + 2))
ADMIN1=$((PORT_BASE + 3)) ADMIN2=$((PORT_BASE + 4))
R0=$((PORT_BASE + 10)) R1=$((PORT_BASE + 11)) MYSQL_PORT=$((PORT_BASE + 20))
WALLET_PORT=$((PORT_BASE + 30))
# --ha: the replicas and the sentinels
R0R=$((PORT_BASE + 12)) R1R=$((PORT_BASE + 13)) MYSQL_R=$((PORT_BASE + 21))
S0=$((PORT_BASE + 15)) S1=$((PORT_BASE + 16)) S2=$((PORT_BASE + 17))
WEIGHTS="3000 3000 2500 1400 100"
RARE=4          # the kind capped by cc_card_stock: the rarest weight

me=campaign
# shell helpers shared with bench/chaos.sh, and the key names
# (stock_prefix, user_glob) from common/cc_keys.h
. "$top/scripts/lib/run.sh"
STOCK_KEY=$stock_prefix$RARE
# --wildcard 1: the rare kind is the wildcard too (the clients know it)
wild_conf="" wild_opt=""
if [ "$WILDCARD" = 1 ]; then
    wild_conf="cc_wildcard_kind $RARE;" wild_opt="--wildcard $RARE"
fi
# the replicated layout's servers and its promotion (ha_* functions)
. "$top/scripts/lib/ha.sh"

ports="$EDGE $APP1 $APP2 $ADMIN1 $ADMIN2 $R0 $R1 $MYSQL_PORT"
[ "$HA" = 1 ] && ports="$ports $R0R $R1R $S0 $S1 $S2 $MYSQL_R"
[ "$WALLET" = http ] && ports="$ports $WALLET_PORT"
busy=""
for p in $ports; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy="$busy $p"
done
if [ -n "$busy" ]; then
    echo "campaign: ports in use:$busy (another run? set --port-base)" >&2
    exit 2
fi

scripts/deps.sh
make -s -j2 all >/dev/null

t0=$(date +%s%3N)
rm -rf "$run"
mkdir -p "$run/logs" "$run/tmp"
W=$top/build/workers T=$top/build/tools
: > "$run/pids"
helpers=""      # the script's own background loops (sampler, progress)
claims=""       # the claims' load client while it runs

say() { printf '%s [%6.1fs] %s\n' "== campaign" "$(( $(now_ms) - t0 ))e-3" "$*"; }
started() {     # started NAME PID: a process this run must stop
    echo "$1 $2" >> "$run/pids"
}
# pid_of NAME: its pid while that process is still the one started
pid_of() {
    local p
    p=$(awk -v n="$1" '$1 == n { p = $2 } END { print p }' "$run/pids")
    [ -n "$p" ] && is_ours "$p" "$1" && echo "$p"
    return 0
}
stop_helpers() {
    local h
    for h in $helpers; do kill "$h" 2>/dev/null; wait "$h" 2>/dev/null || true; done
    helpers=""
}

# the last command that failed (bash's ERR trap: under set -e, the one
# that stopped the script), said by stop() when the script did not end 0
failed_at=""
trap 'failed_at="line $LINENO: $BASH_COMMAND"' ERR

stop() {        # every process it started, and waits until each is gone
    local rc=$?
    set +e
    local n p left=""
    stop_helpers
    [ -n "$claims" ] && kill "$claims" 2>/dev/null
    for n in edge app1 app2; do
        p=$(pid_of "$n")
        [ -n "$p" ] && kill -QUIT "$p" 2>/dev/null && left="$left $p"
    done
    for n in payout redrive ingest mock mysql mysqlr wallet-sim; do
        p=$(pid_of "$n")
        [ -n "$p" ] && kill "$p" 2>/dev/null && left="$left $p"
    done
    for n in sentinel0 sentinel1 sentinel2 redis0 redis1 redis0r redis1r; do
        p=$(pid_of "$n")
        [ -n "$p" ] && kill "$p" 2>/dev/null && left="$left $p"
    done
    # a Redis that never answered its first ping has no pid recorded: its
    # port was free at the start, so whatever listens there now is ours
    for p in "$R0" "$R1" $([ "$HA" = 1 ] && echo "$R0R $R1R"); do
        timeout 5 redis-cli -p "$p" shutdown nosave >/dev/null 2>&1
    done
    for p in $left; do
        wait_for 30 gone "$p" 2>/dev/null \
            || echo "campaign: process $p did not stop" >&2
    done
    wait 2>/dev/null
    # the last lines of a failed run say where it stopped (CI keeps a tail)
    if [ "$rc" != 0 ] && [ "$rc" != 130 ]; then
        echo "campaign: failed (exit $rc)${failed_at:+ at $failed_at}; the logs are in $run/logs" >&2
    fi
}
trap stop EXIT
trap 'exit 130' INT TERM HUP PIPE

phases=""
mark() {        # mark NAME START_MS: a phase for the report's time charts
    phases="$phases${phases:+,}{\"name\":\"$1\",\"start_ms\":$2,\"end_ms\":$(now_ms)}"
}
# errors a worker logged so far: its lines saying error, failed or retrying
log_errors() {     # a log not written yet has no errors
    [ -e "$run/logs/$1.log" ] || { echo 0; return; }
    grep -ciE 'error|fail|retrying' "$run/logs/$1.log" || true
}

# ticker PHASE PROBE [MARK]: a progress line at once, then one a second
# while the phase runs; MARK is created once the first line is out.
# PROBE prints "DONE|TOTAL|WHAT|ERRORS|MORE": "PHASE: DONE/TOTAL WHAT
# (RATE/s), errors ERRORS, MORE"; without a TOTAL, DONE is the seconds.
ticker() {
    local phase=$1 probe=$2 mark=${3:-} prev="" t_prev=0 n total what errs more t rate
    while :; do
        if IFS='|' read -r n total what errs more < <("$probe"); then
            t=$(now_ms) rate=""
            [ -n "$prev" ] && rate=" ($(( (n - prev) * 1000 / (t - t_prev + 1) ))/s)"
            if [ -n "$total" ]; then
                say "$phase: $n/$total $what$rate, errors $errs${more:+, $more}"
            else
                say "$phase: $what, ${n}s, errors $errs${more:+, $more}"
            fi
            prev=$n t_prev=$t
        fi
        [ -n "$mark" ] && : > "$mark" && mark=""
        sleep 1
    done
}
# tick PHASE PROBE: the ticker in the background, once its first line is
# out (at most 5 s): a phase shorter than a busy machine's first probe
# still shows its line
tick() {
    local mark="$run/.tick-$1"
    rm -f "$mark"
    ticker "$1" "$2" "$mark" &
    helpers="$helpers $!"
    for _ in $(seq 50); do [ -e "$mark" ] && break; sleep 0.1; done
}

# ---- the servers ------------------------------------------------------------

say "starting the servers under $run"
# the events of the run (--ha: the faults and the failovers), a JSON line
# each, for the report's charts
: > "$run/events.jsonl"
event() {       # event WHAT [T_MS]
    printf '{"t_ms":%s,"what":"%s"}\n' "${2:-$(now_ms)}" "$1" >> "$run/events.jsonl"
    say "event: $1"
}
# the MySQL server the script's own queries go to: the primary's socket,
# the promoted replica's after a failover (a file: the fault runs in a
# background subshell)
mysql_sock_file=$run/mysql.sock.now
sql() { mariadb --no-defaults -S "$(cat "$mysql_sock_file")" -uroot -N -B -e "$1"; }
if [ "$HA" = 0 ]; then
    for i in 0 1; do
        p=$((R0 + i))
        redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
            --daemonize yes --logfile "$run/logs/redis-$p.log" \
            --pidfile "$run/redis-$p.pid"
        wait_for 5 redis-cli -p "$p" ping
        started "redis$i" "$(cat "$run/redis-$p.pid")"
    done

    mkdir -p "$run/mysql-tmp"
    mariadb-install-db --no-defaults --datadir="$run/mysql" --user=root \
        --auth-root-authentication-method=normal --skip-test-db \
        --tmpdir="$run/mysql-tmp" > "$run/logs/mysql-install.log" 2>&1
    mariadbd --no-defaults --datadir="$run/mysql" --user=root \
        --port="$MYSQL_PORT" --bind-address=127.0.0.1 --socket="$run/mysql.sock" \
        --pid-file="$run/mysql.pid" --log-error="$run/logs/mysql.err" \
        --tmpdir="$run/mysql-tmp" --skip-log-bin --innodb-buffer-pool-size=256M \
        --innodb-flush-log-at-trx-commit=2 --skip-name-resolve \
        --character-set-server=utf8mb4 < /dev/null 2>> "$run/logs/mysql.err" &
    started mysql $!
    echo "$run/mysql.sock" > "$mysql_sock_file"
    wait_for 30 sql 'select 1'
else
    ha_started() { started "$@"; }
    # each shard a primary and a replica, three sentinels watching both
    ha_redis redis0 "$R0"
    ha_redis redis1 "$R1"
    ha_redis redis0r "$R0R" "$R0"
    ha_redis redis1r "$R1R" "$R1"
    for k in 0 1 2; do
        ha_sentinel "sentinel$k" "$((S0 + k))" "cc0=$R0" "cc1=$R1"
    done
    wait_for 20 ha_sentinels_agree cc0 1 "$S0" "$S1" "$S2"
    wait_for 20 ha_sentinels_agree cc1 1 "$S0" "$S1" "$S2"
    # the mariadbd (both MySQL shards) a semi-sync primary with a replica
    ha_mysql mysql "$MYSQL_PORT" 1 primary
    ha_mysql mysqlr "$MYSQL_R" 2 replica
    ha_mysql_follow mysqlr "$MYSQL_PORT"
    echo "$run/mysql/mysql.sock" > "$mysql_sock_file"
fi

"$W/cc-mockbroker" --partitions 4 > "$run/mock.out" 2> "$run/logs/mock.log" < /dev/null &
started mock $!
wait_for 5 grep -q bootstrap= "$run/mock.out"
brokers=$(sed -n 's/^bootstrap=//p' "$run/mock.out")

if [ "$HA" = 0 ]; then
    shards="--mysql 127.0.0.1:$MYSQL_PORT/cc_s0 --mysql 127.0.0.1:$MYSQL_PORT/cc_s1"
    redis="--redis 127.0.0.1:$R0 --redis 127.0.0.1:$R1"
else
    # each MySQL shard by its candidates, the writable one found on each
    # connect; each Redis shard by its master name, asked of the sentinels
    m="127.0.0.1:$MYSQL_PORT,127.0.0.1:$MYSQL_R"
    shards="--mysql $m/cc_s0 --mysql $m/cc_s1"
    redis="--sentinel 127.0.0.1:$S0 --sentinel 127.0.0.1:$S1 --sentinel 127.0.0.1:$S2 --redis cc0 --redis cc1"
fi
# the workers' role users (sql/grants.sql): each worker connects as its own
mariadb --no-defaults -S "$(cat "$mysql_sock_file")" -uroot < sql/grants.sql
# shellcheck disable=SC2086
"$W/cc-ingest" --init-shards $shards 2>> "$run/logs/cc-ingest.log"
# shellcheck disable=SC2086
"$W/cc-ingest" --brokers "$brokers" $shards --batch 2000 --batch-ms 50 \
    --progress 5 2>> "$run/logs/cc-ingest.log" < /dev/null &
started ingest $!
# the gifts left in an outbox (a receiver's shard slow or down) delivered
# after 2 s, a pass a second; its metrics say how many it redrove
# shellcheck disable=SC2086
"$W/cc-redrive" $redis --grace 2 --interval 1 --metrics-file "$run/redrive.prom" \
    2>> "$run/logs/cc-redrive.log" < /dev/null &
started redrive $!

head -c 48 /dev/urandom | base64 | tr -d '\n' > "$run/token.secret"
chmod 600 "$run/token.secret"

# The three nginx instances, each its own prefix (RUN/NAME): conf, pid,
# error log, temp folders.  Their directives are nginx.conf.example's,
# on loopback ports.
start=$(( $(date +%s) - 60 ))
conf_head() {   # conf_head NAME: the main context of one instance
    cat <<CONF
worker_processes 2;
worker_rlimit_nofile 65536;
error_log $run/logs/$1.log notice;
pid $run/$1/nginx.pid;
events { worker_connections 16384; }
CONF
}
conf_http_head() {
    cat <<CONF
    access_log off;
    server_tokens off;
    client_body_temp_path $run/$1/tmp/body;
    proxy_temp_path $run/$1/tmp/proxy;
    fastcgi_temp_path $run/$1/tmp/fastcgi;
    uwsgi_temp_path $run/$1/tmp/uwsgi;
    scgi_temp_path $run/$1/tmp/scgi;
    client_header_timeout 5s;
    client_body_timeout   5s;
    send_timeout          5s;
CONF
}
conf_edge() {   # the example's edge tier; stock nginx, no module
    mkdir -p "$run/edge/tmp"
    { conf_head edge
      echo "http {"
      conf_http_head edge
      cat <<CONF
    map \$http_authorization \$cc_token_uid {
        "~*^Bearer (?<uid>[1-9][0-9]{0,19})\\." \$uid;
        default                                 "";
    }
    map \$cc_token_uid \$cc_route_uid {
        ""       \$http_x_cc_uid;
        default  \$cc_token_uid;
    }
    upstream cc_app {
        hash \$cc_route_uid consistent;
        server 127.0.0.1:$APP1 max_fails=1 fail_timeout=10s;
        server 127.0.0.1:$APP2 max_fails=1 fail_timeout=10s;
        keepalive 256;
    }
    # the per-user limit is the app nodes', on the verified \$cc_uid; the
    # example's per-address request limit is left out: every simulated
    # user comes from 127.0.0.1
    limit_conn_zone \$binary_remote_addr zone=cc_per_addr:32m;
    limit_req_status  429;
    limit_conn_status 429;
    map \$http_content_length:\$http_transfer_encoding \$cc_has_body {
        ":"      0;
        "0:"     0;
        default  1;
    }
    server {
        listen 127.0.0.1:$EDGE backlog=4096;
        client_max_body_size 1k;
        # the example's 64 a client address is for real clients; here
        # every simulated user comes from 127.0.0.1, --conc of them at once
        limit_conn cc_per_addr $(( CONC + 256 ));
        keepalive_timeout 15s;
        lingering_time 5s;
        location ~ ^/cc/(flip|combine|eligibility|award|claim|gift|ask|gifts)\$ {
            if (\$cc_has_body) {
                return 413;
            }
            proxy_pass http://cc_app;
            proxy_set_header X-CC-Uid "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_read_timeout 2s;
            proxy_next_upstream error timeout non_idempotent;
        }
        location / {
            return 404;
        }
    }
}
CONF
    } > "$run/edge/nginx.conf"
}
redis_conf() {  # the app nodes' Redis shards: addresses, or --ha's names
    if [ "$HA" = 0 ]; then
        echo "    cc_redis_shards 127.0.0.1:$R0 127.0.0.1:$R1;"
    else
        # a write answered once the replica holds it; a request waiting
        # for a new primary answers 503 before the edge's 2 s timeout
        cat <<CONF
    cc_redis_shards cc0 cc1;
    cc_redis_sentinels 127.0.0.1:$S0 127.0.0.1:$S1 127.0.0.1:$S2;
    cc_redis_wait 1 200ms;
    cc_redis_failover_wait 1000 1s;
    log_format cc_flips '\$msec \$cc_uid \$status';
CONF
    fi
}
flip_log() {    # flip_log NAME: --ha logs each flip, for cc0's users' gap
    [ "$HA" = 1 ] && echo "access_log $run/logs/$1-flips.log cc_flips buffer=256k flush=1s;"
    return 0
}
conf_app() {    # conf_app NAME PORT ADMIN_PORT END: an app node
    mkdir -p "$run/$1/tmp"
    { echo "load_module $top/build/nginx/ngx_http_cc_module.so;"
      conf_head "$1"
      echo "http {"
      conf_http_head "$1"
      cat <<CONF
$(redis_conf)
    cc_redis_timeout 500ms;
    cc_request_ttl 1d;
    cc_cards $WEIGHTS;
    cc_card_stock $RARE $STOCK;
    $wild_conf
    cc_campaign_start $start;
    cc_campaign_end $4;
    cc_combine_cutoff $4;
    cc_kafka_brokers $brokers;
    cc_claim_wait 1s;
    cc_claim_poll 5ms;
    limit_req_zone \$cc_uid zone=cc_per_user:64m rate=10r/s;
    limit_req_status 429;

    server {
        listen 127.0.0.1:$2 backlog=4096;
        add_header X-CC-Node $1 always;
        cc_identity token $run/token.secret;
        limit_req zone=cc_per_user burst=20 nodelay;
        location = /cc/flip        { cc_flip; $(flip_log "$1") }
        location = /cc/combine     { cc_combine; }
        location = /cc/eligibility { cc_eligibility; }
        location = /cc/award       { cc_award; }
        location = /cc/claim       { cc_claim; }
        location = /cc/gift        { cc_gift; }
        location = /cc/ask         { cc_ask; }
        location = /cc/gifts       { cc_gifts; }
    }
    server {
        listen 127.0.0.1:$3 backlog=4096;
        allow 127.0.0.1;
        deny all;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/grant   { cc_grant; }
        location = /cc/metrics { cc_metrics; }
    }
}
CONF
    } > "$run/$1/nginx.conf"
}
nginx_start() { # nginx_start NAME PORT
    nginx -p "$run/$1" -e "$run/logs/$1.log" -c "$run/$1/nginx.conf" \
        2>> "$run/logs/$1.log"
    wait_for 10 test -s "$run/$1/nginx.pid"
    started "$1" "$(cat "$run/$1/nginx.pid")"
    wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2"
}

end=$(( $(date +%s) + 86400 ))
conf_app app1 "$APP1" "$ADMIN1" "$end"
conf_app app2 "$APP2" "$ADMIN2" "$end"
conf_edge
nginx_start app1 "$APP1"
nginx_start app2 "$APP2"
nginx_start edge "$EDGE"
wait_for 5 curl -sf -o /dev/null "http://127.0.0.1:$ADMIN1/cc/metrics"
wait_for 5 curl -sf -o /dev/null "http://127.0.0.1:$ADMIN2/cc/metrics"
if [ "$HA" = 0 ]; then
    say "servers up: edge :$EDGE, app1 :$APP1 (admin :$ADMIN1), app2 :$APP2 (admin :$ADMIN2), redis :$R0 :$R1, mysql :$MYSQL_PORT"
else
    say "servers up: edge :$EDGE, app1 :$APP1 (admin :$ADMIN1), app2 :$APP2 (admin :$ADMIN2), redis cc0 :$R0 (replica :$R0R) cc1 :$R1 (replica :$R1R), sentinels :$S0 :$S1 :$S2, mysql :$MYSQL_PORT (semi-sync replica :$MYSQL_R)"
fi

# ---- --ha: the faults ---------------------------------------------------------

# flips_drawn: the draws cc-load has counted so far (its stats lines)
flips_drawn() {
    awk -F'"draws":' '/"type":"second"/ { split($2, a, /[,}]/); n += a[1] } END { print n + 0 }' \
        "$run/flip.jsonl" 2>/dev/null || echo 0
}
flip_over() { grep -q '"type":"total"' "$run/flip.jsonl" 2>/dev/null; }

# redis_fault: once a third of the flips are drawn, kill -9 cc0's primary;
# wait for the sentinels to promote its replica; start the lost node again
# as the new primary's replica (with cc_redis_wait 1 the shard's writes
# answer 503 until one is in sync).  Writes $run/redis-fault.
redis_fault() {
    local want=$(( USERS * CHANCES / 3 )) old pid t_kill new t_up
    until [ "$(flips_drawn)" -ge "$want" ]; do
        flip_over && { event "no Redis fault: the flips ended first"; return 0; }
        sleep 0.1
    done
    # the primary as the sentinels name it (a sentinel slow to answer under
    # load names none: asked again, never guessed)
    wait_for 10 ha_master_port_is "$S0" cc0 "$R0" "$R0R" || return 1
    old=$(ha_master_port "$S0" cc0)
    pid=$(pid_of "$([ "$old" = "$R0" ] && echo redis0 || echo redis0r)")
    [ -n "$pid" ] || { echo "campaign: no pid for cc0's primary :$old" >&2; return 1; }
    kill -9 "$pid"
    t_kill=$(now_ms)
    event "redis primary cc0 :$old killed (kill -9)" "$t_kill"
    new=$(ha_wait_promotion "$old" cc0 30 "$S0" "$S1" "$S2") || return 1
    event "sentinels promoted cc0's replica :$new"
    echo "redis_killed_ms=$t_kill redis_promoted_ms=$(now_ms) redis_old=$old redis_new=$new" \
        > "$run/redis-fault"
    ha_redis "$([ "$old" = "$R0" ] && echo redis0 || echo redis0r)" "$old" "$new" || return 1
    t_up=$(now_ms)
    event "cc0's lost node :$old back as a replica, in sync"
    echo "redis_replica_ms=$t_up" >> "$run/redis-fault"
}

# mysql_fault: once a third of the awards are credited (the first credit,
# under 1,000 awards: a small payout is over in a few polls), kill -9 the
# MySQL primary, then promote the replica as README "Losing a server"
# says the operator's tool must (the fence is the kill).  Writes
# $run/mysql-fault.
mysql_fault() {
    local want=$(( n_awards / 3 )) c p t_kill
    [ "$n_awards" -ge 1000 ] || want=1
    until read -r c p < <(sample) && [ "$c" -ge "$want" ]; do
        [ -e "$run/.payout-done" ] && { event "no MySQL fault: the payout ended first"; return 0; }
        sleep 0.02
    done
    kill -9 "$(pid_of mysql)"
    t_kill=$(now_ms)
    event "mysql primary :$MYSQL_PORT killed (kill -9) at $c credited" "$t_kill"
    ha_mysql_promote mysqlr || return 1
    echo "$run/mysqlr/mysql.sock" > "$mysql_sock_file"
    event "mysql replica :$MYSQL_R promoted, writable"
    echo "mysql_killed_ms=$t_kill mysql_promoted_ms=$(now_ms)" > "$run/mysql-fault"
}

# ---- the campaign -------------------------------------------------------------

edge=http://127.0.0.1:$EDGE
s=$(now_ms)
half=$(( (USERS + 1) / 2 ))
say "grant: $USERS users x $CHANCES chances, half through each app node's internal port"
"$T/cc-load" grant --url "http://127.0.0.1:$ADMIN1" --users "$half" \
    --chances "$CHANCES" --conc 256 --stats "$run/grant-app1.jsonl" \
    2> >(tee -a "$run/logs/load-grant.log" >&2)
grants="$run/grant-app1.jsonl"
if [ "$USERS" -gt "$half" ]; then
    "$T/cc-load" grant --url "http://127.0.0.1:$ADMIN2" --first-uid $((half + 1)) \
        --users $((USERS - half)) --chances "$CHANCES" --conc 256 \
        --stats "$run/grant-app2.jsonl" 2> >(tee -a "$run/logs/load-grant.log" >&2)
    grants="$grants $run/grant-app2.jsonl"
fi
mark grant "$s"

s=$(now_ms)
say "flip: through the edge with signed tokens, 5% retried, combine on a full set"
fault=""
if [ "$HA" = 1 ]; then
    redis_fault > >(tee -a "$run/logs/faults.log") 2>&1 &
    fault=$!
fi
# --ha: a user's app keeps re-sending through the failover; 25 sends
# (backoff 50 ms doubling to 1 s) outlast a promotion that takes the
# sentinels a second election (2 x failover-timeout) and the 20 s that
# t/057 allows cc0's users without a 200; 10, cc-load's default, gave up
# after about 6 s
tries=10
[ "$HA" = 1 ] && tries=25
# shellcheck disable=SC2086   # wild_opt: none, or the option and its kind
"$T/cc-load" flip --url "$edge" --users "$USERS" --secret "$run/token.secret" \
    --retry-pct 5 --combine $wild_opt --conc "$CONC" --max-tries "$tries" \
    --stats "$run/flip.jsonl" \
    2> >(tee -a "$run/logs/load-flip.log" >&2)
if [ -n "$fault" ]; then
    wait "$fault" || { echo "campaign: the Redis failover failed, see $run/logs" >&2; exit 1; }
    fault=""
fi
mark flip "$s"

s=$(now_ms)
say "social: $SOCIAL_PCT% of the users give their duplicates to a partner and ask it for what they lack, two rounds"
socials=""
for round in 1 2; do
    # shellcheck disable=SC2086
    "$T/cc-load" social --url "$edge" --users "$USERS" --secret "$run/token.secret" \
        --social-pct "$SOCIAL_PCT" --rare "$RARE" $wild_opt --rid-prefix "s$round" \
        --conc "$CONC" --stats "$run/social-$round.jsonl" \
        2> >(tee -a "$run/logs/load-social.log" >&2)
    socials="$socials $run/social-$round.jsonl"
done
mark social "$s"

if [ "$HA" = 1 ]; then
    # what the failover lost: every draw MySQL holds (each flip answered
    # 200 was sent to Kafka) that its Redis shard lacks, after the logs
    # are drained; and a lost one's sequence number taken again by a
    # later flip (cc-ingest and cc-reconcile log it as "reused")
    say "lost: cc-reconcile --lost, acknowledged flips the failover lost"
    # (cc-ingest first writes what Kafka holds: its count still for a
    # second; a flip answered 503 and replayed 200 after the failover was
    # never sent to Kafka, and is in the draw log that --lost drains first)
    n_prev=-1
    ingested() {
        local n
        n=$(sql 'SELECT (SELECT COUNT(*) FROM cc_s0.draws) + (SELECT COUNT(*) FROM cc_s1.draws)')
        [ "$n" = "$n_prev" ] && return 0
        n_prev=$n
        sleep 1
        return 1
    }
    wait_for 60 ingested || true
    set +e
    # shellcheck disable=SC2086
    "$W/cc-reconcile" --once --grace 0 --lost $redis $shards \
        --metrics-file "$run/lost.prom" 2>> "$run/logs/cc-reconcile-lost.log"
    set -e
    lost_draws=$(awk '$1 == "cc_reconcile_lost_draws" { print $2 }' "$run/lost.prom" 2>/dev/null)
    lost_reused=$(cat "$run"/logs/cc-ingest.log "$run"/logs/cc-reconcile-lost.log | grep -c ' reused' || true)
    say "lost: ${lost_draws:-?} draws MySQL holds and Redis lost, $lost_reused sequence numbers reused"
fi

s=$(now_ms)
cutoff=$(( $(date +%s) + 2 ))
say "close: the window ends at $cutoff (app1 and app2 reloaded with the end and cutoff)"
conf_app app1 "$APP1" "$ADMIN1" "$cutoff"
conf_app app2 "$APP2" "$ADMIN2" "$cutoff"
for n in app1 app2; do
    nginx -p "$run/$n" -e "$run/logs/$n.log" -c "$run/$n/nginx.conf" -s reload \
        2>> "$run/logs/$n.log"
done
while [ "$(date +%s)" -le "$cutoff" ]; do sleep 0.2; done

wallet_conf="wallet       ledger"
if [ "$WALLET" = http ]; then
    # the external wallet, simulated, with its faults on (seeded)
    head -c 48 /dev/urandom | base64 | tr -d '\n' > "$run/wallet.secret"
    chmod 600 "$run/wallet.secret"
    "$W/cc-wallet-sim" --listen "127.0.0.1:$WALLET_PORT" \
        --secret-file "$run/wallet.secret" --statement "$run/statement.csv" \
        --fail-pct 20 --drop-pct 5 --twice-pct 2 --seed "$((16#${SEED:0:8}))" \
        > "$run/wallet-sim.out" 2> "$run/logs/cc-wallet-sim.log" &
    started wallet-sim "$!"
    wait_for 10 grep -q '^listening' "$run/wallet-sim.out" \
        || { echo "campaign: cc-wallet-sim did not start, see $run/logs" >&2; exit 1; }
    say "wallet: cc-wallet-sim on $WALLET_PORT, batch mode, fails 20% of details, drops 5% after accepting, lists 2% twice"
    wallet_conf="wallet       http
wallet_mode  batch
wallet_url   http://127.0.0.1:$WALLET_PORT
wallet_insecure_loopback yes
wallet_secret_file $run/wallet.secret
wallet_timeout_ms 2000"
fi

cat > "$run/campaign.conf" <<CAMPAIGN
# written by scripts/campaign.sh; read by cc-draw, cc-payout, cc-reconcile
campaign     demo$(date +%Y%m%d%H%M%S)
pool_cents   $POOL_CENTS
split        $SPLIT
$([ "$SPLIT" = random ] && echo "cap_cents    $CAP_CENTS")
seed         $SEED
credit       async_client_sync
cutoff       $cutoff
pending_max  600
alert        cat > $run/alert.json
$wallet_conf
CAMPAIGN
mark close "$s"

both_sum() {    # both_sum "SELECT n FROM {db}.t": Σ over the two shards
    sql "SELECT (${1//\{db\}/cc_s0}) + (${1//\{db\}/cc_s1})"
}
eligible() { both_sum "SELECT COUNT(*) FROM {db}.eligibility WHERE combined_at < $cutoff * 1000"; }

s=$(now_ms)
say "draw: cc-draw drains the Redis logs, then splits $POOL_CENTS cents ($SPLIT)"
n_eligible=$(eligible)
probe_draw() {
    local a e d
    a=$(both_sum 'SELECT COUNT(*) FROM {db}.awards') e=$(eligible)
    d=$(both_sum 'SELECT COUNT(*) FROM {db}.draws')
    echo "$a|$e|awards written|$(log_errors cc-draw)|$d draws in MySQL"
}
tick draw probe_draw
set +e
# shellcheck disable=SC2086
"$W/cc-draw" --campaign "$run/campaign.conf" $redis $shards \
    > "$run/draw.out" 2> "$run/logs/cc-draw.log"
rc_draw=$?
set -e
stop_helpers
sed 's/^/   /' "$run/draw.out"
[ "$rc_draw" = 0 ] || { echo "campaign: cc-draw failed ($rc_draw), see $run/logs/cc-draw.log" >&2; exit 1; }
n_awards=$(both_sum 'SELECT COUNT(*) FROM {db}.awards')
say "draw: done, $n_awards awards for $n_eligible eligible users"
mark draw "$s"

# Payout while winners claim.  The claims start as soon as the awards are
# out and arrive over CLAIM_S seconds (cc-load --rate); cc-payout starts
# PAYOUT_AFTER_S later, in batches of about a fiftieth of the awards so
# its progress shows: a claim before it waits cc_claim_wait and gets 202
# (pending; the credit still comes), a claim after it 200.
s=$(now_ms)
pb=$(( n_awards / 50 )); [ "$pb" -ge 5 ] || pb=5; [ "$pb" -le 5000 ] || pb=5000
say "payout: $CLAIM_PCT% of the winners claim over ${CLAIM_S}s; cc-payout (async_client_sync, batch $pb) starts after ${PAYOUT_AFTER_S}s"
sample() {      # credited and pending awards, every shard: "C P"
    sql "SELECT COALESCE(SUM(status = 'credited'), 0), COALESCE(SUM(status = 'pending'), 0)
         FROM (SELECT status FROM cc_s0.awards UNION ALL SELECT status FROM cc_s1.awards) a" \
        | tr '\t' ' '
}
(
    while :; do
        read -r c p < <(sample) && echo "{\"t_ms\":$(now_ms),\"credited\":$c,\"pending\":$p}"
        sleep 0.1
    done
) > "$run/payout.jsonl" 2>/dev/null &
helpers="$helpers $!"
"$T/cc-load" claim --url "$edge" --users "$USERS" --secret "$run/token.secret" \
    --pct "$CLAIM_PCT" --conc 256 --rate $(( (USERS + CLAIM_S - 1) / CLAIM_S )) \
    --stats "$run/claim.jsonl" 2> >(tee -a "$run/logs/load-claim.log" >&2) &
claims=$!
started claims "$claims"
sleep "$PAYOUT_AFTER_S"
rm -f "$run/.payout-done"
if [ "$HA" = 1 ]; then
    mysql_fault > >(tee -a "$run/logs/faults.log") 2>&1 &
    fault=$!
fi
# shellcheck disable=SC2086
"$W/cc-payout" --campaign "$run/campaign.conf" $redis $shards --batch "$pb" \
    --claims-batch "$pb" --interval 1 --progress 1 \
    2>> "$run/logs/cc-payout.log" < /dev/null &
payout=$!
started payout "$payout"
probe_payout() {
    local c p
    read -r c p < <(sample)
    echo "$c|$n_awards|awards credited|$(log_errors cc-payout)|$p pending"
}
tick payout probe_payout
set +e
wait "$claims"
rc_claims=$?
claims=""
set -e
notified() {    # nothing pending, every winner told
    [ "$(both_sum "SELECT COUNT(*) FROM {db}.awards WHERE status = 'pending' OR notified = 0")" = 0 ]
}
wait_for 120 notified || true
: > "$run/.payout-done"
if [ -n "$fault" ]; then
    wait "$fault" || { echo "campaign: the MySQL failover failed, see $run/logs" >&2; exit 1; }
    fault=""
fi
kill "$payout" && wait "$payout" 2>/dev/null || true
stop_helpers
read -r c p < <(sample)
echo "{\"t_ms\":$(now_ms),\"credited\":$c,\"pending\":$p}" >> "$run/payout.jsonl"
say "payout: done, $c credited, $p pending ($(grep -c . "$run/payout.jsonl") samples)"
mark payout "$s"

s=$(now_ms)
statement=""
if [ "$WALLET" = http ]; then
    statement="--statement $run/statement.csv"
    say "books: cc-reconcile --money --statement (三方对账: awards, ledger, the wallet's statement)"
else
    say "books: cc-reconcile --money"
fi
probe_books() {
    echo "$(( ($(now_ms) - s) / 1000 ))||cc-reconcile --money checking $n_awards awards and $USERS users|$(log_errors cc-reconcile)|"
}
tick books probe_books
set +e
# shellcheck disable=SC2086
"$W/cc-reconcile" --money --campaign "$run/campaign.conf" $redis $shards \
    $statement --json "$run/reconcile.json" > "$run/reconcile.out" \
    2>> "$run/logs/cc-reconcile.log"
rc_books=$?
set -e
stop_helpers
sed 's/^/   /' "$run/reconcile.out"
say "books: done in $(( ($(now_ms) - s) / 1000 ))s, cc-reconcile exit $rc_books, $(log_errors cc-reconcile) errors logged"

# the cards: every gift delivered by now (cc-redrive's passes, 2 s of
# grace), the logs drained (--grace 0), then gifts only moved cards
say "books: cc-reconcile --cards, the gifts' invariant per kind"
set +e
# shellcheck disable=SC2086
"$W/cc-reconcile" --once --grace 0 --cards $redis $shards \
    2> "$run/logs/cc-reconcile-cards.log" > /dev/null
rc_cards=$?
set -e
grep -E '^(.* )?cards: (kind|[0-9]+ users)' "$run/logs/cc-reconcile-cards.log" \
    | sed 's/^.*cards: /cards: /' > "$run/cards.txt" || true
sed 's/^/   /' "$run/cards.txt"
say "books: cc-reconcile --cards exit $rc_cards"
mark books "$s"

say "facts: what the servers hold"
# one SCAN over each Redis shard, in a script: Σ s, Σ k0..k4, users with e
primaries="$R0 $R1"
if [ "$HA" = 1 ]; then     # the shards' primaries now, as the sentinels say
    primaries="$(ha_master_port "$S0" cc0) $(ha_master_port "$S0" cc1)"
fi
redis_sums=""
for p in $primaries; do
    redis_sums="$redis_sums $(user_sums "$p")"
done
stock=""
for p in $primaries; do
    stock="$stock${stock:+,}$(redis-cli -p "$p" get "$STOCK_KEY" | sed 's/^$/0/')"
done
both() {        # both "SELECT ... FROM {db}.t": the two shards' rows
    sql "${1//\{db\}/cc_s0}"; sql "${1//\{db\}/cc_s1}"
}
both "SELECT COUNT(*) FROM {db}.draws" > "$run/f.draws"
both "SELECT card, SUM(n) FROM {db}.user_cards GROUP BY card" > "$run/f.cards"
both "SELECT COUNT(*) FROM {db}.eligibility WHERE combined_at < $cutoff * 1000" > "$run/f.elig"
both "SELECT amount_cents FROM {db}.awards" > "$run/f.awards"
# the gifts as MySQL holds them (each half once: gift_moves), and the
# eligible users who drew no card of some kind: their set needed a gift
both "SELECT side, COUNT(*) FROM {db}.gift_moves GROUP BY side" > "$run/f.gifts"
# (with the wildcard: a kind of the set it never drew that no wildcard
# replaced; eligibility.replaced_kinds, bit k kind k)
kinds=$(echo "$WEIGHTS" | wc -w)
set_kinds=$kinds wild_kind=-1
[ "$WILDCARD" = 1 ] && set_kinds=$((kinds - 1)) wild_kind=$RARE
both "SELECT COUNT(*) FROM {db}.eligibility e WHERE e.combined_at < $cutoff * 1000
      AND (SELECT COUNT(*) FROM {db}.user_cards c WHERE c.uid = e.uid AND c.n > 0
           AND c.card <> $wild_kind AND (e.replaced_kinds >> c.card) & 1 = 0)
          + BIT_COUNT(e.replaced_kinds) < $set_kinds" > "$run/f.needed"
# ... and those whose combine took a wildcard (0 without --wildcard 1)
both "SELECT COUNT(*) FROM {db}.eligibility WHERE combined_at < $cutoff * 1000
      AND wildcards_used > 0" > "$run/f.wild"
awk '$1 == "cc_redrive_redriven_total" { print $2 }' "$run/redrive.prom" \
    > "$run/f.redriven" 2>/dev/null || true

# --ha: what the failovers cost.  cc0's users (cc-payout --shard-of, the
# ring's answer) and their flips as the app nodes logged them: the longest
# time between two 200s from the kill on, and the 503s
failover='null'
if [ "$HA" = 1 ]; then
    seq 1 "$USERS" | xargs -n 5000 "$W/cc-payout" --campaign "$run/campaign.conf" \
        $redis $shards --shard-of 2>/dev/null | awk '$2 == "cc0" { print $1 }' > "$run/f.cc0-users"
    cat "$run/redis-fault" "$run/mysql-fault" 2>/dev/null | tr ' ' '\n' | grep '=' > "$run/f.faults" || true
    failover=$(perl -MJSON::PP -e '
        my ($run, $lost, $reused, $resends, $s503, $s504) = @ARGV;
        my %f = map { chomp; split /=/, $_, 2 } do { open my $h, "<", "$run/f.faults" or die; <$h> };
        my %cc0 = map { chomp; ($_ => 1) } do { open my $h, "<", "$run/f.cc0-users" or die; <$h> };
        my (@ok, $n503, $n);
        for my $log (glob "$run/logs/app*-flips.log") {
            open my $h, "<", $log or die;
            while (<$h>) {
                my ($t, $uid, $st) = split;
                next unless $cc0{$uid};
                $n++;
                push @ok, $t * 1000 if $st eq "200";
                $n503++ if $st eq "503";
            }
        }
        @ok = sort { $a <=> $b } @ok;
        my ($gap, $from) = (0, 0);
        if (defined $f{redis_killed_ms}) {
            # from the last 200 before the kill to each next one after it
            my $prev = (grep { $_ <= $f{redis_killed_ms} } @ok)[-1] // $f{redis_killed_ms};
            for my $t (grep { $_ > $prev } @ok) {
                ($gap, $from) = ($t - $prev, $prev) if $t - $prev > $gap;
                $prev = $t;
            }
        }
        my %o = (shard => "cc0", shard_users => scalar(keys %cc0), shard_flips_logged => $n // 0,
                 shard_503 => $n503 // 0, longest_gap_ms => int($gap + 0.5),
                 flip_resends => $resends + 0, flip_503 => $s503 + 0, flip_504 => $s504 + 0,
                 lost_acked_flips => ($lost eq "" ? undef : $lost + $reused),
                 lost_draws => ($lost eq "" ? undef : $lost + 0), reused_seqs => $reused + 0);
        $o{$_} = $f{$_} + 0 for grep { /_ms$/ } keys %f;
        $o{redis_promotion_ms} = $f{redis_promoted_ms} - $f{redis_killed_ms} if $f{redis_promoted_ms};
        $o{redis_replica_back_ms} = $f{redis_replica_ms} - $f{redis_killed_ms} if $f{redis_replica_ms};
        $o{mysql_promotion_ms} = $f{mysql_promoted_ms} - $f{mysql_killed_ms} if $f{mysql_promoted_ms};
        print JSON::PP->new->canonical->encode(\%o);
    ' "$run" "${lost_draws:-}" "${lost_reused:-0}" \
        "$(perl -MJSON::PP -ne 'print decode_json($_)->{resends} if /"type":"total"/' "$run/flip.jsonl")" \
        "$(perl -MJSON::PP -ne 'print decode_json($_)->{status}{503} // 0 if /"type":"total"/' "$run/flip.jsonl")" \
        "$(perl -MJSON::PP -ne 'print decode_json($_)->{status}{504} // 0 if /"type":"total"/' "$run/flip.jsonl")")
fi

perl -MJSON::PP -e '
    my ($run, $weights, $redis, $stock, $cap, $pool, $phases, $users, $t0, $limit, $rare, $failover,
        $social_pct, $rc_cards) = @ARGV;
    sub lines { open my $h, "<", "$run/$_[0]" or die; map { chomp; [split /\t/] } <$h> }
    my @r = split " ", $redis;
    my @cards_redis = map { $r[$_] + $r[$_ + 7] + $r[6] + $r[13] } 1 .. 5;
    my @consumed;       # per kind, what the combines took (cc-reconcile --cards)
    my @cm = (0) x 5; $cm[$_->[0]] += $_->[1] for lines("f.cards");
    my @amounts = sort { $a <=> $b } map { $_->[0] } lines("f.awards");
    my ($sum, %h) = (0); $sum += $_ for @amounts;
    my $n = @amounts;
    my @hist;
    if ($n) {
        my ($lo, $hi) = ($amounts[0], $amounts[-1]);
        my $w = int(($hi - $lo) / 20) + 1;
        $hist[int(($_ - $lo) / $w)]++ for @amounts;
        @hist = map { {lo_cents => $lo + $_ * $w, hi_cents => $lo + ($_ + 1) * $w - 1,
                       count => $hist[$_] // 0} } 0 .. $#hist;
    }
    my @payout;
    if (open my $p, "<", "$run/payout.jsonl") { while (<$p>) { push @payout, decode_json($_) if /^\{.*\}$/ } }
    my $rec = eval { local $/; open my $j, "<", "$run/reconcile.json" or die; decode_json(<$j>) };
    # the gifts: MySQL halves by side, the eligible users who needed one,
    # what cc-redrive delivered; cc-reconcile --cards, kind by kind
    my %side; $side{$_->[0]} += $_->[1] for lines("f.gifts");
    my $needed = 0; $needed += $_->[0] for lines("f.needed");
    my $wild = 0; $wild += $_->[0] for lines("f.wild");
    my ($redriven) = map { $_->[0] } lines("f.redriven");
    my (@kinds, $summary);
    for (map { $_->[0] } lines("cards.txt")) {
        if (/^cards: kind (\d+): held (\d+) \+ in transit (\d+) = .*?drawn (\d+) - combined (\d+) = .*?MySQL given (\d+) - received (\d+) = .*: (ok|DIFFERENCE)$/) {
            $consumed[$1] = $5;
            push @kinds, {kind => $1 + 0, held => $2 + 0, transit => $3 + 0, drawn => $4 + 0,
                          combined => $5 + 0, given => $6 + 0, received => $7 + 0, ok => $8 eq "ok" ? JSON::PP::true : JSON::PP::false};
        } elsif (/^cards: (\d+ users, .*)$/) {
            $summary = $1;
        }
    }
    # with a wildcard a combine takes wildcards for the kinds lacked, not
    # one of each: held + what the cards check says the combines took
    @cards_redis = map { $r[$_] + $r[$_ + 7] + $consumed[$_ - 1] } 1 .. 5
        if 5 == grep { defined } @consumed[0 .. 4];
    my $f = {
        campaign => "whole campaign, $users users", users => $users + 0,
        weights => [map { $_ + 0 } split " ", $weights],
        draws_mysql => eval { my $s = 0; $s += $_->[0] for lines("f.draws"); $s },
        draws_redis => $r[0] + $r[7],
        cards_mysql => \@cm, cards_redis => \@cards_redis,
        stock => [{kind => $rare + 0, cap => $cap + 0, issued => [map { $_ + 0 } split /,/, $stock]}],
        eligible_mysql => eval { my $s = 0; $s += $_->[0] for lines("f.elig"); $s },
        eligible_redis => $r[6] + $r[13],
        awards => {count => $n, pool_cents => $pool + 0, sum_cents => $sum,
                   min_cents => $n ? $amounts[0] : 0, max_cents => $n ? $amounts[-1] : 0,
                   median_cents => $n ? $amounts[int($n / 2)] : 0, histogram => \@hist},
        payout => \@payout, ($rec ? (reconcile => $rec) : ()),
        gifts => {social_pct => $social_pct + 0, given_mysql => ($side{o} // 0) + 0,
                  received_mysql => ($side{i} // 0) + 0, redriven => (defined $redriven ? $redriven + 0 : undef),
                  eligible_needed_gift => $needed, eligible_needed_wildcard => $wild},
        cards_check => {exit => $rc_cards + 0, kinds => \@kinds, summary => $summary // ""},
        phases => decode_json("[$phases]"),
        events => [ map { decode_json($_) } grep { /^\{/ } do { open my $e, "<", "$run/events.jsonl" or die; <$e> } ],
        ($failover ne "null" ? (failover => decode_json($failover)) : ()),
        elapsed_s => (time * 1000 - $t0) / 1000, limit_s => $limit + 0,
    };
    open my $o, ">", "$run/facts.json" or die; print $o JSON::PP->new->canonical->encode($f);
' "$run" "$WEIGHTS" "$redis_sums" "$stock" "$STOCK" "$POOL_CENTS" "$phases" \
  "$USERS" "$t0" "$LIMIT_S" "$RARE" "$failover" "$SOCIAL_PCT" "$rc_cards"

say "report"
set +e
# shellcheck disable=SC2086
"$top/tools/report/cc-report" --facts "$run/facts.json" --out "$run" \
    --title "cardcampaign: $USERS users" \
    $grants "$run/flip.jsonl" $socials "$run/claim.jsonl"
rc=$?
set -e
echo "page: $run/report.html   logs: $run/logs"
[ "$rc_claims" = 0 ] || { echo "campaign: the claims' load client failed ($rc_claims)" >&2; exit 1; }
[ "$rc_books" = 0 ] || { echo "campaign: cc-reconcile found breaks" >&2; exit 1; }
exit "$rc"
