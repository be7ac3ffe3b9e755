#!/usr/bin/env python3
"""Fails on a function declared in a header but called from nowhere but the file that defines it
(a test that calls it counts as a caller): dead code that a header keeps looking alive.

Usage: dead_symbols.py SOURCE_DIR
"""
import collections
import os
import re
import sys

DIRS = ("common", "parsers", "config", "proto", "net", "cli", "agent", "aggregator")
USERS = DIRS + ("tests", "bench", "packaging")
# Known exceptions: symbol -> why it may stay declared although only its own file uses it. Keep
# it empty: make such a function static or remove it; add a line only with a reason.
ALLOW = {
}
DECL = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(slt_\w+)\s*\(", re.M)
# A declaration ends with ");" before any "{": a definition in a header (static inline) is skipped.


def sources(root, dirs=DIRS):
    for d in dirs:
        for base, _, files in os.walk(os.path.join(root, d)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.join(base, f)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    texts = {p: strip_comments(open(p, encoding="utf-8", errors="replace").read())
             for p in sources(root, USERS)}
    declared = {}
    for path, text in texts.items():
        if not path.endswith(".h") or not path.startswith(tuple(os.path.join(root, d) + os.sep
                                                               for d in DIRS)):
            continue
        for m in DECL.finditer(text):
            rest = text[m.end():]
            end = min((i for i in (rest.find(";"), rest.find("{")) if i >= 0), default=-1)
            if end >= 0 and rest[end] == ";":
                declared.setdefault(m.group(1), path)
    # One pass per file: how often each word occurs, and which slt_ functions it defines (a line
    # that starts a declaration, has no ';' and names the function before a '(').
    words = {p: collections.Counter(re.findall(r"\w+", t)) for p, t in texts.items()}
    defines = {p: {name for line in re.findall(r"^[A-Za-z_][^;\n]*$", t, re.M)
                   for name in re.findall(r"\b(slt_\w+)\s*\(", line)}
               for p, t in texts.items() if p.endswith(".c")}
    dead = []
    for sym, header in sorted(declared.items()):
        definers = [p for p, names in defines.items() if sym in names]
        # The declaring header counts as a user when an inline function or macro in it calls sym.
        users = [p for p, w in words.items() if p not in definers and
                 w[sym] > (1 if p == header else 0)]
        if not users and sym not in ALLOW:
            dead.append((sym, header, definers))
        elif users and sym in ALLOW:
            print("note: '%s' is used now: drop it from ALLOW" % sym)
    for sym, header, definers in dead:
        where = ", ".join(os.path.relpath(d, root) for d in definers) or "nowhere"
        print("%s: '%s' is declared but used only in %s " %
              (os.path.relpath(header, root), sym, where))
    print("%d symbols declared in headers, %d unused outside their own file (%d allowed)" %
          (len(declared), len(dead), sum(1 for a in ALLOW if a in declared)))
    return 1 if dead else 0


if __name__ == "__main__":
    sys.exit(main())
