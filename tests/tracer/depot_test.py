#!/usr/bin/python3
"""depot_test.py - the stack depot's trace-file storage, end to end (fixtures/depot.c)

usage: depot_test.py --memgate PATH --fixture PATH --work DIR [--unwind MODE] kill
       depot_test.py --memgate PATH --fixture PATH --work DIR [--unwind MODE] size --size-tool PATH

--unwind MODE is passed to `memgate trace` (cfi, its default, or fp).

kill: `fx_depot kill 18 MS` makes new deep stacks and keeps every block;
after its first 1024 stacks a timer sends it SIGKILL MS ms later, for a few
MS.  Each time memgate must read the
dead process back (exit 3, killed by signal 9) with every stack whole: every
stack row that holds a block leads from leaf through down and DEPTH levels of
rec_a/rec_b to main, the first levels pick rec_b where the block's size
(16 + n % 16) says its n has the bit set, no two rows have the same frames,
and the rows add up to the leaked figures.  The one exception is the one the
trace format allows (src/tracer/FORMAT.md, "Counts live in the stacks"): a
kill inside an event's few stores may leave that one event partly counted,
its block without its bytes (a row of 1 block, 0 bytes) or its bytes
without its block (bytes of a stack no row shows).  At most one such event
a kill, never more.

size: `memgate trace --keep-raw -- fx_depot size VARY`, then depot_size
checks the kept trace file against the bound its layout gives
(tests/tracer/depot_size.c).

Exit 0 pass, 1 fail, 2 usage or setup error.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from profile_stacks import expand  # noqa: E402  (the compact stack table, read back)

DEPTH = 24          # fixtures/depot.c
SIZE_VARY = 15
KILL_MS = (15, 40, 90)
KILL_AFTER = 1024   # fixtures/depot.c: stacks made before the timer is set


def run(cmd, work, name):
    with open(os.path.join(work, name + ".out"), "w") as out:
        r = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd="/",
                           env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/"})
    with open(os.path.join(work, name + ".out")) as f:
        return r.returncode, f.read()


def check_killed(doc, ms):
    bad = expand(doc)
    if bad:
        return bad
    p = doc["processes"][0]
    if p.get("signal") != 9:
        return [f"{ms} ms: the process ended by {p.get('end')}, signal {p.get('signal')}"]
    names = [f["function"] for f in p["frames"]]
    seen, blocks, nbytes, partly = set(), 0, 0, []
    for row in p["stacks"]:
        fr, leak_bytes, leak_blocks = row[0], row[5], row[6]
        if not leak_blocks:
            continue
        if (leak_blocks, leak_bytes) == (1, 0):
            partly.append("a row of 1 block, 0 bytes")
        blocks += leak_blocks
        nbytes += leak_bytes
        f = [names[i] for i in fr]
        if f[:2] != ["leaf", "down"] or "main" not in f:
            return [f"{ms} ms: a stack cut short: {f}"]
        levels = f[2:f.index("main")]
        if len(levels) != 2 * DEPTH or levels[1::2] != ["down"] * DEPTH or \
                any(x not in ("rec_a", "rec_b") for x in levels[0::2]):
            return [f"{ms} ms: a stack not {DEPTH} levels deep: {f}"]
        # one block per stack in the first round: its size says n's low bits
        n = leak_bytes // leak_blocks - 16
        want = ["rec_b" if n >> k & 1 else "rec_a" for k in range(4)]
        if leak_blocks == 1 and leak_bytes and not 16 <= leak_bytes < 32:
            return [f"{ms} ms: a {leak_bytes}-byte block, of no size the fixture asks for: {f}"]
        if leak_blocks == 1 and leak_bytes and levels[0:8:2] != want:
            return [f"{ms} ms: a {leak_bytes}-byte block on the stack of another n: {f}"]
        if tuple(fr) in seen:
            return [f"{ms} ms: two rows with the same frames: {f}"]
        seen.add(tuple(fr))
    s = doc["summary"]
    off = s["leaked_bytes"] - nbytes
    if blocks == s["leaked_blocks"] and 16 <= off < 32:
        partly.append(f"{off} bytes of a stack without its block")
    elif blocks != s["leaked_blocks"] or off:
        return [f"{ms} ms: the stacks hold {blocks} blocks, {nbytes} bytes; "
                f"the process {s['leaked_blocks']}, {s['leaked_bytes']}"]
    if len(partly) > 1:
        return [f"{ms} ms: more than the one event a kill may cut short: {partly}"]
    if partly:
        print(f"{ms} ms: the event the kill cut short is partly counted: {partly[0]}")
    if len(seen) < KILL_AFTER:
        return [f"{ms} ms: {len(seen)} stacks, but {KILL_AFTER} were made before the timer was set"]
    print(f"{ms} ms: {len(seen)} stacks, {blocks} blocks read back whole")
    return []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memgate", required=True)
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--size-tool")
    ap.add_argument("--unwind", default="cfi")
    ap.add_argument("mode", choices=("kill", "size"))
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)

    if a.mode == "kill":
        for ms in KILL_MS:
            out = os.path.join(a.work, f"kill{ms}.json")
            rc, log = run([a.memgate, "trace", "--unwind", a.unwind, "-o", out, "--",
                           a.fixture, "kill", "18", str(ms)], a.work, f"kill{ms}")
            if rc != 3 or not os.path.exists(out):
                print(f"FAIL: {ms} ms: memgate exited {rc}, want 3 with a profile\n{log}")
                return 1
            with open(out) as f:
                bad = check_killed(json.load(f), ms)
            if bad:
                print("FAIL: " + "\n".join(bad))
                return 1
        return 0

    if not a.size_tool:
        print("size needs --size-tool")
        return 2
    out = os.path.join(a.work, "size.json")
    rc, log = run([a.memgate, "trace", "--unwind", a.unwind, "--keep-raw", "-o", out, "--",
                   a.fixture, "size", str(SIZE_VARY)], a.work, "size")
    m = re.search(r"raw traces kept in (\S+)", log)
    if rc != 0 or not m:
        print(f"FAIL: memgate exited {rc}\n{log}")
        return 1
    raw = m.group(1)
    files = glob.glob(os.path.join(raw, "*.mgt"))
    try:
        if len(files) != 1:
            print(f"FAIL: {len(files)} trace files in {raw}, want 1")
            return 1
        r = subprocess.run([a.size_tool, files[0], str(SIZE_VARY)])
        return 0 if r.returncode == 0 else 1
    finally:
        shutil.rmtree(raw, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
