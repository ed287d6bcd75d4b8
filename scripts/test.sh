#!/bin/sh
# test.sh: everything a fresh Debian 12 machine needs to run every test:
# install missing packages, build, run the unit tests (Check) and the
# nginx suite (prove), then the suite again with the module and the
# workers built with AddressSanitizer and UndefinedBehaviorSanitizer
# (`make test-asan`: any report fails it).  The suite starts its own
# redis-server, nginx and mariadbd on free loopback ports under a
# temporary folder.  Each pass prints its time.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j2 all
start=$(date +%s)
make test
echo "test.sh: the suite took $(( $(date +%s) - start ))s"
start=$(date +%s)
make -j2 asan
make test-asan
echo "test.sh: the ASan/UBSan suite took $(( $(date +%s) - start ))s"
