#!/usr/bin/env python3
"""validate_profile.py - check profiles against docs/profile.schema.json, and the
invariants a schema cannot say.

usage: validate_profile.py SCHEMA PROFILE...
"""
import json
import sys

import jsonschema

from profile_stacks import expand


KINDS = ("definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable")


def kinds_add_up(fig, where, bad):
    """The leak kinds, when known, split leaked_* exactly."""
    if fig["definitely_lost_bytes"] is None:
        if any(fig[f"{k}_{u}"] is not None for k in KINDS for u in ("bytes", "blocks")):
            bad.append(f"{where}: leak kinds partly null")
        return
    for u in ("bytes", "blocks"):
        if sum(fig[f"{k}_{u}"] for k in KINDS) != fig[f"leaked_{u}"]:
            bad.append(f"{where}: leak kinds do not add up to leaked_{u}")


# the figure of a list entry and the column of its row that must equal it
LIST_COLUMNS = {"peak_stacks": (("bytes", 3), ("blocks", 4)),
                "leak_stacks": (("bytes", 5), ("blocks", 6)),
                "top_stacks_by_bytes": (("total_bytes", 1), ("allocs", 2)),
                "top_stacks_by_allocs": (("total_bytes", 1), ("allocs", 2))}


def invariants(doc):
    """Cross-field rules of docs/profile-schema.md; returns a list of problems."""
    bad = []
    rows = {p["pid"]: [list(r) for r in p.get("stacks", [])] for p in doc["processes"]
            if "nodes" in p}
    bad += expand(doc)
    if bad:
        return bad
    # each list entry is its row of the stack table: the same figures
    for p in doc["processes"]:
        for lst, cols in LIST_COLUMNS.items():
            for e in p[lst]:
                if p["pid"] not in rows:
                    break
                if "stack" not in e:
                    # a stack not kept whole (docs/profile-schema.md) keeps its frames
                    if "frames" not in e:
                        bad.append(f"process {p['pid']}: a {lst} entry without stack or frames")
                    continue
                r = rows[p["pid"]][e["stack"]]
                for key, c in cols:
                    if e[key] != r[c]:
                        bad.append(f"process {p['pid']}: {lst} entry {key} {e[key]} is not "
                                   f"its row's {r[c]}")
    kinds_add_up(doc["summary"], "summary", bad)
    s = doc["summary"]
    procs = doc["processes"]
    for key in ("allocs", "frees", "total_bytes", "leaked_bytes", "leaked_blocks"):
        if s[key] != sum(p[key] for p in procs):
            bad.append(f"summary.{key} is not the sum over processes")
    if procs and s["peak_bytes"] != max(p["peak_bytes"] for p in procs):
        bad.append("summary.peak_bytes is not the largest process peak")
    if s["processes"] != len(procs):
        bad.append("summary.processes is not the number of processes")
    for p in procs:
        where = f"process {p['pid']}"
        kinds_add_up(p, where, bad)
        for n, im in enumerate(p["images"]):
            kinds_add_up(im, f"{where} image {n}", bad)
        if p["peak_bytes"] > p["total_bytes"]:
            bad.append(f"{where}: peak above total")
        if p["leaked_bytes"] > p["total_bytes"] or p["leaked_blocks"] > p["allocs"]:
            bad.append(f"{where}: more leaked than allocated")
        if p["timeline"] and p["peak_bytes"] != max(v for _, v in p["timeline"]):
            bad.append(f"{where}: the timeline's maximum is not the peak")
        times = [t for t, _ in p["timeline"]]
        if times != sorted(times):
            bad.append(f"{where}: timeline not in time order")
        if sum(st["bytes"] for st in p["leak_stacks"]) + 0 > p["leaked_bytes"]:
            bad.append(f"{where}: leak stacks hold more than leaked_bytes")
        if p["leak_stacks_omitted"] == 0 and \
                sum(st["bytes"] for st in p["leak_stacks"]) != p["leaked_bytes"]:
            bad.append(f"{where}: leak stacks do not add up to leaked_bytes")
        if p["peak_stacks_omitted"] == 0 and \
                sum(st["bytes"] for st in p["peak_stacks"]) != p["peak_bytes"]:
            bad.append(f"{where}: peak stacks do not add up to peak_bytes")
        if sum(i["allocs"] for i in p["images"]) != p["allocs"]:
            bad.append(f"{where}: images' allocs do not add up")
        if "stacks" in p:
            fields = ("total_bytes", "allocs", "peak_bytes", "peak_blocks",
                      "leaked_bytes", "leaked_blocks")
            for n, key in enumerate(fields):
                if sum(st[n + 1] for st in p["stacks"]) != p[key]:
                    bad.append(f"{where}: stacks do not add up to {key}")
            if any(i >= len(p["frames"]) for st in p["stacks"] for i in st[0]):
                bad.append(f"{where}: a stack refers to a frame not in frames")
    return bad


def main():
    schema = json.load(open(sys.argv[1]))
    validator = jsonschema.Draft202012Validator(schema)
    failed = 0
    for path in sys.argv[2:]:
        doc = json.load(open(path))
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        problems = [f"{'/'.join(map(str, e.path)) or '$'}: {e.message}" for e in errors]
        if not errors:
            problems += invariants(doc)
        for msg in problems:
            print(f"{path}: {msg}", file=sys.stderr)
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
