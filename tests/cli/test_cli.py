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
# Skips the peak and bandwidth meters (seconds and a buffer of hundreds of
# MiB per run): only the cases that check those lines measure them.
NO_PEAKS = ["--no-peaks"]
# The most threads a pool may have (FATTN_MAX_THREADS in fattn.h).
MAX_THREADS = 1024


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


def path_list():
    """The library's kernel paths, from `fattn info --paths` (the designed
    machine-readable list: "<name> available|unavailable" per line, in the
    library's order), as [(name, available)]."""
    p = run(["info", "--paths"])
    expect_exit(p, 0)
    expect(p.stderr == "", "info --paths wrote to stderr")
    paths = []
    for line in p.stdout.splitlines():
        m = re.match(r"^([a-z0-9_]+) (available|unavailable)$", line)
        expect(m is not None, "info --paths: unexpected line %r" % line)
        paths.append((m.group(1), m.group(2) == "available"))
    expect(len(paths) >= 1, "info --paths listed no path")
    return paths


def available_paths():
    """Paths the library reports available, e.g. {'scalar'}, and the
    output of a plain `fattn info`."""
    avail = {name for name, ok in path_list() if ok}
    p = run(["info"])
    expect_exit(p, 0)
    return avail, p


def digest_of(p):
    m = re.search(r"^digest: ([0-9a-f]{16}) \(FNV-1a 64 of the output's", p.stdout,
                  re.M)
    expect(m is not None, "no 'digest: <16 hex digits> (FNV-1a 64 ...' line")
    return m.group(1)


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
    # The human-readable listing agrees with the machine-readable one, path
    # by path and in the same order.
    listed = re.findall(r"^  (\S+) +(available|not available) +\(needs ",
                        p.stdout, re.M)
    expect([(n, a == "available") for n, a in listed] == path_list(),
           "info and info --paths disagree: %r" % listed)
    m = re.search(r"^usable CPUs: (\d+) \(sched_getaffinity", p.stdout, re.M)
    expect(m is not None and int(m.group(1)) >= 1,
           "no 'usable CPUs: N (sched_getaffinity...' line with N >= 1")
    # The library's own answer, from a C program iterating the registry
    # (tests/paths/list_paths, when the build passes it).
    lister = os.environ.get("FATTN_LIST_PATHS")
    if lister:
        q = subprocess.run([lister], stdout=subprocess.PIPE, universal_newlines=True,
                           env={k: v for k, v in os.environ.items() if k != "FATTN_ISA"})
        expect(q.returncode == 0, "list_paths failed")
        expect(q.stdout.split() == [n for n, a in path_list() if a],
               "info --paths and list_paths disagree: %r" % q.stdout.split())
    # FATTN_ISA does not change the list (a bad value does not even fail it).
    p = run(["info", "--paths"], {"FATTN_ISA": "bogus"})
    expect_exit(p, 0)
    expect([tuple(l.split(" ")) for l in p.stdout.splitlines()] ==
           [(n, "available" if a else "unavailable") for n, a in path_list()],
           "FATTN_ISA changed info --paths")


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
    p = run(["bench"] + TINY + NO_PEAKS, {"FATTN_ISA": "scalar"})
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


def bench_ok(args, env_extra=None, peaks=False):
    """A passing `fattn bench` run, with --no-peaks unless `peaks`."""
    p = run(["bench"] + args + ([] if peaks else NO_PEAKS), env_extra)
    expect_exit(p, 0)
    if peaks:
        expect("(--no-peaks)" not in p.stdout, "a peak not measured")
    else:
        for line in ("peak: not measured (--no-peaks)",
                     "bf16 peak: not measured (--no-peaks)",
                     "% of peak: not computed (--no-peaks)",
                     "read bandwidth: not measured (--no-peaks)",
                     "roofline: not computed (needs the peak and the read "
                     "bandwidth)"):
            expect(re.search("^" + re.escape(line) + "$", p.stdout, re.M)
                   is not None, "--no-peaks: no line %r" % line)
        expect(re.search(r"^bench: .*, PASS, K/V [0-9.]+ GB/s, layout=.*, "
                         r"peak=none, ", p.stdout, re.M) is not None,
               "--no-peaks: the summary has a share of a peak, or not "
               "peak=none")
    expect_in("GFLOP/s", p.stdout, "stdout")
    expect(re.search(r"^PASS: ", p.stdout, re.M) is not None, "no PASS line")
    # The summary: the shape and time, PASS, then the fields added since
    # (K/V rate, layout, dtypes, the peak used, the error over max|V|), so
    # older parsers of its start still work.
    expect(re.search(r"^bench: .*, PASS, K/V [0-9.]+ GB/s.*, "
                     r"layout=(bhsd|bshd) kv_capacity=\d+, " + SUMMARY_DTYPES,
                     p.stdout, re.M)
           is not None, "no summary line with PASS, K/V GB/s, the layout and "
           "the dtypes")
    return p


# The summary line's last fields.
SUMMARY_DTYPES = (r"dtype=(f32|bf16|f16) kv_dtype=(f32|bf16|f16) "
                  r"out_dtype=(f32|bf16|f16), peak=(fma|bf16|none), "
                  r"max_err/max\|V\|=[0-9.e+-]+$")


def case_bench_dense():
    p = bench_ok(TINY, peaks=True)
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
    for isa, _ in path_list():
        p = run(["bench", "--isa", isa] + TINY + NO_PEAKS)
        if isa in avail:
            expect_exit(p, 0)
            # A path made for some dtypes says when it runs another's
            # kernels ("forced with --isa; not all of ... are bf16, ...").
            expect_in("path: %s (forced with --isa" % isa, p.stdout, "stdout")
            expect(re.search(r"^PASS: ", p.stdout, re.M) is not None,
                   "no PASS line for --isa %s" % isa)
        else:
            expect_exit(p, 1)
            expect_in("fattn bench: error (isa_unavailable): fattn_", p.stderr,
                      "stderr")
            expect("PASS" not in p.stdout, "an unavailable path ran")


def case_bench_threads():
    """--threads 1 (the calling thread) and --threads 3 (a pool, more threads
    than this machine may have CPUs) print the same digest: the library's
    results do not depend on the thread count. So do the default and --lse
    runs among themselves, on every available path."""
    shape = ["--seq", "200", "--seq-k", "136", "--dim", "24", "--heads", "6",
             "--kv-heads", "3", "--batch", "2", "--repeat", "1", "--seed", "5"]
    avail, _ = available_paths()
    for isa, _ in path_list():
        if isa not in avail:
            continue
        for extra in ([], ["--lse"], ["--causal", "bottom-right", "--window", "17,3"]):
            digests = []
            for threads in (["--threads", "1"], ["--threads", "3"], []):
                p = bench_ok(shape + extra + ["--isa", isa] + threads)
                if threads == ["--threads", "1"]:
                    expect_in("threads: 1 (the calling thread, no pool)",
                              p.stdout, "stdout")
                elif threads:
                    expect_in("threads: 3 (a fattn pool: the calling thread "
                              "and 2 workers;", p.stdout, "stdout")
                    expect_in(" threads=3: ", p.stdout, "summary line")
                digests.append(digest_of(p))
                if "--lse" in extra:
                    expect_in("then the LSE's 9600:", p.stdout, "digest line")
            expect(len(set(digests)) == 1,
                   "--isa %s %s: the digest depends on --threads: %r"
                   % (isa, " ".join(extra), digests))
    # Different data, different digest (the digest reads the output).
    a = digest_of(bench_ok(shape + ["--threads", "1"]))
    b = digest_of(bench_ok(shape + ["--threads", "1", "--seed", "6"]))
    expect(a != b, "two seeds gave the same digest %s" % a)
    # The default is the usable CPUs that `fattn info` reports.
    _, info = available_paths()
    cpus = int(re.search(r"^usable CPUs: (\d+)", info.stdout, re.M).group(1))
    p = bench_ok(TINY)
    if cpus == 1:
        expect_in("threads: 1 (the calling thread, no pool)", p.stdout, "stdout")
    else:
        expect_in("threads: %d (a fattn pool" % cpus, p.stdout, "stdout")
    # The peak is that of the cores used: one copy of the meter per usable
    # CPU at most, whatever --threads asks for.
    for threads in ("1", "3"):
        p = bench_ok(TINY + ["--threads", threads], peaks=True)
        if re.search(r"^peak: not measured for the scalar path", p.stdout, re.M):
            continue  # the scalar path has no FMA peak
        m = re.search(r"^peak: [0-9.]+ GFLOP/s \(fp32 FMA, (?:one core|(\d+) cores "
                      r"measured at once), ", p.stdout, re.M)
        expect(m is not None, "no 'peak: ... (fp32 FMA, <cores>, ...' line")
        cores = int(m.group(1)) if m.group(1) else 1
        expect(cores == min(int(threads), cpus),
               "--threads %s measured the peak of %d cores, not %d"
               % (threads, cores, min(int(threads), cpus)))


def case_bench_layout():
    """A strided K/V cache (--kv-capacity > Sk) and the BSHD layout pass the
    reference check on every available path, and the same problem gives the
    same digest in every layout and capacity: the digest is of the logical
    output, and the inputs hold the same values."""
    shape = ["--seq", "20", "--seq-k", "45", "--dim", "24", "--heads", "6",
             "--kv-heads", "2", "--batch", "2", "--repeat", "1", "--seed", "3",
             "--threads", "1"]
    layouts = [([], "bhsd", 45), (["--layout", "bhsd"], "bhsd", 45),
               (["--layout", "bshd"], "bshd", 45),
               (["--kv-capacity", "50"], "bhsd", 50),
               (["--layout", "bshd", "--kv-capacity=77"], "bshd", 77)]
    avail, _ = available_paths()
    for isa, _ in path_list():
        if isa not in avail:
            continue
        for extra in ([], ["--lse", "--causal", "bottom-right", "--window", "9,2"]):
            digests = []
            for args, name, capacity in layouts:
                p = bench_ok(shape + extra + args + ["--isa", isa])
                expect_in("(f32, %s" % name.upper(), p.stdout, "shape line")
                if capacity != 45:
                    expect_in("K/V in a cache of %d rows" % capacity, p.stdout,
                              "shape line")
                expect_in(" layout=%s kv_capacity=%d, dtype=f32 " % (name, capacity),
                          p.stdout, "summary line")
                digests.append(digest_of(p))
            expect(len(set(digests)) == 1,
                   "--isa %s %s: the digest depends on the layout: %r"
                   % (isa, " ".join(extra), digests))


def case_bench_rates():
    """The K/V read rate counts the keys some row sees; the roofline uses
    r = (H/HKV)*Sq query rows per K/V row."""
    p = bench_ok(["--seq", "1", "--seq-k", "512", "--heads", "8", "--kv-heads",
                  "2", "--dim", "32", "--repeat", "3"], peaks=True)
    # 4 * 1 * 2 * 512 * (32 + 32) bytes = 262144
    expect_in("K/V read: 0.2621 MB per call (B*HKV*Sk*(D+Dv)*4 bytes, 512 of "
              "512 keys visible): ", p.stdout, "stdout")
    expect(re.search(r"^read bandwidth: [0-9.]+ GB/s \(\d+ threads? reading "
                     r"\d+ MiB at once, median of passes, measured now\): the "
                     r"median run reaches [0-9.]+% of it$", p.stdout, re.M)
           is not None, "no 'read bandwidth: ...' line")
    if not re.search(r"^peak: not measured", p.stdout, re.M):
        expect(re.search(r"^roofline: r = \(H/HKV\)\*Sq = 4 query rows per K/V "
                         r"row, r/2 = 2 FLOP per byte; min\(peak [0-9.]+, "
                         r"BW\*r/2 = [0-9.]+\) = [0-9.]+ GFLOP/s "
                         r"\((memory|compute)-bound\): the median run reaches "
                         r"[0-9.]+% of it$", p.stdout, re.M) is not None,
               "no 'roofline: r = 4 ...' line")
        expect(re.search(r"^bench: .*% of peak\), PASS, K/V [0-9.]+ GB/s "
                         r"\([0-9.]+% of BW\), [0-9.]+% of roofline, "
                         r"layout=bhsd kv_capacity=512, dtype=f32 kv_dtype=f32 "
                         r"out_dtype=f32, peak=fma, ", p.stdout, re.M)
               is not None, "summary line without % of BW and % of roofline")
    # Top-left causal with Sq < Sk: only the first Sq keys are ever seen.
    p = bench_ok(["--seq", "24", "--seq-k", "40", "--dim", "8", "--heads", "4",
                  "--kv-heads", "1", "--causal", "top-left", "--repeat", "1",
                  "--kv-capacity", "64"], peaks=True)
    expect_in("(B*HKV*Sk*(D+Dv)*4 bytes, 24 of 40 keys visible)", p.stdout,
              "stdout")
    if not re.search(r"^peak: not measured", p.stdout, re.M):
        # The scalar path has no FMA peak, hence no roofline (a build with
        # -Dsimd=disabled runs only it).
        expect_in("r = (H/HKV)*Sq = 96 query rows", p.stdout, "stdout")


def summary_fields(p):
    """The summary line's dtype, kv_dtype, out_dtype and peak fields."""
    m = re.search(r"^bench: .*, dtype=(\w+) kv_dtype=(\w+) out_dtype=(\w+), "
                  r"peak=(\w+), max_err/max\|V\|=([0-9.e+-]+)$", p.stdout, re.M)
    expect(m is not None, "no summary line with the dtype fields")
    return m.groups()


def expect_dtype_peaks(p, isa, args, dq, dkv, fields):
    """The peak lines of a measured `fattn bench --dtype ...` run: "% of
    peak" names the peak it divides by, and the roofline counts the bytes
    of a half K/V cache."""
    kv_size = 4 if dkv == "f32" else 2
    # The bf16 peak beside the FMA peak: a figure, or unavailable,
    # never 0 %.
    expect(re.search(r"^bf16 peak: (unavailable \(|[0-9.]+ GFLOP/s "
                     r"\(bf16 dot products, vdpbf16ps, )", p.stdout,
                     re.M) is not None, "no 'bf16 peak: ...' line")
    expect("bf16 peak: 0.0" not in p.stdout, "a bf16 peak of 0 printed")
    dot = isa == "avx512bf16" and dq == dkv == "bf16"
    if fields[3] != "none":
        expect(fields[3] == ("bf16" if dot else "fma"),
               "peak=%s for --isa %s %s" % (fields[3], isa, args))
        expect_in("%% of peak: of the %s" %
                  ("bf16 dot-product peak" if dot else "fp32 FMA peak"),
                  p.stdout, "'% of peak' line")
        if kv_size == 2:
            # 8 query rows per K/V row: r = 8 FLOP per byte.
            expect_in("r = (H/HKV)*Sq = 80 query rows per K/V row, "
                      "r = 80 FLOP per byte of 2-byte K/V", p.stdout,
                      "roofline line")


def case_bench_dtypes():
    """--dtype, --kv-dtype and --out-dtype: every combination runs and
    passes the check against the fp64 reference on the same rounded
    inputs, on every available path; the dtypes show in the shape, digest,
    K/V and summary lines; the digest is the same for every --threads; a
    bf16 or f16 K/V cache reads half the bytes, which the roofline counts;
    "% of peak" names the peak it divides by."""
    shape = ["--seq", "40", "--seq-k", "72", "--dim", "24", "--heads", "4",
             "--kv-heads", "2", "--batch", "2", "--repeat", "1", "--seed", "9"]
    avail, _ = available_paths()
    combos = [(["--dtype", "bf16"], ("bf16", "bf16", "bf16")),
              (["--dtype", "f16"], ("f16", "f16", "f16")),
              (["--kv-dtype", "bf16"], ("f32", "bf16", "f32")),
              (["--kv-dtype=f16", "--out-dtype=bf16"], ("f32", "f16", "bf16")),
              # --kv-dtype and --out-dtype keep their own values whatever
              # the order; --dtype sets only what they leave open.
              (["--out-dtype", "f32", "--kv-dtype", "f16", "--dtype", "bf16"],
               ("bf16", "f16", "f32")),
              (["--dtype", "f16", "--out-dtype", "f16", "--kv-dtype", "bf16"],
               ("f16", "bf16", "f16"))]
    for isa, _ in path_list():
        if isa not in avail:
            continue
        for n, (args, (dq, dkv, dout)) in enumerate(combos):
            digests = []
            lse = ["--lse"] if n % 2 else []  # half of them with the LSE
            for extra in (["--threads", "1"], ["--threads", "3"]):
                # The peaks once per path, with bf16 inputs: the bf16 dot
                # peak on avx512bf16, the FMA peak on the others.
                measured = n == 0 and extra == ["--threads", "1"]
                p = bench_ok(shape + args + lse + extra + ["--isa", isa],
                             peaks=measured)
                fields = summary_fields(p)
                expect(fields[:3] == (dq, dkv, dout),
                       "summary dtypes %r, expected %r" % (fields[:3], (dq, dkv, dout)))
                if dq == dkv == dout:
                    expect_in("(%s, BHSD" % dq, p.stdout, "shape line")
                else:
                    expect_in("(query %s, key/value %s, output %s, BHSD"
                              % (dq, dkv, dout), p.stdout, "shape line")
                esize = 4 if dout == "f32" else 2
                expect_in("output's %d bytes (%s)" % (2 * 4 * 40 * 24 * esize, dout),
                          p.stdout, "digest line")
                kv_size = 4 if dkv == "f32" else 2
                expect_in("(B*HKV*Sk*(D+Dv)*%d bytes%s, 72 of 72 keys visible)"
                          % (kv_size, "" if dkv == "f32" else " (%s)" % dkv),
                          p.stdout, "K/V line")
                # 2 * 2 * 72 * 48 * kv_size bytes.
                expect_in("K/V read: %.4g MB per call" % (13824 * kv_size * 1e-6),
                          p.stdout, "K/V line")
                if dout != "f32":
                    expect(re.search(r"^bound: atol [0-9.e-]+.*, rtol [0-9.e-]+ "
                                     r"\(1e-5 \+ 2\^-%s: the %s output's rounding\)$"
                                     % ("8" if dout == "bf16" else "11", dout),
                                     p.stdout, re.M) is not None,
                           "no 'bound: ...' line for a %s output" % dout)
                expect(re.search(r"^check vs fp64 reference on the same rounded "
                                 r"inputs: .*max abs err / max\|V\| [0-9.e+-]+ "
                                 r"\(max\|V\| = [0-9.]+\)$", p.stdout, re.M)
                       is not None, "no check line with the error over max|V|")
                if measured:
                    expect_dtype_peaks(p, isa, args, dq, dkv, fields)
                digests.append(digest_of(p))
            expect(digests[0] == digests[1],
                   "--isa %s %s: the digest depends on --threads: %r"
                   % (isa, " ".join(args), digests))
    # The output's dtype changes its bytes, and so the digest.
    a = digest_of(bench_ok(shape + ["--threads", "1"]))
    b = digest_of(bench_ok(shape + ["--threads", "1", "--out-dtype", "bf16"]))
    c = digest_of(bench_ok(shape + ["--threads", "1", "--dtype", "f32"]))
    expect(a != b and a == c, "digests f32 %s, bf16 out %s, --dtype f32 %s" % (a, b, c))


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
    usage_error(["info", "--paths", "x"], "unexpected argument 'x'")
    # --threads: 1 .. FATTN_MAX_THREADS, whole decimal numbers only.
    bound = "--threads must be between 1 and %d" % MAX_THREADS
    usage_error(["bench", "--threads", "0"], bound + " (got 0)")
    usage_error(["bench", "--threads", "-1"], bound + " (got -1)")
    usage_error(["bench", "--threads", str(MAX_THREADS + 1)],
                bound + " (got %d)" % (MAX_THREADS + 1))
    usage_error(["bench", "--threads", "2x"], "--threads: '2x' is not an integer")
    usage_error(["bench", "--threads", ""], "--threads: '' is not an integer")
    usage_error(["bench", "--threads"], "option --threads needs a value")
    usage_error(["bench", "--lse=1"], "option --lse takes no value")
    usage_error(["bench", "--no-peaks="], "option --no-peaks takes no value")
    usage_error(["bench", "--no-peak"], "unknown option '--no-peak'")
    # --kv-capacity: at least Sk (--seq-k, default --seq); --layout: a name.
    usage_error(["bench", "--seq", "64", "--kv-capacity", "32"],
                "fattn bench: --kv-capacity = 32 < Sk = 64 (--seq-k, default "
                "--seq): the K/V cache must hold every key")
    usage_error(["bench", "--seq", "8", "--seq-k", "100", "--kv-capacity=99"],
                "--kv-capacity = 99 < Sk = 100")
    usage_error(["bench", "--kv-capacity", "0"], "--kv-capacity must be >= 1 (got 0)")
    usage_error(["bench", "--kv-capacity", "1e3"],
                "--kv-capacity: '1e3' is not an integer")
    usage_error(["bench", "--kv-capacity"], "option --kv-capacity needs a value")
    usage_error(["bench", "--layout", "sbhd"],
                "--layout: 'sbhd' is not one of: bhsd, bshd")
    usage_error(["bench", "--layout", "BSHD"], "--layout: 'BSHD' is not one of")
    usage_error(["bench", "--layout"], "option --layout needs a value")
    # --dtype, --kv-dtype, --out-dtype: f32, bf16 or f16, by name.
    for opt in ("--dtype", "--kv-dtype", "--out-dtype"):
        for bad in ("f64", "BF16", "bool", "fp16", ""):
            usage_error(["bench", opt, bad],
                        "fattn bench: %s: '%s' is not one of: f32, bf16, f16"
                        % (opt, bad))
        usage_error(["bench", opt], "option %s needs a value" % opt)
    usage_error(["bench", "--dtype=bf16", "--kv-dtype=f8"],
                "--kv-dtype: 'f8' is not one of: f32, bf16, f16")
    usage_error(["bench", "--dtypes", "bf16"], "unknown option '--dtypes'")
    # Every usage error ends with the hint, and prints the usage message's
    # form "fattn bench: ..." first.
    p = run(["bench", "--threads", "0"])
    expect(p.stderr.startswith("fattn bench: ") and
           p.stderr.endswith("(see 'fattn bench --help')\n"),
           "a --threads usage error is not 'fattn bench: ...' + the hint")


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
                "--kv-capacity", "--layout", "--dim", "--causal", "--window",
                "--repeat", "--threads", "--lse", "--dtype", "--kv-dtype",
                "--out-dtype", "--isa", "--seed"):
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
