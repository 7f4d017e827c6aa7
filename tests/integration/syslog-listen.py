#!/usr/bin/env python3
# syslog-listen.py SOCKET OUTFILE: a stand-in for /dev/log.  Receives
# datagrams on a unix socket and appends each, one per line, to OUTFILE,
# so the tests can check what vzexec sends to syslog.
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "ab", buffering=0) as f:
    while True:
        data = s.recv(65536)
        f.write(data.replace(b"\n", b" ") + b"\n")
