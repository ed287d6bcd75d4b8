#!/bin/bash
# readme-gen.sh: rewrites the two parts of README.md that programs print,
# so the README never drifts from them:
#   - "Every worker option", between "<!-- options:begin -->" and
#     "<!-- options:end -->": each binary's own --help;
#   - the capacity example, between "<!-- capacity:begin -->" and
#     "<!-- capacity:end -->": cc-estimate --capacity over bench/RESULTS.md.
# t/018-readme.t fails when they differ.  Run it after changing a --help
# text or after bench/all.sh:   make -s all && scripts/readme-gen.sh
# With --check it changes nothing: exit 0 when the README is up to date,
# 1 with the difference when not.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case $mode in ''|--check) ;; *) echo "usage: scripts/readme-gen.sh [--check]" >&2; exit 2 ;; esac
W=build/workers
[ -x "$W/cc-ingest" ] || { echo "readme-gen: build first (make all)" >&2; exit 2; }
CAPACITY="--capacity --users 300000000 --peak-flips 900000 --eligible-fraction 0.4"

options() {
    for b in cc-ingest cc-reconcile "cc-reconcile --money" cc-redrive cc-draw cc-payout \
             cc-estimate "cc-estimate --capacity" cc-token cc-mockbroker \
             cc-produce cc-wallet-sim; do
        set -- $b
        echo
        echo "#### \`$b\`"
        echo
        "$W/$1" "${@:2}" --help | sed 's/^\(.\)/    \1/'
    done
    echo
}

capacity() {
    echo
    echo "    \$ cc-estimate $CAPACITY"
    # shellcheck disable=SC2086
    "$W/cc-estimate" $CAPACITY --results bench/RESULTS.md \
        | sed -n '/^planned load/,/^assumptions/p' | sed '$d' \
        | sed 's/^\(.\)/    \1/'
}

# splice NAME FILE: the lines between NAME's markers become FILE's
splice() {
    awk -v name="$1" -v f="$2" '
        $0 == "<!-- " name ":begin -->" { print; while ((getline l < f) > 0) print l; skip = 1; found++; next }
        $0 == "<!-- " name ":end -->"   { skip = 0 }
        !skip
        END { if (found != 1) exit 1 }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
options > "$tmp/options"
capacity > "$tmp/capacity"
splice options "$tmp/options" < README.md > "$tmp/r1" \
    || { echo "readme-gen: no options markers in README.md" >&2; exit 1; }
splice capacity "$tmp/capacity" < "$tmp/r1" > "$tmp/r2" \
    || { echo "readme-gen: no capacity markers in README.md" >&2; exit 1; }

if [ "$mode" = --check ]; then
    diff -u README.md "$tmp/r2" >&2 && exit 0 || exit 1
fi
cp "$tmp/r2" README.md
