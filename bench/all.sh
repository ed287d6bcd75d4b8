#!/bin/bash
# bench/all.sh: every benchmark in one command, and bench/RESULTS.md.
#
#   flip    bench/flip.sh, CEILING=1 CPU=1: the module against the OpenResty
#           peer (PEERS) and a plain nginx `return 200`, with the CPU time
#           per flip of nginx, Redis and wrk
#   ingest  bench/ingest.sh: cc-ingest into 2 MySQL shards (goal 50k/s)
#   draw    bench/draw.sh: cc-draw over 2 shards, and the storage's limit
#           (INSERT ... SELECT) in the same run (goal: 10M in < 60 s)
#   payout  bench/payout.sh: credits/s into 2 shards (goal 50k/s), and
#           the storage's limit (the same rows set-based) in the same run
#           (goal: the payout at >= 0.5 of it)
#   claim   bench/claim.sh: POST /cc/claim at a steady rate while
#           cc-payout credits a backlog (goal p99 < 50 ms)
#   gift    bench/gift.sh: POST /cc/gift, giver and receiver on different
#           Redis shards, against POST /cc/flip in the same run (goals:
#           throughput ratio >= 0.5, p99 ratio <= 2)
#
# RESULTS.md holds each figure, its ratio against its peer or goal, the
# command that measured it, the date, the commit and the machine (cores,
# CPU model, RAM, load average before and after).  cc-estimate reads its
# table (the rows are "| figure | value | unit | ...").  Each bench's
# whole output is kept next to it in bench/results/NAME.txt.
#
# Env: QUICK=1     small sizes, a check that everything runs (its figures
#                  are marked as such: not for quoting)
#      ONLY        the benches to run, of "flip ingest draw payout http
#                  claim gift" (http: bench/payout-http.sh)
#      PEERS       the peers folder (default ../shared/peers)
#      RESULTS     the file to write (default bench/RESULTS.md)
#      sizes:      FLIP_ROUNDS (3) FLIP_DURATION (10s) INGEST_DRAWS (400000)
#                  DRAW_USERS (10000000) PAYOUT_AWARDS (1000000)
#                  CLAIM_AWARDS (1500000) CLAIM_RATE (200)
#                  CLAIM_DURATION (20s) GIFT_ROUNDS (3) GIFT_DURATION (10s)
# The "Failover" section of RESULTS.md (bench/failover.sh, by hand) is
# kept as it is.
# Exit 1 when a bench failed (its row says so; the others still run).
set -u -o pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

QUICK=${QUICK:-0}
ONLY=${ONLY:-flip ingest draw payout http claim gift}
PEERS=${PEERS:-$top/../shared/peers}
RESULTS=${RESULTS:-bench/RESULTS.md}
if [ "$QUICK" = 1 ]; then
    d_rounds=1 d_dur=3s d_draws=50000 d_users=200000 d_payout=100000
    d_cawards=200000 d_rate=50 d_cdur=3s d_http=20000 d_grounds=1 d_gdur=3s
else
    d_rounds=3 d_dur=10s d_draws=400000 d_users=10000000 d_payout=1000000
    d_cawards=1500000 d_rate=200 d_cdur=20s d_http=100000 d_grounds=3 d_gdur=10s
fi
FLIP_ROUNDS=${FLIP_ROUNDS:-$d_rounds} FLIP_DURATION=${FLIP_DURATION:-$d_dur}
INGEST_DRAWS=${INGEST_DRAWS:-$d_draws} DRAW_USERS=${DRAW_USERS:-$d_users}
PAYOUT_AWARDS=${PAYOUT_AWARDS:-$d_payout} HTTP_AWARDS=${HTTP_AWARDS:-$d_http}
CLAIM_AWARDS=${CLAIM_AWARDS:-$d_cawards} CLAIM_RATE=${CLAIM_RATE:-$d_rate}
CLAIM_DURATION=${CLAIM_DURATION:-$d_cdur}
GIFT_ROUNDS=${GIFT_ROUNDS:-$d_grounds} GIFT_DURATION=${GIFT_DURATION:-$d_gdur}

for b in $ONLY; do
    case $b in
    flip|ingest|draw|payout|http|claim|gift) ;;
    *) echo "all.sh: ONLY: unknown bench \"$b\"" \
            "(flip ingest draw payout http claim gift)" >&2; exit 2 ;;
    esac
done
case " $ONLY " in
*" flip "*)
    if [ ! -x "$PEERS/openresty/up.sh" ]; then
        echo "all.sh: no peer at PEERS=$PEERS (from a git worktree, set" \
             "PEERS to the shared peers folder)" >&2
        exit 2
    fi ;;
esac

logs=bench/results
mkdir -p "$logs"
rows=$(mktemp /tmp/cc-bench-all.XXXXXX)
trap 'rm -f "$rows"' EXIT
failed=

# row NAME VALUE UNIT AGAINST RATIO COMMAND
row() { printf '| %s | %s | %s | %s | %s | `%s` |\n' "$@" >> "$rows"; }

# the median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# run NAME COMMAND...: the bench's output to the terminal and the log
run() {
    local name=$1
    shift
    echo "== $name: $*"
    if ! env -u USERS -u BATCH -u DURATION -u ROUNDS -u AWARDS -u DRAWS \
         -u RATE -u CONNS -u THREADS "$@" 2>&1 | tee "$logs/$name.txt"
    then
        failed="$failed $name"
        row "$name" failed - "see bench/results/$name.txt" - "${*#env }"
        return 1
    fi
}

# per_second NAME UNIT CMD: runs a bench whose figure is "...: N UNIT/s"
# in its output, and its row against the goal of 50000 UNIT/s
per_second() {
    local name=$1 unit=$2 cmd=$3 v
    # shellcheck disable=SC2086
    run "$name" env $cmd || return 0
    v=$(sed -n "s/.*: \([0-9]*\) $unit\/s.*/\1/p" "$logs/$name.txt")
    row "$name" "$v" "$unit/s" "goal 50000" "$(ratio "$v" 50000)" "$cmd"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git describe --always --dirty 2>/dev/null)   # before the results change the tree

for b in $ONLY; do
    case $b in
    flip)
        cmd="PEERS=$PEERS ROUNDS=$FLIP_ROUNDS DURATION=$FLIP_DURATION"
        cmd="$cmd CEILING=1 CPU=1 bench/flip.sh"
        # shellcheck disable=SC2086
        run flip env $cmd || continue
        f=$logs/flip.txt
        read -r mrps mp99 <<< "$(awk '/^module:/ { print $2, $5 }' "$f")"
        read -r prps pp99 <<< "$(awk '/^peer:/ { print $2, $5 }' "$f")"
        lrps=$(awk '/^plain:/ { print $2 }' "$f")
        # ns a flip: the median over the rounds; nginx is its workers' sum
        cpu() {
            awk -v p="$1" '/^round/ { r++ } $1 == "cpu" && index($0, p) {
                    s[r] += $(NF - 1) }
                END { for (i in s) printf "%d\n", s[i] * 1000 }' "$f" | median
        }
        rns=$(cpu redis-server) nns=$(cpu nginx) wns=$(cpu ' wrk ')
        row "flip, module" "$mrps" flips/s "flip, peer: $prps" \
            "$(ratio "$mrps" "$prps") (goal >= 2)" "$cmd"
        row "flip, peer" "$prps" flips/s "-" "-" "$cmd"
        row "flip, plain nginx" "$lrps" req/s "flip, peer: $prps" \
            "$(ratio "$lrps" "$prps"); module/plain $(ratio "$mrps" "$lrps")" \
            "$cmd"
        row "flip, module p99" "$mp99" us "flip, peer p99: $pp99 us" \
            "$(ratio "$mp99" "$pp99") (goal <= 0.5)" "$cmd"
        row "flip, nginx cpu" "$nns" ns/flip "-" "all workers" "$cmd"
        row "flip, redis cpu" "$rns" ns/flip "-" "one Redis, one core at most" \
            "$cmd"
        row "flip, wrk cpu" "$wns" ns/flip "-" "the client" "$cmd"
        ;;
    ingest)
        per_second ingest draws "DRAWS=$INGEST_DRAWS bench/ingest.sh"
        ;;
    draw)
        cmd="USERS=$DRAW_USERS bench/draw.sh"
        # shellcheck disable=SC2086
        run draw env $cmd || continue
        # "cc-draw: N awards in T s (R/s, ...", "storage limit: N rows in
        # T s (R/s, ..."
        read -r n t v <<< "$(awk '/^cc-draw:/ { gsub(/[(\/s,]/, "", $7)
                                  print $2, $5, $7 }' "$logs/draw.txt")"
        read -r lt lv <<< "$(awk '/^storage limit:/ { gsub(/[(\/s,]/, "", $8)
                                   print $6, $8 }' "$logs/draw.txt")"
        row draw "$v" awards/s "draw, storage limit: $lv" \
            "$(ratio "$v" "$lv"); $n awards in $t s (goal 10M in < 60 s)" "$cmd"
        row "draw, storage limit" "$lv" rows/s "-" \
            "$n rows in $lt s, INSERT ... SELECT" "$cmd"
        ;;
    payout)
        cmd="AWARDS=$PAYOUT_AWARDS bench/payout.sh"
        # shellcheck disable=SC2086
        run payout env $cmd || continue
        f=$logs/payout.txt
        # "credited and notified ...: N credits/s", "storage limit: ...: N
        # credits/s", "payout / storage limit = R", "cpu s per 1000
        # credits: cc-payout X (...), mariadbd Y, redis Z; in the limit
        # mariadbd W"
        v=$(sed -n 's/^credited and notified .*: \([0-9]*\) credits\/s.*/\1/p' "$f")
        lv=$(sed -n 's/^storage limit: .*: \([0-9]*\) credits\/s.*/\1/p' "$f")
        r=$(sed -n 's/^payout \/ storage limit = \([0-9.]*\).*/\1/p' "$f")
        read -r pc mc lc <<< "$(awk '/^cpu s per 1000 credits:/ {
                for (i = 1; i < NF; i++) {
                    if ($i == "cc-payout") p = $(i + 1)
                    if ($i == "mariadbd" && m == "") { m = $(i + 1); sub(/,/, "", m) }
                    else if ($i == "mariadbd") l = $(i + 1)
                }
                printf "%.2f %.2f %.2f", p * 100, m * 100, l * 100 }' "$f")"
        row payout "$v" credits/s "goal 50000" "$(ratio "$v" 50000)" "$cmd"
        row "payout, storage limit" "$lv" credits/s "payout: $v" \
            "payout/limit $r (goal >= 0.5); cpu s per 100k credits: cc-payout $pc, mariadbd $mc (the limit's $lc)" \
            "$cmd"
        ;;
    http)
        cmd="AWARDS=$HTTP_AWARDS bench/payout-http.sh"
        # shellcheck disable=SC2086
        run payout-http env $cmd || continue
        f=$logs/payout-http.txt
        l=$(sed -n 's/^ledger only: .*: \([0-9]*\) credits\/s.*/\1/p' "$f")
        h=$(sed -n 's/^wallet http: .*: \([0-9]*\) credits\/s.*/\1/p' "$f")
        b=$(sed -n 's/^batch http: .*: \([0-9]*\) credits\/s.*/\1/p' "$f")
        cpu=$(sed -n 's/^cpu per 100k credits, htb: //p' "$f")
        mb=$(sed -n 's/^batch http \/ ledger, MySQL bound = \([0-9.]*\).*/\1/p' "$f")
        row "payout, wallet http" "$h" credits/s "payout, ledger only: $l" \
            "$(ratio "$h" "$l") (goal >= 0.5; per_credit, 64 in flight)" \
            "$cmd"
        row "payout, batch http" "$b" credits/s "payout, ledger only: $l" \
            "$(ratio "$b" "$l") (goal >= 0.7; MySQL bound $mb; batches of \
1000; cpu per 100k: $cpu)" "$cmd"
        ;;
    claim)
        cmd="AWARDS=$CLAIM_AWARDS RATE=$CLAIM_RATE"
        cmd="$cmd DURATION=$CLAIM_DURATION bench/claim.sh"
        # shellcheck disable=SC2086
        run claim env $cmd || continue
        read -r r p50 p99 <<< "$(awk '/^claim latency at / {
                for (i = 1; i < NF; i++) {
                    if ($i == "p50" && a == "") a = $(i + 1)
                    if ($i == "p99" && b == "") b = $(i + 1)
                }
                print $4, a, b }' "$logs/claim.txt")"
        row "claim p99" "$p99" us "goal 50000 us" \
            "$(ratio "$p99" 50000) (p50 $p50 us, at $r claims/s)" "$cmd"
        ;;
    gift)
        cmd="ROUNDS=$GIFT_ROUNDS DURATION=$GIFT_DURATION bench/gift.sh"
        # shellcheck disable=SC2086
        run gift env $cmd || continue
        f=$logs/gift.txt
        read -r frps fp99 <<< "$(awk '/^flip:/ { print $2, $5 }' "$f")"
        read -r grps gp99 <<< "$(awk '/^gift:/ { print $2, $5 }' "$f")"
        r=$(sed -n 's/^gift\/flip throughput: //p' "$f")
        p=$(sed -n 's/^gift\/flip p99: //p' "$f")
        row "gift, cross-shard" "$grps" gifts/s "flip, same run: $frps" \
            "$r (goal >= 0.5)" "$cmd"
        row "gift p99" "$gp99" us "flip p99, same run: $fp99 us" \
            "$p (goal <= 2)" "$cmd"
        ;;
    esac
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cores=$(nproc)
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ram=$(awk '/^MemTotal/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)

# bench/failover.sh's section is not this script's: written by hand from
# one run of it (a few minutes, four mariadbd), kept across these runs
failover=$(sed -n '/^## Failover/,$p' "$RESULTS" 2>/dev/null)
{
    echo "# Benchmark results"
    echo
    if [ "$QUICK" = 1 ]; then
        echo "**QUICK=1: shrunk sizes, a check that every bench runs.  Not"
        echo "figures to quote or to plan with.**"
        echo
    fi
    q=$([ "$QUICK" = 1 ] && echo 'QUICK=1 ')
    echo "Written by \`bench/all.sh\` (${q}ONLY=\"$ONLY\")"
    echo "on $started, commit $commit."
    echo "Each bench ran on this one machine: servers, workers and the"
    echo "client share its cores.  Whole outputs: \`bench/results/*.txt\`."
    echo
    echo "## Machine"
    echo
    echo "- cores: $cores"
    echo "- cpu: $model"
    echo "- ram: $ram GiB"
    echo "- load average (1, 5, 15 min): $load_before before, $load_after after"
    echo
    echo "## Figures"
    echo
    echo "| figure | value | unit | against | ratio | command |"
    echo "| --- | --- | --- | --- | --- | --- |"
    cat "$rows"
    echo
    echo "Ratios: flip module/peer and the p99s from the same run, A B A B"
    echo "(medians over the rounds); the CPU rows are the medians of"
    echo "ns per module flip; ingest, payout and claim against their goals;"
    echo "the draw against the storage's own INSERT ... SELECT of as many"
    echo "rows, in the same run; the payout against the same rows written"
    echo "set-based (INSERT ... SELECT, UPDATE) for as many awards, in the"
    echo "same run; the HTTP wallet payout against the"
    echo "ledger-only payout of as many awards, in the same run (the"
    echo "simulated wallet on the same cores); the gift against the flip"
    echo "on the same 2 Redis shards and nginx, flip gift flip gift"
    echo "(medians).  ingest, draw and payout write into 2 MySQL shards on"
    echo "one mariadbd; the claim and gift benches have 2 Redis shards."
    echo "\`cc-estimate --capacity\` reads this table: its per-node figures"
    echo "are these, from a ${cores}-core machine."
    if [ -n "$failover" ]; then echo; echo "$failover"; fi
} > "$RESULTS"

echo
echo "wrote $RESULTS"
sed -n '/^| figure/,/^$/p' "$RESULTS"
# the README's capacity example is cc-estimate over these figures
if [ "$RESULTS" = bench/RESULTS.md ] && [ -z "$failed" ]; then
    scripts/readme-gen.sh && echo "README.md: the capacity example rewritten from $RESULTS"
fi
if [ -n "$failed" ]; then
    echo "failed:$failed" >&2
    exit 1
fi
