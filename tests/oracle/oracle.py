#!/usr/bin/python3
"""oracle.py - memgate's figures against valgrind's, on the same programs

For one case (a program and its arguments) this runs, each with the same fixed
environment and working directory:

  native      PROG ARGS                                    (stdout and exit status)
  memgate     memgate trace -o OUT.json -- PROG ARGS
  memgate     the same with extra environment variables    (the program must not
              allocate by its environment: valgrind's differs from memgate's)
  memcheck    valgrind --tool=memcheck --run-libc-freeres=no --run-cxx-freeres=no
                       --leak-check=summary --log-file=LOG PROG ARGS
  dhat        valgrind --tool=dhat --run-libc-freeres=no --run-cxx-freeres=no
                       --dhat-out-file=JSON --log-file=LOG PROG ARGS

and requires, to the byte and block (docs/metrics.md):

  allocs, frees, total_bytes     = memcheck "total heap usage: N allocs, M frees, B bytes allocated"
  leaked_bytes, leaked_blocks    = memcheck "in use at exit: X bytes in Y blocks"
  definitely_lost_*, indirectly_lost_*, possibly_lost_*, still_reachable_*
                                 = memcheck's LEAK SUMMARY (bytes and blocks per kind)
  peak_bytes, peak_blocks        = DHAT t-gmax (sum of "gb" / "gbk" over "pps", which must
                                   also equal the log's "At t-gmax: X bytes in Y blocks")

except for the differences pinned in PINS below, each with its reason: there the
figure must be exactly valgrind's plus the pinned delta, so a change in either
direction fails.  Every program's stdout and exit status under each tool must be
the native ones.

usage: oracle.py --memgate PATH --bin DIR --work DIR CASE...
       oracle.py --list
Exit 0 pass, 1 mismatch, 77 skipped (no valgrind), 2 usage/setup error.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

# The environment every run starts from (programs allocate by the length of
# their environment and of $PWD), and their working directory.
BASE_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": "/"}
CWD = "/"

# Debian's /usr/bin/valgrind is a shell script that adds LD_LIBRARY_PATH=/usr/lib/debug,
# GLIBCXX_FORCE_NEW=1, GLIBCPP_FORCE_NEW=1 and (the shell) PWD before it execs
# valgrind.bin; the real binary adds only LD_PRELOAD (its vgpreload libraries).
VALGRIND_CANDIDATES = ["/usr/bin/valgrind.bin", "/usr/libexec/valgrind/valgrind.bin"]

# The extra variables of the environment-sensitivity run: more and longer
# variables than either tool adds.
PROBE_ENV = {
    "ORACLE_PROBE_A": "a" * 150,
    "ORACLE_PROBE_B": "/usr/libexec/valgrind/vgpreload_core-amd64-linux.so",
    "ORACLE_PROBE_C": "c" * 7,
}

KINDS = ["definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable"]
KIND_FIELDS = [k + u for k in KINDS for u in ("_bytes", "_blocks")]
FIELDS = ["allocs", "frees", "total_bytes", "leaked_bytes", "leaked_blocks",
          "peak_bytes", "peak_blocks"] + KIND_FIELDS
# (memgate field, oracle tool): every comparison made.  The peak bytes are
# compared with both massif (exact: 0-byte blocks are 0 bytes) and DHAT (which
# counts them as 1 byte); the peak blocks with DHAT (massif has no block count).
CHECKS = [("allocs", "memcheck"), ("frees", "memcheck"), ("total_bytes", "memcheck"),
          ("leaked_bytes", "memcheck"), ("leaked_blocks", "memcheck"),
          ("peak_bytes", "massif"), ("peak_bytes", "dhat"), ("peak_blocks", "dhat")] + \
         [(f, "memcheck") for f in KIND_FIELDS]

# Input files, generated into the work directory (deterministic content).
def _lines(n):
    # a fixed pseudo-random permutation: LCG, no dependence on the host
    x, out = 12345, []
    for i in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        out.append("line %06d %08x %s\n" % (x % 1000000, x, "w" * (x % 23)))
    return "".join(out)

INPUTS = {
    "sort.txt": lambda: _lines(2000),
    "data.json": lambda: json.dumps(
        {"items": [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 7), "x"],
                    "price": i * 1.25} for i in range(300)]}, indent=1) + "\n",
    "calc.bc": lambda: "scale=50\nx=0\nfor(i=1;i<=200;i++){x=x+1/i}\nx\n2^300\nsqrt(2)\nquit\n",
    "blob.txt": lambda: _lines(3000),
}

# name -> argv; {bin} is the build directory of the oracle fixtures, {work} the
# work directory holding INPUTS.  Real programs are single-threaded, read only
# their arguments, and run under valgrind in a few seconds.
CASES = {}
for s in ["basic", "calloc", "realloc", "reallocarray", "memalign", "pvalloc", "malloc0",
          "free_null", "strdup", "failed", "sawtooth", "equal_peaks", "equal_peaks2",
          "realloc_peak", "rises", "many", "many_pairs", "threads", "leak_kinds",
          "leak_kinds_joined", "grow_realloc", "write_before", "prot_none"]:
    CASES["c_" + s] = ["{bin}/oracle_c", s]
for s in ["new_delete", "aligned_new", "nothrow_new", "nothrow_fail", "new_zero", "containers", "exceptions"]:
    CASES["cxx_" + s] = ["{bin}/oracle_cxx", s]
CASES.update({
    "sort": ["/usr/bin/sort", "{work}/sort.txt"],
    "bzip2": ["/usr/bin/bzip2", "-c", "-1", "{work}/blob.txt"],
    "xz": ["/usr/bin/xz", "-c", "-1", "-T1", "{work}/blob.txt"],
    "jq": ["/usr/bin/jq", "-c", "[.items[] | select(.id % 3 == 0) | {id, name}] | length",
           "{work}/data.json"],
    "sqlite3": ["/usr/bin/sqlite3", ":memory:",
                "create table t(a integer, b text); "
                "insert into t select value, printf('%08d', value * 7) from generate_series(1, 500); "
                "select count(*), sum(a), max(b) from t;"],
    "bc": ["/usr/bin/bc", "-q", "{work}/calc.bc"],
    "file": ["/usr/bin/file", "{work}/data.json", "{work}/sort.txt"],
    "mawk": ["/usr/bin/mawk", "{ n[$3 % 10]++ } END { for (k = 0; k < 10; k++) print k, n[k] }", "{work}/sort.txt"],
    "python3": ["/usr/bin/python3", "-I", "-S", "-c", "print(sum(range(1000)))"],
    "diff": ["/usr/bin/diff", "{work}/sort.txt", "{work}/blob.txt"],
})

MOVES = ("valgrind's realloc always moves a block; glibc grew this one in place, so a stale "
         "copy of the old pointer still points at its start natively")

# Differences that come from valgrind or glibc themselves, not from memgate:
# case -> {"field@tool": (memgate - tool, reason)}.  Exact: a change in either
# direction fails.  See README.md for the evidence behind each.
def dhat_zero(n):
    return (-n, "DHAT records a 0-byte request as 1 byte (dh_main.c new_block: 'if (req_szB "
                "== 0) req_szB = 1'); memgate, memcheck and massif count 0: %d such block(s) "
                "live at DHAT's t-gmax (massif's exact peak equals memgate's)" % n)

NOTHROW_FAIL = ("libstdc++'s nothrow operator new calls the throwing one and catches its "
                "std::bad_alloc, so natively a failed nothrow new allocates (and frees) a "
                "136-byte exception object (__cxa_allocate_exception); valgrind replaces the "
                "nothrow operator with one that returns NULL directly")
PINS = {
    "c_malloc0": {"peak_bytes@dhat": dhat_zero(2)},
    "c_calloc": {"peak_bytes@dhat": dhat_zero(1)},
    "cxx_new_zero": {"peak_bytes@dhat": dhat_zero(3)},
    "cxx_nothrow_fail": {
        "allocs@memcheck": (2, NOTHROW_FAIL + ": two failed calls"),
        "frees@memcheck": (2, NOTHROW_FAIL),
        "total_bytes@memcheck": (272, NOTHROW_FAIL + ": 2 x 136 bytes"),
        "peak_bytes@massif": (136, NOTHROW_FAIL + ": the peak is the exception object's"),
        "peak_bytes@dhat": (136, NOTHROW_FAIL + ": the peak is the exception object's"),
        "peak_blocks@dhat": (1, NOTHROW_FAIL + ": the peak is the exception object's"),
    },
    "file": {"peak_bytes@dhat": dhat_zero(80)},
    # mawk grows a 248-byte buffer with realloc, which glibc does in place (same
    # address: checked with gdb), and keeps a stale copy of the old pointer in
    # its bss.  Natively that copy still points at the block's start: still
    # reachable.  memcheck's realloc always moves the block, so under valgrind
    # the copy dangles and only an interior pointer (offset 240) remains.
    "mawk": {
        "possibly_lost_bytes@memcheck": (-248, MOVES),
        "possibly_lost_blocks@memcheck": (-1, MOVES),
        "still_reachable_bytes@memcheck": (248, MOVES),
        "still_reachable_blocks@memcheck": (1, MOVES),
    },
}

# memcheck skips any pointer to a block whose first byte is not readable
# (mc_leakcheck.c, lc_is_a_chunk_ptr: "if (!VG_(am_is_valid_for_client)(ptr, 1,
# VKI_PROT_READ)) return False"), before it even looks for the block: a block
# made PROT_NONE is "definitely lost" however it is pointed to.  memgate goes
# by the pointers: the block a global points to is still reachable, the one
# with interior pointers only is possibly lost (its first word, which the
# length64/newarray heuristics read, is unreadable), and the 1000-byte block
# whose only pointer lies in an unreadable page is definitely lost, as memcheck
# says.
PROT_NONE = ("memcheck ignores pointers to a block whose first byte is unreadable "
             "(lc_is_a_chunk_ptr); memgate: the PROT_NONE block a global points to is still "
             "reachable, the one with interior pointers only possibly lost")
PINS["c_prot_none"] = {
    "definitely_lost_bytes@memcheck": (-409600, PROT_NONE),
    "definitely_lost_blocks@memcheck": (-2, PROT_NONE),
    "possibly_lost_bytes@memcheck": (204800, PROT_NONE),
    "possibly_lost_blocks@memcheck": (1, PROT_NONE),
    "still_reachable_bytes@memcheck": (204800, PROT_NONE),
    "still_reachable_blocks@memcheck": (1, PROT_NONE),
}

# Cases valgrind cannot run: memgate's figures are checked against hand-computed
# ones, and the valgrind log must still show the refusal, so that a valgrind
# that supports the call turns this into an ordinary comparison.
HAND = {
    "c_pvalloc": {
        "valgrind_says": "Program aborting because of call to pvalloc",
        "reason": "valgrind 3.19 does not implement pvalloc on Linux: its replacement aborts "
                  "the program ('Program aborting because of call to pvalloc') before any "
                  "allocation. memgate records the requested sizes (100, 5000), not glibc's "
                  "page-rounded ones",
        "figures": {"allocs": 2, "frees": 1, "total_bytes": 5100, "leaked_bytes": 5000,
                    "leaked_blocks": 1, "peak_bytes": 5100, "peak_blocks": 2,
                    "definitely_lost_bytes": 0, "definitely_lost_blocks": 0,
                    "indirectly_lost_bytes": 0, "indirectly_lost_blocks": 0,
                    "possibly_lost_bytes": 0, "possibly_lost_blocks": 0,
                    "still_reachable_bytes": 5000, "still_reachable_blocks": 1},
    },
}

# ---------------------------------------------------------------------------

class Failure(Exception):
    pass


def env_with(extra=None):
    e = dict(BASE_ENV)
    if extra:
        e.update(extra)
    return e


def run(argv, env, out_path=None, timeout=120):
    """run argv in CWD with env; returns (rc, stdout bytes, stderr bytes)"""
    p = subprocess.run(argv, cwd=CWD, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def num(s):
    return int(s.replace(",", ""))


def memgate_figures(memgate, argv, out, extra_env=None):
    if os.path.exists(out):
        os.unlink(out)
    rc, so, se = run([memgate, "trace", "-o", out, "--"] + argv, env_with(extra_env))
    if not os.path.exists(out):
        raise Failure("memgate wrote no profile (exit %d): %s" % (rc, se.decode(errors="replace")))
    with open(out) as f:
        prof = json.load(f)
    procs = prof.get("processes", [])
    if len(procs) != 1:
        raise Failure("expected one traced process, got %d" % len(procs))
    p = procs[0]
    if not prof.get("complete", False) or not p.get("complete", False):
        raise Failure("memgate profile is incomplete")
    if p.get("unknown_frees", 0):
        raise Failure("memgate saw %d frees of unknown blocks" % p["unknown_frees"])
    prog_rc = p.get("exit_code") if p.get("end") == "exited" else None
    return {k: prof["summary"][k] for k in FIELDS}, so, prog_rc


def memcheck_figures(valgrind, argv, log):
    rc, so, _ = run([valgrind, "--tool=memcheck", "--run-libc-freeres=no",
                     "--run-cxx-freeres=no", "--leak-check=summary", "--log-file=" + log] + argv,
                    env_with())
    text = open(log).read()
    return parse_memcheck(text), so, rc, text


def parse_memcheck(text):
    """the figures of one process's memcheck log (also used by tests/wild)"""
    m1 = re.search(r"in use at exit: ([\d,]+) bytes in ([\d,]+) blocks", text)
    m2 = re.search(r"total heap usage: ([\d,]+) allocs, ([\d,]+) frees, ([\d,]+) bytes allocated",
                   text)
    if not (m1 and m2):
        raise Failure("memcheck log has no HEAP SUMMARY:\n" + text)
    figs = {"leaked_bytes": num(m1.group(1)), "leaked_blocks": num(m1.group(2)),
            "allocs": num(m2.group(1)), "frees": num(m2.group(2)),
            "total_bytes": num(m2.group(3))}
    # LEAK SUMMARY; absent when "All heap blocks were freed"
    for k in KINDS:
        m = re.search(r"%s: ([\d,]+) bytes in ([\d,]+) blocks" % k.replace("_", " "), text)
        figs[k + "_bytes"] = num(m.group(1)) if m else 0
        figs[k + "_blocks"] = num(m.group(2)) if m else 0
    if figs["leaked_blocks"] and not re.search("LEAK SUMMARY", text):
        raise Failure("memcheck log has no LEAK SUMMARY:\n" + text)
    return figs


def dhat_figures(valgrind, argv, out, log):
    rc, so, _ = run([valgrind, "--tool=dhat", "--run-libc-freeres=no", "--run-cxx-freeres=no",
                     "--dhat-out-file=" + out, "--log-file=" + log] + argv, env_with())
    with open(out) as f:
        d = json.load(f)
    if d.get("mode") != "heap":
        raise Failure("DHAT output is not in heap mode")
    gb = sum(pp.get("gb", 0) for pp in d["pps"])
    gbk = sum(pp.get("gbk", 0) for pp in d["pps"])
    text = open(log).read()
    m = re.search(r"At t-gmax:\s+([\d,]+) bytes in ([\d,]+) blocks", text)
    if not m:
        raise Failure("DHAT log has no t-gmax line:\n" + text)
    if (num(m.group(1)), num(m.group(2))) != (gb, gbk):
        raise Failure("DHAT JSON t-gmax %d/%d differs from its log %s/%s"
                      % (gb, gbk, m.group(1), m.group(2)))
    return {"peak_bytes": gb, "peak_blocks": gbk}, so, rc


def massif_figures(valgrind, argv, out):
    rc, so, _ = run([valgrind, "--tool=massif", "--peak-inaccuracy=0", "--heap-admin=0",
                     "--stacks=no", "--run-libc-freeres=no", "--run-cxx-freeres=no",
                     "--massif-out-file=" + out, "--log-file=" + out + ".log"] + argv,
                    env_with())
    text = open(out).read()
    heaps = [num(x) for x in re.findall(r"^mem_heap_B=(\d+)$", text, re.M)]
    if not heaps:
        raise Failure("massif output has no snapshots")
    # With --peak-inaccuracy=0 massif snapshots the peak exactly, as the snapshot
    # marked heap_tree=peak, when the heap next shrinks by a free; a peak reached
    # at exit (no later free) is the final snapshot instead.  Either way it is the
    # largest mem_heap_B.
    peak = max(heaps)
    return {"peak_bytes": peak}, so, rc


def find_valgrind():
    v = os.environ.get("ORACLE_VALGRIND")
    if v:
        return v
    for c in VALGRIND_CANDIDATES:
        if os.access(c, os.X_OK):
            return c
    return shutil.which("valgrind")


def check_hand(name, memgate, valgrind, argv, base):
    h = HAND[name]
    mg, _, _ = memgate_figures(memgate, argv, base + ".memgate.json")
    try:
        memcheck_figures(valgrind, argv, base + ".memcheck.log")
    except Failure:
        pass
    text = open(base + ".memcheck.log").read()
    errors = []
    print("%-20s %-14s %12s %12s  %s" % (name, "field", "memgate", "by hand", "status"))
    for f in FIELDS:
        st = "equal" if mg[f] == h["figures"][f] else "MISMATCH"
        print("%-20s %-14s %12d %12d  %s" % ("", f, mg[f], h["figures"][f], st))
        if mg[f] != h["figures"][f]:
            errors.append("%s: memgate %d, hand-computed %d" % (f, mg[f], h["figures"][f]))
    if h["valgrind_says"] not in text:
        errors.append("valgrind no longer says %r: it can run this case now, compare with it"
                      " (%s)" % (h["valgrind_says"], h["reason"]))
    return errors


def check_case(name, memgate, valgrind, bindir, work):
    argv = [a.replace("{bin}", bindir).replace("{work}", work) for a in CASES[name]]
    base = os.path.join(work, name)
    if name in HAND:
        errors = check_hand(name, memgate, valgrind, argv, base)
        for e in errors:
            print("FAIL %s: %s" % (name, e))
        return not errors
    pins = PINS.get(name, {})

    rc_n, so_n, _ = run(argv, env_with())
    mg, so_m, rc_m = memgate_figures(memgate, argv, base + ".memgate.json")
    mg2, _, _ = memgate_figures(memgate, argv, base + ".memgate-env.json", PROBE_ENV)
    got = {}
    mc, so_c, rc_c, _ = memcheck_figures(valgrind, argv, base + ".memcheck.log")
    got["memcheck"] = mc
    got["dhat"], so_d, rc_d = dhat_figures(valgrind, argv, base + ".dhat.json", base + ".dhat.log")
    got["massif"], so_s, rc_s = massif_figures(valgrind, argv, base + ".massif.out")

    errors = []
    for tool, so, rc in (("memgate", so_m, rc_m), ("memcheck", so_c, rc_c), ("dhat", so_d, rc_d),
                         ("massif", so_s, rc_s)):
        if so != so_n or rc != rc_n:
            errors.append("%s changed the program's output or exit status (%r vs native %r)"
                          % (tool, rc, rc_n))
    if mg != mg2:
        errors.append("the program allocates by its environment (memgate %s, with %d more "
                      "variables %s): unfit for the oracle" % (mg, len(PROBE_ENV), mg2))
    if mg["leaked_blocks"] > 1:
        # the leak check's in-place sort, its fallback without room for a
        # copy of the blocks (src/tracer/leakcheck.c, sort): the same kinds
        mg3, _, _ = memgate_figures(memgate, argv, base + ".memgate-heapsort.json",
                                    {"MEMGATE_TEST_LEAK_SORT": "heap"})
        for f in KIND_FIELDS:
            if mg3[f] != mg[f]:
                errors.append("%s: %d with the leak check's in-place sort, %d with its merge"
                              % (f, mg3[f], mg[f]))

    print("%-20s %-14s %12s %12s %8s  %s" % (name, "field", "memgate", "oracle", "delta", "tool"))
    for f, tool in CHECKS:
        key = f + "@" + tool
        want_delta, reason = pins.get(key, (0, ""))
        ref = got[tool][f]
        delta = mg[f] - ref
        status = "equal" if delta == 0 and want_delta == 0 else (
            "pinned" if delta == want_delta else "MISMATCH")
        print("%-20s %-14s %12d %12d %+8d  %-9s %s" % ("", f, mg[f], ref, delta, tool, status))
        if delta != want_delta:
            msg = "%s: memgate %d, %s %d (delta %+d, expected %+d)" % (
                f, mg[f], tool, ref, delta, want_delta)
            if want_delta:
                msg += " -- pinned because: " + reason
            errors.append(msg)
    for e in errors:
        print("FAIL %s: %s" % (name, e))
    return not errors


def parse_args(cases, extra=()):
    """the command line of oracle.py and stacks.py; None after --list (printed).
    extra: (flag, default) options more"""
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--memgate")
    ap.add_argument("--bin", help="directory with the programs")
    ap.add_argument("--work")
    for flag, default in extra:
        ap.add_argument(flag, default=default)
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    if a.list:
        print(";".join(cases))
        return None
    if not (a.memgate and a.bin and a.work and a.cases):
        ap.error("--memgate, --bin, --work and a CASE are required")
    for c in a.cases:
        if c not in cases:
            ap.error("unknown case " + c)
    return a


def main():
    a = parse_args(CASES)
    if a is None:
        return 0
    for c in list(PINS) + list(HAND):
        assert c in CASES, c
    for c, pins in PINS.items():
        for k in pins:
            assert tuple(k.split("@")) in CHECKS, (c, k)
    valgrind = find_valgrind()
    if not valgrind:
        print("SKIP: valgrind not found")
        return 77
    os.makedirs(a.work, exist_ok=True)
    for fname, gen in INPUTS.items():
        path = os.path.join(a.work, fname)
        data = gen()
        if not os.path.exists(path) or open(path).read() != data:
            tmp = path + ".%d" % os.getpid()
            with open(tmp, "w") as f:
                f.write(data)
            os.replace(tmp, path)
    ok = True
    for c in a.cases:
        try:
            ok = check_case(c, os.path.abspath(a.memgate), valgrind, os.path.abspath(a.bin),
                            os.path.abspath(a.work)) and ok
        except (Failure, subprocess.TimeoutExpired, OSError, ValueError) as e:
            print("FAIL %s: %s" % (c, e))
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
