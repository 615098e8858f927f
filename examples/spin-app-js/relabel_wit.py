"""Copies WASI 0.2 WIT files, relabelled as another 0.2.x release.

usage: relabel_wit.py SRC_DEPS_DIR DEST_DEPS_DIR VERSION

Within 0.2.x, a release only adds items marked `@since(version = 0.2.N)`. Each
package's version becomes VERSION, and a one-line item added after VERSION is left out
(so `@since` never names an unreleased version); an item of several lines added after it
is an error, since this would have to cut it out by structure.
"""
import pathlib
import re
import sys


def key(version):
    return tuple(int(p) for p in version.split("."))


src, dest, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
for f in sorted(src.glob("*.wit")):
    text = f.read_text()
    version = re.search(r"^package wasi:[a-z-]+@([0-9.]+);", text, re.M)[1]
    lines = text.replace(f"@{version}", f"@{target}").splitlines(keepends=True)
    out, skip = [], False
    for i, line in enumerate(lines):
        if skip:
            skip = False
            continue
        m = re.match(r"\s*@since\(version = ([0-9.]+)\)", line)
        if m and key(m[1]) > key(target):
            item = lines[i + 1].strip()
            if not item.endswith(";"):
                sys.exit(f"{f.name}: an item of several lines added in {m[1]}: {item}")
            skip = True
            continue
        out.append(line)
    (dest / f.stem).mkdir(parents=True, exist_ok=True)
    (dest / f.stem / f.name).write_text("".join(out))
