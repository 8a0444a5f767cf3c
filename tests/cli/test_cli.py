#!/usr/bin/env python3
"""End-to-end tests of the `fattn` command-line tool.

usage: test_cli.py PATH_TO_FATTN CASE

Each CASE is one meson test. Exit codes are part of the contract:
0 success, 1 library error or failed check, 2 usage error. Sanitizer
reports (the suite also runs under ASan/UBSan) always fail the test, even
where a non-zero exit is expected.
"""
import os
import re
import subprocess
import sys

FATTN = None
TINY = ["--seq", "64", "--dim", "16", "--repeat", "2"]
PATHS = ["scalar", "avx2", "avx512"]


class Failure(Exception):
    pass


def run(args, env_extra=None, env_drop=("FATTN_ISA",)):
    env = dict(os.environ)
    for name in env_drop:
        env.pop(name, None)
    env.update(env_extra or {})
    p = subprocess.run([FATTN] + args, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True,
                       timeout=600)
    print("$ %s%s" % (" ".join("%s=%s" % kv for kv in (env_extra or {}).items()) + " " if env_extra else "",
                      " ".join(["fattn"] + args)))
    print("exit %d" % p.returncode)
    if p.stdout:
        print("--- stdout\n" + p.stdout.rstrip())
    if p.stderr:
        print("--- stderr\n" + p.stderr.rstrip())
    for marker in ("Sanitizer", "runtime error:"):
        if marker in p.stderr:
            raise Failure("sanitizer report in stderr")
    return p


def expect(cond, what):
    if not cond:
        raise Failure(what)


def expect_exit(p, code):
    expect(p.returncode == code,
           "expected exit %d, got %d" % (code, p.returncode))


def expect_in(needle, text, where):
    expect(needle in text, "%r not found in %s" % (needle, where))


def available_paths():
    """Paths `fattn info` reports available, e.g. {'scalar'}."""
    p = run(["info"])
    expect_exit(p, 0)
    avail = set()
    for line in p.stdout.splitlines():
        m = re.match(r"\s+(scalar|avx2|avx512)\s+(available|not available)\b",
                     line)
        if m and m.group(2) == "available":
            avail.add(m.group(1))
    return avail, p


# ---- cases -------------------------------------------------------------

def case_info():
    avail, p = available_paths()
    expect("scalar" in avail, "the scalar path must always be available")
    m = re.search(r"^auto path: (\w+) \(best available\)$", p.stdout, re.M)
    expect(m is not None, "no 'auto path: <path> (best available)' line")
    expect(m.group(1) in avail,
           "auto path %r is not among the available paths" % m.group(1))
    expect_in("fattn ", p.stdout, "stdout")
    expect(p.stderr == "", "info wrote to stderr")


def case_info_env_forced():
    p = run(["info"], {"FATTN_ISA": "scalar"})
    expect_exit(p, 0)
    expect(re.search(r"^auto path: scalar \(FATTN_ISA=scalar in the environment\)$",
                     p.stdout, re.M) is not None,
           "FATTN_ISA=scalar not reported as the reason")
    # An empty value means "not set"; "auto" asks for the best available.
    for value in ("", "auto"):
        p = run(["info"], {"FATTN_ISA": value})
        expect_exit(p, 0)
        expect_in("(best available)", p.stdout, "stdout")
    p = run(["bench"] + TINY, {"FATTN_ISA": "scalar"})
    expect_exit(p, 0)
    expect_in("path: scalar (auto: FATTN_ISA=scalar in the environment)",
              p.stdout, "stdout")


def case_info_env_bogus():
    p = run(["info"], {"FATTN_ISA": "bogus"})
    expect_exit(p, 1)
    expect_in("fattn info: error (isa_unavailable): ", p.stderr, "stderr")
    expect_in("bogus", p.stderr, "stderr (the library names the bad value)")
    p = run(["bench"] + TINY, {"FATTN_ISA": "bogus"})
    expect_exit(p, 1)
    expect_in("fattn bench: error (isa_unavailable): ", p.stderr, "stderr")
    expect_in("bogus", p.stderr, "stderr")
    expect("PASS" not in p.stdout, "bench ran despite FATTN_ISA=bogus")


def bench_ok(args, env_extra=None):
    p = run(["bench"] + args, env_extra)
    expect_exit(p, 0)
    expect_in("GFLOP/s", p.stdout, "stdout")
    expect(re.search(r"^PASS: ", p.stdout, re.M) is not None, "no PASS line")
    expect(re.search(r"^bench: .* PASS$", p.stdout, re.M) is not None,
           "no summary line ending in PASS")
    return p


def case_bench_dense():
    p = bench_ok(TINY)
    expect_in("shape: B=1 H=8 HKV=8 Sq=64 Sk=64 D=16 causal=none", p.stdout,
              "stdout")
    expect_in("(dense: 4*B*H*Sq*Sk*D)", p.stdout, "stdout")
    # 4 * 1 * 8 * 64 * 64 * 16 FLOP = 0.002097 GFLOP
    expect_in("flops: 0.002097 GFLOP per call", p.stdout, "stdout")
    expect(len(re.findall(r"^run \d+/2: ", p.stdout, re.M)) == 2,
           "expected 2 timed runs")
    expect_in("warm-up: ", p.stdout, "stdout")
    m = re.search(r"^path: (\w+) \(auto: best available\)$", p.stdout, re.M)
    expect(m is not None, "no path line")


def case_bench_causal():
    # Bottom-right causal with Sq > Sk: the first rows are fully masked.
    p = bench_ok(["--seq", "40", "--seq-k", "24", "--dim", "8", "--heads", "2",
                  "--causal", "bottom-right", "--repeat", "1"])
    # Visible pairs per head: rows 16..39 see 1..24 keys = 300; 2 heads.
    expect_in("counting only the 600 visible (query, key) pairs", p.stdout,
              "stdout")
    p = bench_ok(["--seq", "24", "--seq-k", "40", "--dim", "8", "--heads", "1",
                  "--causal", "top-left", "--repeat", "1"])
    # Top-left, Sq < Sk: row i sees i + 1 keys: 24 * 25 / 2 = 300.
    expect_in("counting only the 300 visible (query, key) pairs", p.stdout,
              "stdout")


def case_bench_window_gqa():
    p = bench_ok(["--seq", "48", "--seq-k", "80", "--dim", "12", "--heads", "4",
                  "--kv-heads", "2", "--batch", "2", "--causal", "bottom-right",
                  "--window", "7,0", "--repeat", "2", "--seed", "7"])
    # pos(i) = i + 32 >= 7: every row sees exactly 8 keys; 2*4*48 rows.
    expect_in("counting only the 3072 visible (query, key) pairs", p.stdout,
              "stdout")
    expect_in("HKV=2", p.stdout, "stdout")
    # Unlimited left side, non-causal window, --opt=value syntax.
    bench_ok(["--seq=33", "--dim=5", "--window=-1,2", "--repeat=1"])


def case_bench_isa():
    """Each forced path either runs and passes, or fails with the library's
    ISA error, exactly as `fattn info` reports its availability."""
    avail, _ = available_paths()
    for isa in PATHS:
        p = run(["bench", "--isa", isa] + TINY)
        if isa in avail:
            expect_exit(p, 0)
            expect_in("path: %s (forced with --isa)" % isa, p.stdout, "stdout")
            expect(re.search(r"^PASS: ", p.stdout, re.M) is not None,
                   "no PASS line for --isa %s" % isa)
        else:
            expect_exit(p, 1)
            expect_in("fattn bench: error (isa_unavailable): fattn_", p.stderr,
                      "stderr")
            expect("PASS" not in p.stdout, "an unavailable path ran")


def usage_error(args, *needles):
    p = run(args)
    expect_exit(p, 2)
    for needle in needles:
        expect_in(needle, p.stderr, "stderr")
    expect("PASS" not in p.stdout, "a benchmark ran despite a usage error")


def case_usage():
    usage_error([], "usage: fattn")
    usage_error(["frobnicate"], "unknown command 'frobnicate'")
    usage_error(["--frobnicate"], "unknown option '--frobnicate'")
    usage_error(["info", "--verbose"], "unknown option '--verbose'")
    usage_error(["bench", "--bogus"], "unknown option '--bogus'")
    usage_error(["bench", "extra"], "unexpected argument 'extra'")
    usage_error(["bench", "--dim", "0"], "--dim must be >= 1 (got 0)")
    usage_error(["bench", "--heads", "-3"], "--heads must be >= 1 (got -3)")
    usage_error(["bench", "--seq", "abc"], "--seq: 'abc' is not an integer")
    usage_error(["bench", "--seq", "12x"], "--seq: '12x' is not an integer")
    usage_error(["bench", "--seq", " 12"], "--seq: ' 12' is not an integer")
    usage_error(["bench", "--seq", ""], "--seq: '' is not an integer")
    usage_error(["bench", "--seq", "99999999999999999999"],
                "--seq: '99999999999999999999' is out of range")
    usage_error(["bench", "--seq"], "option --seq needs a value")
    usage_error(["bench", "--seed", "-1"], "--seed: '-1' is not a non-negative")
    usage_error(["bench", "--repeat", "0"], "--repeat must be between 1 and")
    usage_error(["bench", "--causal", "diagonal"],
                "--causal: 'diagonal' is not one of: none, top-left, bottom-right")
    usage_error(["bench", "--isa", "sse2"], "--isa: 'sse2' is not one of")
    usage_error(["bench", "--window", "5"], "--window: '5' is not of the form")
    usage_error(["bench", "--window", "-2,0"], "--window must be >= -1 (got -2)")
    usage_error(["--version", "x"], "--version takes no arguments")


def case_library_errors():
    # The library rejects these; the CLI prints its message and exits 1.
    p = run(["bench", "--heads", "6", "--kv-heads", "4", "--seq", "8",
             "--dim", "4"])
    expect_exit(p, 1)
    expect_in("fattn bench: error (not_divisible): fattn_", p.stderr, "stderr")
    expect(re.search(r"\b6\b", p.stderr) and re.search(r"\b4\b", p.stderr),
           "the message must name both head counts")
    p = run(["bench", "--dim", "5000", "--seq", "1"])
    expect_exit(p, 1)
    expect_in("fattn bench: error (invalid_dimension): fattn_", p.stderr,
              "stderr")
    expect_in("5000", p.stderr, "stderr")
    # Buffers larger than memory (or the address space) are refused up
    # front, before anything is allocated.
    for seq in ("100000000000", "9223372036854775807"):
        p = run(["bench", "--seq", seq])
        expect_exit(p, 1)
        expect_in("fattn bench: error: the shape is too large", p.stderr,
                  "stderr")
    # A window alignment that contradicts the causal alignment.
    p = run(["bench", "--seq", "8", "--dim", "4", "--causal", "top-left",
             "--window", "2,0", "--align", "bottom-right"])
    expect_exit(p, 1)
    expect_in("fattn bench: error (incompatible_options): fattn_", p.stderr,
              "stderr")


def case_help_version():
    for args in (["--help"], ["-h"], ["help"]):
        p = run(args)
        expect_exit(p, 0)
        expect_in("usage: fattn <command>", p.stdout, "stdout")
    p = run(["info", "--help"])
    expect_exit(p, 0)
    expect_in("usage: fattn info", p.stdout, "stdout")
    p = run(["bench", "--help"])
    expect_exit(p, 0)
    expect_in("usage: fattn bench", p.stdout, "stdout")
    for opt in ("--batch", "--heads", "--kv-heads", "--seq", "--seq-k",
                "--dim", "--causal", "--window", "--repeat", "--isa", "--seed"):
        expect_in(opt + " ", p.stdout, "bench --help")
    p = run(["--version"])
    expect_exit(p, 0)
    expect(re.match(r"^fattn \d+\.\d+\.\d+\n$", p.stdout) is not None,
           "--version prints 'fattn MAJOR.MINOR.PATCH'")


CASES = {name[len("case_"):]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main(argv):
    global FATTN
    if len(argv) != 3 or argv[2] not in CASES:
        raise SystemExit("usage: test_cli.py FATTN CASE (one of: %s)"
                         % ", ".join(sorted(CASES)))
    FATTN = argv[1]
    try:
        CASES[argv[2]]()
    except Failure as e:
        print("FAIL %s: %s" % (argv[2], e))
        return 1
    print("ok %s" % argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
