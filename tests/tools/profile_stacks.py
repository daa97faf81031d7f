"""profile_stacks.py - a profile's stack table read back, for the test tools

docs/profile-schema.md, "Every stack": the document's "strings", and per
process "modules", "frames" (arrays), "nodes" (flattened [frame, parent]
pairs) and "stacks" (rows [node, figures...]).  expand() rewrites a loaded
profile in place to the shape the checks read: FRAME objects in "frames",
each stack row's first column the list of its frame indices (innermost
first), and every list entry (peak_stacks ...) its "frames" from its row,
as memgate's own readers do (src/core/stacks.c, mg_profile_expand).
Returns a list of problems with the table (a broken chain, an index out of
range); an empty list when all is well.
"""

LISTS = ("peak_stacks", "leak_stacks", "top_stacks_by_bytes", "top_stacks_by_allocs")


def _hex(v):
    return v if isinstance(v, str) else hex(v)


def expand(doc):
    bad = []
    strings = doc.get("strings", [])

    def s(i, where):
        if i is None:
            return None
        if not isinstance(i, int) or not 0 <= i < len(strings):
            bad.append(f"{where}: string {i} out of range")
            return None
        return strings[i]

    for p in doc.get("processes", []):
        if "nodes" not in p:
            continue
        where = f"process {p['pid']}"
        mods, nodes = p["modules"], p["nodes"]
        frames = []
        for f in p["frames"]:
            m = None
            if f[3] is not None:
                if not 0 <= f[3] < len(mods):
                    bad.append(f"{where}: frame {f} names no module")
                else:
                    m = mods[f[3]]
            o = {"function": s(f[0], where), "file": s(f[1], where), "line": f[2]}
            if len(f) > 5:
                o["inlined"] = True
            o["addr"] = _hex(m[1] + f[4]) if m else _hex(f[4])
            o["module"] = s(m[0], where) if m else None
            o["offset"] = _hex(f[4])
            frames.append(o)
        n_nodes = len(nodes) // 2
        if len(nodes) % 2:
            bad.append(f"{where}: odd number of node entries")
        for k in range(n_nodes):
            if not 0 <= nodes[2 * k] < len(frames):
                bad.append(f"{where}: node {k} names frame {nodes[2 * k]}")
            if not -1 <= nodes[2 * k + 1] < k:
                bad.append(f"{where}: node {k}'s parent {nodes[2 * k + 1]} is not an earlier node")
        if bad:
            return bad

        def chain(n):
            fr = []
            while n >= 0:
                fr.append(nodes[2 * n])
                n = nodes[2 * n + 1]
            return fr

        rows = p["stacks"]
        for r in rows:
            if not -1 <= r[0] < n_nodes:
                bad.append(f"{where}: stack row {r} names no node")
                return bad
        p["frames"] = frames
        p["stacks"] = [[chain(r[0])] + r[1:] for r in rows]
        for lst in LISTS:
            for e in p.get(lst, []):
                if "stack" in e and "frames" not in e:
                    if not 0 <= e["stack"] < len(rows):
                        bad.append(f"{where}: {lst} entry names row {e['stack']}")
                        continue
                    e["frames"] = [frames[i] for i in p["stacks"][e["stack"]][0]]
    return bad
