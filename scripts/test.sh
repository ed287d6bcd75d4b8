#!/bin/sh
# test.sh: everything a fresh Debian 12 machine needs to run every test:
# install missing packages, build, run the unit tests (Check) and the
# nginx suite (prove).  The suite starts its own redis-server, nginx and
# mariadbd on free loopback ports under a temporary folder.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j2 all
make test
