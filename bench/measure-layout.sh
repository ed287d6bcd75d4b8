#!/bin/bash
# bench/measure-layout.sh: measures what one item of each stored layout
# costs, for the constants of tools/estimate/cc_estimate_storage.c (cc-estimate).
#
#   Redis    a throwaway redis-server filled with the real keys (the layout
#            of ngx_module/lua/flip.lua); each kind is measured on
#            an emptied server as used_memory after minus before, divided
#            by the count (so the keyspace's own hash table is included),
#            with MEMORY USAGE of sample keys printed next to it.
#   MySQL    a throwaway mariadbd with the real schema (sql/shard.sql),
#            draws and user_cards loaded in random order, as cc-ingest
#            writes interleaved users; ANALYZE TABLE, then
#            (data_length + index_length) / rows from information_schema.
#   Kafka    the JSON of a draw as cc_draw_encode() (common/cc_event.c)
#            prints it, and the v2 record and record-batch framing around
#            it, counted from the message format of the Kafka protocol.
#
# Env: USERS (100000: Redis users, kept answers and stream entries)
#      MYSQL_USERS (50000) DRAWS (20: draws per MySQL user)
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

USERS=${USERS:-100000} MYSQL_USERS=${MYSQL_USERS:-50000} DRAWS=${DRAWS:-20}

for p in redis-server redis-cli mariadb-install-db mariadbd mariadb cc perl; do
    command -v "$p" >/dev/null || { echo "measure-layout: $p is needed" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/cc-measure.XXXXXX)
rpid="" mpid=""

stop() {
    if [ -n "$rpid" ]; then
        kill "$rpid" 2>/dev/null || true
        wait "$rpid" 2>/dev/null || true
    fi
    if [ -n "$mpid" ]; then
        kill -TERM "$mpid" 2>/dev/null || true
        for _ in $(seq 300); do
            kill -0 "$mpid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$mpid" 2>/dev/null || true
        wait "$mpid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 130' INT TERM

# two free loopback ports, both held while asking so they differ
read -r rport mport < <(perl -MIO::Socket::INET -e '
    my @s = map { IO::Socket::INET->new(LocalAddr => "127.0.0.1",
                  LocalPort => 0, Listen => 1) or die "bind: $!" } 1 .. 2;
    print join(" ", map { $_->sockport } @s), "\n"')

say() { printf '%s\n' "$*"; }

# ---- Redis ------------------------------------------------------------------

redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$tmp" --logfile "$tmp/redis.log" &
rpid=$!

rcli() { redis-cli -p "$rport" "$@"; }

for _ in $(seq 100); do
    rcli ping >/dev/null 2>&1 && break
    sleep 0.1
done
rcli ping >/dev/null

used() { rcli info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }

# awk emitting RESP: cmd(n) sends a[1..n]
AWK_RESP='
function cmd(n,    i, s) {
    s = "*" n "\r\n"
    for (i = 1; i <= n; i++) {
        s = s "$" length(a[i]) "\r\n" a[i] "\r\n"
    }
    printf "%s", s
}
function rid(    s, i) {
    s = ""
    for (i = 0; i < 20; i++) {
        s = s substr(ALNUM, int(rand() * 62) + 1, 1)
    }
    return s
}
# a card by the weights of nginx.conf.example: 3000 3000 2500 1400 100
function card(    r) {
    r = rand() * 10000
    return r < 3000 ? 0 : r < 6000 ? 1 : r < 8500 ? 2 : r < 9900 ? 3 : 4
}
BEGIN {
    ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    srand(20261127)
    UID0 = 123400000        # 9-digit uids, as in the event example
}'

# measure NAME COUNT AWK-BODY [RES]: an emptied server, the commands, the
# delta (RES: answers per user hash)
measure() {
    local name=$1 count=$2 body=$3 res=${4:-0} before after
    rcli flushall >/dev/null
    sleep 0.5
    before=$(used)
    awk -v N="$count" -v RES="$res" "$AWK_RESP $body" | rcli --pipe >"$tmp/pipe.out" \
        || { cat "$tmp/pipe.out" >&2; exit 1; }
    grep -q 'errors: 0,' "$tmp/pipe.out" || { cat "$tmp/pipe.out" >&2; exit 1; }
    sleep 1.5                         # lets incremental rehashing finish
    after=$(used)
    eval "${name}_total=$((after - before))"
    eval "${name}=$(( (after - before + count / 2) / count ))"
}

# cc:{uid}:u: c chances left, s draws so far, k0..k4 cards held, g the
# period of the newest answer (RES answers per user, see RESULT_BODY)
HASH_BODY='
END {
    for (u = 0; u < N; u++) {
        s = int(rand() * 41); k[0] = k[1] = k[2] = k[3] = k[4] = 0
        for (j = 0; j < s; j++) k[card()]++
        a[1] = "HSET"; a[2] = "cc:{" (UID0 + u) "}:u"
        a[3] = "c"; a[4] = int(rand() * 6); a[5] = "s"; a[6] = s
        for (j = 0; j < 5; j++) { a[7 + 2 * j] = "k" j; a[8 + 2 * j] = k[j] }
        a[17] = "g"; a[18] = 20419
        for (j = 0; j < RES; j++) {
            a[19 + 2 * j] = ":" rid()
            a[20 + 2 * j] = int(rand() * 20 + 1) ":" card() ":" int(rand() * 6) ":20419"
        }
        cmd(18 + 2 * RES)
    }
}'

# cc:{uid}:g: the grant ids applied, 3 per user
GRANT_BODY='
END {
    for (u = 0; u < N; u++) {
        a[1] = "SADD"; a[2] = "cc:{" (UID0 + u) "}:g"
        a[3] = "signup"; a[4] = "share-" int(rand() * 9 + 1)
        a[5] = "daily-" int(rand() * 14 + 1)
        cmd(5)
    }
}'

# 3 more grant ids on the same sets: the cost of one more member
GRANT_MORE_BODY='
END {
    for (u = 0; u < N; u++) {
        a[1] = "SADD"; a[2] = "cc:{" (UID0 + u) "}:g"
        a[3] = "invite-" int(rand() * 9 + 1); a[4] = "task-" int(rand() * 90 + 10)
        a[5] = "daily-" int(rand() * 14 + 15)
        cmd(5)
    }
}'

# cc:draws: one entry per flip batch; at a shard's 200 draws/s a batch
# holds one new draw, the costliest case: ids 5 ms apart, d = one line
STREAM_BODY='
END {
    t = 1764240000123
    for (i = 0; i < N; i++) {
        t += 5
        a[1] = "XADD"; a[2] = "cc:draws"; a[3] = t "-0"; a[4] = "d"
        a[5] = (UID0 + int(rand() * 100000000)) ":" int(rand() * 20 + 1) ":" card() ":" t ":" rid()
        cmd(5)
    }
}'

redis_version=$(rcli info server | tr -d '\r' | awk -F: '$1 == "redis_version" { print $2 }')
redis_alloc=$(rcli info memory | tr -d '\r' | awk -F: '$1 == "mem_allocator" { print $2 }')

say "redis $redis_version ($redis_alloc) on 127.0.0.1:$rport, $USERS of each"

measure hash "$USERS" "$HASH_BODY" 0
mu_hash=$(rcli memory usage 'cc:{123400000}:u')
enc_hash=$(rcli object encoding 'cc:{123400000}:u')

# answers kept in the user hash (":<request id>" = "seq:card:left:period"):
# the same hashes with 5 answers each, minus the hashes alone
measure hash5 "$USERS" "$HASH_BODY" 5
result=$(( (hash5_total - hash_total + USERS * 5 / 2) / (USERS * 5) ))
mu_hash5=$(rcli memory usage 'cc:{123400000}:u')
enc_hash5=$(rcli object encoding 'cc:{123400000}:u')

measure set3 "$USERS" "$GRANT_BODY"
mu_set3=$(rcli memory usage 'cc:{123400000}:g' samples 0)
before=$(used)
awk -v N="$USERS" "$AWK_RESP $GRANT_MORE_BODY" | rcli --pipe >/dev/null
sleep 1.5
member=$(( ($(used) - before + USERS * 3 / 2) / (USERS * 3) ))
mu_set6=$(rcli memory usage 'cc:{123400000}:g' samples 0)
enc_set=$(rcli object encoding 'cc:{123400000}:g')
set_base=$((set3 - 3 * member))

measure stream "$USERS" "$STREAM_BODY"
mu_stream=$(rcli memory usage cc:draws samples 0)

say "  user hash     cc:{uid}:u, 8 fields ($enc_hash): $hash B/user (delta $hash_total B); MEMORY USAGE of one: $mu_hash"
say "  grant set     cc:{uid}:g, 3 ids ($enc_set): $set3 B/user (delta $set3_total B); MEMORY USAGE of one: $mu_set3"
say "                3 more ids: $member B/id; 6 ids: MEMORY USAGE $mu_set6; so $set_base B + $member B per id"
say "  kept answer   :<20-char id> = seq:card:left:period in the user hash: $result B/answer (5 a user: delta $hash5_total B, $enc_hash5; MEMORY USAGE of one: $mu_hash5)"
say "  stream entry  cc:draws d = one draw line: $stream B/entry (delta $stream_total B); MEMORY USAGE / $USERS: $((mu_stream / USERS))"

# ---- MySQL ------------------------------------------------------------------

mkdir -p "$tmp/m"
mariadb-install-db --no-defaults --datadir="$tmp/m/data" --user=root \
    --auth-root-authentication-method=normal --skip-test-db \
    >"$tmp/m/install.log" 2>&1 || { cat "$tmp/m/install.log" >&2; exit 1; }

mariadbd --no-defaults --datadir="$tmp/m/data" --user=root --port="$mport" \
    --bind-address=127.0.0.1 --socket="$tmp/m/sock" --pid-file="$tmp/m/pid" \
    --log-error="$tmp/m/error.log" --skip-log-bin \
    --innodb-buffer-pool-size=64M --skip-name-resolve 2>>"$tmp/m/stderr.log" &
mpid=$!

mcli() { mariadb --no-defaults -uroot --socket="$tmp/m/sock" "$@"; }

for _ in $(seq 300); do
    mcli -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$mpid" 2>/dev/null || { cat "$tmp/m/error.log" >&2; exit 1; }
    sleep 0.1
done

mcli -e 'CREATE DATABASE cc_m'
mcli cc_m <sql/shard.sql

# draws of MYSQL_USERS users x DRAWS, and their user_cards rows, each file
# in random order (cc-ingest writes the draws of interleaved users)
awk -v N="$MYSQL_USERS" -v D="$DRAWS" -v T="$tmp/m" "$AWK_RESP"'
END {
    t = 1764240000123
    for (u = 0; u < N; u++) {
        k[0] = k[1] = k[2] = k[3] = k[4] = 0
        for (s = 1; s <= D; s++) {
            c = card(); k[c]++
            printf "%.0f\t%d\t%d\t%d\t%s\t%.0f\n", rand() * 1e9, UID0 + u, s, c,
                   rid(), t + int(rand() * 1209600000) > (T "/draws.raw")
        }
        for (j = 0; j < 5; j++) {
            if (k[j]) printf "%.0f\t%d\t%d\t%d\n", rand() * 1e9, UID0 + u, j,
                             k[j] > (T "/cards.raw")
        }
    }
}' </dev/null

for f in draws cards; do
    sort -n -k1,1 "$tmp/m/$f.raw" | cut -f2- | split -l 5000 - "$tmp/m/$f."
    rm "$tmp/m/$f.raw"
done

{
    for f in "$tmp"/m/draws.[a-z]*; do
        say "LOAD DATA INFILE '$f' INTO TABLE draws (uid, seq, card, request_id, drawn_at);"
    done
    for f in "$tmp"/m/cards.[a-z]*; do
        say "LOAD DATA INFILE '$f' INTO TABLE user_cards (uid, card, n);"
    done
    say "ANALYZE TABLE draws, user_cards;"
} | mcli cc_m >/dev/null &
wait $!                               # in the background: a TERM stops it

mysql_version=$(mcli -N -e 'SELECT VERSION()')
say "mysql $mysql_version on 127.0.0.1:$mport, random-order loads in batches of 5000"

for t in draws user_cards; do
    read -r rows data index < <(mcli -N cc_m -e "
        SELECT (SELECT COUNT(*) FROM $t), data_length, index_length
        FROM information_schema.tables
        WHERE table_schema = 'cc_m' AND table_name = '$t'")
    file=$(stat -c %s "$tmp/m/data/cc_m/$t.ibd")
    eval "row_$t=$(( (data + index + rows / 2) / rows ))"
    say "  $t: $rows rows, data_length $data + index_length $index: $(( (data + index + rows / 2) / rows )) B/row (the .ibd file: $file B, $(( file / rows )) B/row)"
done

# ---- Kafka ------------------------------------------------------------------

# a draw as the module sends it, encoded by the project's own encoder
cat >"$tmp/enc.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cc_event.h"
int main(void) {
    cc_draw_t d = { 123456789, 12, 3, 1764240000123LL, "abcdefghij0123456789" };
    char *s = cc_draw_encode(&d);
    if (s == NULL) return 1;
    printf("%s\n", s);
    free(s);
    return 0;
}
C
cc -std=gnu99 -Icommon -o "$tmp/enc" "$tmp/enc.c" common/cc_event.c \
    common/cc_ids.c common/cc_cards.c -lcjson
json=$(cd "$top" && "$tmp/enc")
key=123456789

# The v2 message format (KIP-98; Kafka's DefaultRecord / DefaultRecordBatch):
# a record is varint length, attributes int8, varint timestampDelta, varint
# offsetDelta, varint keyLength, key, varint valueLength, value, varint
# header count; a batch is a 61-byte header (baseOffset 8, batchLength 4,
# partitionLeaderEpoch 4, magic 1, crc 4, attributes 2, lastOffsetDelta 4,
# baseTimestamp 8, maxTimestamp 8, producerId 8, producerEpoch 2,
# baseSequence 4, record count 4) and its records.  Varints are zigzag.
read -r body framing < <(perl -e '
    sub vl { my $v = $_[0] >= 0 ? 2 * $_[0] : -2 * $_[0] - 1; my $n = 1;
             while ($v >= 128) { $v >>= 7; $n++ } $n }
    my ($k, $v) = @ARGV;
    my $body = 1 + vl(0) + vl(0) + vl($k) + $k + vl($v) + $v + vl(0);
    my $rec = vl($body) + $body;
    print $rec, " ", $rec - $k - $v, "\n"' "${#key}" "${#json}")

say "kafka: the value of a draw (cc_draw_encode, 9-digit uid, seq 12, 20-char request id):"
say "  $json"
say "  value ${#json} B, key (the uid) ${#key} B, record framing $framing B (record $body B), batch header 61 B"
say "  one record per batch: $((61 + body)) B a message; uncompressed (the producers set no compression.codec)"

cat <<EOF

constants for tools/estimate/cc_estimate_storage.c (measured $(date -u +%F), redis $redis_version, MariaDB ${mysql_version%%-*}):
#define CC_EST_REDIS_USER_HASH     $hash
#define CC_EST_REDIS_GRANT_SET     $set_base
#define CC_EST_REDIS_GRANT_ID      $member
#define CC_EST_REDIS_ANSWER        $result
#define CC_EST_REDIS_STREAM_ENTRY  $stream
#define CC_EST_KAFKA_VALUE         ${#json}
#define CC_EST_KAFKA_KEY           ${#key}
#define CC_EST_KAFKA_RECORD        $framing
#define CC_EST_KAFKA_BATCH         61
#define CC_EST_MYSQL_DRAW_ROW      $row_draws
#define CC_EST_MYSQL_CARD_ROW      $row_user_cards
EOF
