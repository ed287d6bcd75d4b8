# bench/lib.sh: sourced by the benches (bash).
# shellcheck shell=bash disable=SC2154   # out and port: set by the bench
#
# free_ports N: sets FREE_BASE to a port P such that no socket on this
# machine uses P .. P+N-1 (ss, every state) and this shell holds each one's
# flock in $PORT_LOCKS (t/lib/CcTest/Util.pm's reservation, shared with the
# tests prove runs beside a bench: a port another picker holds is
# skipped).  Picked at random in 20000..31999, below the kernel's
# ephemeral range (32768 and up by default) where the outgoing
# connections of other runs take their local ports.  The locks last as
# long as the shell (and the servers it starts, which inherit them).
# Call it as a command, not in $( ): a subshell would drop the locks.
PORT_LOCKS=${TMPDIR:-/tmp}/cc-test-ports
free_ports() {
    local n=$1 p i _ taken fd held
    mkdir -p "$PORT_LOCKS"
    taken=$(ss -Htan | awk '{ n = split($4, a, ":"); print a[n] }' | sort -u)
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % (12000 - n)))
        held=""
        for i in $(seq 0 $((n - 1))); do
            if ! echo "$taken" | grep -qx "$((p + i))" \
               && exec {fd}> "$PORT_LOCKS/$((p + i))" \
               && { flock -n "$fd" || { exec {fd}>&-; false; }; }; then
                held="$held $fd"
                continue
            fi
            for fd in $held; do exec {fd}>&-; done
            continue 2
        done
        # shellcheck disable=SC2034   # the caller reads it
        FREE_BASE=$p
        return 0
    done
    echo "free_ports: no $n free ports in 200 tries" >&2
    return 1
}

# ---- the servers of a bench
# All under $out (the bench's temp dir) and on loopback: Redis shards on
# the ports given to redis_start, one mariadbd on $port holding the MySQL
# shards cc_s0 and cc_s1.  A bench sets out and port, then
#     trap bench_stop EXIT    (or its own stop(), ending its other
#                              processes, then calling bench_stop)

# bench_stop: stops every server that left a pid file in $out (Redis,
# mariadbd, nginx), gives them a second, and removes $out
bench_stop() {
    local p
    for p in "$out"/*.pid; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
    done
    sleep 1
    rm -rf "$out"
}

# redis_start PORT...: a Redis server on each port, nothing persisted,
# answering within 5 s, or the bench exits with its log
redis_start() {
    local r i
    for r in "$@"; do
        redis-server --port "$r" --bind 127.0.0.1 --save '' --appendonly no \
            --daemonize yes --pidfile "$out/redis$r.pid" --dir "$out" \
            --logfile "$out/redis$r.log"
    done
    for r in "$@"; do
        for i in $(seq 50); do
            redis-cli -p "$r" ping >/dev/null 2>&1 && break
            sleep 0.1
        done
        redis-cli -p "$r" ping >/dev/null 2>&1 || {
            echo "redis on :$r did not start:" >&2; cat "$out/redis$r.log" >&2
            exit 1; }
    done
}

# sql QUERY: QUERY as root on the bench's mariadbd, rows tab-separated
# without a header (LOAD DATA LOCAL allowed)
sql() {
    mariadb --no-defaults --local-infile=1 -S "$out/mysql.sock" -uroot -N -B \
        -e "$1"
}

# mysql_start [MARIADBD OPTION...]: a fresh mariadbd on $port (its datadir,
# socket, pid file and error log in $out, no binary log) with the options
# given (the bench's InnoDB sizes), answering within 60 s (a busy machine
# starts it slowly), or the bench exits with the end of its log
mysql_start() {
    local i
    mariadb-install-db --no-defaults --datadir="$out/data" --user=root \
        --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
    mariadbd --no-defaults --datadir="$out/data" --user=root --port="$port" \
        --bind-address=127.0.0.1 --socket="$out/mysql.sock" \
        --pid-file="$out/mysql.pid" --log-error="$out/mysql.err" \
        --skip-log-bin --skip-name-resolve "$@" &
    for i in $(seq 600); do
        sql 'select 1' >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "mariadbd did not start: $(tail -3 "$out/mysql.err")" >&2
    exit 1
}

# PROFILE=1 (bench/payout.sh, bench/payout-http.sh): mariadbd runs with
# performance_schema (slower: a profile, not a figure), and sql_profile
# prints where its time went.  pfs_option: the option for mysql_start;
# sql_profile_reset: the counters emptied; sql_profile WHO: WHO's MySQL
# time since the last reset by statement (the digests' total time, the
# top 12) and by kind (prepared statements, as the ledger's bulk
# execution, have no digest: statement/com/Bulk_execute), then a reset
pfs_option() {
    if [ "${PROFILE:-0}" = 1 ]; then
        echo --performance-schema=ON
    else
        echo --performance-schema=OFF
    fi
}
sql_profile_reset() {
    [ "${PROFILE:-0}" = 1 ] || return 0
    sql "TRUNCATE performance_schema.events_statements_summary_by_digest;
         TRUNCATE performance_schema.events_statements_summary_global_by_event_name"
}
sql_profile() {
    [ "${PROFILE:-0}" = 1 ] || return 0
    echo "$1: MySQL time by statement (s, calls, statement):"
    sql "SELECT ROUND(SUM_TIMER_WAIT / 1e12, 2), COUNT_STAR,
                LEFT(DIGEST_TEXT, 110)
         FROM performance_schema.events_statements_summary_by_digest
         ORDER BY SUM_TIMER_WAIT DESC LIMIT 12" | sed 's/^/  /'
    sql "SELECT ROUND(SUM(SUM_TIMER_WAIT) / 1e12, 2)
         FROM performance_schema.events_statements_summary_by_digest" \
        | sed 's/^/  in all: /'
    echo "$1: by kind (s, calls, kind):"
    sql "SELECT ROUND(SUM_TIMER_WAIT / 1e12, 2), COUNT_STAR, EVENT_NAME
         FROM performance_schema.events_statements_summary_global_by_event_name
         WHERE COUNT_STAR > 0 ORDER BY SUM_TIMER_WAIT DESC LIMIT 10" \
        | sed 's/^/  /'
    sql_profile_reset
}

# shards_init: the MySQL shards cc_s0 and cc_s1 (cc-ingest --init-shards)
# and the workers' role users (sql/grants.sql: each worker connects as its
# own); sets shards, the workers' --mysql arguments for both
shards_init() {
    shards="--mysql 127.0.0.1:$port/cc_s0 --mysql 127.0.0.1:$port/cc_s1"
    mariadb --no-defaults -S "$out/mysql.sock" -uroot < sql/grants.sql
    # shellcheck disable=SC2086
    build/workers/cc-ingest --init-shards $shards > "$out/init.err" 2>&1 \
        || { cat "$out/init.err" >&2; exit 1; }
}

# campaign_conf ID: the campaign file of the benches that credit: split
# equal, a pool larger than any of them pays, credit async
campaign_conf() {
    cat <<CONF
campaign $1
pool_cents 100000000000
split equal
seed bench
credit async
cutoff 1700000000
CONF
}

# fund_pool CAMPAIGN SHARD: funds the campaign's pool on cc_sSHARD through
# the ledger (cc-ledger-cli fund) with the sum of its awards there
fund_pool() {
    local sum
    sum=$(sql "SELECT SUM(amount_cents) FROM cc_s$2.awards
               WHERE campaign = '$1'")
    build/test/cc-ledger-cli --mysql "127.0.0.1:$port/cc_s$2" \
        fund "$1" "$2" "$sum" | grep -q '^fund done'
}

# ticks PID: utime + stime of a process, in clock ticks
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# server_ticks R0 R1: "MYSQL REDIS", the ticks so far of the mariadbd and
# of the Redis servers on ports R0 and R1 together
server_ticks() {
    echo "$(ticks "$(cat "$out/mysql.pid")")" \
         "$(( $(ticks "$(cat "$out/redis$1.pid")") \
              + $(ticks "$(cat "$out/redis$2.pid")") ))"
}
