#!/bin/sh
# Installs the Debian 12 packages slitail builds, tests and demos with, when any is missing.
# Needs root (or sudo) only when something has to be installed.
set -eu
PKGS="cmake make gcc pkg-config libpcre2-dev zlib1g-dev libuv1-dev libmsgpack-dev
libhiredis-dev libyaml-dev libjansson-dev libhttp-parser-dev libcmocka-dev
libssl-dev openssl libcurl4-openssl-dev stunnel4
redis-server redis-tools python3 python3-msgpack"
[ "${1:-}" = "--bench" ] && PKGS="$PKGS mtail goaccess hyperfine time"
[ "${1:-}" = "--fuzz" ] && PKGS="$PKGS clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
