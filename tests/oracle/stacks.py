#!/usr/bin/python3
"""stacks.py - memgate's call stacks against valgrind's, on code without frame pointers

For one case (a program and its arguments) this runs, with oracle.py's fixed
environment and working directory:

  native      PROG ARGS                                  (stdout and exit status)
  memgate     memgate trace --whole-stacks [--unwind MODE] -o OUT.json -- PROG ARGS
              (the runtime's own blocks too are compared whole: their stacks
              are where unwinding through libc and libstdc++ is hardest)
  memcheck    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all
                       --num-callers=64 --keep-debuginfo=yes (names in unloaded code)
                       --run-libc-freeres=no --run-cxx-freeres=no
                       --log-file=LOG PROG ARGS

and requires that the blocks live at exit be grouped by the same call stacks,
with the same bytes and blocks per stack.  A stack is compared function for
function, as valgrind prints it:

- valgrind's first line is its own replacement of the allocator (malloc,
  operator new ...): memgate records from the allocator's caller, so it goes;
- frames end at `main` (valgrind hides what is below it);
- an address inside inlined code is one frame, named by the function that
  holds the code (valgrind prints one line per inlined call, memgate one
  entry; whether each finds the inline information of a system library is
  not what is tested here);
- a name equals another when both name the same symbol: the same text once
  symbol versions ("@@GLIBC_2.2.5") and C++ parameter lists are dropped, or
  aliases of one address in memgate's module for the frame (printf and
  _IO_printf).

Cases whose stacks are known to differ are not hidden: a case lists them in
KNOWN_SHORT with the reason (none today).

usage: stacks.py --memgate PATH --bin DIR --work DIR CASE...
       stacks.py --list
Exit 0 pass, 1 mismatch, 77 skipped (no valgrind, or no rustc for a Rust case),
2 usage/setup error.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import oracle  # noqa: E402  (the shared environment and valgrind lookup)
from profile_stacks import expand  # noqa: E402  (the compact stack table, read back)

# name -> (program in --bin, arguments; "{bin}" is --bin)
CASES = {
    "chain": ("unwind_c", ["chain"]),
    "qsort": ("unwind_c", ["qsort"]),
    "strings": ("unwind_c", ["strings"]),
    "signal": ("unwind_c", ["signal"]),
    "dlopen": ("unwind_c", ["dlopen", "{bin}"]),
    "scribble": ("unwind_c", ["scribble", "7"]),
    "memo": ("unwind_c", ["memo"]),
    "memo_cut": ("unwind_c", ["memo"]),     # traced with --depth CUT_DEPTH
    "memo_resume": ("unwind_c", ["resume"]),
    "snapshot": ("unwind_c", ["snapshot"]),
    "cxx_string": ("unwind_cxx", ["string"]),
    "cxx_vector": ("unwind_cxx", ["vector"]),
    "cxx_map": ("unwind_cxx", ["map"]),
    "cxx_shared": ("unwind_cxx", ["shared"]),
    "rust": ("unwind_rust", []),
}


# memo_cut: stacks cut at this depth, valgrind's cut to as many frames; the
# walker's memo must cut a remembered stack where a full walk would (some of
# the fixture's stacks are deeper, some not)
CUT_DEPTH = 6


def cut(stacks, depth):
    """{key: [bytes, blocks]} with every key cut to its first depth frames"""
    out = {}
    for k, (b, n) in stacks.items():
        acc = out.setdefault(k[:depth], [0, 0])
        acc[0] += b
        acc[1] += n
    return out


def symbols(path, cache={}):
    """name -> address of every symbol of an ELF file (readelf), for aliases"""
    if path in cache:
        return cache[path]
    out = {}
    try:
        text = subprocess.run(["readelf", "-sW", path], capture_output=True, text=True,
                              timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] in ("FUNC", "IFUNC") and f[1] != "0000000000000000":
            out.setdefault(f[7].split("@")[0], int(f[1], 16))
    cache[path] = out
    return out


RUST_ESCAPES = {"$LT$": "<", "$GT$": ">", "$C$": ",", "$RF$": "&", "$BP$": "*",
                "$SP$": "@", "$u20$": " ", "$u27$": "'", "$u5b$": "[", "$u5d$": "]",
                "$u7b$": "{", "$u7d$": "}", "$u7e$": "~", "..": "::"}


def plain(name):
    """a function name without symbol version and C++ parameter list; a Rust
    legacy-mangled name (as __cxa_demangle leaves it) decoded like valgrind
    does, without its hash"""
    if name is None:
        return "???"
    name = re.sub(r"@@?[A-Za-z0-9_.]+$", "", name)
    name = re.sub(r"::h[0-9a-f]{16}$", "", name)
    if "$" in name or ".." in name:
        name = name.replace("_$", "$")
        for k, v in RUST_ESCAPES.items():
            name = name.replace(k, v)
    # drop a trailing parameter list "(...)" (with nested parentheses) and
    # qualifiers after it
    if name.endswith(")") or name.endswith(" const"):
        depth, i = 0, len(name) - 1
        while i >= 0 and name[i] != ")":
            i -= 1
        while i >= 0:
            if name[i] == ")":
                depth += 1
            elif name[i] == "(":
                depth -= 1
                if depth == 0:
                    break
            i -= 1
        if i > 0 and not name.startswith("("):
            name = name[:i]
    return name.strip()


# what runs main and the constructors: valgrind shows it as "(below main)"
BELOW_MAIN = {"(below main)", "__libc_start_main", "__libc_start_call_main", "_start"}


def cut_at_main(frames):
    """up to main included, or up to what is below main excluded"""
    for i, f in enumerate(frames):
        if f[0] == "main":
            return frames[:i + 1]
        if f[0] in BELOW_MAIN:
            return frames[:i]
    return frames


def memgate_stacks(profile):
    """{tuple of frames: [bytes, blocks]} of the blocks live at exit"""
    with open(profile) as f:
        doc = json.load(f)
    problems = expand(doc)
    if problems:
        raise SystemExit("FAIL: %s: %s" % (profile, "; ".join(problems)))
    if len(doc["processes"]) != 1:
        raise SystemExit("FAIL: expected one process, got %d" % len(doc["processes"]))
    p = doc["processes"][0]
    table = p["frames"]
    out = {}
    for st in p["stacks"]:
        idx, lb, lk = st[0], st[5], st[6]
        if not lk:
            continue
        frames = []
        for i in idx:
            fr = table[i]
            # inlined entries come first, the function holding the code last
            if frames and frames[-1][2] == fr["addr"]:
                frames[-1] = (plain(fr["function"]), fr["module"], fr["addr"])
            else:
                frames.append((plain(fr["function"]), fr["module"], fr["addr"]))
        key = tuple((n, m) for n, m, _ in cut_at_main(frames))
        acc = out.setdefault(key, [0, 0])
        acc[0] += lb
        acc[1] += lk
    return out


REC = re.compile(r"^==\d+== ([\d,]+) (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes in "
                 r"([\d,]+) blocks are .* in loss record")
FRAME = re.compile(r"^==\d+==    (?:at|by) (0x[0-9A-F]+): (.*?)( \((?:in )?[^()]*\))?$")


def valgrind_stacks(log):
    out = {}
    cur = None
    lines = open(log).read().splitlines() + ["==0== "]
    for line in lines:
        m = REC.match(line)
        if m:
            cur = [int(m.group(1).replace(",", "")), int(m.group(2).replace(",", "")), [], False]
            continue
        if cur is None:
            continue
        f = FRAME.match(line)
        if f and cur[3]:
            continue
        if f:
            addr, name = f.group(1), f.group(2)
            if name == "???" and not f.group(3):
                # an address in no object: valgrind went on past the
                # outermost frame (ld.so's entry) into argc and argv
                cur[3] = True
                continue
            if cur[2] and cur[2][-1][1] == addr:
                cur[2][-1] = (plain(name), addr)      # inlined: keep the outer one
            else:
                cur[2].append((plain(name), addr))
            continue
        frames = [(n, None) for n, _ in cur[2][1:]]   # [0]: valgrind's allocator
        key = tuple(n for n, _ in cut_at_main(frames))
        acc = out.setdefault(key, [0, 0])
        acc[0] += cur[0]
        acc[1] += cur[1]
        cur = None
    return out


def same_address_reused(profile):
    """the dlopen case tests address reuse only if both libraries' plugin_make
    had the same address (in different modules): say so when it did not"""
    with open(profile) as f:
        doc = json.load(f)
    expand(doc)
    frames = doc["processes"][0]["frames"]
    seen = {(fr["addr"], fr["module"]) for fr in frames if fr["function"] == "plugin_make"}
    addrs = {a for a, _ in seen}
    if len(seen) != 2 or len(addrs) != 1:
        print("FAIL: the two libraries were not both seen at one address: %s" % sorted(seen))
        return False
    print("ok: both libraries ran at %s, each named by its own module" % addrs.pop())
    return True


def same_name(vg, mg_name, module):
    if vg == mg_name:
        return True
    # memgate may name a function by its DWARF name where valgrind gives the
    # qualified one (std::rt::lang_start_internal)
    if vg.endswith("::" + mg_name):
        return True
    # a stripped library's startup code: memgate names it from .init_array
    # (docs/profile-schema.md), valgrind has no name for it
    if vg == "???" and mg_name == "(static initializer)":
        return True
    if module and vg != "???" and mg_name != "???":
        syms = symbols(module)
        a, b = syms.get(vg), syms.get(mg_name)
        return a is not None and a == b
    return False


def same_stack(vg_key, mg_key):
    if len(vg_key) != len(mg_key):
        return False
    return all(same_name(v, n, m) for v, (n, m) in zip(vg_key, mg_key))


def show(key):
    return " < ".join(k if isinstance(k, str) else k[0] for k in key) or "(no frames)"


def check_case(name, memgate, valgrind, bindir, work, mode):
    prog, args = CASES[name]
    exe = os.path.join(bindir, prog)
    if not os.path.exists(exe):
        print("SKIP: %s was not built (%s)" % (prog, "no rustc" if name == "rust" else "?"))
        return 77
    argv = [exe] + [a.replace("{bin}", bindir) for a in args]
    env = oracle.env_with()
    native = oracle.run(argv, env)        # (status, stdout, stderr)
    tag = name + ("." + mode if mode else "")
    prof = os.path.join(work, tag + ".stacks.json")
    cmd = [memgate, "trace", "--whole-stacks"] + (["--unwind", mode] if mode else []) + \
        (["--depth", str(CUT_DEPTH)] if name == "memo_cut" else []) + ["-o", prof, "--"] + argv
    mg = oracle.run(cmd, env)
    if mg[0] != 0:
        print("FAIL: memgate exited %d\n%s" % (mg[0], mg[2].decode(errors="replace")))
        return 1
    log = os.path.join(work, tag + ".stacks.memcheck.log")
    vg = oracle.run([valgrind, "--tool=memcheck", "--run-libc-freeres=no", "--run-cxx-freeres=no",
                     "--leak-check=full", "--show-leak-kinds=all", "--num-callers=64",
                     "--keep-debuginfo=yes",
                     "--log-file=" + log] + argv, env)
    ok = True
    for tool, r in (("memgate", mg), ("memcheck", vg)):
        if r[1] != native[1] or (tool == "memcheck" and r[0] != native[0]):
            print("FAIL: %s changed the program's output or status" % tool)
            ok = False
    want = valgrind_stacks(log)
    got = memgate_stacks(prof)
    if name == "memo_cut":
        # the cut stacks are those that do not reach main; the tracer's own
        # innermost frames count in --depth but are not shown
        shown = [len(k) for k in got if not k or k[-1][0] != "main"]
        if not shown or len(shown) == len(got) or max(shown) > CUT_DEPTH or max(shown) < 4:
            print("FAIL: expected stacks cut at %d frames and whole ones" % CUT_DEPTH)
            return 1
        want = cut(want, max(shown))
    if name == "dlopen":
        ok = same_address_reused(prof) and ok
    unmatched = dict(got)
    for vkey, (vb, vn) in sorted(want.items()):
        hit = next((k for k in unmatched if same_stack(vkey, k)), None)
        if hit is None:
            print("FAIL: valgrind's stack (%d bytes in %d blocks) is not memgate's:\n  %s"
                  % (vb, vn, show(vkey)))
            ok = False
            continue
        mb, mn = unmatched.pop(hit)
        if (mb, mn) != (vb, vn):
            print("FAIL: %s: memgate %d bytes in %d blocks, valgrind %d in %d"
                  % (show(vkey), mb, mn, vb, vn))
            ok = False
        else:
            print("ok: %d bytes in %d blocks: %s" % (vb, vn, show(vkey)))
    for k, (mb, mn) in unmatched.items():
        print("FAIL: memgate's stack (%d bytes in %d blocks) is not valgrind's:\n  %s"
              % (mb, mn, show(k)))
        ok = False
    if not want:
        print("FAIL: valgrind reported no block live at exit (%s)" % log)
        ok = False
    return 0 if ok else 1


def main():
    a = oracle.parse_args(CASES, [("--unwind", "")])
    if a is None:
        return 0
    valgrind = oracle.find_valgrind()
    if not valgrind:
        print("SKIP: valgrind is not installed")
        return 77
    os.makedirs(a.work, exist_ok=True)
    rc = 0
    for c in a.cases:
        r = check_case(c, os.path.abspath(a.memgate), valgrind, os.path.abspath(a.bin),
                       os.path.abspath(a.work), a.unwind)
        rc = rc or r
    return rc


if __name__ == "__main__":
    sys.exit(main())
