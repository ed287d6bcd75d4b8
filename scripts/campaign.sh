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
#
# Then, as a real campaign does:
#
#   grant    every user gets chances through the app nodes' internal ports
#   flip     users flip through the edge with signed tokens, some requests
#            retried with their request id, and combine once they hold a set
#   close    the window closes (end and cutoff, both app nodes reloaded)
#   draw     cc-draw drains the Redis logs and splits the pool
#   payout   winners come to claim as soon as the awards are out, spread
#            over --claim-s seconds; cc-payout (async_client_sync) starts
#            --payout-after-s seconds later: the early claims wait and get
#            202, the later ones 200
#   books    cc-reconcile --money proves the books
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
  --claim-s SEC      the claims arrive over about SEC seconds (CLAIM_S, 8)
  --payout-after-s SEC  cc-payout starts SEC seconds after the first
                     claims (PAYOUT_AFTER_S, 3)
  --seed HEX         the draw's seed (SEED, random)
  --port-base PORT   ports PORT+0..4 nginx, +10 +11 Redis, +20 MySQL
                     (PORT_BASE, 18600)
  --run DIR          the run's folder, emptied first (RUN, ./campaign-run)
  --limit-s SEC      the run's time limit, a check of the report
                     (LIMIT_S, 300)
  -h, --help         this text

Exit: 0 every check of the report passed; 1 a check failed or the books
broke; 2 a bad option or a port in use (nothing started).
USAGE
}

USERS=${USERS:-100000} CHANCES=${CHANCES:-12} CONC=${CONC:-512}
POOL_CENTS=${POOL_CENTS:-5000000} CAP_CENTS=${CAP_CENTS:-5000}
STOCK=${STOCK:-3000} SPLIT=${SPLIT:-random} CLAIM_PCT=${CLAIM_PCT:-30}
CLAIM_S=${CLAIM_S:-8} PAYOUT_AFTER_S=${PAYOUT_AFTER_S:-3}
SEED=${SEED:-} PORT_BASE=${PORT_BASE:-18600} LIMIT_S=${LIMIT_S:-300}
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
        --claim-s) CLAIM_S=$val ;;
        --payout-after-s) PAYOUT_AFTER_S=$val ;;
        --seed) SEED=$val ;;
        --port-base) PORT_BASE=$val ;;
        --run) RUN=$val ;;
        --limit-s) LIMIT_S=$val ;;
        *) bad "unknown argument \"$opt\" (see --help)" ;;
    esac
done

case $SPLIT in random|equal) ;; *) bad "SPLIT is random or equal" ;; esac
for v in USERS CHANCES CONC POOL_CENTS CAP_CENTS STOCK CLAIM_PCT CLAIM_S \
         PAYOUT_AFTER_S PORT_BASE LIMIT_S; do
    case ${!v} in ''|*[!0-9]*) bad "$v must be a decimal" ;; esac
done
[ "$USERS" -ge 1 ] || bad "USERS must be 1 or more"
[ "$CLAIM_S" -ge 1 ] || bad "CLAIM_S must be 1 or more"
[ "$CLAIM_PCT" -le 100 ] || bad "CLAIM_PCT is 0..100"
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
WEIGHTS="3000 3000 2500 1400 100"
RARE=4          # the kind capped by cc_card_stock: the rarest weight

me=campaign
# shell helpers shared with bench/chaos.sh, and the key names
# (stock_prefix, user_glob) from common/cc_keys.h
. "$top/scripts/lib/run.sh"
STOCK_KEY=$stock_prefix$RARE

busy=""
for p in "$EDGE" "$APP1" "$APP2" "$ADMIN1" "$ADMIN2" "$R0" "$R1" "$MYSQL_PORT"; do
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

stop() {        # every process it started, and waits until each is gone
    set +e
    local n p left=""
    stop_helpers
    [ -n "$claims" ] && kill "$claims" 2>/dev/null
    for n in edge app1 app2; do
        p=$(pid_of "$n")
        [ -n "$p" ] && kill -QUIT "$p" 2>/dev/null && left="$left $p"
    done
    for n in payout ingest mock mysql; do
        p=$(pid_of "$n")
        [ -n "$p" ] && kill "$p" 2>/dev/null && left="$left $p"
    done
    for n in redis0 redis1; do
        p=$(pid_of "$n")
        [ -n "$p" ] && kill "$p" 2>/dev/null && left="$left $p"
    done
    # a Redis that never answered its first ping has no pid recorded: its
    # port was free at the start, so whatever listens there now is ours
    for p in "$R0" "$R1"; do
        timeout 5 redis-cli -p "$p" shutdown nosave >/dev/null 2>&1
    done
    for p in $left; do
        wait_for 30 gone "$p" 2>/dev/null \
            || echo "campaign: process $p did not stop" >&2
    done
    wait 2>/dev/null
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
sql() { mariadb --no-defaults -S "$run/mysql.sock" -uroot -N -B -e "$1"; }
wait_for 30 sql 'select 1'

"$W/cc-mockbroker" --partitions 4 > "$run/mock.out" 2> "$run/logs/mock.log" < /dev/null &
started mock $!
wait_for 5 grep -q bootstrap= "$run/mock.out"
brokers=$(sed -n 's/^bootstrap=//p' "$run/mock.out")

shards="--mysql 127.0.0.1:$MYSQL_PORT/cc_s0 --mysql 127.0.0.1:$MYSQL_PORT/cc_s1"
redis="--redis 127.0.0.1:$R0 --redis 127.0.0.1:$R1"
# the workers' role users (sql/grants.sql): each worker connects as its own
mariadb --no-defaults -S "$run/mysql.sock" -uroot < sql/grants.sql
# shellcheck disable=SC2086
"$W/cc-ingest" --init-shards $shards 2>> "$run/logs/cc-ingest.log"
# shellcheck disable=SC2086
"$W/cc-ingest" --brokers "$brokers" $shards --batch 2000 --batch-ms 50 \
    --progress 5 2>> "$run/logs/cc-ingest.log" < /dev/null &
started ingest $!

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
        location ~ ^/cc/(flip|combine|eligibility|award|claim)\$ {
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
conf_app() {    # conf_app NAME PORT ADMIN_PORT END: an app node
    mkdir -p "$run/$1/tmp"
    { echo "load_module $top/build/nginx/ngx_http_cc_module.so;"
      conf_head "$1"
      echo "http {"
      conf_http_head "$1"
      cat <<CONF
    cc_redis_shards 127.0.0.1:$R0 127.0.0.1:$R1;
    cc_redis_timeout 500ms;
    cc_request_ttl 1d;
    cc_cards $WEIGHTS;
    cc_card_stock $RARE $STOCK;
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
        location = /cc/flip        { cc_flip; }
        location = /cc/combine     { cc_combine; }
        location = /cc/eligibility { cc_eligibility; }
        location = /cc/award       { cc_award; }
        location = /cc/claim       { cc_claim; }
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
say "servers up: edge :$EDGE, app1 :$APP1 (admin :$ADMIN1), app2 :$APP2 (admin :$ADMIN2), redis :$R0 :$R1, mysql :$MYSQL_PORT"

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
"$T/cc-load" flip --url "$edge" --users "$USERS" --secret "$run/token.secret" \
    --retry-pct 5 --combine --conc "$CONC" --stats "$run/flip.jsonl" \
    2> >(tee -a "$run/logs/load-flip.log" >&2)
mark flip "$s"

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
wallet       ledger
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
kill "$payout" && wait "$payout" 2>/dev/null || true
stop_helpers
read -r c p < <(sample)
echo "{\"t_ms\":$(now_ms),\"credited\":$c,\"pending\":$p}" >> "$run/payout.jsonl"
say "payout: done, $c credited, $p pending ($(grep -c . "$run/payout.jsonl") samples)"
mark payout "$s"

s=$(now_ms)
say "books: cc-reconcile --money"
probe_books() {
    echo "$(( ($(now_ms) - s) / 1000 ))||cc-reconcile --money checking $n_awards awards and $USERS users|$(log_errors cc-reconcile)|"
}
tick books probe_books
set +e
# shellcheck disable=SC2086
"$W/cc-reconcile" --money --campaign "$run/campaign.conf" $redis $shards \
    --json "$run/reconcile.json" > "$run/reconcile.out" 2>> "$run/logs/cc-reconcile.log"
rc_books=$?
set -e
stop_helpers
sed 's/^/   /' "$run/reconcile.out"
say "books: done in $(( ($(now_ms) - s) / 1000 ))s, cc-reconcile exit $rc_books, $(log_errors cc-reconcile) errors logged"
mark books "$s"

say "facts: what the servers hold"
# one SCAN over each Redis shard, in a script: Σ s, Σ k0..k4, users with e
redis_sums=""
for p in "$R0" "$R1"; do
    redis_sums="$redis_sums $(user_sums "$p")"
done
stock=""
for p in "$R0" "$R1"; do
    stock="$stock${stock:+,}$(redis-cli -p "$p" get "$STOCK_KEY" | sed 's/^$/0/')"
done
both() {        # both "SELECT ... FROM {db}.t": the two shards' rows
    sql "${1//\{db\}/cc_s0}"; sql "${1//\{db\}/cc_s1}"
}
both "SELECT COUNT(*) FROM {db}.draws" > "$run/f.draws"
both "SELECT card, SUM(n) FROM {db}.user_cards GROUP BY card" > "$run/f.cards"
both "SELECT COUNT(*) FROM {db}.eligibility WHERE combined_at < $cutoff * 1000" > "$run/f.elig"
both "SELECT amount_cents FROM {db}.awards" > "$run/f.awards"

perl -MJSON::PP -e '
    my ($run, $weights, $redis, $stock, $cap, $pool, $phases, $users, $t0, $limit, $rare) = @ARGV;
    sub lines { open my $h, "<", "$run/$_[0]" or die; map { chomp; [split /\t/] } <$h> }
    my @r = split " ", $redis;
    my @cards_redis = map { $r[$_] + $r[$_ + 7] + $r[6] + $r[13] } 1 .. 5;
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
        phases => decode_json("[$phases]"),
        elapsed_s => (time * 1000 - $t0) / 1000, limit_s => $limit + 0,
    };
    open my $o, ">", "$run/facts.json" or die; print $o JSON::PP->new->canonical->encode($f);
' "$run" "$WEIGHTS" "$redis_sums" "$stock" "$STOCK" "$POOL_CENTS" "$phases" \
  "$USERS" "$t0" "$LIMIT_S" "$RARE"

say "report"
set +e
# shellcheck disable=SC2086
"$top/tools/report/cc-report" --facts "$run/facts.json" --out "$run" \
    --title "cardcampaign: $USERS users" \
    $grants "$run/flip.jsonl" "$run/claim.jsonl"
rc=$?
set -e
echo "page: $run/report.html   logs: $run/logs"
[ "$rc_claims" = 0 ] || { echo "campaign: the claims' load client failed ($rc_claims)" >&2; exit 1; }
[ "$rc_books" = 0 ] || { echo "campaign: cc-reconcile found breaks" >&2; exit 1; }
exit "$rc"
