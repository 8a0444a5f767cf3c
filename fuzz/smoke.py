#!/usr/bin/env python3
"""A short libFuzzer campaign of one harness (the fuzz-smoke test suite).

    smoke.py HARNESS SEED_CORPUS DICT SECONDS ARTIFACT_DIR

Runs HARNESS for SECONDS on one core, starting from SEED_CORPUS (read only:
new inputs go to a temporary directory), with the dictionary DICT. A crash,
leak, timeout or failed property is written to ARTIFACT_DIR and fails the
test. Prints one summary line: execs, exec/s, coverage, corpus size.
"""
import os
import re
import subprocess
import sys
import tempfile


def main():
    harness, seeds, dictionary, seconds, artifacts = sys.argv[1:6]
    name = os.path.basename(harness)
    os.makedirs(artifacts, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=name + "-corpus-") as work:
        cmd = [harness, "-max_total_time=" + seconds, "-max_len=1024",
               "-dict=" + dictionary,
               "-print_final_stats=1", "-timeout=10", "-rss_limit_mb=2048",
               "-artifact_prefix=" + artifacts + "/", work, seeds]
        print("running:", " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True,
                              errors="replace")
    log = proc.stdout
    stats = dict(re.findall(r"^stat::(\w+):\s*(\d+)", log, re.M))
    cov = re.findall(r"cov: (\d+) ft: (\d+) corp: (\d+)", log)
    cov_text = ("cov %s ft %s corpus %s" % cov[-1]) if cov else "no coverage line"
    summary = "%s: %s execs, %s exec/s, %s, %s" % (
        name, stats.get("number_of_executed_units", "?"),
        stats.get("average_exec_per_sec", "?"), cov_text,
        "no finding" if proc.returncode == 0 else
        "FINDING (exit %d, input saved in %s)" % (proc.returncode, artifacts))
    if proc.returncode != 0:
        # The report: everything from the first sanitizer or FINDING line.
        lines = log.splitlines()
        start = next((i for i, l in enumerate(lines)
                      if l.startswith(("FINDING", "==")) or "ERROR:" in l), 0)
        print("\n".join(lines[max(0, start - 5):]))
    print(summary)
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
