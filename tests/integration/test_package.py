"""The Debian packages (scripts/package.sh, `make package`): built from this build, installed
into a throwaway root with `dpkg --root` (maintainer scripts run chrootless, DPKG_ROOT-aware),
checked (files, conffile, man pages, system users, hardened units rated OK by
`systemd-analyze security`, lintian), then removed and purged. Label `package`."""
import os
import re
import shutil
import subprocess

from slt_harness import BIN, SRC, TempDir, TestCase, check_equal

PKGS = ("slitail", "slitail-agent", "slitail-aggregator")


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout,
                                                    r.stderr))
    return r


class Package(TestCase):
    def it_builds_installs_checks_and_removes_the_packages(self):
        if os.geteuid() != 0 or not shutil.which("dpkg-deb") or not shutil.which("dpkg-shlibdeps"):
            print("skipped: needs root and dpkg-dev")
            return
        tmp = TempDir("slt-pkg-")
        try:
            build = os.path.dirname(os.path.abspath(BIN))
            out = tmp.join("pkg")
            run([os.path.join(SRC, "scripts", "package.sh")],
                env=dict(os.environ, BUILD=build, OUT=out))
            debs = sorted(os.path.join(out, f) for f in os.listdir(out))
            check_equal(sorted(os.path.basename(d).split("_")[0] for d in debs), sorted(PKGS),
                        "debs")

            root = tmp.join("root")
            for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers",
                      "etc", "usr/lib", "lib"):
                os.makedirs(os.path.join(root, d), exist_ok=True)
            open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
            dpkg = ["dpkg", "--root=" + root, "--force-script-chrootless", "--force-depends",
                    "--no-triggers", "--log=/dev/null"]
            run(dpkg + ["-i"] + debs)
            for f in ("usr/bin/slitail", "usr/bin/slitail-agent", "usr/bin/slitail-aggregator",
                      "etc/slitail/slitail.yaml", "lib/systemd/system/slitail-agent.service",
                      "lib/systemd/system/slitail-aggregator.service",
                      "usr/lib/sysusers.d/slitail-agent.conf",
                      "usr/share/man/man1/slitail.1.gz", "usr/share/man/man5/slitail.yaml.5.gz",
                      "usr/share/man/man8/slitail-agent.8.gz",
                      "usr/share/man/man8/slitail-aggregator.8.gz",
                      "usr/share/doc/slitail/copyright"):
                if not os.path.exists(os.path.join(root, f)):
                    raise AssertionError("not installed: /" + f)
            conf = run(["dpkg-query", "--root=" + root, "-W", "-f=${Conffiles}", "slitail"])
            if "/etc/slitail/slitail.yaml" not in conf.stdout:
                raise AssertionError("no conffile: " + conf.stdout)
            with open(os.path.join(root, "etc/passwd")) as f:
                passwd = f.read()
            for user in ("slitail-agent", "slitail-aggregator"):
                if not re.search(r"^%s:x:\d+:\d+:" % user, passwd, re.M):
                    raise AssertionError("no system user %s in:\n%s" % (user, passwd))
            with open(os.path.join(root, "etc/group")) as f:
                if not re.search(r"^slitail:x:\d+:", f.read(), re.M):
                    raise AssertionError("no group slitail")
            # the packaged binary is this build, and its --version says so
            v = run([os.path.join(root, "usr/bin/slitail-agent"), "--version"]).stdout
            check_equal(v, run([os.path.join(BIN, "slitail-agent"), "--version"]).stdout,
                        "--version of the installed agent")
            # the man page generated from the key table holds the keys
            man = run(["sh", "-c", "zcat %s" % os.path.join(root, "usr/share/man/man5/"
                                                              "slitail.yaml.5.gz")]).stdout
            for key in ("state_dir", "redis_cluster", "tls_ca_file", "bearer_token_file"):
                if ".B %s\n" % key not in man:
                    raise AssertionError("slitail.yaml(5) lacks " + key)
            for unit in ("slitail-agent.service", "slitail-aggregator.service"):
                r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                                    "--root=" + root, unit], capture_output=True, text=True)
                m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", r.stdout)
                if not m or m.group(2) != "OK":
                    raise AssertionError("systemd-analyze security %s:\n%s%s"
                                         % (unit, r.stdout[-1500:], r.stderr))
            if shutil.which("lintian"):
                r = subprocess.run(["lintian", "--tag-display-limit", "0"] + debs,
                                   capture_output=True, text=True)
                # docs/PACKAGING.md explains the tags that remain
                allowed = ("initial-upload-closes-no-bugs",)
                bad = [l for l in r.stdout.splitlines() if re.match(r"[EW]: ", l)
                       and not any(a in l for a in allowed)]
                if bad:
                    raise AssertionError("lintian:\n" + "\n".join(bad))

            run(dpkg + ["-r"] + list(PKGS))
            for f in ("usr/bin/slitail-agent", "lib/systemd/system/slitail-agent.service"):
                if os.path.exists(os.path.join(root, f)):
                    raise AssertionError("left after removal: /" + f)
            if not os.path.exists(os.path.join(root, "etc/slitail/slitail.yaml")):
                raise AssertionError("the conffile went with a remove (only purge takes it)")
            run(dpkg + ["-P"] + list(PKGS))
            if os.path.exists(os.path.join(root, "etc/slitail/slitail.yaml")):
                raise AssertionError("the conffile is left after purge")
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    Package().run_all()
