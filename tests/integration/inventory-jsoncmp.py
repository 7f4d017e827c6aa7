#!/usr/bin/env python3
# inventory-jsoncmp.py MINE.json ANSIBLE.json: compare two inventory JSON
# documents semantically -- object key order ignored, list order kept, and
# types compared strictly (Python would call 1 == 1.0 == True equal).
# Prints one line per difference and exits 1 when there is any.
import json
import sys


def diff(a, b, path, out):
    if type(a) is not type(b):
        out.append("%s: %s %r, ansible has %s %r"
                   % (path or "/", type(a).__name__, a, type(b).__name__, b))
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            p = "%s/%s" % (path, k)
            if k not in a:
                out.append("%s: missing (ansible has %r)" % (p, b[k]))
            elif k not in b:
                out.append("%s: extra %r" % (p, a[k]))
            else:
                diff(a[k], b[k], p, out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append("%s: %r, ansible has %r" % (path, a, b))
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                diff(x, y, "%s[%d]" % (path, i), out)
    elif a != b:
        out.append("%s: %r, ansible has %r" % (path, a, b))


def main():
    with open(sys.argv[1]) as f:
        mine = json.load(f)
    with open(sys.argv[2]) as f:
        theirs = json.load(f)
    out = []
    diff(mine, theirs, "", out)
    for line in out:
        print(line)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())
