#!/usr/bin/env python3
"""Turn fattn_bench's Google Benchmark JSON into the published results.

    report.py BENCH_JSON OUT_DIR

Writes into OUT_DIR:
  perf.json   the results, aggregates only, without host name or paths
  perf.md     tables: headline shapes at each thread count of the run, their
              thread scaling, the decode grid at each thread count, the
              variants (medians); each headline and decode row names its
              precision (Dtype: f32, bf16, f16 for Q, K, V and output, or
              "f32, bf16 kv" for an f32 query and output over a bf16 cache)
  perf.dat    the sequence-length sweep for bench/perf.gp (gnuplot)
and prints perf.md. Each case's value is its median over the repetitions
(Google Benchmark's "median" aggregate), or the single run without
repetitions. One-thread cases are timed in process CPU time, N-thread
cases in wall-clock time (their names end in /real_time; see bench/cases.c).
"""
import json
import os
import sys

# The baselines, then fattn's kernel paths in the order the suite ran them
# (the library's list; set from the data by main()). perf.dat has their
# columns in this order, which bench/perf.gp plots.
BASELINES = ["blas", "onednn"]
IMPLS = BASELINES + ["scalar", "avx2", "avx512"]


def impls_of(data):
    """The baselines, then every other implementation in order of first
    appearance in the run."""
    seen = []
    for b in data.get("benchmarks", []):
        _, impl = split_name(b.get("run_name", b["name"]))
        if impl not in BASELINES and impl not in seen:
            seen.append(impl)
    return BASELINES + seen if seen else IMPLS

# (title, shape) of the headline shapes: the name without threads and impl.
# The key of a case is "<shape>/threads:<T>".
HEADLINE = [
    ("prefill B=1 H=8 S=128 D=64", "prefill/B:1/H:8/S:128/D:64/plain"),
    ("prefill B=1 H=8 S=1024 D=64", "prefill/B:1/H:8/S:1024/D:64/plain"),
    ("prefill B=1 H=8 S=2048 D=128", "prefill/B:1/H:8/S:2048/D:128/plain"),
    ("prefill B=1 H=8 S=2048 D=128 causal", "prefill/B:1/H:8/S:2048/D:128/causal"),
    ("prefill B=4 H=16 S=512 D=64", "prefill/B:4/H:16/S:512/D:64/plain"),
    ("decode B=1 H=32 Hkv=8 Sk=8192 D=128", "decode/B:1/H:32/Hkv:8/Sq:1/Sk:8192/D:128/plain"),
    ("decode B=1 H=32 Hkv=8 Sk=65536 D=128", "decode/B:1/H:32/Hkv:8/Sq:1/Sk:65536/D:128/plain"),
]
# The precisions of the suite (bench/cases.c), in table order: (query and
# output, key and value). A case's key names them after D as q:<dt> and
# kv:<dt>, each left out when f32.
DTYPES = [("f32", "f32"), ("bf16", "bf16"), ("f16", "f16"), ("f32", "bf16"),
          ("f32", "f16")]


def dtype_title(q, kv):
    return q if q == kv else "%s, %s kv" % (q, kv)


def with_dtype(shape, q, kv):
    """'prefill/B:1/H:8/S:2048/D:128/plain' with q and kv ->
    'prefill/B:1/H:8/S:2048/D:128/q:bf16/kv:bf16/plain'."""
    head, variant = shape.rsplit("/", 1)
    tags = ("/q:" + q if q != "f32" else "") + ("/kv:" + kv if kv != "f32" else "")
    return head + tags + "/" + variant


def peak_pct(b):
    """peak_pct, marked when it is of the bf16 dot-product peak (the case's
    label says so), not the FMA peak."""
    v = fmt(b.get("peak_pct"), ".1f")
    return v + " (bf16)" if v != "-" and b.get("label", "").startswith("% of bf16 dot peak") else v


VARIANT_HOSTS = ["variant/B:4/H:16/S:512/D:64", "variant/B:1/H:8/S:2048/D:128"]
VARIANTS = ["plain", "mask_f32", "mask_bool", "window", "alibi", "softcap", "ragged"]
SWEEP = "prefill/B:1/H:8/S:{}/D:128/plain/threads:1"


def key_of(shape, threads):
    return "%s/threads:%d" % (shape, threads)


def split_name(name):
    """'prefill/.../plain/threads:2/avx512/process_time/real_time' ->
    (key, impl), key = 'prefill/.../plain/threads:2'."""
    parts = [p for p in name.split("/") if p not in ("process_time", "real_time")]
    return "/".join(parts[:-1]), parts[-1]


def thread_levels(ctx, runs):
    """The thread counts of the run: the context's "threads" ("1,2"), else
    whatever the case names show."""
    text = ctx.get("threads", "")
    try:
        levels = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        levels = []
    if not levels:
        levels = sorted({int(k.rsplit("threads:", 1)[1]) for (k, _) in runs
                         if "/threads:" in k})
    return levels or [1]


def load(path):
    with open(path) as f:
        data = json.load(f)
    runs = {}
    singles = {}
    for b in data.get("benchmarks", []):
        key, impl = split_name(b.get("run_name", b["name"]))
        if b.get("error_occurred"):
            runs.setdefault((key, impl), {"error": b.get("error_message", "error")})
            continue
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                runs[(key, impl)] = b
        else:
            singles.setdefault((key, impl), []).append(b)
    for k, lst in singles.items():
        if k not in runs:
            runs[k] = lst[len(lst) // 2]
    return data, runs


def clean(data):
    """The medians (or the single runs) only, without Google Benchmark's
    bookkeeping fields; no host name, no paths."""
    ctx = dict(data.get("context", {}))
    for k in ("host_name", "executable"):
        ctx.pop(k, None)
    has_agg = any(b.get("run_type") == "aggregate" for b in data.get("benchmarks", []))
    keep = [b for b in data.get("benchmarks", [])
            if not has_agg or b.get("error_occurred")
            or b.get("aggregate_name") == "median"]
    drop = ("family_index", "per_family_instance_index", "repetition_index",
            "threads", "aggregate_unit")
    keep = [{k: v for k, v in b.items() if k not in drop} for b in keep]
    return {"context": ctx, "benchmarks": keep}


def write_json(path, doc):
    """One benchmark a line: small, and diffs stay readable."""
    with open(path, "w") as f:
        f.write('{"context": ' + json.dumps(doc["context"], indent=1) + ',\n"benchmarks": [\n')
        f.write(",\n".join(json.dumps(b, separators=(",", ":")) for b in doc["benchmarks"]))
        f.write("\n]}\n")


def ms(b):
    """The case's own clock: wall time for N-thread cases (UseRealTime, the
    name ends in /real_time), process CPU time otherwise."""
    unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ms")]
    name = b.get("run_name", b.get("name", ""))
    return b["real_time" if name.endswith("/real_time") else "cpu_time"] * unit


def fmt(v, spec):
    return format(v, spec) if v is not None else "-"


def cell(runs, key, impl):
    return runs.get((key, impl))


def headline_table(runs, threads):
    """One table per thread count: every counter is against the baselines,
    the peak and the bandwidth at that same count."""
    scaled = threads > 1
    out = ["| Shape | Dtype | Impl | ms | GFLOP/s | % of peak | x over blas | x over oneDNN | K/V GB/s | % of mem BW |"
           + (" scaling | cores busy |" if scaled else ""),
           "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
           + (" ---: | ---: |" if scaled else "")]
    for (title, base), (q, kv) in ((h, d) for h in HEADLINE for d in DTYPES):
        key = key_of(with_dtype(base, q, kv), threads)
        dt = dtype_title(q, kv)
        for impl in IMPLS:
            b = cell(runs, key, impl)
            if b is None:
                continue
            if "error" in b:
                out.append(f"| {title} | {dt} | {impl} | {b['error']} | | | | | | |"
                           + (" | |" if scaled else ""))
                continue
            row = "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                title, dt, impl, fmt(ms(b), ".1f" if ms(b) >= 1 else ".3f"),
                fmt(b.get("FLOPS", 0) * 1e-9, ".1f"),
                peak_pct(b), fmt(b.get("x_blas"), ".2f"),
                fmt(b.get("x_onednn"), ".2f"),
                fmt(b["kv_read"] * 1e-9 if "kv_read" in b else None, ".2f"),
                fmt(b.get("bw_pct"), ".1f"))
            if scaled:
                row += " {} | {} |".format(fmt(b.get("scaling"), ".2f"),
                                          fmt(b.get("cpu_util"), ".2f"))
            out.append(row)
    return out


def scaling_table(runs, levels):
    """Each headline shape and implementation: time at every thread count
    and the speed-up of the largest count over one thread (wall over wall,
    the scaling counter)."""
    top = levels[-1]
    out = ["| Shape | Dtype | Impl | " + " | ".join("ms, %d thread%s" % (t, "" if t == 1 else "s")
                                                  for t in levels) + " | scaling |",
           "| --- | --- | --- |" + " ---: |" * (len(levels) + 1)]
    for (title, base), (q, kv) in ((h, d) for h in HEADLINE for d in DTYPES):
        shape = with_dtype(base, q, kv)
        for impl in IMPLS:
            cells = [cell(runs, key_of(shape, t), impl) for t in levels]
            if cells[-1] is None:
                continue
            times = [fmt(ms(b), ".1f" if ms(b) >= 1 else ".3f")
                     if b is not None and "error" not in b else "-" for b in cells]
            b = cells[-1]
            x = fmt(b.get("scaling"), ".2f") if "error" not in b else "-"
            out.append(f"| {title} | {dtype_title(q, kv)} | {impl} | " + " | ".join(times)
                       + f" | {x} |")
    return out if top > 1 else []


def variant_table(runs):
    out = []
    for host in VARIANT_HOSTS:
        out += ["", "`{}`: time in ms (time / plain time of the same implementation)".format(host), "",
                "| Variant | " + " | ".join(IMPLS) + " | avx512 x over oneDNN |",
                "| --- |" + " ---: |" * (len(IMPLS) + 1)]
        for v in VARIANTS:
            key = key_of(f"{host}/{v}", 1)
            if not any(cell(runs, key, i) for i in IMPLS):
                continue
            cells = []
            for impl in IMPLS:
                b = cell(runs, key, impl)
                if b is None or "error" in b:
                    cells.append("-")
                elif v == "plain" or "time_vs_plain" not in b:
                    cells.append(fmt(ms(b), ".1f"))
                else:
                    cells.append("{} ({}x)".format(fmt(ms(b), ".1f"), fmt(b["time_vs_plain"], ".2f")))
            b = cell(runs, key, "avx512")
            x = fmt(b.get("x_onednn"), ".2f") if b and "error" not in b else "-"
            out.append(f"| {v} | " + " | ".join(cells) + f" | {x} |")
    return out


# The decode cases' variants are K/V cache layouts (bench/cases.c).
DECODE_LAYOUTS = {"plain": "bhsd", "strided": "bhsd, cache 2xSk", "bshd": "bshd"}


def shape_fields(key):
    """'decode/B:1/H:32/Hkv:8/Sq:1/Sk:8192/D:128/kv:bf16/plain/threads:2' ->
    ({'B': 1, 'H': 32, 'Hkv': 8, 'Sq': 1, 'Sk': 8192, 'D': 128,
      'q': 'f32', 'kv': 'bf16', 'threads': 2}, 'plain'); Hkv defaults to H,
    Sq and Sk to S, q and kv to f32."""
    fields, words = {}, []
    for part in key.split("/")[1:]:
        name, sep, value = part.partition(":")
        if sep:
            fields[name] = int(value) if value.isdigit() else value
        else:
            words.append(part)
    fields.setdefault("Hkv", fields.get("H"))
    fields.setdefault("q", "f32")
    fields.setdefault("kv", "f32")
    if "S" in fields:
        fields.setdefault("Sq", fields["S"])
        fields.setdefault("Sk", fields["S"])
    return fields, words[-1] if words else "plain"


def decode_table(runs, threads, fattn):
    """Every decode case at this thread count, fattn's path `fattn` against
    the bandwidth, the roofline and the baselines at the same count."""
    rows = []
    for (key, impl), b in runs.items():
        if impl != fattn or not key.startswith("decode/") \
                or not key.endswith("/threads:%d" % threads):
            continue
        f, variant = shape_fields(key)
        order = list(DECODE_LAYOUTS).index(variant) if variant in DECODE_LAYOUTS else 99
        dt = (f["q"], f["kv"])
        dt_order = DTYPES.index(dt) if dt in DTYPES else 99
        rows.append(((f["H"] // f["Hkv"], f["Sq"], f["Sk"], f["D"], order, dt_order),
                     f, variant, b))
    if not rows:
        return []
    out = ["| group | Sq | Sk | D | layout | Dtype | %s ms | GB/s | %% BW | %% roofline | "
           "x_onednn | x_blas | x_scalar |" % fattn,
           "| ---: | ---: | ---: | ---: | --- | --- |" + " ---: |" * 7]
    for _, f, variant, b in sorted(rows, key=lambda r: r[0]):
        cells = [str(f["H"] // f["Hkv"]), str(f["Sq"]), str(f["Sk"]), str(f["D"]),
                 DECODE_LAYOUTS.get(variant, variant), dtype_title(f["q"], f["kv"])]
        if "error" in b:
            out.append("| " + " | ".join(cells) + " | %s |" % b["error"] + " |" * 6)
            continue
        t = ms(b)
        cells += [fmt(t, ".2f" if t >= 1 else ".3f"),
                  fmt(b["kv_read"] * 1e-9 if "kv_read" in b else None, ".1f"),
                  fmt(b.get("bw_pct"), ".0f"), fmt(b.get("roof_pct"), ".0f"),
                  fmt(b.get("x_onednn"), ".2f"), fmt(b.get("x_blas"), ".2f"),
                  fmt(b.get("x_scalar"), ".1f")]
        out.append("| " + " | ".join(cells) + " |")
    return out


def decode_impl(ctx):
    """The fattn path of the decode tables: the automatic choice of the run
    (the context's fattn_auto_path), else the last path the run has."""
    auto = ctx.get("fattn_auto_path")
    return auto if auto in IMPLS else IMPLS[-1]


def sweep_rows(runs):
    sizes = sorted({int(k.split("/")[3][2:]) for (k, _) in runs
                    if k.startswith("prefill/B:1/H:8/S:")
                    and k.endswith("/D:128/plain/threads:1")})
    rows = []
    for s in sizes:
        row = [str(s)]
        for impl in IMPLS:
            b = cell(runs, SWEEP.format(s), impl)
            ok = b is not None and "error" not in b
            row.append(fmt(b["FLOPS"] * 1e-9, ".2f") if ok else "?")
            row.append(fmt(b.get("peak_pct"), ".2f") if ok and "peak_pct" in b else "?")
        rows.append(" ".join(row))
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py BENCH_JSON OUT_DIR")
    global IMPLS
    data, runs = load(sys.argv[1])
    IMPLS = impls_of(data)
    out_dir = sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, "perf.json"), clean(data))
    with open(os.path.join(out_dir, "perf.dat"), "w") as f:
        f.write("# S " + " ".join(f"{i}_gflops {i}_peak_pct" for i in IMPLS) + "\n")
        f.write("\n".join(sweep_rows(runs)) + "\n")
    ctx = data.get("context", {})
    levels = thread_levels(ctx, runs)
    machine = []
    for t in levels:
        suffix = "" if t == 1 else "_threads%d" % t
        bf16 = ctx.get("bf16_peak_gflops" + suffix)
        machine.append("{} thread{}: FMA peak AVX2 {} / AVX-512 {} GFLOP/s{}, read {} GB/s".format(
            t, "" if t == 1 else "s", ctx.get("fma_peak_gflops_avx2" + suffix, "?"),
            ctx.get("fma_peak_gflops_avx512" + suffix, "?"),
            ", bf16 dot peak " + (bf16 + " GFLOP/s" if bf16[:1].isdigit() else bf16)
            if bf16 else "",
            ctx.get("mem_read_gbps" + suffix, "?")))
    lines = ["# fattn benchmark results", "",
             "Generated by `scripts/bench.sh` from `perf.json` (medians; one-thread cases "
             "in process CPU time, N-thread cases in wall-clock time).", "",
             "Machine: {} CPUs x {} MHz; date {}. {}.".format(
                 ctx.get("num_cpus", "?"), round(ctx.get("mhz_per_cpu", 0)),
                 ctx.get("date", "?")[:10], "; ".join(machine)),
             "Threads: {} ({}).".format(", ".join(str(t) for t in levels),
                                        ctx.get("threads_how", "?")),
             "OpenBLAS: {}. oneDNN: {}.".format(ctx.get("openblas", "?"), ctx.get("onednn", "?"))]
    lines += ["", "Dtype: of Q, K, V and the output (\"f32, bf16 kv\": an f32 query and "
                  "output over a bf16 K/V cache); the baselines in the same precision "
                  "where their library has it (oneDNN: bf16 matmuls, f16 where it can "
                  "create an f16 matmul, the row says why not; OpenBLAS: f32 only here, "
                  "its bf16 cblas_sbgemm is not in Debian 12's build). % of peak: of the fp32 FMA peak, or of the bf16 "
                  "dot-product peak where marked (bf16): fattn's avx512bf16 path on bf16 "
                  "Q, K and V, oneDNN's bf16 matmuls on a CPU with AVX512_BF16."]
    for t in levels:
        lines += ["", "## Headline shapes, {} thread{}".format(t, "" if t == 1 else "s"), ""]
        if t > 1:
            lines += ["Every ratio is against the baselines, the peak and the read "
                      "bandwidth at {} threads; scaling = the same implementation's wall "
                      "time on 1 thread / on {}; cores busy = process CPU time / wall "
                      "time.".format(t, t), ""]
        lines += headline_table(runs, t)
    if levels[-1] > 1:
        lines += ["", "## Thread scaling (headline shapes)", ""]
        lines += scaling_table(runs, levels)
    fattn = decode_impl(ctx)
    for t in levels:
        table = decode_table(runs, t, fattn)
        if not table:
            continue
        lines += ["", "## Decode, {} thread{}".format(t, "" if t == 1 else "s"), "",
                  "B=1 H=32, group = H/Hkv query heads per K/V head. GB/s: K and V "
                  "bytes read (B*Hkv*Sk*(D+Dv)*E, E = 4 bytes per f32 element, 2 per "
                  "bf16/f16) over the time; % BW: of the read "
                  "bandwidth at {t} thread{s}; % roofline: GFLOP/s over min(peak, "
                  "read bandwidth * 2r/E) at {t} thread{s}, r = group*Sq query rows per "
                  "K/V row; x_*: {f}'s speed-up over that implementation, same shape, "
                  "precision and threads. Layouts: a BHSD cache of 2*Sk rows (the first "
                  "Sk used), and BSHD, which the baselines read from a contiguous BHSD copy."
                  .format(t=t, s="" if t == 1 else "s", f=fattn), ""]
        lines += table
    lines += ["", "## Variants (each next to the plain case of its shape; 1 thread)"]
    lines += variant_table(runs)
    lines.append("")
    with open(os.path.join(out_dir, "perf.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
