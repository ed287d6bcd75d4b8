#!/bin/sh
# test.sh: everything a fresh Debian 12 machine needs to run every test:
# install missing packages, build, run the unit tests (Check) and the
# nginx suite (prove), then the suite again with the module and the
# workers built with AddressSanitizer and UndefinedBehaviorSanitizer
# (`make test-asan`: any report fails it).  The suite starts its own
# redis-server, nginx and mariadbd on free loopback ports under a
# temporary folder.  Each pass prints its time.  The chaos run (t/055)
# is in the ASan pass only (below).
set -eu
cd "$(dirname "$0")/.."
# A failed test file's diagnostics (t/lib/CcTest/Failure.pm): CI keeps the
# tail of this output, so a failed pass ends with the last lines of each.
CC_FAIL_DIR=$(pwd)/build/failed
export CC_FAIL_DIR
failed() {      # failed PASS: print what the failed files said, then fail
    for f in "$CC_FAIL_DIR"/*.diag; do
        [ -e "$f" ] || continue
        echo "== $(basename "$f" .diag): the last 40 lines it said"
        tail -n 40 "$f"
    done
    echo "test.sh: $1 failed"
    exit 1
}
scripts/deps.sh
make -j2 all
start=$(date +%s)
# The plain pass leaves out t/055 (bench/chaos.sh, SHORT): the ASan pass
# below runs the same script with the same checks on the sanitized module
# and workers, and the two runs took 65 s each of the 15 minutes CI has.
# (`make test` alone, or prove t/055-chaos.t, still runs it.)
rm -rf "$CC_FAIL_DIR"
make test PROVE_FILES="$(ls t/*.t | grep -vx 't/055-chaos.t' | tr '\n' ' ')" \
    || failed "the suite"
echo "test.sh: the suite took $(( $(date +%s) - start ))s"
start=$(date +%s)
make -j2 asan
rm -rf "$CC_FAIL_DIR"
make test-asan || failed "the ASan/UBSan suite"
echo "test.sh: the ASan/UBSan suite took $(( $(date +%s) - start ))s"
