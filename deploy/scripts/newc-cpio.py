#!/usr/bin/env python3
"""Writes a newc cpio archive (an initramfs) of a directory tree.

    newc-cpio.py ROOT OUT

Every entry is owned by root; the tree is written in sorted order (so the same
tree gives the same bytes), followed by the device nodes /dev/console and
/dev/null, so that the kernel can open the console before devtmpfs is mounted.
There is no cpio binary on a minimal Debian; this is the format's whole writer.
"""
import os
import stat
import sys


def main(root, out):
    ino = [300000]

    def entry(f, name, mode, data=b"", rdev=(0, 0), nlink=1):
        ino[0] += 1
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            ino[0], mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
        f.write(hdr.encode() + name_b)
        f.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
        f.write(data)
        f.write(b"\0" * ((4 - len(data) % 4) % 4))

    with open(out, "wb") as f:
        paths = []
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for n in dirs + sorted(files):
                paths.append(os.path.join(d, n))
        for p in sorted(paths):
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            perm = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                entry(f, rel, stat.S_IFLNK | 0o777, os.readlink(p).encode())
            elif stat.S_ISDIR(st.st_mode):
                entry(f, rel, stat.S_IFDIR | perm, nlink=2)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as g:
                    entry(f, rel, stat.S_IFREG | perm, g.read())
        entry(f, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
        entry(f, "dev/null", stat.S_IFCHR | 0o666, rdev=(1, 3))
        entry(f, "TRAILER!!!", 0, nlink=1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: newc-cpio.py ROOT OUT")
    main(sys.argv[1], sys.argv[2])
