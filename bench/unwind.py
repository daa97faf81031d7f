#!/usr/bin/python3
"""unwind.py - what the stack walk costs, with and without frame pointers

Builds unwind_depth.c, malloc_small.c and deep_stack.c twice (-O2
-fno-omit-frame-pointer and -O2 -fomit-frame-pointer), then

1. callgrind (instructions, exact on this noisy VM): instructions per
   malloc+free pair of unwind_depth under the tracer alone (LD_PRELOAD, no
   report), at 8 and 40 frames, each the difference of two run sizes, so
   fixed costs cancel; per frame = (cost at 40 - cost at 8) / 32.  Modes:
   memgate cfi (the default), memgate fp (--unwind fp).  (heaptrack's preload
   library writes nothing under valgrind here, so it has wall times only.)
2. wall time: medians of alternating paired runs (native, memgate trace,
   memgate trace --unwind fp, heaptrack; round after round) of the
   benchmarks, each build; ratios to the native run of the same build; and
   from unwind_depth at 8 and 40 frames, each tool's nanoseconds per frame.

usage: bench/unwind.py --memgate PATH [--reps N] [--scale F] [--work DIR] [--no-wall]
       [--no-callgrind] [--align N] [--before PATH] [--only malloc_small,deep_stack]
       [--preload]
The callgrind part also counts malloc_small and deep_stack whole (scale 0.05).
--align builds the programs with -falign-functions=N (run it at 2-3
alignments: layout alone moves wall times by tens of percent here); --before
adds an earlier memgate build to the same rounds of paired runs; --preload
the tracer alone (LD_PRELOAD, no report), so that what the whole command
adds after the run shows.
Prints a markdown report (bench/README.md, "Call stacks without frame pointers").
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHES = ["unwind_depth", "malloc_small", "deep_stack"]
BUILDS = {"fp": "-fno-omit-frame-pointer", "nofp": "-fomit-frame-pointer"}
HEAPTRACK_PRELOAD = "/usr/lib/heaptrack/libheaptrack_preload.so"


def build(work, align):
    for b in BENCHES:
        for v, flag in BUILDS.items():
            out = os.path.join(work, "%s.%s" % (b, v))
            subprocess.run(["cc", "-O2", "-g", flag, "-pthread", "-I", HERE] +
                           (["-falign-functions=%d" % align] if align else []) +
                           [os.path.join(HERE, b + ".c"), "-o", out], check=True)


def callgrind_ir(argv, env):
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv,
                       env=env, capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", p.stderr)
    if not m:
        raise SystemExit("callgrind failed: %s" % p.stderr[-500:])
    return int(m.group(1))


def per_pair(work, lib, mode, v, depth, tmp):
    """instructions per malloc+free pair (difference of 80k and 160k pairs)"""
    irs = []
    for scale in ("0.02", "0.04"):
        env = dict(os.environ, LC_ALL="C")
        d = tempfile.mkdtemp(dir=tmp)
        if mode == "heaptrack":
            env["LD_PRELOAD"] = HEAPTRACK_PRELOAD
            env["DUMP_HEAPTRACK_OUTPUT"] = os.path.join(d, "raw")
        elif mode != "native":
            env["LD_PRELOAD"] = lib
            env["MEMGATE_DIR"] = d
            if mode == "fp":
                env["MEMGATE_UNWIND"] = "fp"
        irs.append(callgrind_ir([os.path.join(work, "unwind_depth." + v), scale, str(depth)], env))
        shutil.rmtree(d, ignore_errors=True)
    return (irs[1] - irs[0]) / 80000.0


def wall(argv, env):
    t = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--memgate", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--scale", default="0.5")
    ap.add_argument("--work")
    ap.add_argument("--no-wall", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--align", type=int, default=0, help="-falign-functions of the programs")
    ap.add_argument("--before", help="another memgate (an earlier build) in the same rounds")
    ap.add_argument("--only", help="wall times of these benchmarks only (comma-separated)")
    ap.add_argument("--preload", action="store_true",
                    help="also the tracer alone (LD_PRELOAD, no report): the rest of memgate's"
                    " time is the command's own, mostly after the run")
    a = ap.parse_args()
    memgate = os.path.abspath(a.memgate)
    lib = os.path.join(os.path.dirname(memgate), "libmemgate.so")
    work = a.work or tempfile.mkdtemp(prefix="memgate-unwind-")
    os.makedirs(work, exist_ok=True)
    build(work, a.align)
    have_ht = os.path.exists(HEAPTRACK_PRELOAD) and shutil.which("heaptrack")

    if not a.no_callgrind:
        print("### Instructions per malloc+free pair (callgrind, tracer only)\n")
        print("| build | mode | 8 frames | 40 frames | per frame |")
        print("|---|---|---:|---:|---:|")
        modes = ["native", "cfi", "fp"]
        for v in BUILDS:
            for mode in modes:
                c8 = per_pair(work, lib, mode, v, 8, work)
                c40 = per_pair(work, lib, mode, v, 40, work)
                print("| %s | %s | %.0f | %.0f | %.1f |" % (v, mode, c8, c40, (c40 - c8) / 32))
                sys.stdout.flush()
        print()
        # whole programs, tracer alone: what the per-frame figures add up to
        print("### Instructions, whole benchmark (callgrind, tracer only, scale 0.05)\n")
        print("| benchmark | build | native | cfi | fp |" + (" before |" if a.before else ""))
        print("|---|---|---:|---:|---:|" + ("---:|" if a.before else ""))
        libs = [("cfi", lib, None), ("fp", lib, "fp")]
        if a.before:
            libs.append(("before", os.path.join(os.path.dirname(os.path.abspath(a.before)),
                                                "libmemgate.so"), None))
        for b in ("malloc_small", "deep_stack"):
            for v in BUILDS:
                argv = [os.path.join(work, "%s.%s" % (b, v)), "0.05"]
                nat = callgrind_ir(argv, dict(os.environ, LC_ALL="C"))
                cells = []
                for _name, l, unwind in libs:
                    d = tempfile.mkdtemp(dir=work)
                    env = dict(os.environ, LC_ALL="C", LD_PRELOAD=l, MEMGATE_DIR=d)
                    if unwind:
                        env["MEMGATE_UNWIND"] = unwind
                    ir = callgrind_ir(argv, env)
                    shutil.rmtree(d, ignore_errors=True)
                    cells.append("%.1f M (%.2fx)" % (ir / 1e6, ir / nat))
                print("| %s | %s | %.1f M | %s |" % (b, v, nat / 1e6, " | ".join(cells)))
                sys.stdout.flush()
        print()

    if a.no_wall:
        return 0
    print("### Wall time, whole command: median of %d alternating paired runs, ratio to native\n"
          % a.reps)
    tools = ["native", "memgate", "memgate --unwind fp"] + (["before"] if a.before else []) + \
        (["preload"] if a.preload else []) + (["heaptrack"] if have_ht else [])
    print("| benchmark | build | native s | " + " | ".join(t + " x" for t in tools[1:]) + " |")
    print("|---|---|---:|" + "---:|" * (len(tools) - 1))
    env = dict(os.environ, LC_ALL="C")
    runs = [("unwind_depth", ["8"]), ("unwind_depth", ["40"]), ("malloc_small", []),
            ("deep_stack", [])]
    if a.only:
        runs = [r for r in runs if r[0] in a.only.split(",")]
    med = {}
    for b, extra in runs:
        for v in BUILDS:
            prog = [os.path.join(work, "%s.%s" % (b, v)), a.scale] + extra
            times = {t: [] for t in tools}
            for _ in range(a.reps):
                for t in tools:
                    out = os.path.join(work, "out")
                    run_env = env
                    if t == "native":
                        argv = prog
                    elif t == "preload":
                        argv = prog
                        os.makedirs(out + ".d", exist_ok=True)
                        run_env = dict(env, LD_PRELOAD=lib, MEMGATE_DIR=out + ".d")
                    elif t == "heaptrack":
                        argv = ["heaptrack", "-o", out] + prog
                    elif t == "before":
                        argv = [os.path.abspath(a.before), "trace", "-o", out + ".json", "--"] + prog
                    else:
                        argv = [memgate, "trace"] + t.split()[1:] + ["-o", out + ".json", "--"] + prog
                    times[t].append(wall(argv, run_env))
                    for f in os.listdir(work):
                        if f.startswith("out"):
                            f = os.path.join(work, f)
                            if os.path.isdir(f):
                                shutil.rmtree(f, ignore_errors=True)
                            else:
                                os.remove(f)
            nat = statistics.median(times["native"])
            for t in tools:
                med[(b + "".join(extra), v, t)] = statistics.median(times[t])
            print("| %s | %s | %.3f | %s |" % (" ".join([b] + extra), v, nat, " | ".join(
                "%.2f" % (statistics.median(times[t]) / nat) for t in tools[1:])))
            sys.stdout.flush()
    if ("unwind_depth40", "fp", "memgate") not in med:
        return 0
    # unwind_depth makes 4M * scale pairs at 8 and at 40 frames
    pairs = 4e6 * float(a.scale)
    print("\n| nanoseconds per frame (unwind_depth, 40 - 8 frames) | build | " +
          " | ".join(tools[1:]) + " |")
    print("|---|---|" + "---:|" * (len(tools) - 1))
    for v in BUILDS:
        print("| | %s | %s |" % (v, " | ".join(
            "%.1f" % ((med[("unwind_depth40", v, t)] - med[("unwind_depth8", v, t)]) / pairs / 32 * 1e9)
            for t in tools[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
