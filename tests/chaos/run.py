#!/usr/bin/python3
"""The chaos suite's runner (`make chaos`; docs/CHAOS.md). One result line per scenario:

  PASS  agent_kill9_storm  faults=14 lines=7440 difference=0 drain=1.2s rss=3.4/6.1MiB fds=11/19

rss and fds are agent/aggregator (peak RSS over the run, open fds at the end). Statuses:
PASS, FAIL, XFAIL (fails, waiting for the named issue item), XPASS (an expected failure that
passes now: remove its mark), SKIP. Exit status 1 when any scenario FAILed (or, with
CHAOS_STRICT=1, XPASSed).

  run.py [--short] [--list] [--keep] [--seed N] [NAME_REGEX ...]"""
import json
import os
import re
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)


def main(argv):
    names = []
    for a in argv:
        if a == "--short":
            os.environ["CHAOS_SHORT"] = "1"
        elif a == "--keep":
            os.environ["CHAOS_KEEP"] = "1"
        elif a.startswith("--seed="):
            os.environ["CHAOS_SEED"] = a.split("=", 1)[1]
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif a != "--list":
            names.append(a)
    if not os.environ.get("CHAOS_SEED"):
        os.environ["CHAOS_SEED"] = str(int(time.time()))
    import scenarios as S  # after CHAOS_SHORT is set: durations are read at import

    chosen = [s for s in S.SCENARIOS
              if not names or any(re.search(n, s["name"]) for n in names)]
    if "--list" in argv:
        for s in chosen:
            mark = " [xfail %s]" % s["xfail"] if s["xfail"] else ""
            print("%-24s%s %s" % (s["name"], mark, " ".join(s["doc"].split())))
        return 0
    short = os.environ.get("CHAOS_SHORT") not in (None, "", "0")
    print("chaos: %d scenarios, %s form, seed %s, binaries %s" % (
        len(chosen), "short" if short else "full", os.environ["CHAOS_SEED"],
        os.path.abspath(S.H.BIN)), flush=True)
    results = []
    t_all = time.time()
    for s in chosen:
        t0 = time.time()
        figs, err = {}, None
        S.XFAIL_WAIT["limit"] = 10 if short and s["xfail"] else None
        try:
            figs = s["fn"]() or {}
        except Exception as e:  # noqa: BLE001 - every failure is a result line
            err = "%s: %s" % (type(e).__name__, e)
            if os.environ.get("CHAOS_VERBOSE"):
                traceback.print_exc()
        elapsed = time.time() - t0
        env = S.LAST["env"]
        S.LAST["env"] = None
        if env is not None and env.sanitizer and not err:
            err = "sanitizer: " + "; ".join(env.sanitizer[:2])
        if err and env is not None and env.snapshot and not figs:
            figs = env.snapshot
        if "skip" in figs:
            status = "SKIP"
        elif err:
            status = "XFAIL" if s["xfail"] else "FAIL"
        else:
            status = "XPASS" if s["xfail"] else "PASS"
        line = "%-5s %-24s" % (status, s["name"])
        if figs and "skip" not in figs:
            line += (" faults=%d lines=%d difference=%s drain=%s rss=%.1f/%.1fMiB"
                     " fds=%d/%d" % (figs["faults"], figs["lines"],
                                     "?" if figs["difference"] is None else figs["difference"],
                                     "-" if figs["drain_s"] is None else "%.1fs" % figs["drain_s"],
                                     figs["rss_agent_mib"], figs["rss_aggr_mib"],
                                     figs["fds_agent"], figs["fds_aggr"]))
        line += " time=%.0fs" % elapsed
        if s["xfail"] and status in ("XFAIL", "XPASS"):
            line += " (%s)" % s["xfail"]
        if status == "XPASS":
            line += " passes now: remove its xfail mark"
        if "skip" in figs:
            line += " " + figs["skip"]
        if figs.get("note"):
            line += " -- " + figs["note"]
        if err:
            line += " -- " + err
        print(line, flush=True)
        results.append(dict(figs, name=s["name"], status=status, error=err,
                            xfail=s["xfail"], seconds=round(elapsed, 1)))
    counts = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    print("chaos: %s in %.0fs" % (", ".join("%d %s" % (n, k) for k, n in sorted(counts.items())),
                                   time.time() - t_all), flush=True)
    out = os.environ.get("CHAOS_RESULTS")
    if out:
        with open(out, "w") as f:
            json.dump({"seed": os.environ["CHAOS_SEED"], "short": short,
                       "results": results}, f, indent=1)
    bad = counts.get("FAIL", 0)
    if os.environ.get("CHAOS_STRICT") == "1":
        bad += counts.get("XPASS", 0)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
