#!/usr/bin/python3
"""memgate overhead benchmark driver (stdlib only; started by bench/run.sh).

For every benchmark it runs the tools in ALTERNATING order
(native, preload, memgate, heaptrack, massif, memcheck, native, ...), so slow
drift of the machine hits every tool alike, then prints the median wall time
per tool, the ratio to native, peak RSS per tool and PASS/MISS against the
targets.  Wall time and max RSS come from os.wait4() on the whole command
(for memgate: `memgate trace -o F -- prog`, including writing the profile;
for heaptrack: the `heaptrack` script with its interpreter process).
"""

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time

MiB = 1024 * 1024

# ---------------------------------------------------------------- benchmarks

PY_ALLOC = (
    "d = {}\n"
    "for i in range(NITEMS):\n"
    "    d[str(i)] = [i, str(i * 3), (i, i + 1)]\n"
    "s = sorted(d, key=lambda k: d[k][1])\n"
    "del d, s\n"
)

JQ_FILTER = ('[.[] | select(.n % 3 == 0) | {id, s: (.name + "-" + (.tags | join(",")))}]'
             ' | group_by(.s | length) | map(length) | add')

SQL_SCRIPT = """\
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows})
INSERT INTO t SELECT x, printf('key%08d', (x * 7919) % {rows}), x % 1000 FROM c;
CREATE INDEX tk ON t(k);
SELECT v % 10, count(*), sum(length(k)) FROM t GROUP BY v % 10;
SELECT count(*) FROM t a JOIN t b ON a.k = b.k WHERE a.v < 500;
"""


def benchmarks(binDir, inDir, scale):
    """(name, kind, argv, stdin-file or None[, extra env]).  kind selects the
    targets (TARGETS below)."""
    s = str(scale)
    b = lambda n: os.path.join(binDir, n)
    i = lambda n: os.path.join(inDir, n)
    py = PY_ALLOC.replace("NITEMS", str(int(200000 * scale)))
    return [
        ("malloc_small", "malloc", [b("malloc_small"), s], None),
        ("realloc_grow", "realloc", [b("realloc_grow"), s], None),
        ("threads2", "threads", [b("threads2"), s], None),
        ("deep_stack", "deep", [b("deep_stack"), s], None),
        # -DVARY=18: 262k distinct ~52-frame stacks, the deep target's case
        ("deep_vary", "deep", [b("deep_stack_vary"), s], None),
        ("compute", "program", [b("compute"), s], None),
        ("sort", "program", ["sort", "-k2,2", "-k1,1", i("text.txt")], None),
        ("gzip", "program", ["gzip", "-c", i("text10.txt")], None),
        ("xz", "program", ["xz", "-c", i("text1.txt")], None),
        ("jq", "program", ["jq", JQ_FILTER, i("data.json")], None),
        ("sqlite3", "program", ["sqlite3", ":memory:"], i("script.sql")),
        # PYTHONHASHSEED fixed: with random string hashes each run lays its
        # dicts out anew, and python3-malloc's CPU moved by ~5% from run to
        # run natively (sd 18-24 ms of ~390, against 9-17 ms with the seed
        # fixed): noise that pairing native and traced runs does not cancel
        ("python3", "program", ["/usr/bin/python3", "-c", py], None,
         {"PYTHONHASHSEED": "0"}),
        # same script with pymalloc off: every object is a malloc/free
        ("python3-malloc", "program", ["/usr/bin/python3", "-c", py], None,
         {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}),
    ]


# Issue 15's targets for the whole `memgate trace` command, median of paired
# runs against native: (with stacks, --no-stacks, RSS slack).  The
# microbenchmarks are frame-pointer builds: their "with stacks" target is for
# the frame-pointer walk (the fp tool); the default cfi walk has issue 14's.
# Real programs (Debian builds, no frame pointers) are judged with the
# default walk.  deep_vary holds 262k distinct stacks, the 250k case.
TARGETS = {"malloc": (2.5, 1.6, 10 * MiB), "realloc": (2.2, 1.6, 10 * MiB),
           "threads": (2.5, 1.7, 10 * MiB), "deep": (3.0, 1.3, 64 * MiB),
           "program": (1.05, 1.05, 10 * MiB)}
TARGET_RSS_SLACK = 10 * MiB
TARGET_VS_HEAPTRACK = 0.25


def make_inputs(inDir, scale):
    """Deterministic inputs (seeded), regenerated only when the scale changes."""
    os.makedirs(inDir, exist_ok=True)
    stamp = os.path.join(inDir, "stamp")
    want = "v1 scale=%s" % scale
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    rnd = random.Random(42)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rnd.choice(letters) for _ in range(rnd.randint(3, 10)))
             for _ in range(5000)]
    target = int(20 * MiB * scale)
    with open(os.path.join(inDir, "text.txt"), "w") as f:
        size = 0
        while size < target:
            line = " ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12)))
            line += " %d\n" % rnd.randint(0, 10 ** 9)
            f.write(line)
            size += len(line)
    with open(os.path.join(inDir, "text.txt"), "rb") as f:
        data = f.read()
    with open(os.path.join(inDir, "text10.txt"), "wb") as f:
        f.write(data[:int(10 * MiB * scale)])
    with open(os.path.join(inDir, "text1.txt"), "wb") as f:
        f.write(data[:int(1 * MiB * scale)])
    recs = [{"id": k, "name": rnd.choice(words), "n": rnd.randint(0, 1000),
             "tags": [rnd.choice(words) for _ in range(rnd.randint(0, 4))],
             "v": rnd.random()} for k in range(int(60000 * scale))]
    with open(os.path.join(inDir, "data.json"), "w") as f:
        json.dump(recs, f)
    with open(os.path.join(inDir, "script.sql"), "w") as f:
        f.write(SQL_SCRIPT.format(rows=int(200000 * scale)))
    with open(stamp, "w") as f:
        f.write(want)


# --------------------------------------------------------------------- tools

TOOLS = ["native", "preload", "memgate", "fp", "nostacks", "heaptrack", "massif", "memcheck"]
TOOL_LABEL = {"native": "native", "preload": "preload", "memgate": "memgate",
              "fp": "memgate --unwind fp", "nostacks": "memgate --no-stacks",
              "heaptrack": "heaptrack", "massif": "massif", "memcheck": "memcheck"}


def tool_command(tool, argv, cfg, scratch):
    """Return (argv, extra env, profile path or None)."""
    if tool == "native":
        return argv, {}, None
    if tool == "preload":
        d = os.path.join(scratch, "mgdir")
        os.makedirs(d, exist_ok=True)
        return argv, {"LD_PRELOAD": cfg.lib, "MEMGATE_DIR": d}, None
    if tool == "memgate":
        prof = os.path.join(scratch, "profile.json")
        return [cfg.memgate, "trace", "-o", prof, "--"] + argv, {}, prof
    if tool == "fp":
        prof = os.path.join(scratch, "profile-fp.json")
        return [cfg.memgate, "trace", "--unwind", "fp", "-o", prof, "--"] + argv, {}, prof
    if tool == "nostacks":
        prof = os.path.join(scratch, "profile-nostacks.json")
        return [cfg.memgate, "trace", "--no-stacks", "-o", prof, "--"] + argv, {}, None
    if tool == "heaptrack":
        return ["heaptrack", "-o", os.path.join(scratch, "ht")] + argv, {}, None
    if tool == "massif":
        return ["valgrind", "-q", "--tool=massif",
                "--massif-out-file=" + os.path.join(scratch, "massif.out")] + argv, {}, None
    if tool == "memcheck":
        return ["valgrind", "-q", "--tool=memcheck"] + argv, {}, None
    raise ValueError(tool)


def run_once(cmd, env, stdin_path, timeout, errpath, measure, resfile):
    """Run cmd under the static `measure` wrapper (fork/exec/wait4, see
    tools/measure.c); return dict(wall, maxrss, user, sys, status, timed_out)."""
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    with open(errpath, "wb") as ferr:
        subprocess.run([measure, resfile, str(int(timeout))] + cmd, stdin=fin,
                       stdout=subprocess.DEVNULL, stderr=ferr, env=env)
    if fin is not subprocess.DEVNULL:
        fin.close()
    f = open(resfile).read().split()
    return {"wall": float(f[0]), "maxrss": int(f[1]) * 1024, "user": float(f[2]),
            "sys": float(f[3]), "status": int(f[4]), "timed_out": f[5] == "1"}


def read_profile(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        return {"error": str(e)}
    s = d.get("summary", {})
    return {"rss_peak_bytes": s.get("rss_peak_bytes"), "allocs": s.get("allocs"),
            "frees": s.get("frees"), "complete": d.get("complete"),
            "processes": s.get("processes"), "warnings": d.get("warnings")}


# ------------------------------------------------------------------- running

def run_bench(name, kind, argv, stdin_path, bench_env, cfg, log):
    reps = {"native": cfg.reps, "preload": cfg.reps, "memgate": cfg.reps, "fp": cfg.reps,
            "nostacks": cfg.reps,
            "heaptrack": cfg.ht_reps, "massif": cfg.vg_reps, "memcheck": cfg.vg_reps}
    tools = [t for t in TOOLS if t in cfg.tools and reps[t] > 0]
    res = {t: [] for t in tools}
    base_env = dict(os.environ, LC_ALL="C", **bench_env)
    for k in ("LD_PRELOAD", "MEMGATE_DIR", "MEMGATE_DEPTH"):
        base_env.pop(k, None)
    # one untimed native run: page cache, dynamic loader caches, CPU clocks
    run_once(argv, base_env, stdin_path, cfg.timeout_fast, os.devnull, cfg.measure,
             os.path.join(cfg.work, "result.txt"))
    for rnd in range(max(reps[t] for t in tools)):
        for tool in tools:
            if rnd >= reps[tool]:
                continue
            scratch = os.path.join(cfg.work, "scratch")
            shutil.rmtree(scratch, ignore_errors=True)
            os.makedirs(scratch)
            cmd, extra, prof = tool_command(tool, argv, cfg, scratch)
            env = dict(base_env, **extra)
            errpath = os.path.join(cfg.work, "stderr.%s.%s.txt" % (name, tool))
            timeout = cfg.timeout if tool in ("heaptrack", "massif", "memcheck") else cfg.timeout_fast
            r = run_once(cmd, env, stdin_path, timeout, errpath, cfg.measure,
                         os.path.join(cfg.work, "result.txt"))
            r["round"] = rnd
            if prof:
                r["profile"] = read_profile(prof)
            ok = r["status"] == 0 and not r["timed_out"]
            if prof and (r["profile"].get("error") or not r["profile"].get("complete")):
                ok = False
            r["ok"] = ok
            res[tool].append(r)
            log.write(json.dumps({"bench": name, "tool": tool, **r}) + "\n")
            log.flush()
            mark = "" if ok else "  <-- FAILED (exit %s%s, stderr: %s)" % (
                r["status"], ", timeout" if r["timed_out"] else "", errpath)
            print("  %-13s %-9s round %d: %7.3f s  %8.1f MiB%s" % (
                name, tool, rnd + 1, r["wall"], r["maxrss"] / MiB, mark), file=sys.stderr)
            if not ok:
                shutil.copy(errpath, errpath + ".failed")
    shutil.rmtree(os.path.join(cfg.work, "scratch"), ignore_errors=True)
    return res


def summarize(name, kind, res):
    """Medians over the successful runs of each tool."""
    out = {"bench": name, "kind": kind, "tools": {}}
    for tool, runs in res.items():
        good = [r for r in runs if r["ok"]]
        t = {"n": len(good), "failed": len(runs) - len(good)}
        if good:
            walls = [r["wall"] for r in good]
            t["wall"] = statistics.median(walls)
            t["wall_min"] = min(walls)
            t["wall_max"] = max(walls)
            t["maxrss"] = statistics.median([r["maxrss"] for r in good])
            t["cpu"] = statistics.median([r["user"] + r["sys"] for r in good])
            profs = [r["profile"] for r in good if "profile" in r]
            if profs:
                t["traced_rss"] = statistics.median([p["rss_peak_bytes"] or 0 for p in profs])
                t["allocs"] = profs[-1]["allocs"]
                t["frees"] = profs[-1]["frees"]
        elif runs and any(r["timed_out"] for r in runs):
            t["timed_out"] = True
        out["tools"][tool] = t
    nat = out["tools"].get("native", {}).get("wall")
    for tool, t in out["tools"].items():
        if nat and "wall" in t:
            t["ratio"] = t["wall"] / nat
    # paired: each run against the native run of its own round, then the
    # median (drift on the machine hits both sides of a pair alike)
    natr = {r["round"]: r for r in res.get("native", []) if r["ok"]}
    for tool, runs in res.items():
        pw = [r["wall"] / natr[r["round"]]["wall"] for r in runs
              if r["ok"] and r["round"] in natr and natr[r["round"]]["wall"] > 0]
        pc = [(r["user"] + r["sys"]) / (natr[r["round"]]["user"] + natr[r["round"]]["sys"])
              for r in runs if r["ok"] and r["round"] in natr and
              natr[r["round"]]["user"] + natr[r["round"]]["sys"] > 0]
        if pw:
            out["tools"][tool]["paired_wall"] = statistics.median(pw)
        if pc:
            out["tools"][tool]["paired_cpu"] = statistics.median(pc)
    return out


# ---------------------------------------------------------------- formatting

def fmt_time(t):
    if "wall" not in t:
        return "TIMEOUT" if t.get("timed_out") else ("FAILED" if t.get("failed") else "-")
    s = "%.2f" % t["wall"] if t["wall"] < 100 else "%.0f" % t["wall"]
    if "ratio" in t and t["ratio"] is not None:
        s += " (%.2fx)" % t["ratio"]
    return s


def fmt_mib(b):
    return "-" if b is None else "%.1f" % (b / MiB)


def table(rows, header):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def report(summaries, cfg):
    tools = [t for t in TOOLS if t in cfg.tools]
    out = []
    # 1. wall time
    hdr = ["benchmark"] + [TOOL_LABEL[t] + " s (x native)" for t in tools]
    rows = []
    for s in summaries:
        rows.append([s["bench"]] + [fmt_time(s["tools"].get(t, {})) for t in tools])
    out.append("### Wall time: median seconds (ratio to native)\n")
    out.append(table(rows, hdr))
    # 1b. CPU time: steadier than wall time where other tenants share the
    # machine, and it shows what a tool burns on other cores (heaptrack's
    # interpreter); "native spread" is the fastest and slowest native run
    hdr = ["benchmark", "native spread s"] + [TOOL_LABEL[t] + " cpu s (x native)" for t in tools]
    rows = []
    for s in summaries:
        nat = s["tools"].get("native", {})
        spread = ("%.2f-%.2f" % (nat["wall_min"], nat["wall_max"])) if "wall_min" in nat else "-"
        row = [s["bench"], spread]
        for t in tools:
            tt = s["tools"].get(t, {})
            if "cpu" in tt and nat.get("cpu"):
                row.append("%.2f (%.2fx)" % (tt["cpu"], tt["cpu"] / nat["cpu"]))
            else:
                row.append(fmt_time(tt) if "wall" not in tt else "-")
        rows.append(row)
    out.append("\n### CPU time (user + sys of the whole command): median seconds "
               "(ratio to native)\n")
    out.append(table(rows, hdr))
    # 2. RSS
    hdr = ["benchmark"]
    for t in tools:
        if t in ("memgate", "fp"):
            hdr += ["%s traced MiB (profile)" % TOOL_LABEL[t], "%s cmd MiB" % TOOL_LABEL[t]]
        else:
            hdr.append("%s MiB" % TOOL_LABEL[t])
    rows = []
    for s in summaries:
        row = [s["bench"]]
        for t in tools:
            tt = s["tools"].get(t, {})
            if t in ("memgate", "fp"):
                row.append(fmt_mib(tt.get("traced_rss")))
            row.append(fmt_mib(tt.get("maxrss")))
        rows.append(row)
    out.append("\n### Peak RSS: median MiB (wait4 ru_maxrss of the whole command; "
               "'traced' = summary.rss_peak_bytes from the memgate profile)\n")
    out.append(table(rows, hdr))
    # 3. targets (issue 15): paired medians, wall (the verdict) and CPU
    hdr = ["benchmark", "kind", "stacks: tool", "wall x", "cpu x", "target", "time",
           "--no-stacks wall x", "cpu x", "target", "time",
           "traced RSS - native", "RSS target", "RSS",
           "heaptrack x", "mg x / ht x", "<= 0.25",
           "allocs", "ns/alloc memgate", "ns/alloc preload"]
    rows = []
    misses = []
    for s in summaries:
        T = s["tools"]
        kind = s["kind"]
        t_st, t_ns, t_rss = TARGETS[kind]
        st_tool = "fp" if kind != "program" and "fp" in T else "memgate"
        nat, mg, ht, pl, ns = (T.get(k, {}) for k in ("native", st_tool, "heaptrack",
                                                         "preload", "nostacks"))
        row = [s["bench"], kind, st_tool]
        for label, t, tgt in (("stacks (%s)" % st_tool, mg, t_st), ("--no-stacks", ns, t_ns)):
            if "paired_wall" in t:
                ok = t["paired_wall"] <= tgt
                row += ["%.2f" % t["paired_wall"],
                        "%.2f" % t["paired_cpu"] if "paired_cpu" in t else "-",
                        "<= %.2f" % tgt, "PASS" if ok else "MISS"]
                if not ok:
                    misses.append("%s %s: %.2fx > %.2fx" % (s["bench"], label,
                                                            t["paired_wall"], tgt))
            else:
                row += ["-", "-", "<= %.2f" % tgt, "n/a"]
        if mg.get("traced_rss") is not None and nat.get("maxrss") is not None:
            d = mg["traced_rss"] - nat["maxrss"]
            ok = d <= t_rss
            row += ["%+.1f MiB" % (d / MiB), "+%d MiB" % (t_rss // MiB), "PASS" if ok else "MISS"]
            if not ok:
                misses.append("%s: traced RSS %+.1f MiB > +%d MiB" % (s["bench"], d / MiB,
                                                                     t_rss // MiB))
        else:
            row += ["-", "+%d MiB" % (t_rss // MiB), "n/a"]
        if "ratio" in mg and "ratio" in ht:
            f = mg["ratio"] / ht["ratio"]
            ok = f <= TARGET_VS_HEAPTRACK
            verdict = "PASS" if ok else "MISS"
            if not ok and ht["ratio"] < 1 / TARGET_VS_HEAPTRACK:
                verdict += " (ht < 4x)"
            row += ["%.2f" % ht["ratio"], "%.3f" % f, verdict]
        else:
            row += ["-", "-", "n/a"]
        allocs = mg.get("allocs")
        row.append(str(allocs) if allocs is not None else "-")
        for t in (mg, pl):
            if allocs and allocs >= 10000 and "wall" in t and "wall" in nat:
                row.append("%.0f" % ((t["wall"] - nat["wall"]) * 1e9 / allocs))
            else:
                row.append("-")
        rows.append(row)
    out.append("\n### Targets (issue 15; whole `memgate trace` command, medians of the "
               "ratios of paired runs, each against the native run of its round; "
               "the verdict is on wall time; ns/alloc = (tool median - native median) "
               "/ summary.allocs)\n")
    out.append(table(rows, hdr))
    out.append("\nMissed: " + ("; ".join(misses) if misses else "none"))
    return "\n".join(out)


def machine_info(cfg):
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    libc = " ".join(platform.libc_ver())
    try:
        libc = subprocess.run(["ldd", "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"]
    return ("date: %s\ncpu: %s (%d logical CPUs)\nkernel: %s\nglibc: %s\n"
            "load average at end: %s\n"
            "reps: %d native/preload/memgate/fp/nostacks, %d heaptrack, %d massif/memcheck "
            "(alternating rounds; medians)\nscale: %s\nmemgate: %s\n" % (
                datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                cpu, os.cpu_count(), platform.release(), libc, " ".join(load),
                cfg.reps, cfg.ht_reps, cfg.vg_reps, cfg.scale, cfg.memgate))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--memgate", required=True, help="memgate binary")
    ap.add_argument("--lib", required=True, help="libmemgate.so")
    ap.add_argument("--bin-dir", required=True, help="built microbenchmarks")
    ap.add_argument("--measure", required=True, help="tools/measure.c, built")
    ap.add_argument("--work", required=True, help="scratch/input directory")
    ap.add_argument("--reps", type=int, default=5, help="native/preload/memgate runs")
    ap.add_argument("--ht-reps", type=int, default=3, help="heaptrack runs")
    ap.add_argument("--vg-reps", type=int, default=1, help="massif and memcheck runs")
    ap.add_argument("--scale", type=float, default=1.0, help="workload size factor")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--timeout", type=float, default=120, help="per run, slow tools (s)")
    ap.add_argument("--timeout-fast", type=float, default=60, help="per run, other tools (s)")
    ap.add_argument("--out", help="write the report here too")
    ap.add_argument("--raw", help="write every run as JSON lines here")
    cfg = ap.parse_args()
    cfg.tools = [t for t in cfg.tools.split(",") if t]
    for t in cfg.tools:
        if t not in TOOLS:
            ap.error("unknown tool %s" % t)
    if "native" not in cfg.tools:
        cfg.tools.insert(0, "native")
    for exe in ("heaptrack", "valgrind"):
        if shutil.which(exe) is None:
            drop = ["heaptrack"] if exe == "heaptrack" else ["massif", "memcheck"]
            print("note: %s not installed, skipping %s" % (exe, ",".join(drop)), file=sys.stderr)
            cfg.tools = [t for t in cfg.tools if t not in drop]

    indir = os.path.join(cfg.work, "inputs")
    make_inputs(indir, cfg.scale)
    benches = benchmarks(cfg.bin_dir, indir, cfg.scale)
    if cfg.only:
        want = cfg.only.split(",")
        benches = [b for b in benches if b[0] in want]
    for b in benches:
        if shutil.which(b[2][0]) is None:
            print("note: %s not installed, skipping %s" % (b[2][0], b[0]), file=sys.stderr)
    benches = [b for b in benches if shutil.which(b[2][0])]

    raw = open(cfg.raw or os.devnull, "w")
    t0 = time.time()
    summaries = []
    for name, kind, argv, stdin_path, *env in benches:
        res = run_bench(name, kind, argv, stdin_path, env[0] if env else {}, cfg, raw)
        summaries.append(summarize(name, kind, res))
    raw.close()
    text = machine_info(cfg) + "total bench time: %.0f s\n\n" % (time.time() - t0)
    text += report(summaries, cfg) + "\n"
    print(text)
    if cfg.out:
        with open(cfg.out, "w") as f:
            f.write(text)
    if cfg.raw:
        with open(cfg.raw + ".summary.json", "w") as f:
            json.dump(summaries, f, indent=1)


if __name__ == "__main__":
    main()
