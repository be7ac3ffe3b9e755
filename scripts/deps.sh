#!/bin/sh
# Installs the Debian 12 packages slitail builds, tests and demos with, when any is missing.
# Needs root (or sudo) only when something has to be installed.
set -eu
PKGS="cmake make gcc pkg-config libpcre2-dev zlib1g-dev libuv1-dev libmsgpack-dev
libhiredis-dev libyaml-dev libjansson-dev libhttp-parser-dev libcmocka-dev
libssl-dev openssl libcurl4-openssl-dev libexpat1-dev stunnel4
redis-server redis-tools python3 python3-msgpack"
# the dashboard test renders the page in a real headless browser
PKGS="$PKGS chromium"
# promtool (metrics test), a real Alertmanager (alerts over https), the package test
PKGS="$PKGS prometheus prometheus-alertmanager dpkg-dev lintian systemd"
# npm for tests/s3 (a node that bundles npm, as nodesource's does, is fine as it is)
command -v npm >/dev/null || PKGS="$PKGS nodejs npm"
[ "${1:-}" = "--bench" ] && PKGS="$PKGS mtail goaccess hyperfine time"
[ "${1:-}" = "--fuzz" ] && PKGS="$PKGS clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
# the S3-compatible server of the agent's S3 input tests, pinned by tests/s3/package-lock.json
s3_server() {
    d="$(dirname "$0")/../tests/s3"
    [ -d "$d/node_modules/s3rver" ] || ! command -v npm >/dev/null ||
        (cd "$d" && npm ci --no-audit --no-fund --silent) ||
        echo "deps: npm ci in tests/s3 failed: the S3 input test will fail" >&2
}
[ -z "$missing" ] && { s3_server; exit 0; }
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
s3_server
