#!/bin/sh
# Debian packages of the build in $BUILD (default build): slitail (CLI, config, docs),
# slitail-agent and slitail-aggregator, into $BUILD/pkg/. Run by `make package`; see
# docs/PACKAGING.md. Needs dpkg-dev (dpkg-deb, dpkg-shlibdeps); lintian is run by
# `make package-lint`.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
OUT=${OUT:-$BUILD/pkg}
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/slt-pkg.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
VERSION=$("$BUILD/bin/slitail" --version | awk '{print $2}')
REVISION=$("$BUILD/bin/slitail" --version | sed 's/.*(git \(.*\))/\1/')
DEBVER=${SLT_DEB_VERSION:-$VERSION-1}
ARCH=$(dpkg --print-architecture)
MAINT=${SLT_DEB_MAINTAINER:-"slitail maintainers <slitail@example.org>"}
DATE=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}")

rm -rf "$OUT"
mkdir -p "$OUT"

# --- the trees ---------------------------------------------------------------------------
# install DIR MODE FILE... : copies FILEs into the staged package tree DIR
inst() {
    dir=$1 mode=$2
    shift 2
    mkdir -p "$dir"
    for f in "$@"; do
        install -m "$mode" "$f" "$dir/"
    done
}

# man pages and docs are compressed with gzip -9n (reproducible, as dh_compress does)
man_page() { # PKGDIR SECTION FILE
    mkdir -p "$1/usr/share/man/man$2"
    gzip -9n <"$3" >"$1/usr/share/man/man$2/$(basename "$3").gz"
}

doc_common() { # PKG
    d=$STAGE/$1/usr/share/doc/$1
    mkdir -p "$d"
    cat >"$d/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: slitail
Source: https://github.com/slitail/slitail

Files: *
Copyright: 2026 the slitail authors
License: proprietary
 The slitail authors have not published these sources under a free license yet; this
 package may be used and redistributed only within the organisation that built it.
EOF
    printf 'slitail (%s) unstable; urgency=medium\n\n  * Built from git %s.\n\n -- %s  %s\n' \
        "$DEBVER" "$REVISION" "$MAINT" "$DATE" | gzip -9n >"$d/changelog.Debian.gz"
}

P=$STAGE/slitail
inst "$P/usr/bin" 0755 "$BUILD/bin/slitail"
inst "$P/etc/slitail" 0644 "$ROOT/packaging/slitail.yaml"
man_page "$P" 1 "$ROOT/packaging/man/slitail.1"
"$BUILD/tools/slt_gen_yaml_man" >"$STAGE/slitail.yaml.5"
man_page "$P" 5 "$STAGE/slitail.yaml.5"
doc_common slitail
gzip -9n <"$ROOT/README.md" >"$P/usr/share/doc/slitail/README.md.gz"
mkdir -p "$P/usr/share/doc/slitail/docs" "$P/usr/share/doc/slitail/examples"
for f in "$ROOT"/docs/*.md; do
    gzip -9n <"$f" >"$P/usr/share/doc/slitail/docs/$(basename "$f").gz"
done
install -m 0644 "$ROOT/examples/slitail.yaml" "$P/usr/share/doc/slitail/examples/"

for d in agent aggregator; do
    P=$STAGE/slitail-$d
    inst "$P/usr/bin" 0755 "$BUILD/bin/slitail-$d"
    inst "$P/lib/systemd/system" 0644 "$ROOT/packaging/systemd/slitail-$d.service"
    inst "$P/usr/lib/sysusers.d" 0644 "$ROOT/packaging/sysusers/slitail-$d.conf"
    man_page "$P" 8 "$ROOT/packaging/man/slitail-$d.8"
    doc_common "slitail-$d"
done
strip_all() {
    for b in "$STAGE"/*/usr/bin/*; do
        strip --remove-section=.comment --remove-section=.note --strip-unneeded "$b"
    done
}
strip_all

# --- control files -----------------------------------------------------------------------
# dpkg-shlibdeps wants a debian/control beside it
mkdir -p "$STAGE/src/debian"
printf 'Source: slitail\n\nPackage: slitail\nArchitecture: any\n' \
    >"$STAGE/src/debian/control"
shlibs() { # BINARY -> "libc6 (>= 2.34), ..."
    (cd "$STAGE/src" && dpkg-shlibdeps -O -e"$1" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
}

control() { # PKG DEPENDS SUMMARY DESCRIPTION
    P=$STAGE/$1
    mkdir -p "$P/DEBIAN"
    size=$(du -sk --exclude=DEBIAN "$P" | cut -f1)
    cat >"$P/DEBIAN/control" <<EOF
Package: $1
Version: $DEBVER
Architecture: $ARCH
Maintainer: $MAINT
Installed-Size: $size
Depends: $2
Section: admin
Priority: optional
Homepage: https://github.com/slitail/slitail
Description: $3
$4
EOF
    (cd "$P" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
        xargs md5sum >DEBIAN/md5sums)
}

control slitail "$(shlibs "$STAGE/slitail/usr/bin/slitail"), libcurl4" \
    "SLIs, SLOs and error budgets from web access logs (command line)" \
" slitail turns web access logs (nginx, Apache, AWS ALB, HAProxy, Envoy...)
 into Service Level Indicators, SLOs, error budgets and burn-rate alerts.
 .
 This package has the command line (check log files against SLI rules,
 explain a line, run rule tests, query an aggregator), the shared
 configuration file /etc/slitail/slitail.yaml and the documentation."
echo "/etc/slitail/slitail.yaml" >"$STAGE/slitail/DEBIAN/conffiles"

SYSUSERS="systemd | systemd-standalone-sysusers | systemd-sysusers"
# libcurl4: slitail-agent opens it with dlopen() for S3 inputs (net/src/curl_dl.c)
control slitail-agent "$(shlibs "$STAGE/slitail-agent/usr/bin/slitail-agent"), libcurl4, slitail (= $DEBVER), $SYSUSERS" \
    "SLIs, SLOs and error budgets from web access logs (agent)" \
" slitail turns web access logs into Service Level Indicators, SLOs, error
 budgets and burn-rate alerts.
 .
 This package has slitail-agent, which tails the access logs of a web host
 through rotation and ships per-minute SLI counters exactly once to a
 slitail-aggregator, and its hardened systemd unit."
control slitail-aggregator "$(shlibs "$STAGE/slitail-aggregator/usr/bin/slitail-aggregator"), slitail (= $DEBVER), $SYSUSERS" \
    "SLIs, SLOs and error budgets from web access logs (aggregator)" \
" slitail turns web access logs into Service Level Indicators, SLOs, error
 budgets and burn-rate alerts.
 .
 This package has slitail-aggregator, which applies the agents' counters to
 Redis, serves an HTTP API, Prometheus metrics and a dashboard, and sends
 burn-rate alerts to Alertmanager, a webhook or PagerDuty; and its hardened
 systemd unit."

# maintainer scripts of the daemons: the system user, the unit's state (debhelper's snippets,
# DPKG_ROOT-aware so that `dpkg --root` installs work)
for d in agent aggregator; do
    u=slitail-$d
    P=$STAGE/$u/DEBIAN
    sed "s/@UNIT@/$u.service/g; s/@PKG@/$u/g" "$ROOT/packaging/debian/postinst" >"$P/postinst"
    sed "s/@UNIT@/$u.service/g; s/@PKG@/$u/g" "$ROOT/packaging/debian/prerm" >"$P/prerm"
    sed "s/@UNIT@/$u.service/g; s/@PKG@/$u/g; s|@STATE@|$([ $d = agent ] && echo /var/lib/slitail)|g" \
        "$ROOT/packaging/debian/postrm" >"$P/postrm"
    chmod 0755 "$P/postinst" "$P/prerm" "$P/postrm"
done

for p in slitail slitail-agent slitail-aggregator; do
    dpkg-deb --root-owner-group -Zxz --build "$STAGE/$p" "$OUT/${p}_${DEBVER}_$ARCH.deb" >/dev/null
done
ls "$OUT"
