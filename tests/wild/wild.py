#!/usr/bin/python3
"""wild.py - "libc in the wild": programs that call libc where a tracer may
deadlock or recurse, each traced by `memgate trace` with stacks (issue 12 A)

A case is one or more runs of a program (tests/wild/README.md).  Each run

  - is started natively, then under `memgate trace` (stacks on, the default),
    both with a time limit: a hang is a failure, never a stuck suite;
  - must keep the program's exit status and stdout under memgate;
  - must give a complete profile: every process complete, exited, no free of
    a block memgate did not see;
  - when the program is deterministic (`oracle`), must give the figures of
    valgrind's memcheck for the program's own process, to the byte and block,
    compared with tests/oracle/oracle.py's parsers and environment.

usage: wild.py --memgate PATH --bin DIR --work DIR CASE
       wild.py --list
Exit 0 pass, 1 failure, 77 skipped (a compiler or valgrind missing), 2 usage.
"""
import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "oracle"))
import oracle  # noqa: E402  (the environment, the runner and memcheck's parser)

# memgate's figures compared with memcheck's, for a deterministic run: the
# HEAP SUMMARY, and the LEAK SUMMARY's kinds where no thread has exited (the
# stack glibc keeps of an exited thread holds stale pointers: memgate's leak
# check scans it, memcheck does not; README.md)
HEAP = ["allocs", "frees", "total_bytes", "leaked_bytes", "leaked_blocks"]
FIGURES = {"all": HEAP + oracle.KIND_FIELDS, "heap": HEAP, None: []}

FUNCS = ["getattr", "dlopen", "phdr", "backtrace", "nss", "locale", "iconv", "time", "regex",
         "glob", "popen", "fopen", "qsort"]
PLUGIN = "{plugin}"

# case -> list of runs: (label, argv, the figures compared with memcheck's).  {bin}: the fixtures' build
# directory, {plugin}: the library fx_wild dlopens, {work}: this case's work
# directory.
CASES = {}
for f in FUNCS:
    CASES[f] = [("main", ["{bin}/fx_wild", f, "main", PLUGIN], "all"),
                ("threads", ["{bin}/fx_wild", f, "threads", PLUGIN], "heap"),
                # who initialises shared state first depends on the interleaving
                ("concurrent", ["{bin}/fx_wild", f, "concurrent", PLUGIN], None),
                # the children's figures depend on the threads forked under
                ("fork", ["{bin}/fx_wild", f, "fork", PLUGIN], None)]
CASES.update({
    # how far the cancelled thread got, how the threads interleave: not deterministic
    "cancel": [("cancel", ["{bin}/fx_wild", "cancel"], None)],
    "exits": [("exits", ["{bin}/fx_wild", "exits"], None)],
    # fork with the loader's lock held: by the forking thread, then by another
    "phdr_fork": [("phdr_fork", ["{bin}/fx_wild", "phdr_fork", PLUGIN], None)],
    # tests/tracer's fixture of every kind of stack the walk meets
    "stack_bounds": [("stack_bounds", ["{bin}/fx_stack_bounds"], "heap")],
    "cxx": [("cxx", ["{bin}/fx_wild_cxx"], "heap")],
    "openmp": [("openmp", ["{bin}/fx_wild_omp"], "heap")],
    "rust_spawn": [("rust_spawn", ["{work}/wild_spawn"], "heap")],
    "rust": [("rust_seq", ["{work}/wild_rust", "seq"], "heap"),
             ("rust_par", ["{work}/wild_rust", "par"], None)],
})
RUST_SOURCES = {"rust_spawn": "wild_spawn.rs", "rust": "wild_rust.rs"}
TIMEOUT = 30         # seconds per run of the program (the ctest has its own, larger)


Failure = oracle.Failure


def find_rustc():
    for c in [shutil.which("rustc"), os.path.expanduser("~/.cargo/bin/rustc"),
              "/root/.cargo/bin/rustc"]:
        if c and os.access(c, os.X_OK):
            return c
    return None


def build_rust(case, work):
    rustc = find_rustc()
    if not rustc:
        return "rustc not found (PATH, ~/.cargo/bin)"
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", RUST_SOURCES[case])
    out = os.path.join(work, RUST_SOURCES[case][:-3])
    p = subprocess.run([rustc, "--edition=2021", "-C", "opt-level=1", "-C", "debuginfo=1",
                        "-C", "force-frame-pointers=yes", "-o", out, src],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    if p.returncode != 0:
        raise Failure("rustc failed:\n" + p.stdout.decode(errors="replace"))
    return None


def kill_session(sid):
    """SIGKILL every process of session sid: memgate and the process groups it made"""
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if d.isdigit() and int(fields[3]) == sid:
                os.kill(int(d), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            pass


def memgate_run(memgate, argv, out):
    """the run under memgate: (its profile, the program's stdout, memgate's exit status)"""
    if os.path.exists(out):
        os.unlink(out)
    p = subprocess.Popen([memgate, "trace", "-o", out, "--"] + argv, cwd=oracle.CWD,
                         env=oracle.env_with(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        so, se = p.communicate(timeout=TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        kill_session(p.pid)               # the hung program too, not only memgate
        p.communicate()
        raise Failure("hung under memgate: no exit within %d s" % TIMEOUT)
    if not os.path.exists(out):
        raise Failure("memgate wrote no profile (exit %d): %s" % (rc, se.decode(errors="replace")))
    with open(out) as f:
        return json.load(f), so, rc


def check_profile(prof):
    """every process complete and exited, no unknown free; returns the program's own process"""
    errors = []
    procs = prof.get("processes", [])
    if not procs or not prof.get("complete"):
        errors.append("the profile is incomplete")
    pids = {p["pid"] for p in procs}
    roots = [p for p in procs if p.get("parent") not in pids]
    for p in procs:
        what = "process %d (%s)" % (p["pid"], os.path.basename(p.get("exe", "?")))
        if not p.get("complete"):
            errors.append(what + " is incomplete")
        if p.get("end") != "exited":
            errors.append("%s ended by %s" % (what, p.get("end")))
        if p.get("unknown_frees"):
            errors.append("%s: %d frees of blocks memgate never saw" % (what, p["unknown_frees"]))
        if p["frees"] > p["allocs"] + p.get("inherited_frees", 0):
            errors.append("%s: more frees (%d) than allocations (%d)" % (what, p["frees"], p["allocs"]))
    if len(roots) != 1:
        errors.append("expected one root process, got %d" % len(roots))
    return roots[0] if len(roots) == 1 else None, errors


def memcheck_root(valgrind, argv, base):
    """memcheck's figures for the program's own process (children log apart)"""
    for old in glob.glob(base + ".memcheck.log.*"):
        os.unlink(old)
    try:
        rc, so, _ = oracle.run([valgrind, "--tool=memcheck", "--run-libc-freeres=no",
                                "--run-cxx-freeres=no", "--leak-check=summary",
                                "--log-file=" + base + ".memcheck.log.%p"] + argv,
                               oracle.env_with(), timeout=300)
    except subprocess.TimeoutExpired:
        raise Failure("memcheck did not finish within 300 s")
    mine = "Parent PID: %d\n" % os.getpid()
    logs = [p for p in glob.glob(base + ".memcheck.log.*") if mine in open(p).read()]
    if len(logs) != 1:
        raise Failure("expected one memcheck log with %r, got %d" % (mine.strip(), len(logs)))
    with open(logs[0]) as f:
        return oracle.parse_memcheck(f.read()), so, rc


def check_run(label, argv, want_oracle, memgate, valgrind, base):
    errors = []
    try:
        rc_n, so_n, se_n = oracle.run(argv, oracle.env_with(), timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Failure("%s: hung natively (the fixture is broken)" % label)
    if rc_n != 0:
        raise Failure("%s: fails natively (exit %d): %s" % (label, rc_n, se_n.decode(errors="replace")))
    prof, so_m, rc_m = memgate_run(memgate, argv, base + ".memgate.json")
    root, errors = check_profile(prof)
    if rc_m != 0:
        errors.append("memgate exited %d (the program natively 0)" % rc_m)
    if so_m != so_n:
        errors.append("memgate changed the program's stdout: %r, natively %r" % (so_m, so_n))
    print("%-12s %-22s %12s %12s  %s" % (label, "field", "memgate", "memcheck", "status"))
    if root and want_oracle and valgrind:
        mc, so_c, rc_c = memcheck_root(valgrind, argv, base)
        if so_c != so_n or rc_c != rc_n:
            errors.append("memcheck changed the program's output or exit status")
        for f in FIGURES[want_oracle]:
            st = "equal" if root[f] == mc[f] else "MISMATCH"
            print("%-12s %-22s %12d %12d  %s" % ("", f, root[f], mc[f], st))
            if root[f] != mc[f]:
                errors.append("%s: memgate %d, memcheck %d" % (f, root[f], mc[f]))
    elif root:
        for f in ("allocs", "frees", "total_bytes", "leaked_bytes"):
            print("%-12s %-22s %12d %12s  %s" % ("", f, root[f], "-",
                                                  "no valgrind" if want_oracle else "not deterministic"))
    return ["%s: %s" % (label, e) for e in errors]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--memgate")
    ap.add_argument("--bin")
    ap.add_argument("--plugin")
    ap.add_argument("--work")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print(";".join(CASES))
        return 0
    if not (a.memgate and a.bin and a.plugin and a.work and a.case in CASES):
        ap.error("--memgate, --bin, --plugin, --work and a known CASE are required")
    work = os.path.join(os.path.abspath(a.work), a.case)
    os.makedirs(work, exist_ok=True)
    bindir = os.path.abspath(a.bin)
    if a.case in RUST_SOURCES:
        why = build_rust(a.case, work)
        if why:
            print("SKIP: %s" % why)
            return 77
    subst = {"{bin}": bindir, "{work}": work, "{plugin}": os.path.abspath(a.plugin)}

    def expand(x):
        for k, v in subst.items():
            x = x.replace(k, v)
        return x
    for _, argv, _ in CASES[a.case]:
        if not os.path.exists(expand(argv[0])):
            print("SKIP: %s was not built (its compiler or runtime is missing)" % argv[0])
            return 77
    valgrind = oracle.find_valgrind()
    if not valgrind:
        print("NOTE: valgrind not found: the runs are checked, their figures not compared")
    errors = []
    for label, argv, want_oracle in CASES[a.case]:
        argv = [expand(x) for x in argv]
        try:
            errors += check_run(label, argv, want_oracle, os.path.abspath(a.memgate), valgrind,
                                os.path.join(work, label))
        except (Failure, OSError, ValueError) as e:
            errors.append(str(e))
    for e in errors:
        print("FAIL %s: %s" % (a.case, e))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
