#!/usr/bin/env python3
# hostile-tars.py OUTDIR SENTINEL ROOTFS: writes tarballs that try to escape
# an image root (ROOTFS is where the node unpacks, to aim relative links at
# SENTINEL), one per attack, named CASE.tar; prints "CASE EXPECT" lines,
# EXPECT being "refuse" (the import must fail) or "neutralise" (it may
# succeed, with the danger removed).
import io, os, sys, tarfile

out, sentinel, rootfs = sys.argv[1], sys.argv[2], sys.argv[3]
victim = os.path.join(sentinel, "victim")
rel_victim = os.path.relpath(victim, rootfs)


def ti(name, type=tarfile.REGTYPE, data=b"", mode=0o644, **kw):
    t = tarfile.TarInfo(name)
    t.type = type
    t.mode = mode
    t.size = len(data) if type == tarfile.REGTYPE else 0
    t.mtime = 1700000000
    for k, v in kw.items():
        setattr(t, k, v)
    return t, data


def write(case, expect, entries):
    with tarfile.open(os.path.join(out, case + ".tar"), "w",
                      format=tarfile.PAX_FORMAT) as tf:
        for t, data in entries:
            tf.addfile(t, io.BytesIO(data) if t.size else None)
    print(case, expect)


write("dotdot", "refuse", [ti("ok"), ti("../escape-dotdot", data=b"pwned")])
write("dotdot-deep", "refuse", [ti("a", tarfile.DIRTYPE, mode=0o755),
      ti("a/../../escape-deep", data=b"pwned")])
write("absolute", "refuse", [ti(os.path.join(sentinel, "pwned-abs"),
      data=b"pwned")])
write("symlink-dir", "refuse", [ti("link", tarfile.SYMTYPE,
      linkname=sentinel), ti("link/pwned-through-link", data=b"pwned")])
write("symlink-root", "refuse", [ti("r", tarfile.SYMTYPE, linkname="/"),
      ti("r" + sentinel + "/pwned-root", data=b"pwned")])
write("symlink-replace", "refuse", [ti("s", tarfile.SYMTYPE,
      linkname=victim), ti("s", data=b"pwned")])
write("hardlink-abs", "refuse", [ti("h", tarfile.LNKTYPE, linkname=victim)])
write("hardlink-dotdot", "refuse", [ti("h", tarfile.LNKTYPE,
      linkname=rel_victim)])
write("hardlink-to-symlink", "refuse", [ti("s", tarfile.SYMTYPE,
      linkname=victim), ti("h", tarfile.LNKTYPE, linkname="s")])
write("devices", "neutralise", [ti("dev", tarfile.DIRTYPE, mode=0o755),
      ti("dev/mem2", tarfile.CHRTYPE, mode=0o600, devmajor=1, devminor=1),
      ti("dev/sda9", tarfile.BLKTYPE, mode=0o600, devmajor=8, devminor=9),
      ti("dev/ok", data=b"ok")])
write("setuid", "neutralise", [ti("bin", tarfile.DIRTYPE, mode=0o755),
      ti("bin/su", data=b"#!/bin/sh\n", mode=0o4755, uid=0, gid=0)])

# A header announcing 8 GiB followed by one block: truncated.
t = tarfile.TarInfo("huge")
t.size = 8 << 30
t.mtime = 1700000000
with open(os.path.join(out, "huge.tar"), "wb") as f:
    f.write(t.tobuf(tarfile.PAX_FORMAT))
    f.write(b"x" * 512)
print("huge refuse")
