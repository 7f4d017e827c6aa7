#!/usr/bin/python3
"""Speak the `vzexec session` protocol (doc/node-protocol.md) to a local
session, for t0460.  Usage: vzsession.py SCRIPT -- COMMAND...

SCRIPT is a JSON list of requests, each {"argv": [...], "stdin": "text"} or
{"argv": [...], "stdin_file": PATH} or {"raw": "hex"} (bytes sent as they
are, for malformed input) or {"close": true} (end of input) or
{"signal_child": "KILL"} (kill the session's current child once it runs;
use with a request that waits).  Prints one JSON object per answered
request: {"status": N, "signal": S, "out": text, "err": text,
"out_frames": N}, then {"session_exit": N, "session_stderr": text}."""
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time


def read_exact(f, n):
    b = b""
    while len(b) < n:
        c = f.read(n - len(b))
        if not c:
            raise EOFError("session output ended after %d of %d bytes"
                           % (len(b), n))
        b += c
    return b


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def request(argv, data):
    msg = b"R" + struct.pack(">I", len(argv))
    for a in argv:
        a = a.encode()
        msg += struct.pack(">I", len(a)) + a
    return msg + struct.pack(">Q", len(data))


def answer(out):
    res = {"out": b"", "err": b"", "out_frames": 0}
    while True:
        h = read_exact(out, 5)
        t, n = h[:1], struct.unpack(">I", h[1:])[0]
        body = read_exact(out, n)
        if t == b"O":
            res["out"] += body
            res["out_frames"] += 1
        elif t == b"E":
            res["err"] += body
        elif t == b"X":
            status, slen = struct.unpack(">iI", body[:8])
            res["status"] = status
            res["signal"] = body[8:8 + slen].decode()
            break
        else:
            raise ValueError("unknown frame type %r" % t)
    res["out"] = res["out"].decode(errors="replace")
    res["err"] = res["err"].decode(errors="replace")
    return res


def main():
    script = json.loads(open(sys.argv[1]).read())
    cmd = sys.argv[sys.argv.index("--") + 1:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, bufsize=0)
    errtext = []
    t = threading.Thread(target=lambda: errtext.append(p.stderr.read()))
    t.start()
    greeting = read_exact(p.stdout, 12)
    print(json.dumps({"greeting": greeting.decode()}), flush=True)
    kill = None
    for step in script:
        if step.get("close"):
            break
        if "signal_child" in step:
            kill = step["signal_child"]
            continue
        if "raw" in step:
            p.stdin.write(bytes.fromhex(step["raw"]))
            continue
        if "stdin_file" in step:
            data = open(step["stdin_file"], "rb").read()
        else:
            data = step.get("stdin", "").encode()
        p.stdin.write(request(step["argv"], data))
        # the stdin goes from a thread: the session answers while it reads
        w = threading.Thread(target=p.stdin.write, args=(data,))
        w.start()
        if kill is not None:
            for _ in range(500):
                kids = children(p.pid)
                if kids:
                    os.kill(kids[0], getattr(signal, "SIG" + kill))
                    break
                time.sleep(0.01)
            kill = None
        try:
            res = answer(p.stdout)
        except EOFError as e:
            w.join()
            print(json.dumps({"eof": str(e)}), flush=True)
            break
        w.join()
        print(json.dumps(res), flush=True)
    p.stdin.close()
    rc = p.wait()
    t.join()
    print(json.dumps({"session_exit": rc,
                      "session_stderr": errtext[0].decode()}), flush=True)


if __name__ == "__main__":
    main()
