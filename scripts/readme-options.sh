#!/bin/bash
# readme-options.sh: rewrites README.md's worker reference, between the
# lines "<!-- options:begin -->" and "<!-- options:end -->", from each
# binary's own --help, so the README lists every option with its default
# exactly as the binary does.  t/018-readme.t fails when they differ; run
# this after changing a --help text:   make -s all && scripts/readme-options.sh
# With --check it changes nothing: exit 0 when the README is up to date,
# 1 with the difference when not.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case $mode in ''|--check) ;; *) echo "usage: scripts/readme-options.sh [--check]" >&2; exit 2 ;; esac
W=build/workers
[ -x "$W/cc-ingest" ] || { echo "readme-options: build first (make all)" >&2; exit 2; }

{
    echo '<!-- options:begin -->'
    for b in cc-ingest cc-reconcile "cc-reconcile --money" cc-draw cc-payout \
             cc-estimate "cc-estimate --capacity" cc-token cc-mockbroker \
             cc-produce cc-wallet-sim; do
        set -- $b
        echo
        echo "#### \`$b\`"
        echo
        "$W/$1" "${@:2}" --help | sed 's/^\(.\)/    \1/'
    done
    echo
    echo '<!-- options:end -->'
} > README.options.tmp

awk -v f=README.options.tmp '
    /^<!-- options:begin -->$/ { while ((getline l < f) > 0) print l; skip = 1; next }
    /^<!-- options:end -->$/   { skip = 0; next }
    !skip' README.md > README.md.tmp
rm README.options.tmp
grep -q '^<!-- options:begin -->$' README.md.tmp \
    || { rm README.md.tmp; echo "readme-options: no options markers in README.md" >&2; exit 1; }
if [ "$mode" = --check ]; then
    diff -u README.md README.md.tmp >&2 && status=0 || status=1
    rm README.md.tmp
    exit $status
fi
mv README.md.tmp README.md
