# shellcheck shell=bash disable=SC2154
# scripts/lib/ha.sh: issue 18's replicated layout on loopback, for the
# scripts that run it (scripts/campaign.sh --ha, bench/failover.sh): a
# Redis replica of a primary, redis-sentinel processes watching master
# names, a MariaDB primary with semi-synchronous replication and its
# replica, and the promotion README "Losing a server" says the operator's
# tool must do.  The same settings as t/lib/CcTest/Sentinel.pm and
# t/lib/CcTest/MySQLReplica.pm.  Sourced after scripts/lib/run.sh (it uses
# wait_for and now_ms), with
#   run  the run's folder (each server's files under it)
#   me   the name its messages start with
# Every function that starts a process prints nothing and records its pid
# with `ha_started NAME PID`; define ha_started before calling them (the
# default appends "NAME PID" to $run/pids, campaign.sh's format).

if ! declare -F ha_started >/dev/null; then
    ha_started() { echo "$1 $2" >> "$run/pids"; }
fi

HA_DOWN_AFTER_MS=${HA_DOWN_AFTER_MS:-1000}
HA_FAILOVER_TIMEOUT_MS=${HA_FAILOVER_TIMEOUT_MS:-3000}
HA_QUORUM=${HA_QUORUM:-2}
# every redis-server's extra arguments: a replica (re)built after a
# failover syncs at once, not after the default 5 s of
# repl-diskless-sync-delay (with cc_redis_wait the shard's writes answer
# 503 until it is in sync)
HA_REDIS_ARGS=${HA_REDIS_ARGS:---repl-diskless-sync-delay 0}

# ---- Redis ------------------------------------------------------------------

# ha_redis NAME PORT [PRIMARY_PORT]: a redis-server on PORT, no
# persistence (as campaign.sh's shards), a replica of PRIMARY_PORT when
# given; waits for PING, and for a replica until its link is up.  A node
# lost and started again on its port is a replica of the new primary
# (what rebuilding it means; the sentinels would demote it too, later).
ha_redis() {
    local name=$1 port=$2 primary=${3:-}
    mkdir -p "$run/$name"
    # shellcheck disable=SC2086
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --dir "$run/$name" --logfile "$run/logs/$name.log" \
        --pidfile "$run/$name/redis.pid" $HA_REDIS_ARGS \
        ${primary:+--replicaof 127.0.0.1 "$primary"}
    wait_for 5 redis-cli -p "$port" ping || return 1
    ha_started "$name" "$(cat "$run/$name/redis.pid")"
    if [ -n "$primary" ]; then
        wait_for 15 ha_redis_link_up "$port" || return 1
    fi
}

ha_redis_link_up() {    # ha_redis_link_up PORT: a replica in sync
    redis-cli -p "$1" info replication | grep -q 'master_link_status:up'
}

# ha_sentinel NAME PORT MASTER=PORT...: a redis-sentinel on PORT watching
# each MASTER (a master name) at 127.0.0.1:PORT, quorum $HA_QUORUM,
# down-after $HA_DOWN_AFTER_MS ms, failover-timeout
# $HA_FAILOVER_TIMEOUT_MS ms
ha_sentinel() {
    local name=$1 port=$2 m mname mport
    shift 2
    mkdir -p "$run/$name"
    {
        echo "port $port"
        echo "bind 127.0.0.1"
        echo "daemonize yes"
        echo "dir $run/$name"
        echo "logfile $run/logs/$name.log"
        echo "pidfile $run/$name/sentinel.pid"
        for m in "$@"; do
            mname=${m%%=*} mport=${m#*=}
            echo "sentinel monitor $mname 127.0.0.1 $mport $HA_QUORUM"
            echo "sentinel down-after-milliseconds $mname $HA_DOWN_AFTER_MS"
            echo "sentinel failover-timeout $mname $HA_FAILOVER_TIMEOUT_MS"
            echo "sentinel parallel-syncs $mname 1"
        done
    } > "$run/$name/sentinel.conf"
    redis-sentinel "$run/$name/sentinel.conf" || return 1
    wait_for 5 redis-cli -p "$port" ping || return 1
    ha_started "$name" "$(cat "$run/$name/sentinel.pid")"
}

# ha_master_port SENTINEL_PORT NAME: the port that sentinel names for NAME
ha_master_port() {
    redis-cli -p "$1" sentinel get-master-addr-by-name "$2" 2>/dev/null | sed -n 2p
}

# ha_master_port_is SENTINEL_PORT NAME PORT...: it names one of PORT...
ha_master_port_is() {
    local m p
    m=$(ha_master_port "$1" "$2")
    shift 2
    for p in "$@"; do
        [ -n "$m" ] && [ "$m" = "$p" ] && return 0
    done
    return 1
}

# ha_sentinels_agree NAME REPLICAS PORT...: every sentinel on PORT... knows
# the others, at least REPLICAS replicas of NAME with their link ok, and
# names one primary (t/lib/CcTest/Sentinel.pm's wait_agree)
ha_sentinels_agree() {
    local name=$1 want=$2 p m first="" others
    shift 2
    others=$(( $# - 1 ))
    for p in "$@"; do
        m=$(redis-cli -p "$p" sentinel master "$name" 2>/dev/null | paste -sd' ') || return 1
        [[ " $m " == *" flags master "* ]] || return 1
        [ "$(sed -n 's/.* num-other-sentinels \([0-9]*\).*/\1/p' <<<"$m")" -ge "$others" ] 2>/dev/null || return 1
        [ "$(redis-cli -p "$p" sentinel replicas "$name" 2>/dev/null \
             | grep -cx 'ok')" -ge "$want" ] || return 1
        m=$(ha_master_port "$p" "$name")
        [ -z "$first" ] && first=$m
        [ "$m" = "$first" ] || return 1
    done
}

# ha_wait_promotion OLD_PORT NAME SECONDS SENTINEL_PORT...: until every
# sentinel names a primary other than OLD_PORT and ROLE on it says
# master; prints its port
ha_wait_promotion() {
    local old=$1 name=$2 secs=$3 end p m first
    shift 3
    end=$(( $(now_ms) + secs * 1000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        first=""
        for p in "$@"; do
            m=$(ha_master_port "$p" "$name")
            [ -z "$first" ] && first=$m
            [ "$m" = "$first" ] || { first=""; break; }
        done
        if [ -n "$first" ] && [ "$first" != "$old" ] \
           && [ "$(redis-cli -p "$first" role 2>/dev/null | head -1)" = master ]; then
            echo "$first"
            return 0
        fi
        sleep 0.05
    done
    echo "$me: no primary for $name other than $old within ${secs}s" >&2
    return 1
}

# ---- MariaDB ----------------------------------------------------------------

# ha_mysql NAME PORT SERVER_ID primary|replica: a mariadbd under
# $run/NAME (socket $run/NAME/mysql.sock, error log $run/logs/NAME.err)
# with the binary log and GTID strict mode; a primary with semi-sync on
# (AFTER_SYNC, timeout 10 s) and a replication user cc_repl, a replica
# read_only with semi-sync on and its slave threads not started.
# Waits until it answers.
ha_mysql() {
    local name=$1 port=$2 id=$3 role=$4 d=$run/$1 extra
    mkdir -p "$d/tmp"
    mariadb-install-db --no-defaults --datadir="$d/data" --user=root \
        --auth-root-authentication-method=normal --skip-test-db \
        --tmpdir="$d/tmp" > "$run/logs/$name-install.log" 2>&1 || return 1
    if [ "$role" = primary ]; then
        extra="--rpl-semi-sync-master-enabled=ON --rpl-semi-sync-master-timeout=10000"
    else
        extra="--rpl-semi-sync-slave-enabled=ON --read-only=1 --skip-slave-start"
    fi
    # started from a subshell, so the script is not its parent: a kill -9
    # of it (the fault) is not reported by the script's shell as "Killed";
    # its pid is the one it writes
    rm -f "$d/mysql.pid"
    # shellcheck disable=SC2086
    ( mariadbd --no-defaults --datadir="$d/data" --user=root \
        --port="$port" --bind-address=127.0.0.1 --socket="$d/mysql.sock" \
        --pid-file="$d/mysql.pid" --log-error="$run/logs/$name.err" \
        --tmpdir="$d/tmp" --innodb-buffer-pool-size=256M \
        --innodb-flush-log-at-trx-commit=2 --skip-name-resolve \
        --character-set-server=utf8mb4 --server-id="$id" \
        --log-bin="$name-bin" --binlog-format=ROW --log-slave-updates \
        --gtid-strict-mode=ON --log-bin-trust-function-creators=ON \
        --rpl-semi-sync-master-wait-point=AFTER_SYNC $extra \
        < /dev/null 2>> "$run/logs/$name.err" & )
    wait_for 30 ha_sql "$name" 'select 1' || return 1
    wait_for 5 test -s "$d/mysql.pid" || return 1
    ha_started "$name" "$(cat "$d/mysql.pid")"
    if [ "$role" = primary ]; then
        ha_sql "$name" "CREATE USER IF NOT EXISTS cc_repl IDENTIFIED BY 'cc_repl';
                        GRANT REPLICATION SLAVE ON *.* TO cc_repl"
    fi
}

ha_sql() {      # ha_sql NAME SQL: as root over NAME's socket, -N -B
    mariadb --no-defaults -S "$run/$1/mysql.sock" -uroot -N -B -e "$2"
}

# ha_mysql_follow REPLICA PRIMARY_PORT: REPLICA replicates the primary
# from its first transaction (MASTER_USE_GTID = slave_pos); waits until
# the primary counts a semi-sync client
ha_mysql_follow() {
    ha_sql "$1" "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $2,
                 MASTER_USER = 'cc_repl', MASTER_PASSWORD = 'cc_repl',
                 MASTER_CONNECT_RETRY = 1, MASTER_USE_GTID = slave_pos;
                 START SLAVE" || return 1
    wait_for 30 ha_semi_sync_clients "$2" || return 1
}

ha_semi_sync_clients() {    # ha_semi_sync_clients PORT: 1 or more
    local n
    n=$(mariadb --no-defaults -h 127.0.0.1 -P "$1" -uroot -N -B \
        -e "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'" | cut -f2)
    [ "${n:-0}" -ge 1 ]
}

# ha_mysql_promote REPLICA: the promotion README "Losing a server" asks of
# the operator's tool, steps 2 and 3 (step 1, the fence, is the caller's:
# the old primary killed, or read_only = 1 on it): stop the IO thread,
# wait until the relay log is applied, stop replicating, writable
ha_mysql_promote() {
    local pos w
    ha_sql "$1" 'STOP SLAVE IO_THREAD' || return 1
    pos=$(mariadb --no-defaults -S "$run/$1/mysql.sock" -uroot -E \
          -e 'SHOW SLAVE STATUS' | sed -n 's/^ *Gtid_IO_Pos: *//p')
    if [ -n "$pos" ]; then
        w=$(ha_sql "$1" "SELECT MASTER_GTID_WAIT('$pos', 30)")
        [ "$w" = 0 ] || { echo "$me: $1: relay log not applied within 30 s" >&2; return 1; }
    fi
    ha_sql "$1" 'STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0'
}
