#!/usr/bin/python3
"""Instructions per malloc+free pair, by component of the tracer (stdlib only).

callgrind counts the instructions of a benchmark at two sizes, N and 2N pairs;
the difference divided by N is the cost of one pair with every fixed cost
(start-up, exit, the first touches of each table) cancelled out.  The same for
the native run gives glibc's own share; the rest is memgate's, split by where
its instructions come from.  callgrind's line-level counts keep the source
file and line of inlined code, so each line of libmemgate.so is charged to the
C function that contains it in the source (found by reading the source), and
that function to a component:

  hooks      hooks.c, hookpath.h: the exported entry points, calls into glibc, the guard
  state      is the tracer recording, may this thread record, the solo flag
  thread     finding the calling thread's record (thread.c, mgt_thread_self, tracing)
  size       the live-block map: shadow and side table (ptrmap.h, ptrmap.c)
  counters   the counters, the exact peak, the timeline, batches (record.c)
  walk       the walk (unwind.c, or frame pointers) and its hashes (stack.c, up to the depot)
  depot      the stack depot: last-stack cache, index probe, insert
  plt        calls through libmemgate's own PLT (glibc's __libc_* entry points)
  libc+rest  everything else: glibc and the program beyond the native run

Usage: bench/components.py --lib build/libmemgate.so [--only malloc_small,threads2]
       [--scale 0.02] [--align 16] [--nofp] [--by-function]
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TRACER = os.path.join(REPO, "src", "tracer")

# (file, source function or None for any, component).  First match wins.
RULES = [
    ("hooks.c", "wait_if_frozen", "state"),
    ("record.c", "begin", "state"),
    ("record.c", "end", "state"),
    ("event.h", "mgt_ev_begin", "state"),
    ("event.h", "mgt_ev_end", "state"),
    ("tracer.h", "mgt_thread_self", "thread"),
    ("tracer.h", "mgt_thread_pointer", "thread"),
    ("tracer.h", "mgt_thread_cached", "thread"),
    ("tracer.h", "mgt_thread_in", "thread"),
    ("tracer.h", "mgt_hook_thread", "thread"),
    ("thread.c", "mgt_thread_alloc", "hooks"),
    ("thread.c", "mgt_thread_free", "hooks"),
    ("hooks.c", "tracing_fast", "thread"),
    ("hooks.c", "tracing", "thread"),
    ("thread.c", None, "thread"),
    ("hooks.c", None, "hooks"),
    ("hookpath.h", None, "hooks"),
    ("ptrmap.h", None, "size"),
    ("ptrmap.c", None, "size"),
    ("stack.c", "mgt_stack_capture:walk", "walk"),
    ("stack.c", "walk", "walk"),
    ("stack.c", "fp_walk", "walk"),
    ("stack.c", "capture_slow", "walk"),
    ("stack.c", "fp_seed", "walk"),
    ("stack.c", "fp_step", "walk"),
    ("stack.c", "fp_hash", "walk"),
    ("stack.c", "stack_bounds", "walk"),
    ("stack.c", "stack_lookup", "walk"),
    ("stack.c", None, "depot"),
    ("unwind.c", None, "walk"),
    ("unwind.h", None, "walk"),
    ("record.c", None, "counters"),
    ("event.h", None, "counters"),
    ("count.h", None, "counters"),
    ("tracer.h", None, "counters"),     # mgt_lock & co, used by the counters
]
COMPONENTS = ["hooks", "state", "thread", "size", "counters", "walk", "depot", "plt", "other tracer"]

# mgt_stack_capture: lines before the first one matching this are the walk
WALK_END = re.compile(r"last_hash")

IDENT_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(")
NOT_NAMES = {"__attribute__", "MGT_LIKELY", "MGT_UNLIKELY", "sizeof", "if", "for", "while",
             "switch", "return"}


def source_functions(path):
    """line number -> name of the top-level function whose body holds it
    (mgt_stack_capture is split in two: :walk, then :depot from WALK_END on)."""
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    except OSError:
        return {}
    owner = {}
    name, pending, depth = None, None, 0
    for no, text in enumerate(lines, 1):
        if depth == 0 and text[:1].isalpha() and not text.startswith(("typedef", "struct ",
                                                                       "enum ", "#")):
            cands = [c for c in IDENT_CALL.findall(text) if c not in NOT_NAMES]
            if cands:
                pending = cands[0]
        if depth == 0 and "{" in text and pending:
            name = pending
            if name == "mgt_stack_capture":
                name += ":walk"
        if name == "mgt_stack_capture:walk" and WALK_END.search(text):
            name = "mgt_stack_capture:depot"
        if name:
            owner[no] = name
        depth += text.count("{") - text.count("}")
        if depth <= 0:
            depth = 0
            if "}" in text or ";" in text:
                name = None
                if "}" in text:
                    pending = None
    return owner


class Funcs:
    def __init__(self, lib):
        self.cache = {}
        self.lib = lib

    def of(self, path, line):
        base = os.path.basename(path)
        if base not in self.cache:
            self.cache[base] = source_functions(os.path.join(TRACER, base))
        return self.cache[base].get(line)


def classify(funcs, obj, path, line, fn):
    """component of a cost line, or None when it is not the tracer's"""
    if obj != funcs.lib:
        return None, None
    base = os.path.basename(path)
    if base == "???" or not base:
        return ("plt" if "plt" in fn or fn.startswith("0x") else "other tracer"), fn
    src_fn = funcs.of(path, line) or "?"
    for f, want, comp in RULES:
        if f == base and (want is None or want == src_fn):
            return comp, "%s:%s" % (base, src_fn)
    return "other tracer", "%s:%s" % (base, src_fn)


def parse(path, funcs):
    """total Ir, Ir per component, Ir per file:function of libmemgate"""
    names = {"fl": {}, "fi": {}, "fe": {}, "fn": {}, "ob": {}, "cfi": {}, "cfl": {},
             "cfn": {}, "cob": {}}
    shared = {"fl": "file", "fi": "file", "fe": "file", "cfi": "file", "cfl": "file",
              "fn": "fn", "cfn": "fn", "ob": "ob", "cob": "ob"}
    table = {"file": {}, "fn": {}, "ob": {}}
    comp = collections.Counter()
    byfn = collections.Counter()
    total = 0
    ob = fl = fi = fn = ""
    last = 0
    skip_next = False
    key_cache = {}

    def name_of(kind, rest):
        m = re.match(r"\((\d+)\)\s*(.*)", rest)
        t = table[shared[kind]]
        if m:
            if m.group(2):
                t[m.group(1)] = m.group(2)
            return t.get(m.group(1), "?")
        return rest

    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                pos = parts[0]
                if pos == "*":
                    ln = last
                elif pos[0] in "+-":
                    ln = last + int(pos)
                else:
                    ln = int(pos)
                last = ln
                cost = int(parts[1]) if len(parts) > 1 else 0
                if skip_next:
                    skip_next = False     # a call's inclusive cost: not ours
                    continue
                total += cost
                k = (ob, fi, ln, fn)
                r = key_cache.get(k)
                if r is None:
                    r = key_cache[k] = classify(funcs, ob, fi, ln, fn)
                if r[0]:
                    comp[r[0]] += cost
                    byfn[r[1]] += cost
                continue
            if line.startswith("calls="):
                skip_next = True
                continue
            if "=" not in line:
                continue
            kind, rest = line.split("=", 1)
            if kind == "ob":
                ob = name_of(kind, rest)
            elif kind == "fl":
                fl = fi = name_of(kind, rest)
            elif kind in ("fi", "fe"):
                fi = name_of(kind, rest)
            elif kind == "fn":
                fn = name_of(kind, rest)
                fi = fl
            elif kind in ("cob", "cfi", "cfl", "cfn"):
                name_of(kind, rest)
    return total, comp, byfn


def callgrind(argv, env, workdir, tag):
    out = os.path.join(workdir, "cg.%s.out" % tag)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + argv
    r = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        sys.exit("components.py: %s failed:\n%s" % (" ".join(argv), r.stderr[-2000:]))
    return out


def build(workdir, align, nofp):
    binDir = os.path.join(workdir, "bin")
    os.makedirs(binDir, exist_ok=True)
    for name in ("malloc_small", "realloc_grow", "threads2", "deep_stack"):
        cmd = ["cc", "-O2", "-g", "-fomit-frame-pointer" if nofp else "-fno-omit-frame-pointer",
               "-pthread"]
        if align:
            cmd.append("-falign-functions=%d" % align)
        cmd += ["-o", os.path.join(binDir, name), os.path.join(HERE, name + ".c")]
        subprocess.run(cmd, check=True)
    return binDir


PAIRS = {"malloc_small": 12000000, "realloc_grow": 12600000, "threads2": 12000000,
         "deep_stack": 1500000}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", required=True, help="libmemgate.so to measure")
    ap.add_argument("--only", default="malloc_small,threads2")
    ap.add_argument("--scale", type=float, default=0.02, help="size N (2N is also run)")
    ap.add_argument("--align", type=int, default=0, help="-falign-functions of the programs")
    ap.add_argument("--nofp", action="store_true",
                    help="build the programs -fomit-frame-pointer (as compilers do by default)")
    ap.add_argument("--by-function", action="store_true",
                    help="also list the tracer's source functions")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    lib = os.path.abspath(args.lib)
    workdir = args.work or tempfile.mkdtemp(prefix="memgate-components.")
    binDir = build(workdir, args.align, args.nofp)
    funcs = Funcs(lib)
    # (mode, MEMGATE_DEPTH, MEMGATE_UNWIND): the default walk reads .eh_frame;
    # --unwind fp follows frame pointers (issue 15's stack targets are for it)
    modes = [("native", None, None), ("memgate", None, None), ("--unwind fp", None, "fp"),
             ("--no-stacks", "0", None)]
    for bench in args.only.split(","):
        n = PAIRS[bench] * args.scale
        res = {}
        for mode, depth, unwind in modes:
            per = []
            for mult in (1, 2):
                env = dict(os.environ, LC_ALL="C")
                if mode != "native":
                    d = tempfile.mkdtemp(dir=workdir)
                    env.update(LD_PRELOAD=lib, MEMGATE_DIR=d)
                    if depth is not None:
                        env["MEMGATE_DEPTH"] = depth
                    if unwind is not None:
                        env["MEMGATE_UNWIND"] = unwind
                tag = "%s.%s.%d" % (bench, mode.strip("-").replace(" ", "-"), mult)
                out = callgrind([os.path.join(binDir, bench), str(args.scale * mult)],
                                env, workdir, tag)
                per.append(parse(out, funcs))
            tot = (per[1][0] - per[0][0]) / n
            comp = {k: (per[1][1][k] - per[0][1][k]) / n for k in COMPONENTS}
            byfn = {k: (per[1][2][k] - per[0][2][k]) / n
                    for k in set(per[0][2]) | set(per[1][2])}
            res[mode] = (tot, comp, byfn)
        native = res["native"][0]
        print("### %s: instructions per malloc+free pair (N = %d, 2N; align %s%s)\n" % (
            bench, n, args.align or "default", "; -fomit-frame-pointer" if args.nofp else ""))
        print("| | native | " + " | ".join(COMPONENTS) + " | libc+rest | **extra** |")
        print("|---|---|" + "---|" * (len(COMPONENTS) + 2))
        for mode, _d, _u in modes:
            tot, comp, _b = res[mode]
            if mode == "native":
                print("| native | %.0f |" % tot + " - |" * (len(COMPONENTS) + 2))
                continue
            tracer = sum(comp.values())
            rest = tot - native - tracer
            cells = " | ".join("%.1f" % comp[k] for k in COMPONENTS)
            print("| %s | | %s | %.1f | **%.1f** |" % (mode, cells, rest, tot - native))
        print()
        if args.by_function:
            for mode, _d, _u in modes[1:]:
                print("%s, by source function:" % mode)
                for k, v in sorted(res[mode][2].items(), key=lambda kv: -kv[1]):
                    if abs(v) >= 0.5:
                        print("  %7.1f  %s" % (v, k))
                print()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
