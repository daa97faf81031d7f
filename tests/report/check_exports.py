#!/usr/bin/env python3
"""check_exports.py - the exports of one profile, parsed back and checked exactly

usage: check_exports.py PROFILE DIR

DIR holds what `memgate report PROFILE --format F` wrote: folded.<weight>.txt
for each weight, bmf.json, gab.json, dhat.json.  Every figure must come back
to the byte: folded stacks summed per weight give the profile's summary (the
peak weights: the process that peaked), BMF and github-action-benchmark carry
the summary's figures, DHAT's program points add up to the peaking process's.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from profile_stacks import expand  # noqa: E402

WEIGHTS = ("total_bytes", "allocs", "peak_bytes", "peak_blocks", "leaked_bytes", "leaked_blocks")
MEASURES = ("allocs", "frees", "total_bytes", "peak_bytes", "peak_blocks", "leaked_bytes",
            "leaked_blocks", "definitely_lost_bytes", "definitely_lost_blocks",
            "indirectly_lost_bytes", "indirectly_lost_blocks", "possibly_lost_bytes",
            "possibly_lost_blocks", "still_reachable_bytes", "still_reachable_blocks",
            "leaked_runtime_bytes", "leaked_runtime_blocks", "rss_peak_bytes")

bad = []


def expect(cond, what):
    if not cond:
        bad.append(what)


def peak_process(doc):
    best = None
    for p in doc["processes"]:
        if best is None or (p["peak_bytes"], p["peak_blocks"]) > (best["peak_bytes"], best["peak_blocks"]):
            best = p
    return best


def check_folded(doc, d):
    summary = doc["summary"]
    for w in WEIGHTS:
        total, lines = 0, 0
        with open(f"{d}/folded.{w}.txt") as f:
            for line in f:
                expect(line.endswith("\n"), f"folded {w}: a line without newline")
                stack, _, value = line.rstrip("\n").rpartition(" ")
                expect(stack and value.isdigit() and int(value) > 0, f"folded {w}: bad line {line!r}")
                expect(";" in stack, f"folded {w}: no frames in {line!r}")
                total += int(value)
                lines += 1
        expect(total == summary[w], f"folded {w}: sums to {total}, summary says {summary[w]}")
        procs = [peak_process(doc)] if w.startswith("peak") else doc["processes"]
        want_lines = sum(1 for p in procs for s in p["stacks"] if s[1 + WEIGHTS.index(w)])
        expect(lines == want_lines, f"folded {w}: {lines} lines for {want_lines} stacks")


def check_bmf(doc, d):
    bmf = json.load(open(f"{d}/bmf.json"))
    name = doc["test"]["name"]
    expect(list(bmf) == [name], f"bmf: keys {list(bmf)}")
    for m in MEASURES:
        v = doc["summary"][m]
        if v is None:
            expect(m not in bmf[name], f"bmf: {m} is unknown but present")
        else:
            expect(bmf[name].get(m) == {"value": v}, f"bmf: {m} is {bmf[name].get(m)}, want {v}")


def check_gab(doc, d):
    gab = json.load(open(f"{d}/gab.json"))
    name = doc["test"]["name"]
    expect(isinstance(gab, list), "gab: not an array")
    got = {e["name"]: e for e in gab}
    for e in gab:
        expect(set(e) == {"name", "unit", "value"}, f"gab: fields {sorted(e)}")
        expect(isinstance(e["value"], int), f"gab: {e['name']} value not an integer")
    for m in MEASURES:
        v = doc["summary"][m]
        e = got.get(f"{name}/{m}")
        if v is None:
            expect(e is None, f"gab: {m} unknown but present")
            continue
        expect(e is not None and e["value"] == v, f"gab: {m} is {e}, want {v}")
        unit = "bytes" if m.endswith("bytes") else "blocks" if m.endswith("blocks") else \
            "allocations" if m == "allocs" else "frees"
        expect(e is not None and e["unit"] == unit, f"gab: {m} unit {e and e['unit']}")


def check_dhat(doc, d):
    dh = json.load(open(f"{d}/dhat.json"))
    # dh_view.js's buildTree()/checkPP() field checks, with bklt true and bkacc false
    for k in ("dhatFileVersion", "mode", "verb", "bklt", "bkacc", "tu", "Mtu", "cmd", "pid", "te",
              "pps", "ftbl", "tg", "tuth"):
        expect(k in dh, f"dhat: no {k}")
    expect(dh["dhatFileVersion"] == 2 and dh["mode"] == "heap" and dh["bklt"] is True and
           dh["bkacc"] is False, "dhat: header")
    expect(dh["ftbl"][0] == "[root]", "dhat: ftbl[0] is not [root]")
    p = peak_process(doc)
    expect(dh["pid"] == p["pid"], "dhat: not the process that peaked")
    sums = dict.fromkeys(("tb", "tbk", "gb", "gbk", "eb", "ebk"), 0)
    seen = set()
    for pp in dh["pps"]:
        for k in ("tb", "tbk", "tl", "mb", "mbk", "gb", "gbk", "eb", "ebk", "fs"):
            expect(k in pp, f"dhat: a program point lacks {k}")
        for k in sums:
            sums[k] += pp[k]
        fs = tuple(pp["fs"])
        expect(fs not in seen, f"dhat: repeated location {fs}")
        seen.add(fs)
        expect(fs and all(0 < i < len(dh["ftbl"]) for i in fs), f"dhat: bad fs {fs}")
    want = {"tb": p["total_bytes"], "tbk": p["allocs"], "gb": p["peak_bytes"],
            "gbk": p["peak_blocks"], "eb": p["leaked_bytes"], "ebk": p["leaked_blocks"]}
    expect(sums == want, f"dhat: sums {sums}, want {want}")
    expect(0 <= dh["tg"] <= dh["te"], "dhat: t-gmax after t-end")


def main():
    doc = json.load(open(sys.argv[1]))
    bad.extend(expand(doc))
    d = sys.argv[2]
    check_folded(doc, d)
    check_bmf(doc, d)
    check_gab(doc, d)
    check_dhat(doc, d)
    for b in bad:
        print(f"FAIL: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
