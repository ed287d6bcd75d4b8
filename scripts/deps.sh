#!/bin/sh
# deps.sh: install the Debian packages the project needs, if any is missing.
# Run as root on Debian 12.  Installs nothing when everything is there.
#
#   scripts/deps.sh            build, test and demo packages
#   scripts/deps.sh bench      also wrk, time, ss and the OpenResty peer's packages
#   scripts/deps.sh valgrind   also valgrind (make test-valgrind)
set -eu

pkgs="build-essential pkg-config curl ca-certificates
      nginx nginx-dev libhiredis-dev libssl-dev redis-server redis-sentinel
      mariadb-server mariadb-client libmariadb-dev librdkafka-dev
      libcjson-dev check lua5.1 libstatistics-distributions-perl prometheus
      libtest-base-perl libipc-run-perl libtext-diff-perl
      clang libclang-rt-14-dev
      libcurl4-openssl-dev libmicrohttpd-dev"

case ${1:-} in
    '') ;;
    bench) pkgs="$pkgs wrk time iproute2 libnginx-mod-http-lua lua-nginx-redis lua-cjson" ;;
    valgrind) pkgs="$pkgs valgrind" ;;
    *) echo "usage: scripts/deps.sh [bench | valgrind]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
         | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing; run as root to install them" >&2
    exit 1
fi

echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
