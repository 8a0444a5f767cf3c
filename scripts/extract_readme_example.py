#!/usr/bin/env python3
"""Extract an example from README.md so the test suite runs it.

usage: extract_readme_example.py README.md NAME OUTPUT

The example is the fenced block (```c, ```python or ```sh) right after the
marker line `<!-- test: NAME -->`. A missing marker or block is an error,
so the README cannot silently lose its tested example. A C example gets a
comment line saying where it came from; the others are written as they are
(tests/readme builds the C ones, scripts/test.sh runs the Python install
command, python/tests/test_readme.py the Python example).
"""
import sys

FENCES = ("```c", "```python", "```sh")


def extract(text, name):
    marker = "<!-- test: %s -->" % name
    lines = text.splitlines()
    try:
        start = next(n for n, line in enumerate(lines) if line.strip() == marker)
    except StopIteration:
        raise SystemExit("extract_readme_example: marker %r not found" % marker)
    n = start + 1
    while n < len(lines) and lines[n].strip() == "":
        n += 1
    if n >= len(lines) or lines[n].strip() not in FENCES:
        raise SystemExit(
            "extract_readme_example: no ```c, ```python or ```sh block right "
            "after %r" % marker)
    body = []
    for line in lines[n + 1:]:
        if line.strip() == "```":
            return "\n".join(body) + "\n"
        body.append(line)
    raise SystemExit("extract_readme_example: unterminated block after %r"
                     % marker)


def main(argv):
    if len(argv) != 4:
        raise SystemExit(__doc__)
    with open(argv[1], encoding="utf-8") as f:
        code = extract(f.read(), argv[2])
    header = ""
    if argv[2].endswith(".c"):
        header = "/* Extracted from README.md (%s); edit the README, not this file. */\n" % argv[2]
    with open(argv[3], "w", encoding="utf-8") as f:
        f.write(header + code)


if __name__ == "__main__":
    main(sys.argv)
