# scripts/lib/run.sh: what scripts/campaign.sh and bench/chaos.sh both do
# with the processes and keys of a run.  Sourced, after the script set
#   top  the repository's top folder
#   run  the run's folder (every server's files are under it)
#   me   the name its messages start with ("campaign", "chaos")

now_ms() { date +%s%3N; }
gone() { ! kill -0 "$1" 2>/dev/null; }

wait_for() {    # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local end=$(( $(now_ms) + $1 * 1000 )); shift
    while [ "$(now_ms)" -lt "$end" ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$me: timed out waiting for: $*" >&2
    return 1
}

# program_of NAME: the program a server of the run named NAME runs
program_of() {
    case $1 in
        edge|app1|app2|admin*) echo nginx ;;
        redis*) echo redis-server ;;
        sentinel*) echo redis-sentinel ;;
        mysql*) echo mariadbd ;;
        mock) echo cc-mockbroker ;;
        *) echo "cc-$1" ;;
    esac
}

# is_ours PID NAME: PID still runs NAME's program (a stopped one's pid may
# since belong to another: pids wrap, and a run forks all the time),
# itself (its comm) or under a wrapper (valgrind's comm is
# memcheck-amd64-; its command line names the program, and an nginx's
# names the run's folder)
is_ours() {
    local want cmd
    want=$(program_of "$2")
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$want" ] && return 0
    cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline") || return 1
    case $cmd in *"/$want "*|*"$run"*) return 0 ;; esac
    return 1
}

# Redis key names are common/cc_keys.h's (the module's and the workers'
# one owner of them): cc_key_stock() is CC_KEY_STOCK_PREFIX and the kind;
# CC_KEY_USER_MATCH globs every user hash.
keys_h=$top/common/cc_keys.h
stock_prefix=$(sed -n 's/^#define CC_KEY_STOCK_PREFIX *"\(.*\)"$/\1/p' "$keys_h")
user_glob=$(sed -n 's/^#define CC_KEY_USER_MATCH *"\(.*\)"$/\1/p' "$keys_h")
outbox_key=$(sed -n 's/^#define CC_KEY_OUTBOX *"\(.*\)"$/\1/p' "$keys_h")
outbox_gifts_key=$(sed -n 's/^#define CC_KEY_OUTBOX_GIFTS *"\(.*\)"$/\1/p' "$keys_h")
if [ -z "$stock_prefix" ] || [ -z "$user_glob" ] || [ -z "$outbox_key" ] \
   || [ -z "$outbox_gifts_key" ]; then
    echo "$me: cannot read the key names from $keys_h" >&2
    exit 2
fi

# user_sums PORT: Σ s, Σ k0..k4, users with e, of one Redis shard's users
user_sums() {
    timeout --foreground 60 redis-cli -p "$1" --eval "$top/scripts/lua/user_sums.lua" , "$user_glob" \
        | tr '\n' ' '
}

# gifts_in_transit REDRIVE PORT...: the gifts in the shards' outboxes
# whose receiver's half is not applied, per kind: "KIND N" lines, a kind
# with none left out.  PORTs are the Redis shards in cc_redis_shards'
# order (the ring: REDRIVE, a cc-redrive, says which shard holds each
# receiver, --shard-of).  An outbox entry whose gift id is in the
# receiver's cc:{uid}:gi (cc_key_user_sub "gi") was delivered (its done
# did not run yet: a worker killed between), so it is not counted.  An
# entry is its outbox member "giver:request_id:to:kind" and its ms, or, for
# an old gift (an upgrade with gifts in flight), a bare gift id member
# with its value "to:kind:ms" in the old gifts hash (cc_outbox.h); read at
# rest (no gift in flight while this runs).
gifts_in_transit() {
    local rd=$1 p a=() t
    shift
    for p in "$@"; do a+=(--redis "127.0.0.1:$p"); done
    t=$(mktemp "$run/transit.XXXXXX")
    for p in "$@"; do
        timeout --foreground 60 redis-cli -p "$p" --raw ZRANGE "$outbox_key" 0 -1 WITHSCORES |
            paste -d' ' - - |
            awk 'NF == 2 && split($1, m, ":") == 4 { print m[1] ":" m[2], m[3] ":" m[4] ":" $2 }'
        timeout --foreground 60 redis-cli -p "$p" --raw HGETALL "$outbox_gifts_key" |
            paste -d' ' - - | awk 'NF == 2'
    done > "$t"     # "gift_id to:kind:ms"
    if [ -s "$t" ]; then
        awk '{ split($2, v, ":"); print v[1] }' "$t" | sort -u |
            xargs "$rd" "${a[@]}" --shard-of > "$t.on"  # "uid 127.0.0.1:port"
        for p in "$@"; do
            awk -v at="127.0.0.1:$p" -v q="$t.q" -v k="$t.k" '
                NR == FNR { if ($2 == at) on[$1] = 1; next }
                { split($2, v, ":")
                  if (v[1] in on) {
                      print "SISMEMBER cc:{" v[1] "}:gi " $1 > q
                      print v[2] > k } }' "$t.on" "$t"
            [ -s "$t.q" ] || continue
            paste -d' ' <(timeout --foreground 60 redis-cli -p "$p" < "$t.q") "$t.k"
            rm -f "$t.q" "$t.k"
        done | awk '$1 == 0 { n[$2]++ } END { for (k in n) print k, n[k] }' | sort -n
    fi
    rm -f "$t" "$t.on" "$t.q" "$t.k"
}
