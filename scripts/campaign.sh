#!/bin/bash
# campaign.sh: the README's first command.  Installs what is missing,
# builds, and runs a whole campaign on the embedded defaults, everything
# under ./campaign-run on loopback: two redis-server shards, a mariadbd
# holding two MySQL shards, the Kafka mock broker, one nginx with the
# example's tiers (an edge routing by uid with `hash ... consistent`, two
# app nodes loading the module with token identity, an internal admin
# server), cc-ingest and cc-payout.  Then, as a real campaign does:
#
#   grant    every user gets chances through the internal port
#   flip     users flip through the edge with signed tokens, some requests
#            retried with their request id, and combine once they hold a set
#   close    the window closes (the module's end and cutoff, by a reload)
#   draw     cc-draw drains the Redis logs and splits the pool
#   payout   cc-payout credits it (async_client_sync) while winners claim
#   books    cc-reconcile proves the books
#
# and writes campaign-run/report.txt and campaign-run/report.html.  Every
# server is stopped at the end; the report and the logs stay.
#
# Env: USERS (100000) CHANCES (12) POOL_CENTS (5000000) CAP_CENTS (5000)
#      STOCK (3000: rare cards of kind 4, every shard together)
#      SPLIT (random | equal) CONC (512) CLAIM_PCT (30) SEED (random)
#      PORT_BASE (18600) RUN (./campaign-run) LIMIT_S (300)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

USERS=${USERS:-100000} CHANCES=${CHANCES:-12} CONC=${CONC:-512}
POOL_CENTS=${POOL_CENTS:-5000000} CAP_CENTS=${CAP_CENTS:-5000}
STOCK=${STOCK:-3000} SPLIT=${SPLIT:-random} CLAIM_PCT=${CLAIM_PCT:-30}
SEED=${SEED:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}
PORT_BASE=${PORT_BASE:-18600} LIMIT_S=${LIMIT_S:-300}
run=${RUN:-$top/campaign-run}

EDGE=$PORT_BASE APP1=$((PORT_BASE + 1)) APP2=$((PORT_BASE + 2))
ADMIN=$((PORT_BASE + 3)) R0=$((PORT_BASE + 10)) R1=$((PORT_BASE + 11))
MYSQL_PORT=$((PORT_BASE + 20))
WEIGHTS="3000 3000 2500 1400 100"

case $SPLIT in random|equal) ;; *) echo "campaign: SPLIT is random or equal" >&2; exit 2 ;; esac
for v in USERS CHANCES CONC POOL_CENTS CAP_CENTS STOCK CLAIM_PCT PORT_BASE; do
    case ${!v} in ''|*[!0-9]*) echo "campaign: $v must be a decimal" >&2; exit 2 ;; esac
done

busy=""
for p in "$EDGE" "$APP1" "$APP2" "$ADMIN" "$R0" "$R1" "$MYSQL_PORT"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy="$busy $p"
done
if [ -n "$busy" ]; then
    echo "campaign: ports in use:$busy (another run? set PORT_BASE)" >&2
    exit 2
fi

scripts/deps.sh
make -s -j2 all >/dev/null

t0=$(date +%s%3N)
rm -rf "$run"
mkdir -p "$run/logs" "$run/tmp"
W=$top/build/workers T=$top/build/tools
pids="" sampler=""

stop() {
    set +e
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    [ -f "$run/nginx.pid" ] && kill -QUIT "$(cat "$run/nginx.pid")" 2>/dev/null
    for p in $pids; do kill "$p" 2>/dev/null; done
    for p in "$R0" "$R1"; do
        redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    done
    [ -f "$run/mysql.pid" ] && kill "$(cat "$run/mysql.pid")" 2>/dev/null
    wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

say() { printf '%s [%6.1fs] %s\n' "== campaign" "$(( $(date +%s%3N) - t0 ))e-3" "$*"; }
wait_for() {    # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local n=$(($1 * 10)); shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "campaign: timed out waiting for: $*" >&2
    return 1
}
now_ms() { date +%s%3N; }
phases=""
mark() {        # mark NAME START_MS: a phase for the report's time charts
    phases="$phases${phases:+,}{\"name\":\"$1\",\"start_ms\":$2,\"end_ms\":$(now_ms)}"
}

say "starting the servers under $run"
for p in "$R0" "$R1"; do
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --logfile "$run/logs/redis-$p.log" \
        --pidfile "$run/redis-$p.pid"
done
for p in "$R0" "$R1"; do wait_for 5 redis-cli -p "$p" ping; done

mkdir -p "$run/mysql-tmp"
mariadb-install-db --no-defaults --datadir="$run/mysql" --user=root \
    --auth-root-authentication-method=normal --skip-test-db \
    --tmpdir="$run/mysql-tmp" > "$run/logs/mysql-install.log" 2>&1
mariadbd --no-defaults --datadir="$run/mysql" --user=root \
    --port="$MYSQL_PORT" --bind-address=127.0.0.1 --socket="$run/mysql.sock" \
    --pid-file="$run/mysql.pid" --log-error="$run/logs/mysql.err" \
    --tmpdir="$run/mysql-tmp" --skip-log-bin --innodb-buffer-pool-size=256M \
    --innodb-flush-log-at-trx-commit=2 --skip-name-resolve \
    --character-set-server=utf8mb4 &
pids="$pids $!"
sql() { mariadb --no-defaults -S "$run/mysql.sock" -uroot -N -B -e "$1"; }
wait_for 30 sql 'select 1'

"$W/cc-mockbroker" --partitions 4 > "$run/mock.out" 2> "$run/logs/mock.log" &
pids="$pids $!"
wait_for 5 grep -q bootstrap= "$run/mock.out"
brokers=$(sed -n 's/^bootstrap=//p' "$run/mock.out")

shards="--mysql 127.0.0.1:$MYSQL_PORT/cc_s0 --mysql 127.0.0.1:$MYSQL_PORT/cc_s1"
redis="--redis 127.0.0.1:$R0 --redis 127.0.0.1:$R1"
# shellcheck disable=SC2086
"$W/cc-ingest" --init-shards $shards 2>> "$run/logs/cc-ingest.log"
# shellcheck disable=SC2086
"$W/cc-ingest" --brokers "$brokers" $shards --batch 2000 --batch-ms 50 \
    --progress 5 2>> "$run/logs/cc-ingest.log" &
pids="$pids $!"

head -c 48 /dev/urandom | base64 | tr -d '\n' > "$run/token.secret"
chmod 600 "$run/token.secret"

start=$(( $(date +%s) - 60 ))
nginx_conf() {  # nginx_conf END: the example's tiers on loopback
    cat > "$run/nginx.conf" <<CONF
load_module $top/build/nginx/ngx_http_cc_module.so;
worker_processes 2;
worker_rlimit_nofile 65536;
error_log $run/logs/error.log notice;
pid $run/nginx.pid;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $run/tmp/body;
    proxy_temp_path $run/tmp/proxy;
    fastcgi_temp_path $run/tmp/fastcgi;
    uwsgi_temp_path $run/tmp/uwsgi;
    scgi_temp_path $run/tmp/scgi;

    cc_redis_shards 127.0.0.1:$R0 127.0.0.1:$R1;
    cc_redis_timeout 500ms;
    cc_cards $WEIGHTS;
    cc_card_stock 4 $STOCK;
    cc_campaign_start $start;
    cc_campaign_end $1;
    cc_combine_cutoff $1;
    cc_kafka_brokers $brokers;

    map \$http_authorization \$cc_token_uid {
        "~^Bearer (?<uid>[1-9][0-9]{0,19})\\." \$uid;
        default                                "";
    }
    upstream cc_app {
        hash \$cc_token_uid consistent;
        server 127.0.0.1:$APP1 max_fails=1 fail_timeout=10s;
        server 127.0.0.1:$APP2 max_fails=1 fail_timeout=10s;
        keepalive 256;
    }
    limit_req_zone \$cc_token_uid zone=cc_per_user:64m rate=10r/s;
    limit_req_status 429;

    server {
        listen 127.0.0.1:$EDGE backlog=4096;
        client_max_body_size 1k;
        location ~ ^/cc/(flip|combine|eligibility|award|claim)\$ {
            limit_req zone=cc_per_user burst=20 nodelay;
            proxy_pass http://cc_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 3s;
        }
        location / { return 404; }
    }
    server {
        listen 127.0.0.1:$APP1;
        cc_identity token $run/token.secret;
        location = /cc/flip        { cc_flip; }
        location = /cc/combine     { cc_combine; }
        location = /cc/eligibility { cc_eligibility; }
        location = /cc/award       { cc_award; }
        location = /cc/claim       { cc_claim; }
    }
    server {
        listen 127.0.0.1:$APP2;
        cc_identity token $run/token.secret;
        location = /cc/flip        { cc_flip; }
        location = /cc/combine     { cc_combine; }
        location = /cc/eligibility { cc_eligibility; }
        location = /cc/award       { cc_award; }
        location = /cc/claim       { cc_claim; }
    }
    server {
        listen 127.0.0.1:$ADMIN backlog=4096;
        allow 127.0.0.1;
        deny all;
        cc_identity trusted_header X-CC-Uid;
        location = /cc/grant   { cc_grant; }
        location = /cc/metrics { cc_metrics; }
    }
}
CONF
}
nginx_conf $(( $(date +%s) + 86400 ))
nginx -p "$run" -c "$run/nginx.conf"
wait_for 5 curl -sf -o /dev/null "http://127.0.0.1:$ADMIN/cc/metrics"
say "servers up: edge :$EDGE, app :$APP1 :$APP2, admin :$ADMIN, redis :$R0 :$R1, mysql :$MYSQL_PORT"

edge=http://127.0.0.1:$EDGE
s=$(now_ms)
say "grant: $USERS users x $CHANCES chances through the internal port"
"$T/cc-load" grant --url "http://127.0.0.1:$ADMIN" --users "$USERS" \
    --chances "$CHANCES" --conc 256 --stats "$run/grant.jsonl" \
    2> >(tee -a "$run/logs/load-grant.log" >&2)
mark grant "$s"

s=$(now_ms)
say "flip: through the edge with signed tokens, 5% retried, combine on a full set"
"$T/cc-load" flip --url "$edge" --users "$USERS" --secret "$run/token.secret" \
    --retry-pct 5 --combine --conc "$CONC" --stats "$run/flip.jsonl" \
    2> >(tee -a "$run/logs/load-flip.log" >&2)
mark flip "$s"

s=$(now_ms)
cutoff=$(( $(date +%s) + 2 ))
say "close: the window ends at $cutoff (nginx reloaded with the end and cutoff)"
nginx_conf "$cutoff"
nginx -p "$run" -c "$run/nginx.conf" -s reload
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

s=$(now_ms)
say "draw: cc-draw drains the Redis logs, then splits $POOL_CENTS cents ($SPLIT)"
# shellcheck disable=SC2086
"$W/cc-draw" --campaign "$run/campaign.conf" $redis $shards \
    > "$run/draw.out" 2> "$run/logs/cc-draw.log"
sed 's/^/   /' "$run/draw.out"
mark draw "$s"

s=$(now_ms)
say "payout: cc-payout credits (async_client_sync) while $CLAIM_PCT% of winners claim"
(
    while :; do
        c=$(sql "SELECT (SELECT COUNT(*) FROM cc_s0.awards WHERE status='credited') + (SELECT COUNT(*) FROM cc_s1.awards WHERE status='credited')")
        p=$(sql "SELECT (SELECT COUNT(*) FROM cc_s0.awards WHERE status='pending') + (SELECT COUNT(*) FROM cc_s1.awards WHERE status='pending')")
        echo "{\"t_ms\":$(now_ms),\"credited\":$c,\"pending\":$p}"
        sleep 0.5
    done
) > "$run/payout.jsonl" 2>/dev/null &
sampler=$!
# shellcheck disable=SC2086
"$W/cc-payout" --campaign "$run/campaign.conf" $redis $shards --batch 500 \
    --interval 1 --progress 2 2>> "$run/logs/cc-payout.log" &
payout=$!
pids="$pids $payout"
"$T/cc-load" claim --url "$edge" --users "$USERS" --secret "$run/token.secret" \
    --pct "$CLAIM_PCT" --conc 256 --stats "$run/claim.jsonl" \
    2> >(tee -a "$run/logs/load-claim.log" >&2)
pending() {
    sql "SELECT (SELECT COUNT(*) FROM cc_s0.awards WHERE status='pending' OR notified=0) + (SELECT COUNT(*) FROM cc_s1.awards WHERE status='pending' OR notified=0)"
}
for _ in $(seq 600); do [ "$(pending)" = 0 ] && break; sleep 0.2; done
kill "$payout" && wait "$payout" 2>/dev/null || true
sleep 0.6
kill "$sampler" 2>/dev/null; sampler=""
mark payout "$s"

s=$(now_ms)
say "books: cc-reconcile --money"
set +e
# shellcheck disable=SC2086
"$W/cc-reconcile" --money --campaign "$run/campaign.conf" $redis $shards \
    --json "$run/reconcile.json" > "$run/reconcile.out" 2>> "$run/logs/cc-reconcile.log"
rc_books=$?
set -e
sed 's/^/   /' "$run/reconcile.out"
mark books "$s"

say "facts: what the servers hold"
# one SCAN over each Redis shard, in a script: Σ s, Σ k0..k4, users with e
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
redis_sums=""
for p in "$R0" "$R1"; do
    redis_sums="$redis_sums $(redis-cli -p "$p" eval "$sum_lua" 0 | tr '\n' ' ')"
done
stock=""
for p in "$R0" "$R1"; do
    stock="$stock${stock:+,}$(redis-cli -p "$p" get cc:stock:4 | sed 's/^$/0/')"
done
both() {        # both "SELECT ... FROM {db}.t": the two shards' rows
    sql "${1//\{db\}/cc_s0}"; sql "${1//\{db\}/cc_s1}"
}
both "SELECT COUNT(*) FROM {db}.draws" > "$run/f.draws"
both "SELECT card, SUM(n) FROM {db}.user_cards GROUP BY card" > "$run/f.cards"
both "SELECT COUNT(*) FROM {db}.eligibility WHERE combined_at < $cutoff * 1000" > "$run/f.elig"
both "SELECT amount_cents FROM {db}.awards" > "$run/f.awards"

perl -MJSON::PP -e '
    my ($run, $weights, $redis, $stock, $cap, $pool, $phases, $users, $t0, $limit) = @ARGV;
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
        stock => [{kind => 4, cap => $cap + 0, issued => [map { $_ + 0 } split /,/, $stock]}],
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
  "$USERS" "$t0" "$LIMIT_S"

say "report"
set +e
"$top/tools/cc-report" --facts "$run/facts.json" --out "$run" \
    --title "cardcampaign: $USERS users" \
    "$run/grant.jsonl" "$run/flip.jsonl" "$run/claim.jsonl"
rc=$?
set -e
echo "page: $run/report.html   logs: $run/logs"
[ "$rc_books" = 0 ] || { echo "campaign: cc-reconcile found breaks" >&2; exit 1; }
exit "$rc"
